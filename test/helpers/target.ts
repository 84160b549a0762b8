/**
 * Real deploy targets for the end-to-end tests: a Debian bookworm container with systemd as PID 1,
 * sshd (key-only, host key pinned), Python 3.11, the units rosey-test.service / rosey-prod.service
 * and a CyTube-compatible chat server (cytube-test.service on the container's 127.0.0.1:8765).
 * Also a host-side chat server (startChatServer) for tests that need one without a container.
 *
 * Docker must be installed and dockerd running (bash dagger/engine-up.sh does both); without it
 * every function here throws with an install hint. Nothing is ever skipped.
 * See test/targets/README.md for the layout, the units and the accounts file.
 */
import { cachedVenv } from "../../src/runners/venv.js";
import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { execa, type ResultPromise } from "execa";

export const REPO = resolve(import.meta.dirname, "../..");
export const TARGETS_DIR = join(REPO, "test/targets");
export const TARGET_IMAGE = process.env.SHIPIT_TARGET_IMAGE ?? "shipit/target:systemd";
/** The bare host for `shipit setup` (test/targets/bare): systemd, sshd, python3 (+ venv, sudo), nothing of the bot's. */
export const BARE_TARGET_IMAGE = "shipit/target:bare";
/** Debian's docker client (matches its daemon) when present, as dagger/engine-up.sh uses. */
export const DOCKER = process.env.SHIPIT_DOCKER ?? (existsSync("/usr/bin/docker") ? "/usr/bin/docker" : "docker");

/** Where the chat server listens inside every target, and the accounts file it reads. */
export const TARGET_CHAT_URL = "http://127.0.0.1:8765";
export const TARGET_CHAT_ACCOUNTS = "/etc/cytube/accounts.json";
/** The accounts baked into the image (test/targets/cytube/accounts.json); tests may replace them. */
export const DEFAULT_CHAT_ACCOUNTS: Readonly<Record<string, string>> = {
  RoseyTest: "rosey-test-password",
  Rosey: "rosey-prod-password",
  ShipitSmoke: "shipit-smoke-password",
};

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Text written to the command's stdin. */
  input?: string;
  /** A file streamed to the command's stdin (e.g. an artifact: `ssh(["sh", "-c", "cat > X"], { inputFile })`). */
  inputFile?: string;
  /** Kill the command after this long (default 5 minutes). */
  timeoutMs?: number;
  /** Extra environment for the command (exec: inside the container; ssh: for the local ssh client). */
  env?: Record<string, string>;
}

export interface ChatProbeOptions {
  channel: string;
  /** Log in under this name (else stay anonymous). */
  name?: string;
  /** The account's password: passed through the environment, never argv. */
  password?: string;
  /** Chat message to send after login, e.g. "!ping". */
  say?: string;
  /** Wait for a chatMsg from this user sent after ours. */
  expectFrom?: string;
  /** Text that message must contain. */
  expect?: string;
  timeoutSec?: number;
  /** Server to ask for /socketconfig (default: this chat server). */
  server?: string;
}

/** What test/targets/cytube/probe.py prints: one JSON object. */
export interface ChatProbeResult {
  ok: boolean;
  error?: string;
  server_url?: string;
  login?: { success: boolean; name?: string; error?: string } | null;
  userlist?: string[];
  reply?: { username: string; msg: string; time: number; meta: unknown };
  rtt_ms?: number;
  events: [string, unknown][];
  exitCode: number;
  stderr: string;
}

/** The CyTube-compatible server, inside a target or on the host. */
export interface ChatServerHandle {
  /** Base URL, e.g. "http://127.0.0.1:8765": what the bot's `server` setting takes. */
  url: string;
  accountsPath: string;
  /** Replace the accounts ({name: password}); the server re-reads them on every login. */
  setAccounts(accounts: Record<string, string>): Promise<void>;
  /** A scripted client session (socketconfig, connect, joinChannel, login, chatMsg, wait for a reply). */
  probe(opts: ChatProbeOptions): Promise<ChatProbeResult>;
}

export interface Target {
  /** Container name, shipit-target-<random>. */
  name: string;
  image: string;
  /** sshd as seen from this host. */
  host: "127.0.0.1";
  port: number;
  /** sshd as seen from containers on the default docker bridge (e.g. those the Dagger engine runs). */
  bridgeHost: string;
  bridgePort: number;
  /** SSH user: "root" (default) or "deploy" (sudo -n systemctl for rosey-* units; the units run as deploy). */
  user: "root" | "deploy";
  /** The ed25519 private key (OpenSSH format) authorized for `user`, and where it is on disk (0600). */
  privateKey: string;
  privateKeyPath: string;
  publicKey: string;
  /** The container's ed25519 host key, "ssh-ed25519 AAAA...". */
  hostKey: string;
  /** known_hosts lines for [127.0.0.1]:port and [bridgeHost]:bridgePort, and a file holding them. */
  knownHosts: string;
  knownHostsPath: string;
  /** The private temp dir holding the key and known_hosts (removed by stop()). */
  dir: string;
  /** The chat server inside the target (cytube-test.service, 127.0.0.1:8765 on the target's loopback). */
  chat: ChatServerHandle;
  /** Run argv in the container as root (docker exec). Never throws on a non-zero exit. */
  exec(cmd: string[], opts?: RunOptions): Promise<ExecResult>;
  /** Run argv on the target over real SSH as `user` (StrictHostKeyChecking=yes, pinned known_hosts). */
  ssh(cmd: string[], opts?: RunOptions): Promise<ExecResult>;
  /** The ssh options this target needs (key, known_hosts, port, batch mode), for ssh/scp command lines. */
  sshOptions(): string[];
  /** `journalctl -u UNIT -n LINES` inside the container, for failure messages. */
  journal(unit: string, lines?: number): Promise<string>;
  /** Remove the container and the temp dir. Idempotent. */
  stop(): Promise<void>;
}

export interface StartTargetOptions {
  /** SSH user; default "root". */
  user?: "root" | "deploy";
  /**
   * Image to run (default shipit/target:systemd, built from test/targets/ when missing or stale).
   * "bare": shipit/target:bare (test/targets/bare), built the same way; root only (no deploy user there).
   */
  image?: string;
  /** How long to wait for systemd + sshd (default 120 s). */
  readyTimeoutMs?: number;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const result = (r: { exitCode?: number; stdout?: unknown; stderr?: unknown }): ExecResult => ({
  exitCode: r.exitCode ?? -1,
  stdout: String(r.stdout ?? ""),
  stderr: String(r.stderr ?? ""),
});

let dockerChecked: Promise<void> | undefined;
/** Throws with an install hint unless docker is installed and dockerd answers. */
export function requireDocker(): Promise<void> {
  dockerChecked ??= (async () => {
    const r = await execa(DOCKER, ["info", "--format", "{{.ServerVersion}}"], { reject: false });
    if (r.failed && (r as { code?: string }).code === "ENOENT") {
      throw new Error(
        `the deploy-target tests need docker, and '${DOCKER}' is not installed.\n` +
          "Install it: apt-get install -y docker.io debootstrap, then start dockerd: bash dagger/engine-up.sh (it starts dockerd), " +
          "or nohup dockerd >/var/log/dockerd.log 2>&1 &",
      );
    }
    if (r.exitCode !== 0) {
      throw new Error(
        `dockerd does not answer ('${DOCKER} info' failed: ${String(r.stderr || r.message || "").trim().split("\n").slice(-2).join(" ")}).\n` +
          "Start it: bash dagger/engine-up.sh (it starts dockerd), or nohup dockerd >/var/log/dockerd.log 2>&1 &",
      );
    }
  })();
  dockerChecked.catch(() => (dockerChecked = undefined));
  return dockerChecked;
}

export interface ImageBuild {
  image: string;
  id: string;
  built: boolean;
  base_built: boolean;
  seconds: number;
}

let imageBuild: Promise<ImageBuild> | undefined;
/**
 * Build the target image when it is missing or its recipe (the files under test/targets/systemd and
 * test/targets/cytube, and the base image) changed; otherwise a quick label check. Runs
 * test/targets/build-image.sh, which locks against concurrent builds from other processes.
 */
export function buildTargetImage(): Promise<ImageBuild> {
  imageBuild ??= runBuildImage("systemd", TARGET_IMAGE);
  imageBuild.catch(() => (imageBuild = undefined));
  return imageBuild;
}

let bareBuild: Promise<ImageBuild> | undefined;
/** The bare variant (test/targets/bare/Dockerfile), built by the same script on the same base. */
export function buildBareTargetImage(): Promise<ImageBuild> {
  bareBuild ??= runBuildImage("bare", BARE_TARGET_IMAGE);
  bareBuild.catch(() => (bareBuild = undefined));
  return bareBuild;
}

function runBuildImage(variant: "systemd" | "bare", image: string): Promise<ImageBuild> {
  return (async () => {
    await requireDocker();
    const r = await execa("bash", [join(TARGETS_DIR, "build-image.sh")], {
      reject: false,
      env: { SHIPIT_TARGET_IMAGE: image, SHIPIT_TARGET_VARIANT: variant, SHIPIT_DOCKER: DOCKER },
      timeout: 30 * 60_000,
    });
    if (r.exitCode !== 0) {
      throw new Error(`building the deploy-target image failed (bash test/targets/build-image.sh, exit ${r.exitCode}):\n${r.stderr.split("\n").slice(-30).join("\n")}`);
    }
    return JSON.parse(r.stdout.trim().split("\n").at(-1)!) as ImageBuild;
  })();
}

/** The docker bridge gateway address as seen from containers (normally 172.17.0.1). */
export async function bridgeGateway(): Promise<string> {
  const r = await execa(DOCKER, ["network", "inspect", "bridge", "-f", "{{range .IPAM.Config}}{{.Gateway}}{{end}}"], { reject: false });
  if (r.exitCode === 0 && /^\d+\.\d+\.\d+\.\d+$/.test(r.stdout.trim())) return r.stdout.trim();
  const ip = await execa("ip", ["-4", "-o", "addr", "show", "dev", "docker0"], { reject: false });
  const m = /inet (\d+\.\d+\.\d+\.\d+)\//.exec(ip.stdout);
  if (m) return m[1]!;
  throw new Error(`cannot tell the docker bridge gateway address (docker network inspect bridge: ${r.stderr.trim()}; no docker0 address)`);
}

const OWNER_LABEL = "shipit.target.owner";
const started = new Map<string, Target>();

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Remove target containers left by test processes that have died (killed runs). */
async function removeStaleTargets(): Promise<void> {
  const r = await execa(DOCKER, ["ps", "-a", "--filter", "name=^shipit-target-", "--format", `{{.Names}} {{.Label "${OWNER_LABEL}"}}`], { reject: false });
  const stale = r.stdout
    .split("\n")
    .map((l) => l.trim().split(" "))
    .filter(([n, owner]) => n && owner && /^\d+$/.test(owner) && !pidAlive(Number(owner)))
    .map(([n]) => n!);
  if (stale.length) await execa(DOCKER, ["rm", "-f", "-v", ...stale], { reject: false });
}

/**
 * Remove target containers: by default the ones this process started; with `all`, every
 * shipit-target-* container on the machine (for manual cleanup; it also kills other runs' targets).
 */
export async function stopAllTargets(opts: { all?: boolean } = {}): Promise<void> {
  await Promise.all([...started.values()].map((t) => t.stop()));
  if (opts.all) {
    const r = await execa(DOCKER, ["ps", "-aq", "--filter", "name=^shipit-target-"], { reject: false });
    const ids = r.stdout.split("\n").filter(Boolean);
    if (ids.length) await execa(DOCKER, ["rm", "-f", "-v", ...ids], { reject: false });
  }
}

async function dockerExec(name: string, cmd: string[], opts: RunOptions = {}): Promise<ExecResult> {
  // `-e KEY` (no value): docker takes the value from its own environment, so it is not in argv.
  const envArgs = Object.keys(opts.env ?? {}).flatMap((k) => ["-e", k]);
  const stdin = opts.input !== undefined || opts.inputFile !== undefined;
  const r = await execa(DOCKER, ["exec", ...(stdin ? ["-i"] : []), ...envArgs, name, ...cmd], {
    reject: false,
    ...(opts.inputFile !== undefined ? { inputFile: opts.inputFile } : { input: opts.input }),
    env: opts.env,
    timeout: opts.timeoutMs ?? 5 * 60_000,
    stripFinalNewline: false,
  });
  return result(r);
}

/** Start a fresh target container and wait until systemd runs and sshd takes the key. */
export async function startTarget(opts: StartTargetOptions = {}): Promise<Target> {
  const user = opts.user ?? "root";
  if (user !== "root" && user !== "deploy") throw new Error(`startTarget: user must be "root" or "deploy", got ${JSON.stringify(user)}`);
  await requireDocker();
  if (opts.image === "bare" && user !== "root") throw new Error(`startTarget: the bare image has no "${user}" user (shipit setup creates it); start it as root`);
  const image = opts.image === "bare" ? (await buildBareTargetImage()).image : (opts.image ?? (await buildTargetImage()).image);
  await removeStaleTargets();
  const bridgeHost = await bridgeGateway();
  const name = `shipit-target-${randomBytes(4).toString("hex")}`;
  const dir = await mkdtemp(join(tmpdir(), `${name}-`));
  await chmod(dir, 0o700);
  const privateKeyPath = join(dir, "id_ed25519");
  const knownHostsPath = join(dir, "known_hosts");
  const kg = await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `shipit@${name}`, "-f", privateKeyPath], { reject: false });
  if (kg.exitCode !== 0) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`ssh-keygen failed (${kg.stderr || kg.message}); install it: apt-get install -y openssh-client`);
  }
  const privateKey = await readFile(privateKeyPath, "utf8");
  const publicKey = (await readFile(`${privateKeyPath}.pub`, "utf8")).trim();

  const run = await execa(
    DOCKER,
    [
      "run", "-d", "--name", name, "--hostname", name,
      "--label", `${OWNER_LABEL}=${process.pid}`,
      "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
      "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
      "--tmpfs", "/run", "--tmpfs", "/run/lock",
      "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw",
      "-p", "127.0.0.1::22", "-p", `${bridgeHost}::22`,
      image, "/sbin/init",
    ],
    { reject: false },
  );
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    started.delete(name);
    await execa(DOCKER, ["rm", "-f", "-v", name], { reject: false });
    await rm(dir, { recursive: true, force: true });
  };
  if (run.exitCode !== 0) {
    await stop();
    throw new Error(`docker run ${image} failed: ${run.stderr.trim()}`);
  }

  const exec = (cmd: string[], o?: RunOptions) => dockerExec(name, cmd, o);
  const fail = async (what: string): Promise<never> => {
    const [logs, failed, sshd] = await Promise.all([
      execa(DOCKER, ["logs", "--tail", "30", name], { reject: false }),
      exec(["systemctl", "--failed", "--no-pager"]),
      exec(["journalctl", "-u", "ssh", "-u", "ssh-hostkey", "-n", "20", "--no-pager"]),
    ]);
    await stop();
    throw new Error(`target ${name}: ${what}\n--- docker logs:\n${logs.stdout}${logs.stderr}\n--- systemctl --failed:\n${failed.stdout}\n--- sshd journal:\n${sshd.stdout}`);
  };

  try {
    const deadline = Date.now() + (opts.readyTimeoutMs ?? 120_000);
    // 1. systemd up
    let state = "";
    for (;;) {
      const r = await exec(["systemctl", "is-system-running"], { timeoutMs: 10_000 });
      state = r.stdout.trim();
      if (state === "running" || state === "degraded") break;
      const running = await execa(DOCKER, ["inspect", "-f", "{{.State.Running}}", name], { reject: false });
      if (running.stdout.trim() !== "true") return await fail("the container exited while systemd was starting");
      if (Date.now() > deadline) return await fail(`systemd did not reach running/degraded (last state: ${state || r.stderr.trim()})`);
      await sleep(250);
    }
    // 2. authorize the key (and, for "deploy", hand it the base paths and run the units as deploy)
    const home = user === "root" ? "/root" : "/home/deploy";
    const setup = [
      `set -e; umask 077; install -d -m 0700 -o ${user} -g ${user} ${home}/.ssh`,
      `cat > ${home}/.ssh/authorized_keys; chown ${user}:${user} ${home}/.ssh/authorized_keys`,
    ];
    if (user === "deploy") {
      for (const env of ["test", "prod"]) {
        setup.push(
          `chown -R deploy:deploy /srv/rosey-${env}`,
          `install -d /etc/systemd/system/rosey-${env}.service.d`,
          `printf '[Service]\\nUser=deploy\\nGroup=deploy\\n' > /etc/systemd/system/rosey-${env}.service.d/user.conf`,
        );
      }
      setup.push("systemctl daemon-reload");
    }
    const auth = await exec(["sh", "-c", setup.join("\n")], { input: `${publicKey}\n` });
    if (auth.exitCode !== 0) return await fail(`authorizing the key failed: ${auth.stderr}`);
    // 3. the host key (generated at boot by ssh-hostkey.service) and the published ports
    let hostKey = "";
    while (!hostKey) {
      const hk = await exec(["cat", "/etc/ssh/ssh_host_ed25519_key.pub"]);
      if (hk.exitCode === 0) hostKey = hk.stdout.trim().split(/\s+/).slice(0, 2).join(" ");
      else if (Date.now() > deadline) return await fail(`no ed25519 host key: ${hk.stderr.trim()}`);
      else await sleep(250);
    }
    const ports = await execa(DOCKER, ["port", name, "22/tcp"], { reject: false });
    const portOn = (ip: string) => Number(new RegExp(`^${ip.replace(/\./g, "\\.")}:(\\d+)$`, "m").exec(ports.stdout)?.[1] ?? NaN);
    const port = portOn("127.0.0.1");
    const bridgePort = portOn(bridgeHost);
    if (!port || !bridgePort) return await fail(`cannot read the published ssh ports (docker port: ${ports.stdout.trim()} ${ports.stderr.trim()})`);
    const knownHosts = `[127.0.0.1]:${port} ${hostKey}\n[${bridgeHost}]:${bridgePort} ${hostKey}\n`;
    await writeFile(knownHostsPath, knownHosts, { mode: 0o600 });

    const sshOptions = () => [
      "-i", privateKeyPath,
      "-o", "IdentitiesOnly=yes",
      "-o", "BatchMode=yes",
      "-o", "StrictHostKeyChecking=yes",
      "-o", `UserKnownHostsFile=${knownHostsPath}`,
      "-o", "GlobalKnownHostsFile=/dev/null",
      "-o", "ConnectTimeout=15",
      "-o", "LogLevel=ERROR",
      "-p", String(port),
    ];
    const ssh = async (cmd: string[], o: RunOptions = {}): Promise<ExecResult> => {
      const r = await execa("ssh", [...sshOptions(), `${user}@127.0.0.1`, cmd.map(q).join(" ")], {
        reject: false,
        ...(o.inputFile !== undefined ? { inputFile: o.inputFile } : { input: o.input ?? "" }),
        timeout: o.timeoutMs ?? 5 * 60_000,
        env: o.env,
        stripFinalNewline: false,
      });
      return result(r);
    };
    // 4. sshd takes the key
    for (;;) {
      const r = await ssh(["true"], { timeoutMs: 20_000 });
      if (r.exitCode === 0) break;
      if (Date.now() > deadline) return await fail(`sshd did not accept the key on 127.0.0.1:${port}: ${r.stderr.trim()}`);
      await sleep(250);
    }

    const chat: ChatServerHandle = {
      url: TARGET_CHAT_URL,
      accountsPath: TARGET_CHAT_ACCOUNTS,
      async setAccounts(accounts) {
        const r = await exec(["sh", "-c", `umask 077; cat > ${TARGET_CHAT_ACCOUNTS}.new && mv ${TARGET_CHAT_ACCOUNTS}.new ${TARGET_CHAT_ACCOUNTS}`], { input: JSON.stringify(accounts) });
        if (r.exitCode !== 0) throw new Error(`writing ${TARGET_CHAT_ACCOUNTS} on ${name} failed: ${r.stderr}`);
      },
      async probe(p) {
        const r = await exec(["/opt/cytube/venv/bin/python", "/opt/cytube/probe.py", ...probeArgs(p, TARGET_CHAT_URL)], {
          env: p.password !== undefined ? { PROBE_PW: p.password } : {},
          timeoutMs: ((p.timeoutSec ?? 10) + 30) * 1000,
        });
        return parseProbe(r);
      },
    };
    const target: Target = {
      name, image, host: "127.0.0.1", port, bridgeHost, bridgePort, user,
      privateKey, privateKeyPath, publicKey, hostKey, knownHosts, knownHostsPath, dir, chat,
      exec, ssh, sshOptions,
      async journal(unit, lines = 50) {
        const r = await exec(["journalctl", "-u", unit, "-n", String(lines), "--no-pager", "-o", "short-iso"]);
        return r.stdout + r.stderr;
      },
      stop,
    };
    started.set(name, target);
    return target;
  } catch (e) {
    await stop();
    throw e;
  }
}

function probeArgs(p: ChatProbeOptions, defaultServer: string): string[] {
  const a = ["--server", p.server ?? defaultServer, "--channel", p.channel, "--timeout", String(p.timeoutSec ?? 10)];
  if (p.name) a.push("--name", p.name);
  if (p.password !== undefined) a.push("--pw-env", "PROBE_PW");
  if (p.say) a.push("--say", p.say);
  if (p.expectFrom) a.push("--expect-from", p.expectFrom);
  if (p.expect) a.push("--expect", p.expect);
  return a;
}

function parseProbe(r: ExecResult): ChatProbeResult {
  const line = r.stdout.trim().split("\n").at(-1) ?? "";
  try {
    return { ...(JSON.parse(line) as Omit<ChatProbeResult, "exitCode" | "stderr">), exitCode: r.exitCode, stderr: r.stderr };
  } catch {
    return { ok: false, error: `probe.py printed no JSON (exit ${r.exitCode}): ${r.stderr.trim().split("\n").slice(-5).join(" | ")}`, events: [], exitCode: r.exitCode, stderr: r.stderr };
  }
}

// ---------------------------------------------------------------------------------------------
// The chat server on this host

export interface HostChatServer extends ChatServerHandle {
  host: string;
  port: number;
  /** GET /api/channels/<channel>: who is in it and its recent chat (a debug view, not CyTube's). */
  channelState(channel: string): Promise<{ channel: string; users: string[]; history: { username: string; msg: string; time: number }[] } | null>;
  /** The server's log so far (stderr). */
  logs(): string;
  stop(): Promise<void>;
}

export interface StartChatServerOptions {
  /** Address to listen on (default 127.0.0.1; the docker bridge gateway makes it reachable from containers). */
  host?: string;
  /** Port (default: a free one). */
  port?: number;
  /** {name: password} (default DEFAULT_CHAT_ACCOUNTS). */
  accounts?: Record<string, string>;
  /** Known channels; others get 404 from socketconfig (default: test-rosey, rosey). Empty list: any channel. */
  channels?: string[];
  allowGuests?: boolean;
  /** Chat messages replayed on join (default 15, as CyTube). */
  history?: number;
}

const CHAT_REQUIREMENTS = join(TARGETS_DIR, "cytube/requirements.txt");

let chatVenv: Promise<string> | undefined;
/** A venv with the chat server's requirements under .shipit/cytube/, cached by the requirements' hash. */
export function chatServerVenv(): Promise<string> {
  chatVenv ??= (async () => {
    const hash = createHash("sha256").update(await readFile(CHAT_REQUIREMENTS)).digest("hex").slice(0, 16);
    const root = join(REPO, ".shipit/cytube");
    const venv = join(root, `venv-${hash}`);
    if (existsSync(join(venv, ".complete"))) return venv;
    await cachedVenv(venv, CHAT_REQUIREMENTS, "the chat server's venv");
    // drop venvs of older requirements
    for (const d of await readdir(root)) if (d.startsWith("venv-") && d !== `venv-${hash}`) await rm(join(root, d), { recursive: true, force: true });
    return venv;
  })();
  chatVenv.catch(() => (chatVenv = undefined));
  return chatVenv;
}

/** Run test/targets/cytube/server.py on this host (in its venv) and wait until it listens. */
export async function startChatServer(opts: StartChatServerOptions = {}): Promise<HostChatServer> {
  const venv = await chatServerVenv();
  const py = join(venv, "bin/python");
  const dir = await mkdtemp(join(tmpdir(), "shipit-chat-"));
  const accountsPath = join(dir, "accounts.json");
  await writeFile(accountsPath, JSON.stringify(opts.accounts ?? DEFAULT_CHAT_ACCOUNTS), { mode: 0o600 });
  const host = opts.host ?? "127.0.0.1";
  const channels = opts.channels ?? ["test-rosey", "rosey"];
  const args = [join(TARGETS_DIR, "cytube/server.py"), "--host", host, "--port", String(opts.port ?? 0), "--accounts", accountsPath, "--history", String(opts.history ?? 15)];
  if (channels.length) args.push("--channels", channels.join(","));
  if (opts.allowGuests) args.push("--allow-guests");
  const child: ResultPromise = execa(py, args, { reject: false, buffer: false, stdin: "ignore" });
  let stderr = "";
  child.stderr?.on("data", (b: Buffer) => (stderr += b.toString()));
  const port = await new Promise<number>((resolvePort, rejectPort) => {
    let out = "";
    const timer = setTimeout(() => rejectPort(new Error(`the chat server did not start within 60 s:\n${stderr}`)), 60_000);
    child.stdout?.on("data", (b: Buffer) => {
      out += b.toString();
      const line = out.split("\n").find((l) => l.includes('"listening"'));
      if (line) {
        clearTimeout(timer);
        resolvePort(Number((JSON.parse(line) as { port: number }).port));
      }
    });
    void child.then((r) => {
      clearTimeout(timer);
      rejectPort(new Error(`the chat server exited (code ${r.exitCode}) before listening:\n${stderr}`));
    });
  }).catch(async (e) => {
    child.kill("SIGKILL");
    await rm(dir, { recursive: true, force: true });
    throw e;
  });
  const url = `http://${host}:${port}`;
  return {
    url, host, port, accountsPath,
    async setAccounts(accounts) {
      await writeFile(`${accountsPath}.new`, JSON.stringify(accounts), { mode: 0o600 });
      await execa("mv", [`${accountsPath}.new`, accountsPath]);
    },
    async probe(p) {
      const r = await execa(py, [join(TARGETS_DIR, "cytube/probe.py"), ...probeArgs(p, url)], {
        reject: false,
        env: p.password !== undefined ? { PROBE_PW: p.password } : {},
        timeout: ((p.timeoutSec ?? 10) + 30) * 1000,
      });
      return parseProbe(result(r));
    },
    async channelState(channel) {
      const res = await fetch(`${url}/api/channels/${encodeURIComponent(channel)}`);
      return res.status === 404 ? null : ((await res.json()) as Awaited<ReturnType<HostChatServer["channelState"]>>);
    },
    logs: () => stderr,
    async stop() {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child;
      clearTimeout(t);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
