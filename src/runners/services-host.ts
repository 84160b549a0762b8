/**
 * test.services on the host runner: each service a local process (`nats-server --port 4222`),
 * started before the test gate, readiness-checked within its timeoutSec, and stopped after the
 * gate, also when the gate fails and when shipit is interrupted (SIGINT, SIGTERM) or exits.
 */
import { access, constants } from "node:fs/promises";
import { connect } from "node:net";
import { delimiter, join } from "node:path";
import { execa, type ResultPromise } from "execa";
import type { TestService } from "../core/config/services.js";
import { serviceNotReady } from "../core/checks/step.js";
import { tail } from "../core/text.js";

/** The address a service listens on here: loopback only, nothing is exposed to the network. */
const BIND = "127.0.0.1";
/** How long a stopped service may take to end before it is killed. */
const STOP_GRACE_MS = 5000;

type Child = ResultPromise<{ detached: true; reject: false; stdin: "ignore"; buffer: false }>;

/** Every service process this shipit started and has not stopped yet, for the exit and signal handlers. */
const running = new Set<Child>();
let handlersInstalled = false;

function killGroup(child: Child, signal: NodeJS.Signals): void {
  try {
    // detached: the child leads its own process group, so a server's own children go too
    if (child.pid !== undefined) process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

/** Installed on the first service start, never on import. */
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on("exit", () => {
    for (const c of running) killGroup(c, "SIGKILL");
  });
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.on(signal, () => {
      for (const c of running) killGroup(c, "SIGKILL");
      running.clear();
      // only this handler: the signal would have ended the process, so end it
      if (process.listenerCount(signal) === 1) process.exit(code);
    });
  }
}

/** `cmd` as the shell would find it: on PATH, then the sbin folders a server package installs into. */
async function which(cmd: string): Promise<string | null> {
  if (cmd.includes("/")) return (await access(cmd, constants.X_OK).then(() => true, () => false)) ? cmd : null;
  const dirs = [...(process.env["PATH"] ?? "").split(delimiter), "/usr/local/sbin", "/usr/sbin", "/sbin"].filter(Boolean);
  for (const d of dirs) {
    const p = join(d, cmd);
    if (await access(p, constants.X_OK).then(() => true, () => false)) return p;
  }
  return null;
}

/** Whether something accepts a TCP connection on 127.0.0.1:port within `ms`. */
export function tcpOpen(port: number, ms = 500, host = BIND): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(ms, () => done(false));
    sock.once("connect", () => done(true));
    sock.once("error", () => done(false));
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface HostServices {
  /** The `shipit: service …` lines of the services that were not ready; empty when all are. */
  failures: string[];
  /** Stop every service started (SIGTERM, then SIGKILL after 5 s). */
  stop(): Promise<void>;
}

/** Start the services side by side and wait until each is ready or has failed. */
export async function startHostServices(services: TestService[]): Promise<HostServices> {
  const started: Child[] = [];
  const results = await Promise.all(services.map((s, i) => startOne(s, i, started)));
  const stop = async () => {
    await Promise.all(
      started.map(async (c) => {
        killGroup(c, "SIGTERM");
        const timer = setTimeout(() => killGroup(c, "SIGKILL"), STOP_GRACE_MS);
        await c;
        clearTimeout(timer);
        running.delete(c);
      }),
    );
  };
  return { failures: results.filter((r): r is string => r !== null), stop };
}

async function startOne(s: TestService, i: number, started: Child[]): Promise<string | null> {
  const at = `test.services[${i}]`;
  if (s.command.length === 0) {
    return serviceNotReady(s, `it names only an image (${s.image}), which the host runner cannot run`, `give ${at} a command (and the package that provides it), or run the check through the engine`);
  }
  const exe = await which(s.command[0]!);
  if (!exe) {
    const pkg = s.package ?? s.command[0]!;
    return serviceNotReady(s, `${s.command[0]} is not installed on this machine`, `apt-get install ${pkg} (or put ${s.command[0]} on PATH)`);
  }
  if (await tcpOpen(s.port)) {
    return serviceNotReady(s, `port ${s.port} on ${BIND} is already in use (another ${s.command[0]}, or another program)`, `stop what listens on ${s.port}, or give ${at} another port`);
  }
  installHandlers();
  const argv = s.command.map((a) => a.replaceAll("{bind}", BIND));
  // a script (postgres' initdb + postgres) is named, not quoted whole
  const shown = argv.some((a) => a.includes("\n")) ? `the command of ${at} (${argv.slice(0, 2).join(" ")} …)` : `\`${argv.join(" ")}\``;
  const child: Child = execa(exe, argv.slice(1), { detached: true, reject: false, stdin: "ignore", buffer: false });
  running.add(child);
  started.push(child);
  // the last of each stream: a server says why it stopped on stderr, after its usage text on stdout
  const seen = { stdout: "", stderr: "" };
  for (const name of ["stdout", "stderr"] as const) {
    child[name]?.on("data", (chunk: Buffer) => {
      seen[name] = (seen[name] + chunk.toString()).slice(-8000);
    });
  }
  let exited: { code: number | undefined; signal: string | undefined } | null = null;
  void child.then((r) => {
    exited = { code: r.exitCode, signal: r.signal };
  });
  const deadline = performance.now() + s.timeoutSec * 1000;
  let tcpReady = !s.ready.tcp;
  let lastCheck = "";
  while (performance.now() < deadline) {
    if (exited) {
      const output = seen.stderr.trim() ? seen.stderr : seen.stdout;
      const e = exited as { code: number | undefined; signal: string | undefined };
      const how = e.code !== undefined ? `exit code ${e.code}` : `signal ${e.signal}`;
      return serviceNotReady(s, `${s.command[0]} ended (${how}) before it was ready${output.trim() ? `; its output:\n${tail(output, 10)}\n` : ""}`, `run ${shown} on this machine to see why, or fix ${at}`);
    }
    if (!tcpReady) tcpReady = await tcpOpen(s.port);
    if (tcpReady && s.ready.command) {
      const left = Math.max(100, deadline - performance.now());
      const r = await execa(s.ready.command[0]!, s.ready.command.slice(1), { reject: false, timeout: left, stdin: "ignore" });
      if (r.exitCode === 0) return null;
      lastCheck = `; the ready command \`${s.ready.command.join(" ")}\` last said: ${tail(`${r.stdout}\n${r.stderr}`.trim(), 3) || `exit ${r.exitCode}`}`;
    } else if (tcpReady) return null;
    await sleep(100);
  }
  const what = tcpReady ? `the port answered but the ready command did not succeed within ${s.timeoutSec} s${lastCheck}` : `nothing answered on ${BIND}:${s.port} within ${s.timeoutSec} s`;
  const fix = tcpReady ? `check ${at}.ready.command against the running service, or raise ${at}.timeoutSec` : `check that ${shown} listens on port ${s.port}, or raise ${at}.timeoutSec`;
  return serviceNotReady(s, what, fix);
}
