/**
 * test.services through the engine (issue 17, services for tests): the needs-nats fixture's NATS
 * server is a Dagger service (Debian's nats-server installed into the python image) bound to the
 * checks' container, reached by the tests on 127.0.0.1:4222 through run_steps.py's forwarder.
 * Green with the service, with the same gate rows as the host runner; red without it, naming the
 * refused connection; red in bounded time, naming the service, when it never listens. The
 * needs-postgres fixture's PostgreSQL 15 the same way.
 */
import { cp, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { expect, test } from "vitest";
import { call, gateRows } from "../helpers/call.js";
import { REPO } from "../helpers/variants.js";

/** The fixture in a temp folder, its test.services replaced (undefined: none declared). */
async function copy(services?: unknown[]): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "e2e-needs-nats-"));
  await cp(join(REPO, "test/fixtures/needs-nats"), dir, { recursive: true });
  const own = JSON.parse(await readFile(join(dir, "shipit.json"), "utf8"));
  const { services: _declared, ...t } = own.test;
  await writeFile(join(dir, "shipit.json"), JSON.stringify({ ...own, test: services ? { ...t, services } : t }));
  return dir;
}

async function ciReport(dir: string) {
  const out = await mkdtemp(join(tmpdir(), "e2e-needs-nats-out-"));
  const r = await call(["ci-report", `--source=${dir}`, "--commit=e2e0017", "-o", out]);
  expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
  return readFile(join(out, "summary.txt"), "utf8");
}

test("with test.services nats: a Dagger service bound to the checks, reached on 127.0.0.1:4222; green, the host runner's rows", async () => {
  const dir = join(REPO, "test/fixtures/needs-nats");
  const [summary, host] = await Promise.all([
    ciReport(dir),
    execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), "ci", `--source=${dir}`], { cwd: REPO, reject: false }),
  ]);
  expect(gateRows(summary)).toEqual([
    "dependencies ok requirements.txt + tools (uv)",
    "lint ok 0 findings",
    "typecheck ok 0 errors in 2 files",
    "test ok 3 passed · coverage 90% (threshold 85%)",
    "security ok 0 findings · dependency audit: 0 packages, 0 vulnerable",
    "build ok needs-nats-0.0.0-dev.tar.gz (3 files, 1.8 KiB)",
  ]);
  expect(gateRows(host.stdout)).toEqual(gateRows(summary));
  expect(summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (needs-nats): all 6 gates passed");
});

test("with test.services postgres: PostgreSQL 15 from Debian's package as a Dagger service; green, the host runner's rows", async () => {
  const dir = join(REPO, "test/fixtures/needs-postgres");
  const [summary, host] = await Promise.all([
    ciReport(dir),
    execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), "ci", `--source=${dir}`], { cwd: REPO, reject: false }),
  ]);
  expect(gateRows(summary)[3]).toBe("test ok 3 passed · coverage 96.7% (threshold 85%)");
  expect(gateRows(host.stdout)).toEqual(gateRows(summary));
  expect(summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (needs-postgres): all 6 gates passed");
});

test("two services, one an image with its own command and a ready command run beside the tests: green", async () => {
  const summary = await ciReport(await copy([{ name: "nats" }, { name: "web", image: "python:3.11-slim", command: ["python3", "-m", "http.server", "--bind", "{bind}", "{port}"], port: 18080, ready: { command: ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:18080/')"] } }]));
  expect(gateRows(summary)[3]).toBe("test ok 3 passed · coverage 90% (threshold 85%)");
  expect(summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (needs-nats): all 6 gates passed");
});

test("the test function alone (dagger call test): the service bound to the test step's container, the gate green", async () => {
  const r = await call(["test", `--source=${join(REPO, "test/fixtures/needs-nats")}`]);
  expect(r.exitCode, r.stderr.slice(-3000)).toBe(0);
  expect(gateRows(r.stdout)).toEqual(["test ok 3 passed · coverage 90% (threshold 85%)"]);
});

test("without test.services: the engine's test gate is red on the refused connection, as on the host", async () => {
  const summary = await ciReport(await copy());
  expect(gateRows(summary)[3]).toBe("test FAILED 1 passed, 2 failed · coverage 38.9% (threshold 85%)");
  expect(summary).toContain('tests/test_nats.py::test_ping — failed on setup with "bot.nats_client.NatsError: cannot reach NATS at 127.0.0.1:4222: [Errno 111] Connection refused"');
  expect(summary.trimEnd().split("\n").at(-1)).toBe("shipit ci (needs-nats): FAILED gates: test");
});

test("a service that never listens: red after its timeoutSec, naming service, port and fix; the other gates unaffected", async () => {
  const summary = await ciReport(await copy([{ name: "nats", command: ["sleep", "600"], timeoutSec: 3 }]));
  const rows = gateRows(summary);
  expect(rows[3]).toBe("test FAILED service nats not ready · no tests ran");
  expect(rows.filter((r) => r.includes(" FAILED "))).toEqual([rows[3]]);
  expect(summary).toContain(
    "[test] service nats (sleep, port 4222) not ready: nothing answered on nats:4222 within 3 s (last attempt: Connection refused). Fix: check the service's command and port in test.services (nats must listen on 0.0.0.0:4222), or raise its timeoutSec\n" +
      "no tests ran: pytest starts only once every service in test.services is ready",
  );
});

test("a package Debian does not have: the test gate is red naming it, the other gates run", async () => {
  const summary = await ciReport(await copy([{ name: "nats", package: "no-such-nats-package", command: ["nats-server", "--port", "{port}"] }]));
  const rows = gateRows(summary);
  expect(rows[3]).toBe("test FAILED service nats not ready · no tests ran");
  expect(rows.filter((r) => r.includes(" FAILED "))).toEqual([rows[3]]);
  expect(summary).toMatch(/\[test\] service nats \(nats-server, port 4222\) not ready: installing no-such-nats-package into python:3\.11-slim failed \(exit 100\): [^]*Unable to locate package no-such-nats-package/);
  expect(summary).toContain("Fix: check that no-such-nats-package is a Debian package of python:3.11-slim's release and that the engine reaches Debian's mirrors");
});
