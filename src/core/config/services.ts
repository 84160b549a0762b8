import { z } from "zod";
import { configIssue, type ConfigIssue } from "../errors.js";
import { ImageRef } from "./grammar.js";

/**
 * Services the tests need (`test.services`): a NATS server, a PostgreSQL database. On the Dagger
 * runner each is a Dagger service bound to the test container; on the host runner a local process,
 * started before the test gate and stopped after it. Either way the tests reach it on
 * 127.0.0.1:<port> (the Dagger runner forwards that port to the service) and see
 * `<NAME>_HOST` / `<NAME>_PORT` in their environment.
 */

/** A service's name: a DNS label, its host name in the engine and the prefix of its env vars. */
const ServiceName = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,30}$/, "must be a lower-case name such as nats or postgres (letters, digits, '-', at most 31)");

const Argv = z.array(z.string().min(1, "must not be empty")).min(1);

export const ServiceSchema = z.strictObject({
  name: ServiceName.describe("The service's name: nats and postgres are known (their package, command and port are filled in); any other name needs package or image, and command"),
  package: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.+-]+$/, "must be a Debian package name such as nats-server")
    .optional()
    .describe("Debian package that provides the command: installed into the python image for the Dagger runner; must be installed on the host for the host runner"),
  image: ImageRef.optional().describe("Container image the Dagger runner runs instead of installing package (the host runner still runs command)"),
  command: Argv.optional().describe("The server's argv; {port} is replaced by port, {bind} by the address to listen on (127.0.0.1 on the host, 0.0.0.0 in the engine)"),
  port: z.number().int().min(1).max(65535).optional().describe("TCP port the service listens on; the tests reach it on 127.0.0.1:<port>"),
  ready: z
    .strictObject({
      tcp: z.boolean().optional().describe("Ready once a TCP connection to the port succeeds (default true)"),
      command: Argv.optional().describe("Also ready only once this command exits 0, run where the tests run (retried until the timeout)"),
    })
    .optional()
    .describe("How shipit knows the service is ready before the tests start"),
  timeoutSec: z.number().int().min(1).max(600).optional().describe("Seconds the service may take to be ready (default 30); after that the test gate is red, naming the service"),
});
export type ServiceConfig = z.infer<typeof ServiceSchema>;

/** A service with every field filled in: what the runners start. */
export interface TestService {
  name: string;
  package: string | null;
  image: string | null;
  /** The argv with {port} filled in; {bind} is left for the runner. Empty: the image's own command. */
  command: string[];
  port: number;
  ready: { tcp: boolean; command: string[] | null };
  timeoutSec: number;
}

/** The newest PostgreSQL Debian has installed (postgresql-15 on bookworm; `package` may name another). */
const PG = "$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)";
/**
 * PostgreSQL refuses to run as root: a fresh data folder, owned by the postgres user when shipit runs
 * as root (the package creates that user), trust authentication, user postgres, database postgres;
 * trusted from any address, since in the engine the tests connect from their own container (on the
 * host it listens on 127.0.0.1 only).
 * Stopped (SIGTERM to the group), the script waits for the server and removes the folder.
 */
const PG_SCRIPT = [
  'd="$(mktemp -d)"',
  `pg="${PG}"`,
  'trap \'wait; rm -rf "$d"\' EXIT',
  "trap 'exit 143' TERM INT",
  'run() { if [ "$(id -u)" = 0 ]; then chown -R postgres "$d"; su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi; }',
  `run "$pg/initdb -D $d -A trust -U postgres >/dev/null && echo 'host all all 0.0.0.0/0 trust' >>$d/pg_hba.conf && exec $pg/postgres -D $d -k $d -h {bind} -p {port}" &`,
  "wait $!",
].join("\n");

/** Known services: a name alone (`{"name": "nats"}`) is enough for these. */
export const KNOWN_SERVICES: Record<string, Omit<TestService, "name" | "timeoutSec">> = {
  nats: { package: "nats-server", image: null, command: ["nats-server", "--addr", "{bind}", "--port", "{port}"], port: 4222, ready: { tcp: true, command: null } },
  postgres: { package: "postgresql-15", image: null, command: ["sh", "-c", PG_SCRIPT], port: 5432, ready: { tcp: true, command: null } },
};

export const DEFAULT_SERVICE_TIMEOUT_SEC = 30;

/** The env var names a service's tests see: `nats` → NATS_HOST, NATS_PORT. */
export function serviceEnvPrefix(name: string): string {
  return name.toUpperCase().replace(/-/g, "_");
}

/**
 * The services filled in from the catalogue, or coded issues: an unknown name without package or
 * image and command (UNKNOWN_SERVICE), a service that would run nothing (SERVICE_INCOMPLETE),
 * two services under one name (DUPLICATE_SERVICE) or on one port (DUPLICATE_SERVICE_PORT).
 */
export function resolveServices(list: ServiceConfig[] | undefined, issues: ConfigIssue[]): TestService[] {
  const out: TestService[] = [];
  const names = new Map<string, number>();
  const ports = new Map<number, number>();
  for (const [i, s] of (list ?? []).entries()) {
    const path = ["test", "services", i];
    const known = KNOWN_SERVICES[s.name];
    const custom = s.package !== undefined || s.image !== undefined || s.command !== undefined;
    if (!known && !custom) {
      issues.push(
        configIssue({
          code: "UNKNOWN_SERVICE",
          path: [...path, "name"],
          value: s.name,
          problem: `is not a service shipit knows (${Object.keys(KNOWN_SERVICES).join(", ")})`,
          fix: `use one of ${Object.keys(KNOWN_SERVICES).map((k) => `"${k}"`).join(", ")}, or describe the service: {"name": "${s.name}", "package": "<debian package>", "command": [...], "port": <port>}`,
        }),
      );
      continue;
    }
    const command = s.command ?? known?.command ?? [];
    const port = s.port ?? known?.port;
    const missing = [
      ...(!known && s.package === undefined && s.image === undefined ? ["package or image"] : []),
      ...(command.length === 0 && s.image === undefined ? ["command"] : []),
      ...(port === undefined ? ["port"] : []),
    ];
    if (missing.length) {
      issues.push(
        configIssue({
          code: "SERVICE_INCOMPLETE",
          path,
          value: s,
          problem: `does not say ${missing.join(" and ")}: shipit cannot start "${s.name}" without ${missing.length === 1 ? "it" : "them"}`,
          fix: `add ${missing.map((m) => `"${m.split(" ")[0]}"`).join(" and ")} to test.services[${i}] (CONFIGURATION.md, Services for tests)`,
        }),
      );
      continue;
    }
    const before = names.get(s.name);
    if (before !== undefined) {
      issues.push(configIssue({ code: "DUPLICATE_SERVICE", path: [...path, "name"], value: s.name, problem: `names the same service as test.services[${before}]`, fix: "list each service once (give the second one another name)" }));
      continue;
    }
    names.set(s.name, i);
    const taken = ports.get(port!);
    if (taken !== undefined) {
      issues.push(
        configIssue({ code: "DUPLICATE_SERVICE_PORT", path: [...path, "port"], value: port, problem: `is also test.services[${taken}]'s port: both cannot listen on 127.0.0.1:${port}`, fix: `give test.services[${i}] a port of its own ("port": ${port! + 1})` }),
      );
      continue;
    }
    ports.set(port!, i);
    out.push({
      name: s.name,
      package: s.package ?? known?.package ?? null,
      image: s.image ?? null,
      command: command.map((a) => a.replaceAll("{port}", String(port))),
      port: port!,
      ready: { tcp: s.ready?.tcp ?? true, command: s.ready?.command ?? null },
      timeoutSec: s.timeoutSec ?? DEFAULT_SERVICE_TIMEOUT_SEC,
    });
  }
  return out;
}

/** What a service runs, for messages: its command, else its image. */
export function serviceWhat(s: TestService): string {
  return s.command[0] ?? s.image ?? s.name;
}
