import { describe, expect, test } from "vitest";
import { resolveEnvironment } from "../../../src/core/config/environments.js";
import { ConfigError, ShipitError } from "../../../src/core/errors.js";
import { buildSetupPlan, builtInUnit, parseDeployKey, renderUnit, sudoersFile, sudoersRule } from "../../../src/core/setup/plan.js";
import { parseSetupResult, reportSetup, setupPreflight } from "../../../src/core/setup/setup.js";
import { thrown } from "../../helpers/thrown.js";

const env = (over: Record<string, unknown> = {}) => resolveEnvironment("test", { test: { host: "bot.example.org", ...over } });
const paths = { identity: "/tmp/x/secrets/ssh_key", knownHosts: "/tmp/x/known_hosts" };
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHb0Jq2yq2w9k0m6Jm4zQ0s8WwX0l1m2n3o4p5q6r7s8 deploy@ci";

test("a non-root deploy user: prerequisites first, then user, journal, key, layout, unit, enable, sudoers; as root over sh -s", () => {
  const plan = buildSetupPlan({ env: env(), run: "r1", paths, deployKey: KEY });
  expect(plan.steps.map((s) => s.id)).toEqual(["prerequisites", "user", "journal", "deploy-key", "layout", "unit", "enable", "sudoers"]);
  expect(plan.ssh).toEqual({ host: "bot.example.org", port: 22, user: "root", identityFile: paths.identity, knownHostsFile: paths.knownHosts, connectTimeoutSec: 15 });
  expect(plan.remote).toEqual(["sh", "-s"]);
  expect(plan.steps[0]!.apply).toBeUndefined();
  expect(plan.steps.slice(1).every((s) => s.apply)).toBe(true);
});

test("a non-root admin runs every script through sudo -n; a root deploy user gets no user, journal or sudoers step", () => {
  expect(buildSetupPlan({ env: env({ setup: { adminUser: "admin" } }), run: "r", paths }).remote).toEqual(["sudo", "-n", "sh", "-s"]);
  expect(buildSetupPlan({ env: env({ user: "root" }), run: "r", paths }).steps.map((s) => s.id)).toEqual(["prerequisites", "layout", "unit", "enable"]);
});

test("the sudoers rule allows exactly restart, reset-failed and show of the unit", () => {
  expect(sudoersRule(env())).toBe(
    '# Written by shipit setup for the environment "test": deploy may run only these\n' +
      "# commands as root, without a password (what a deploy runs through sudo -n), and nothing else.\n" +
      "deploy ALL=(root) NOPASSWD: /usr/bin/systemctl restart rosey-test.service, /usr/bin/systemctl reset-failed rosey-test.service, /usr/bin/systemctl show rosey-test.service\n",
  );
  // sudo skips drop-ins with a '.' in their name; ':' in an instance is escaped for sudoers
  expect(sudoersFile(env({ unit: "rosey@a:b.service" }))).toBe("/etc/sudoers.d/shipit-rosey-a-b");
  expect(sudoersRule(env({ unit: "rosey@a:b.service" }))).toContain("/usr/bin/systemctl restart rosey@a\\:b.service,");
});

test("the built-in unit runs the release's own interpreter in current/, as the deploy user, only once a release is live", () => {
  const unit = builtInUnit(env({ setup: { exec: ["bot/rosey/rosey.py", "bot/rosey/config.json"] } }));
  expect(unit).toContain("ConditionPathExists=/srv/rosey-test/current\n");
  expect(unit).toContain("User=deploy\nGroup=deploy\nWorkingDirectory=/srv/rosey-test/current\n");
  expect(unit).toContain("ExecStart=/srv/rosey-test/current/.venv/bin/python bot/rosey/rosey.py bot/rosey/config.json\n");
  expect(unit).toContain("[Install]\nWantedBy=multi-user.target\n");
});

test("a unit template's placeholders are filled; an unknown one is a config error naming it", () => {
  const e = env({ setup: { unitTemplate: "systemd/bot.service.in" } });
  expect(renderUnit("[Service]\nUser=@USER@\nExecStart=@PYTHON@ bot.py\nWorkingDirectory=@CURRENT@", e, "shipit.json")).toBe(
    "[Service]\nUser=deploy\nExecStart=/srv/rosey-test/current/.venv/bin/python bot.py\nWorkingDirectory=/srv/rosey-test/current\n",
  );
  const err = thrown(() => renderUnit("ExecStart=@HOME@/bot", e, "shipit.json"));
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toContain('environments.test.setup.unitTemplate = "systemd/bot.service.in": uses @HOME@, which shipit does not know. Fix: use only @BASE@, @CURRENT@, @PYTHON@, @USER@, @UNIT@, @ENV@ in systemd/bot.service.in');
  // a template without [Install] is not enabled
  expect(buildSetupPlan({ env: e, run: "r", paths, unitTemplate: "[Service]\nExecStart=/bin/true\n" }).steps.map((s) => s.id)).not.toContain("enable");
});

test("a file's text that holds the here-document's end marker gets another marker", () => {
  const plan = buildSetupPlan({ env: env(), run: "r", paths, unitTemplate: "[Service]\nSHIPIT_EOF\n" });
  const check = plan.steps.find((s) => s.id === "unit")!.check;
  expect(check).toBe("cmp -s '/etc/systemd/system/rosey-test.service' - <<'SHIPIT_EOF_'\n[Service]\nSHIPIT_EOF\nSHIPIT_EOF_");
});

test("the deploy key must be one public key line; a private key is refused without echoing it", () => {
  expect(parseDeployKey(`${KEY}\n`)).toBe(KEY);
  expect(parseDeployKey("ssh-ed25519 AAAAC3Nz 'quoted comment'")).toBe("ssh-ed25519 AAAAC3Nz");
  const err = thrown(() => parseDeployKey("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"));
  expect(err).toBeInstanceOf(ShipitError);
  expect(err.message).toBe("--deploy-key must be one OpenSSH public key line (ssh-ed25519 AAAA… comment), the .pub file of the deploy key. Fix: pass the public half (ssh-keygen -y -f KEY > KEY.pub), never the private key");
  expect(err.message).not.toContain("b3BlbnNz");
});

test("setup.exec arguments systemd would read specially are config errors", () => {
  const err = thrown(() => env({ setup: { exec: ["-m", "bot $(id)"] } }));
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toContain('environments.test.setup.exec[1] = "bot $(id)": must be one argument of letters, digits and . _ / : = @ + , - (no spaces, quotes, \'%\' or \'$\')');
});

describe("preflight and the report", () => {
  const config = { environments: { test: { host: "bot.example.org" } }, origin: "shipit.json" } as never;
  test("no admin key, no known_hosts: refused before the host is touched", () => {
    expect(thrown(() => setupPreflight(config, "test", { secrets: [], knownHosts: "x" })).message).toBe(
      "setup of test refused before touching the host: missing secret --admin-key (e.g. --admin-key=env:SHIPIT_ADMIN_SSH_KEY): the private key of root@bot.example.org, which may create users and write /etc (the deploy key need not)",
    );
    expect(thrown(() => setupPreflight(config, "test", { secrets: ["admin-key"], knownHosts: " \n" })).message).toContain("setup of test refused: a known_hosts file pinning bot.example.org's host key is required");
  });
  test("changes are listed one a line; a refusal says nothing was changed", () => {
    const r = parseSetupResult(
      JSON.stringify({ kind: "setup", outcome: "refused", steps: [{ id: "prerequisites", change: "checked the host", status: "refused", seconds: 0.1, detail: "sudo (apt-get install sudo)" }], cause: { step: "prerequisites", code: "HOST_NOT_READY", message: "the host lacks what setup needs (nothing was changed): missing sudo (apt-get install sudo)" } }),
      "",
    );
    expect(reportSetup(r, env(), "root@bot.example.org:22")).toBe("setup of test on root@bot.example.org:22 refused at prerequisites: the host lacks what setup needs (nothing was changed): missing sudo (apt-get install sudo) (HOST_NOT_READY); nothing was changed");
    const ok = parseSetupResult(JSON.stringify({ kind: "setup", outcome: "succeeded", steps: [{ id: "user", change: "created user deploy", status: "changed", seconds: 1 }, { id: "layout", change: "x", status: "unchanged", seconds: 1 }] }), "");
    expect(reportSetup(ok, env(), "root@h:22")).toBe("changed: created user deploy\nsetup of test on root@h:22: 1 change; the host is ready for deploys as deploy");
    expect(thrown(() => parseSetupResult("not json", "Traceback: boom")).message).toBe("the setup driver gave no JSON answer: Traceback: boom");
  });
});
