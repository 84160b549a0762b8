/**
 * Every config value that reaches an argv, a remote command line, a URL or a file name has its own
 * grammar (src/core/config/grammar.ts). Hostile values, key by key, are config errors that name the key
 * and the fix; ordinary values of each kind still pass.
 */
import { describe, expect, test } from "vitest";
import { parseUserConfig } from "../../../src/core/config/config.js";
import { resolveEnvironment } from "../../../src/core/config/environments.js";
import { ConfigError } from "../../../src/core/errors.js";
import { isHost, sshHost } from "../../../src/core/config/grammar.js";

function envError(over: Record<string, unknown>): ConfigError {
  try {
    resolveEnvironment("test", { test: { host: "bot.example.org", ...over } });
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error(`accepted ${JSON.stringify(over)}`);
}

const HOSTILE_ENV: [string, Record<string, unknown>, string][] = [
  ["user", { user: "-oProxyCommand=touch /tmp/pwn" }, "must be a POSIX user name"],
  ["user", { user: "-l" }, "must be a POSIX user name"],
  ["user", { user: "root@evil" }, "must be a POSIX user name"],
  ["user", { user: "de ploy" }, "must be a POSIX user name"],
  ["user", { user: "deploy\n" }, "must be a POSIX user name"],
  ["user", { user: "a".repeat(33) }, "must be a POSIX user name"],
  ["host", { host: "-oProxyCommand=sh" }, "must be a DNS name"],
  ["host", { host: "a b;rm -rf /" }, "must be a DNS name"],
  ["host", { host: "h.example -- true" }, "must be a DNS name"],
  ["host", { host: "user@h.example" }, "must be a DNS name"],
  ["host", { host: "h.example:22" }, "must be a DNS name"],
  ["host", { host: "2001:db8::1" }, "bracketed IPv6"],
  ["host", { host: "[not-v6]" }, "must be a DNS name"],
  ["host", { host: "300.1.1.1" }, "must be a DNS name"],
  ["host", { host: "$(id).example" }, "must be a DNS name"],
  ["port", { port: 0 }, "must be a port between 1 and 65535"],
  ["port", { port: 65536 }, "must be a port between 1 and 65535"],
  ["port", { port: 22.5 }, "expected int"],
  ["port", { port: "22" }, "expected number"],
  ["unit", { unit: "-rosey.service" }, "must be a systemd unit name"],
  ["unit", { unit: "rosey.service; reboot" }, "must be a systemd unit name"],
  ["unit", { unit: "../../etc/x.service" }, "must be a systemd unit name"],
  ["unit", { unit: "rosey.timer" }, "must be a systemd unit name"],
  ["basePath", { basePath: "srv/rosey" }, "must be an absolute path"],
  ["basePath", { basePath: "/srv/../etc" }, "must not contain '..'"],
  ["basePath", { basePath: "/srv//rosey" }, "must be normalised"],
  ["basePath", { basePath: "/srv/rosey/" }, "must be normalised"],
  ["basePath", { basePath: "/srv/./rosey" }, "must be normalised"],
  ["basePath", { basePath: "/" }, "must not be the root directory"],
  ["basePath", { basePath: "/srv/ro sey" }, "is not a plain file name"],
  ["basePath", { basePath: "/srv/$(id)" }, "is not a plain file name"],
  ["basePath", { basePath: "/srv/-rf" }, "is not a plain file name"],
  ["python", { python: "python3; id" }, "must be a command name such as python3"],
  ["python", { python: "-c" }, "must be a command name such as python3"],
  ["secrets.botPassword", { secrets: { botPassword: "X; echo" } }, "must be a secret name"], // pragma: allowlist secret
  ["secrets.botPassword", { secrets: { botPassword: "-X" } }, "must be a secret name"], // pragma: allowlist secret
  ["secrets.smokePassword", { secrets: { smokePassword: "$HOME" } }, "must be a secret name"], // pragma: allowlist secret
  ["runtime.server", { runtime: { server: "-oProxyCommand=sh" } }, "must be a host such as cytu.be"],
  ["runtime.server", { runtime: { server: "http://u:p@cytu.be" } }, "must be a host such as cytu.be"],
  ["runtime.server", { runtime: { server: "cytu.be/../x" } }, "must be a host such as cytu.be"],
  ["runtime.channel", { runtime: { channel: "rosey; id" } }, "must be a CyTube channel name"],
  ["runtime.channel", { runtime: { channel: "a/b" } }, "must be a CyTube channel name"],
  ["runtime.bot_name", { runtime: { bot_name: "Rosey Bot" } }, "must be a CyTube user name"],
  ["runtime.db_path", { runtime: { db_path: "../../etc/passwd" } }, "without '..'"],
  ["runtime.db_path", { runtime: { db_path: "/var/lib/x.db" } }, "must be a path relative to the release"],
  ["runtime.db_path", { runtime: { db_path: "data/-x.db" } }, "starting with '-'"],
  ["runtime.health_port", { runtime: { health_port: 70000 } }, "must be a port between 1 and 65535"],
  ["smoke.account", { smoke: { account: "--password=x" } }, "must be a CyTube user name"],
  ["smoke.command", { smoke: { command: "!ping\n!kick" } }, "must be one line of printable text"],
  ["url", { url: "javascript:alert(1)" }, "Invalid URL"],
  ["healthUrl", { healthUrl: "file:///etc/passwd" }, "Invalid URL"],
];

describe("environment values that reach ssh, the agent's command line or a URL", () => {
  test.each(HOSTILE_ENV)("environments.test.%s refuses %j", (key, over, problem) => {
    const err = envError(over);
    const issue = err.issues.find((i) => i.key === `environments.test.${key}`);
    expect(issue, err.message).toBeDefined();
    expect(issue!.problem).toContain(problem);
    expect(err.message).toContain(`environments.test.${key}`);
    expect(err.message).toContain(`Fix: `);
    expect(issue!.fix.length).toBeGreaterThan(10);
  });

  test("each environment issue has a code and its path as an array, the key written from it", () => {
    const err = envError({ runtime: { health_port: 70000, colour: "red" }, keepReleases: 1 });
    expect(err.issues.map((i) => [i.code, i.path, i.key])).toEqual([
      ["TOO_BIG", ["environments", "test", "runtime", "health_port"], "environments.test.runtime.health_port"],
      ["UNKNOWN_KEY", ["environments", "test", "runtime", "colour"], "environments.test.runtime.colour"],
      ["TOO_SMALL", ["environments", "test", "keepReleases"], "environments.test.keepReleases"],
    ]);
    let unknown: unknown;
    try {
      resolveEnvironment("staging", {});
    } catch (e) {
      unknown = e;
    }
    expect((unknown as ConfigError).issues.map((i) => [i.code, i.path, i.key, i.value])).toEqual([["UNKNOWN_ENVIRONMENT", ["--env"], "--env", "staging"]]);
    let noHost: unknown;
    try {
      resolveEnvironment("test", {});
    } catch (e) {
      noHost = e;
    }
    expect((noHost as ConfigError).issues.map((i) => [i.code, i.path])).toEqual([["HOST_NOT_SET", ["environments", "test", "host"]]]);
  });

  test.each([
    [{ host: "cytu.be" }],
    [{ host: "bot-1.example.org" }],
    [{ host: "bot.example.org." }],
    [{ host: "10.0.0.5" }],
    [{ host: "[2001:db8::1]" }],
    [{ host: "localhost", user: "_svc" }],
    [{ user: "rosey.bot" }],
    [{ unit: "rosey@test.service" }],
    [{ basePath: "/srv/rosey_test/v1.0" }],
    [{ python: "/usr/bin/python3.11" }],
    [{ runtime: { server: "http://127.0.0.1:8880" } }],
    [{ runtime: { server: "https://[::1]:8443" } }],
    [{ url: "" }],
  ])("accepts %j", (over) => {
    expect(resolveEnvironment("test", { test: { host: "bot.example.org", ...over } }).name).toBe("test");
  });

  test("ssh gets a bracketed IPv6 host without its brackets", () => {
    expect(isHost("[::1]")).toBe(true);
    expect(sshHost("[2001:db8::1]")).toBe("2001:db8::1");
    expect(sshHost("bot.example.org")).toBe("bot.example.org");
  });
});

const HOSTILE_CONFIG: [string, Record<string, unknown>, string][] = [
  ["python.image", { python: { image: "python:3.11; rm -rf /" } }, "must be a container image reference"],
  ["python.image", { python: { image: "--privileged" } }, "must be a container image reference"],
  ["python.image", { python: { image: "Python:3.11" } }, "must be a container image reference"],
  ["python.image", { python: { image: "python:3.11 slim" } }, "must be a container image reference"],
  ["python.image", { python: { image: "" } }, "must be a container image reference"],
  ["name", { name: "../../etc/cron.d/x" }, "must be letters, digits"],
  ["name", { name: "-rf" }, "must be letters, digits"],
  ["name", { name: "bot name" }, "must be letters, digits"],
  ["name", { name: "b".repeat(101) }, "at most 100 characters"],
  ["build.version", { build: { version: "1.0/../../x" } }, "must be a version such as 1.2.3"],
  ["build.version", { build: { version: "-1" } }, "must be a version such as 1.2.3"],
  ["build.version", { build: { version: "1.0 && id" } }, "must be a version such as 1.2.3"],
  ["tools.ruff", { tools: { ruff: "0.1 --index-url=http://evil" } }, "must be a version such as 1.2.3"],
  ["lint.paths[0]", { lint: { paths: ["--config=evil.toml"] } }, "starting with '-'"],
  ["test.paths[0]", { test: { paths: ["../outside"] } }, "without '..'"],
  ["requirements[0]", { requirements: ["/etc/passwd"] }, "relative to the repository root"],
  ["typecheck.flags[0]", { typecheck: { flags: ["--config-file=x; id"] } }, "must be a mypy flag"],
];

describe("check config values that reach the engine, tool argvs and file names", () => {
  test.each(HOSTILE_CONFIG)("%s refuses %j", (key, user, problem) => {
    let err: unknown;
    try {
      parseUserConfig(JSON.stringify(user), "shipit.json");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const issue = (err as ConfigError).issues.find((i) => i.key === key);
    expect(issue, (err as ConfigError).message).toBeDefined();
    expect(issue!.problem).toContain(problem);
    expect((err as ConfigError).message).toContain("Fix: ");
  });

  test.each([
    ["python:3.11-slim"],
    ["python:3.12"],
    ["172.17.0.1:5000/library/python:3.11-slim"],
    ["registry.example.org/team/python-ci:3.11"],
    [`ghcr.io/acme/python@sha256:${"a".repeat(64)}`],
  ])("accepts the image %s", (image) => {
    expect(parseUserConfig(JSON.stringify({ python: { image } }), "shipit.json").python?.image).toBe(image);
  });
});

describe("environment values are checked wherever the config is parsed, checks included", () => {
  test("a hostile user fails parseUserConfig (what `shipit ci` and every function run first), naming the key", () => {
    let err: unknown;
    try {
      parseUserConfig(JSON.stringify({ environments: { test: { user: "-oProxyCommand=touch /tmp/pwn" } } }), "shipit.json");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).issues.map((i) => i.key)).toEqual(["environments.test.user"]);
    expect((err as ConfigError).issues.map((i) => [i.code, i.path])).toEqual([["INVALID_FORMAT", ["environments", "test", "user"]]]);
  });

  test("an environment without a host yet is fine for the checks", () => {
    expect(parseUserConfig(JSON.stringify({ environments: { test: { user: "rosey" } } }), "shipit.json").environments).toEqual({ test: { user: "rosey" } });
  });
});
