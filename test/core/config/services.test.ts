/** test.services (issue 17, services for tests): the catalogue, the coded config errors, the plan. */
import { expect, test } from "vitest";
import { resolveConfig } from "../../../src/core/config/config.js";
import { ConfigError } from "../../../src/core/errors.js";
import { planChecks } from "../../../src/core/checks/plan.js";
import { CONTAINER_LAYOUT } from "../../../src/core/checks/step.js";
import { memoryView, ROSEY } from "../../helpers/memory-view.js";

async function issues(test: unknown): Promise<{ code: string; key: string; line: string }[]> {
  try {
    await resolveConfig(JSON.stringify({ test }), "shipit.json", memoryView(ROSEY));
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const lines = e.message.split("\n").slice(1);
    return e.issues.map((i, n) => ({ code: i.code, key: i.key, line: lines[n]!.trim().replace(/^- /, "") }));
  }
  throw new Error("expected a ConfigError");
}

test("a known service by name alone: nats' package, command, port and readiness filled in", async () => {
  const c = await resolveConfig(JSON.stringify({ test: { services: [{ name: "nats" }] } }), "shipit.json", memoryView(ROSEY));
  expect(c.services).toEqual([
    { name: "nats", package: "nats-server", image: null, command: ["nats-server", "--addr", "{bind}", "--port", "4222"], port: 4222, ready: { tcp: true, command: null }, timeoutSec: 30 },
  ]);
  expect(c.test.services).toEqual([{ name: "nats" }]);
});

test("no services by default; a custom service and overrides of a known one are kept", async () => {
  expect((await resolveConfig(null, "defaults", memoryView(ROSEY))).services).toEqual([]);
  const c = await resolveConfig(
    JSON.stringify({
      test: {
        services: [
          { name: "nats", port: 14222, timeoutSec: 5 },
          { name: "redis", package: "redis-server", command: ["redis-server", "--bind", "{bind}", "--port", "{port}"], port: 6379, ready: { command: ["redis-cli", "ping"] } },
          { name: "postgres" },
        ],
      },
    }),
    "shipit.json",
    memoryView(ROSEY),
  );
  expect(c.services.map((s) => [s.name, s.package, s.command.join(" ").split("\n")[0], s.port, s.ready, s.timeoutSec])).toEqual([
    ["nats", "nats-server", "nats-server --addr {bind} --port 14222", 14222, { tcp: true, command: null }, 5],
    ["redis", "redis-server", "redis-server --bind {bind} --port 6379", 6379, { tcp: true, command: ["redis-cli", "ping"] }, 30],
    ["postgres", "postgresql-15", 'sh -c d="$(mktemp -d)"', 5432, { tcp: true, command: null }, 30],
  ]);
  expect(c.services[2]!.command[2]).toContain("-h {bind} -p 5432");
});

test("an unknown service name is a coded config error listing the known ones", async () => {
  expect(await issues({ services: [{ name: "natz" }] })).toEqual([
    {
      code: "UNKNOWN_SERVICE",
      key: "test.services[0].name",
      line: 'test.services[0].name = "natz": is not a service shipit knows (nats, postgres). Fix: use one of "nats", "postgres", or describe the service: {"name": "natz", "package": "<debian package>", "command": [...], "port": <port>}',
    },
  ]);
});

test("a custom service without a port or a command, duplicate names and ports, bad shapes: coded errors", async () => {
  expect(await issues({ services: [{ name: "redis", package: "redis-server" }] })).toEqual([
    {
      code: "SERVICE_INCOMPLETE",
      key: "test.services[0]",
      line: 'test.services[0] = {"name":"redis","package":"redis-server"}: does not say command and port: shipit cannot start "redis" without them. Fix: add "command" and "port" to test.services[0] (CONFIGURATION.md, Services for tests)',
    },
  ]);
  expect(await issues({ services: [{ name: "nats" }, { name: "nats", port: 4223 }, { name: "postgres", port: 4222 }] })).toEqual([
    { code: "DUPLICATE_SERVICE", key: "test.services[1].name", line: 'test.services[1].name = "nats": names the same service as test.services[0]. Fix: list each service once (give the second one another name)' },
    {
      code: "DUPLICATE_SERVICE_PORT",
      key: "test.services[2].port",
      line: "test.services[2].port = 4222: is also test.services[0]'s port: both cannot listen on 127.0.0.1:4222. Fix: give test.services[2] a port of its own (\"port\": 4223)",
    },
  ]);
  expect((await issues({ services: [{ name: "nats", port: 70000 }] })).map((i) => [i.code, i.key])).toEqual([["TOO_BIG", "test.services[0].port"]]);
  expect((await issues({ services: [{ name: "nats", port: 0 }] })).map((i) => [i.code, i.key])).toEqual([["TOO_SMALL", "test.services[0].port"]]);
  expect((await issues({ services: [{ name: "Nats!" }] })).map((i) => [i.code, i.key])).toEqual([["INVALID_FORMAT", "test.services[0].name"]]);
  expect((await issues({ services: [{ name: "nats", host: "x" }] })).map((i) => i.line)).toEqual([
    'test.services[0].host = "x": is not a known key. Fix: did you mean \"port\"? Known keys here: name, package, image, command, port, ready, timeoutSec',
  ]);
  expect((await issues({ services: [{ name: "nats", ready: { tcp: true, http: "/" } }] })).map((i) => [i.code, i.key])).toEqual([["UNKNOWN_KEY", "test.services[0].ready.http"]]);
  expect((await issues({ services: { name: "nats" } })).map((i) => [i.code, i.key])).toEqual([["INVALID_TYPE", "test.services"]]);
});

test("the test step carries the services and their env; no other step does", async () => {
  const c = await resolveConfig(JSON.stringify({ test: { services: [{ name: "nats" }] } }), "shipit.json", memoryView(ROSEY));
  const p = planChecks(c, CONTAINER_LAYOUT, { pack: "", auditPins: "" }, { tracked: [], findings: [] } as never);
  expect(p.test.services.map((s) => s.name)).toEqual(["nats"]);
  expect(p.test.env).toMatchObject({ NATS_HOST: "127.0.0.1", NATS_PORT: "4222" });
  for (const s of [p.lint, p.typecheck, p.build, p.security.code]) expect(s.services).toEqual([]);
});
