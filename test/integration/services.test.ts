/**
 * test.services on the host runner (issue 17, services for tests): the needs-nats fixture's tests
 * publish and receive through a NATS server. With the service declared, `shipit ci` starts
 * nats-server on 127.0.0.1:4222 around the test gate and is green; without it the tests fail fast
 * on the refused connection; a service that is missing, that dies or that never listens makes
 * the gate red in bounded time, naming the service, its port and the fix. The needs-postgres
 * fixture's tests query a PostgreSQL 15 started the same way. Needs Debian's nats-server and
 * postgresql-15 (`apt-get install nats-server postgresql-15`; .ci/run installs them): without
 * them this file fails.
 */
import { chmod, cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { expect, test } from "vitest";
import { gateRows } from "../helpers/call.js";
import { REPO } from "../helpers/variants.js";
import { tcpOpen } from "../../src/runners/services-host.js";

const FIXTURE = join(REPO, "test/fixtures/needs-nats");

/** The fixture in a temp folder, its test.services replaced (undefined: none declared). */
async function copy(services?: unknown[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shipit-needs-nats-"));
  await cp(FIXTURE, dir, { recursive: true });
  const own = JSON.parse(await readFile(join(dir, "shipit.json"), "utf8"));
  const { services: _declared, ...test } = own.test;
  await writeFile(join(dir, "shipit.json"), JSON.stringify({ ...own, test: services ? { ...test, services } : test }));
  return dir;
}

function shipit(args: string[], env: Record<string, string> = {}) {
  return execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), ...args], { cwd: REPO, reject: false, stdin: "ignore", timeout: 5 * 60_000, env });
}

/** Nothing left listening, and no server process of ours left behind. */
async function noServiceLeft(port: number, pattern: string): Promise<void> {
  expect(await tcpOpen(port)).toBe(false);
  const ps = await execa("pgrep", ["-f", pattern], { reject: false });
  expect(ps.stdout, `left running: ${ps.stdout}`).toBe("");
}

test("nats-server and PostgreSQL 15 are installed (the host runner starts them for the fixtures)", async () => {
  const r = await execa("sh", ["-c", "command -v nats-server || ls /usr/sbin/nats-server"], { reject: false });
  expect(r.exitCode, "nats-server is missing on this machine. Fix: apt-get install nats-server").toBe(0);
  const pg = await execa("ls", ["/usr/lib/postgresql/15/bin/postgres", "/usr/lib/postgresql/15/bin/initdb"], { reject: false });
  expect(pg.exitCode, "PostgreSQL 15 is missing on this machine. Fix: apt-get install postgresql-15").toBe(0);
});

test("with test.services nats: shipit ci starts nats-server around the test gate, the tests publish and receive, all green; the server is stopped after", async () => {
  expect(await tcpOpen(4222), "something already listens on 127.0.0.1:4222: stop it, the fixture's tests use that port").toBe(false);
  const r = await shipit(["ci", `--source=${FIXTURE}`]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  expect(gateRows(r.stdout)).toEqual([
    "dependencies ok requirements.txt + tools (uv)",
    "lint ok 0 findings",
    "typecheck ok 0 errors in 2 files",
    "test ok 3 passed · coverage 90% (threshold 85%)",
    "security ok 0 findings · dependency audit: 0 packages, 0 vulnerable",
    "build ok needs-nats-0.0.0-dev.tar.gz (3 files, 1.8 KiB)",
  ]);
  expect(r.stdout.trimEnd().split("\n").at(-1)).toBe("shipit ci (needs-nats): all 6 gates passed");
  await noServiceLeft(4222, "bin/nats-server --addr 127.0.0.1 --port 4222$");
});

test("with test.services postgres: initdb and postgres as the postgres user around the gate, the tests query it; the data folder is removed after", async () => {
  expect(await tcpOpen(5432), "something already listens on 127.0.0.1:5432: stop it, the fixture's tests use that port").toBe(false);
  const tmp = await mkdtemp(join(tmpdir(), "shipit-pg-tmp-"));
  await chmod(tmp, 0o755); // the postgres user creates its data folder in there
  const r = await shipit(["test", `--source=${join(REPO, "test/fixtures/needs-postgres")}`], { TMPDIR: tmp });
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  expect(gateRows(r.stdout)).toEqual(["test ok 3 passed · coverage 96.7% (threshold 85%)"]);
  await noServiceLeft(5432, "postgresql/15/bin/postgres -D");
  // the service's data folder (mktemp -d under TMPDIR) went with it
  expect((await execa("find", [tmp, "-name", "PG_VERSION"])).stdout).toBe("");
});

test("two services, one of them described in full (package, command, port, a ready command): both up for the tests, both stopped after", async () => {
  const dir = await copy([{ name: "nats" }, { name: "web", package: "python3", command: ["python3", "-m", "http.server", "--bind", "{bind}", "{port}"], port: 18080, ready: { command: ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18080/')"] } }]);
  const r = await shipit(["test", `--source=${dir}`]);
  expect(r.exitCode, r.stdout + r.stderr).toBe(0);
  expect(gateRows(r.stdout)).toEqual(["test ok 3 passed · coverage 90% (threshold 85%)"]);
  await noServiceLeft(4222, "bin/nats-server --addr 127.0.0.1 --port 4222$");
  await noServiceLeft(18080, "http.server --bind 127.0.0.1 18080$");
});

test("without test.services: the tests fail fast on the refused connection, and the gate names it", async () => {
  const dir = await copy();
  const r = await shipit(["test", `--source=${dir}`]);
  expect(r.exitCode).toBe(1);
  expect(gateRows(r.stdout)).toEqual(["test FAILED 1 passed, 2 failed · coverage 38.9% (threshold 85%)"]);
  expect(r.stdout).toContain(
    [
      "[test] 2 tests failed:",
      '  tests/test_nats.py::test_ping — failed on setup with "bot.nats_client.NatsError: cannot reach NATS at 127.0.0.1:4222: [Errno 111] Connection refused"',
      '  tests/test_nats.py::test_publish_and_receive — failed on setup with "bot.nats_client.NatsError: cannot reach NATS at 127.0.0.1:4222: [Errno 111] Connection refused"',
    ].join("\n"),
  );
});

test("a service whose program is not installed: red before pytest, naming the package to install", async () => {
  const dir = await copy([{ name: "nats", package: "nats-server", command: ["no-such-nats-server", "--port", "{port}"] }]);
  const r = await shipit(["test", `--source=${dir}`]);
  expect(r.exitCode).toBe(1);
  expect(gateRows(r.stdout)).toEqual(["test FAILED service nats not ready · no tests ran"]);
  expect(r.stdout).toContain(
    "[test] service nats (no-such-nats-server, port 4222) not ready: no-such-nats-server is not installed on this machine. Fix: apt-get install nats-server (or put no-such-nats-server on PATH)\n" +
      "no tests ran: pytest starts only once every service in test.services is ready",
  );
});

test("a service that ends before it listens: red, with its exit and its own words", async () => {
  const dir = await copy([{ name: "nats", command: ["nats-server", "--port", "{port}", "--no-such-flag"] }]);
  const r = await shipit(["test", `--source=${dir}`]);
  expect(r.exitCode).toBe(1);
  expect(gateRows(r.stdout)).toEqual(["test FAILED service nats not ready · no tests ran"]);
  expect(r.stdout).toMatch(/\[test\] service nats \(nats-server, port 4222\) not ready: nats-server ended \(exit code \d+\) before it was ready; its output:\n[^]*flag provided but not defined: -no-such-flag/);
  expect(r.stdout).toContain("Fix: run `nats-server --port 4222 --no-such-flag` on this machine to see why, or fix test.services[0]");
});

test("a service that never listens: red after its timeoutSec, naming service, port and fix; the process is stopped", async () => {
  const dir = await copy([{ name: "nats", package: "coreutils", command: ["sleep", "600"], port: 4299, timeoutSec: 2 }]);
  const r = await shipit(["test", `--source=${dir}`]);
  expect(r.exitCode).toBe(1);
  expect(gateRows(r.stdout)).toEqual(["test FAILED service nats not ready · no tests ran"]);
  expect(r.stdout).toContain(
    "[test] service nats (sleep, port 4299) not ready: nothing answered on 127.0.0.1:4299 within 2 s. Fix: check that `sleep 600` listens on port 4299, or raise test.services[0].timeoutSec",
  );
  await noServiceLeft(4299, "bin/sleep 600$");
});

test("a ready command that never succeeds: red after timeoutSec with what it last said", async () => {
  const dir = await copy([{ name: "nats", ready: { command: ["sh", "-c", "echo not yet >&2; exit 3"] }, timeoutSec: 2 }]);
  const r = await shipit(["test", `--source=${dir}`]);
  expect(r.exitCode).toBe(1);
  expect(gateRows(r.stdout)).toEqual(["test FAILED service nats not ready · no tests ran"]);
  expect(r.stdout).toContain(
    "[test] service nats (nats-server, port 4222) not ready: the port answered but the ready command did not succeed within 2 s; the ready command `sh -c echo not yet >&2; exit 3` last said: not yet. Fix: check test.services[0].ready.command against the running service, or raise test.services[0].timeoutSec",
  );
  await noServiceLeft(4222, "bin/nats-server --addr 127.0.0.1 --port 4222$");
});

test("interrupted (SIGINT) while a service starts: shipit ends and takes the service with it", async () => {
  const dir = await copy([{ name: "nats", package: "coreutils", command: ["sleep", "601"], port: 4297, timeoutSec: 120 }]);
  const child = shipit(["test", `--source=${dir}`]);
  for (let i = 0; i < 100 && (await execa("pgrep", ["-f", "bin/sleep 601$"], { reject: false })).exitCode !== 0; i++) await new Promise((r) => setTimeout(r, 100));
  expect((await execa("pgrep", ["-f", "bin/sleep 601$"], { reject: false })).exitCode, "the service never started").toBe(0);
  child.kill("SIGINT");
  const r = await child;
  expect(r.exitCode ?? r.signal).not.toBe(0);
  await noServiceLeft(4297, "bin/sleep 601$");
});

test("a port already taken on this machine: red, never mistaken for the service", async () => {
  const squatter = createServer();
  await new Promise<void>((ok) => squatter.listen(4298, "127.0.0.1", ok));
  try {
    const dir = await copy([{ name: "nats", port: 4298 }]);
    const r = await shipit(["test", `--source=${dir}`]);
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toContain(
      "[test] service nats (nats-server, port 4298) not ready: port 4298 on 127.0.0.1 is already in use (another nats-server, or another program). Fix: stop what listens on 4298, or give test.services[0] another port",
    );
  } finally {
    squatter.close();
  }
});

test("config errors in test.services stop the run before anything starts (exit 2, coded, with the fix)", async () => {
  const dir = await copy([{ name: "natz" }, { name: "nats", port: 99999 }]);
  const r = await shipit(["ci", `--source=${dir}`]);
  expect(r.exitCode).toBe(2);
  expect(r.stderr).toContain(`invalid shipit config (shipit.json):
  - test.services[1].port = 99999: Too big: expected number to be <=65535. Fix: use a value of at most 65535`);
  const unknown = await copy([{ name: "natz" }]);
  const u = await shipit(["ci", `--source=${unknown}`]);
  expect(u.exitCode).toBe(2);
  expect(u.stderr).toContain('test.services[0].name = "natz": is not a service shipit knows (nats, postgres). Fix: use one of "nats", "postgres"');
});
