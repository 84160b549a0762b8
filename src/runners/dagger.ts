import { CacheSharingMode, dag, ExecError, ReturnType, type Container, type Directory, type Service } from "@dagger.io/dagger";
import type { ResolvedConfig, SourceView } from "../core/config/config.js";
import { timeoutMessage } from "../core/checks/gates.js";
import type { Runner } from "../core/checks/pipeline.js";
import { CONTAINER_LAYOUT, serviceNotReady, type Step, type StepResult } from "../core/checks/step.js";
import type { TestService } from "../core/config/services.js";
import { tail } from "../core/text.js";

/**
 * A SourceView over a Dagger Directory: config validation runs before any container starts. One
 * listing of the tree answers every kind() and files() (a round trip to the engine each would add
 * up to a noticeable part of a warm run); only file contents are fetched one by one.
 */
export function directorySourceView(dir: Directory): SourceView {
  let listing: Promise<{ files: Set<string>; dirs: Set<string> }> | undefined;
  const list = () =>
    (listing ??= dir.glob("**/*").then((raw) => {
      // The engine marks folders with a trailing '/'; a path that prefixes another is a folder too.
      const all = raw.map((p) => p.replace(/^\.\//, ""));
      const dirs = new Set(all.filter((p) => p.endsWith("/")).map((p) => p.slice(0, -1)));
      for (const p of all) for (let i = p.indexOf("/"); i > 0; i = p.indexOf("/", i + 1)) dirs.add(p.slice(0, i));
      return { files: new Set(all.filter((p) => !p.endsWith("/") && !dirs.has(p))), dirs };
    }));
  const norm = (p: string) => p.replace(/^\.\//, "").replace(/\/+$/, "");
  return {
    async kind(p) {
      const n = norm(p);
      if (n === "." || n === "") return "dir";
      const { files, dirs } = await list();
      return dirs.has(n) ? "dir" : files.has(n) ? "file" : null;
    },
    async read(p) {
      if (!(await list()).files.has(norm(p))) return null;
      return dir.file(norm(p)).contents();
    },
    async entries() {
      const { files, dirs } = await list();
      return [...files, ...dirs].filter((p) => !p.includes("/")).sort();
    },
    async files() {
      return [...(await list()).files].sort();
    },
  };
}

/** Debian's (and Alpine's) CA store, which the engine's custom CA certificates are added to. */
const SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt";
/** src/python/run_steps.py: runs a batch of steps side by side inside one container. */
const RUN_STEPS_SCRIPT = "run_steps.py";

/**
 * Folds steps into containers. Two layers: shipit's tools from the image and the tool pins alone,
 * then the project venv on top from the dependency files alone (requirement files, pyproject.toml,
 * uv.lock), so a source-only change reuses both from the engine's cache and a project's new
 * dependency leaves the tools layer alone. The steps of a run share one container on
 * top of it (run_steps.py runs them side by side): a container start costs seconds on a small
 * machine, more than ruff's whole run, and the tools write to separate folders.
 */
export class DaggerRunner implements Runner {
  readonly layout = CONTAINER_LAYOUT;
  /** The container each step ran in, for exporting its files. */
  readonly containers = new Map<string, Container>();
  private deps: Container | undefined;

  constructor(
    private readonly source: Directory,
    private readonly config: ResolvedConfig,
    private readonly runSteps: string,
  ) {}

  async prepare(tools: Step, deps: Step): Promise<StepResult> {
    let c = dag.container().from(this.config.python.image);
    // requests (pip-audit) reads certifi's bundle, not the image's store where the engine puts the
    // CA certificates it is configured with (Dagger's custom-CA support); point it at the store.
    if (await c.exists(SYSTEM_CA_BUNDLE)) c = c.withEnvVariable("REQUESTS_CA_BUNDLE", SYSTEM_CA_BUNDLE);
    const t = await this.layer(c, tools);
    if (!("container" in t)) return t;
    let d = t.container;
    for (const r of this.config.shape.files) d = d.withFile(`${this.layout.deps}/${r}`, this.source.file(r));
    const p = await this.layer(d, deps);
    if (!("container" in p)) return p;
    this.deps = p.container.withWorkdir("/");
    return { ...p.result, durationMs: t.result.durationMs + p.result.durationMs };
  }

  /** One cached layer: a step's commands as execs on top of `base`. */
  private async layer(base: Container, step: Step): Promise<StepResult | { container: Container; result: StepResult }> {
    let c = this.caches(base, [step]);
    for (const d of step.dirs) c = c.withDirectory(d, dag.directory());
    for (const [path, contents] of Object.entries(step.files)) c = c.withNewFile(path, contents);
    for (const [k, v] of Object.entries(step.env)) c = c.withEnvVariable(k, v);
    c = c.withWorkdir(step.cwd);
    step.commands.forEach((cmd, i) => {
      c = c.withExec(cmd, { expect: i === step.commands.length - 1 ? ReturnType.Any : ReturnType.Success });
    });
    const started = performance.now();
    try {
      c = await c.sync();
    } catch (e) {
      if (!(e instanceof ExecError)) throw e;
      return { id: step.id, exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, durationMs: performance.now() - started, reports: {}, argv: e.cmd };
    }
    const [exitCode, stdout, stderr] = await Promise.all([c.exitCode(), c.stdout(), c.stderr()]);
    this.containers.set(step.id, c);
    const result = { id: step.id, exitCode, stdout, stderr, durationMs: performance.now() - started, reports: {}, argv: step.commands.at(-1)! };
    return exitCode === 0 ? { container: c, result } : result;
  }

  run(step: Step): Promise<StepResult> {
    return this.runAll([step])[0]!;
  }

  /** Every step in one container, side by side; all results arrive together, when the last step ends. */
  runAll(steps: Step[]): Promise<StepResult>[] {
    const batch = this.batch(steps);
    return steps.map((s) => batch.then((results) => results.get(s.id)!));
  }

  private async batch(steps: Step[]): Promise<Map<string, StepResult>> {
    if (!this.deps) throw new Error("DaggerRunner.run called before prepare: the dependency layer must come first");
    const l = this.layout;
    const out = (s: Step) => `${l.out}/.shipit-steps/${s.id}`;
    const services = await this.services(steps);
    const spec = {
      steps: steps.map((s) => ({
        id: s.id,
        commands: s.commands,
        cwd: s.cwd,
        env: s.env,
        dirs: s.dirs,
        okExitCodes: s.okExitCodes,
        timeoutSec: s.timeoutMs / 1000,
        out: out(s),
        services: s.services.map((svc) => ({
          name: svc.name,
          host: svc.name,
          port: svc.port,
          timeoutSec: svc.timeoutSec,
          tcp: svc.ready.tcp,
          readyCommand: svc.ready.command,
          line: serviceNotReady(svc, "{why}", "{fix}"),
          ...services.broken.get(svc.name),
        })),
      })),
    };
    // Mounted, not copied: the source and shipit's scripts need no snapshot of their own, and the
    // script creates the steps' folders itself, so the one exec is the only operation before the run.
    let assets = dag.directory().withNewFile(RUN_STEPS_SCRIPT, this.runSteps).withNewFile("steps.json", JSON.stringify(spec, null, 1));
    let c = this.caches(this.deps.withMountedDirectory(l.src, this.source), steps);
    // bound to the one container: the engine starts them with it, run_steps.py waits for each and
    // forwards 127.0.0.1:<port> to it (no health check of the engine's: a service that never
    // listens makes the test gate red, named, and leaves the other gates alone)
    for (const [name, svc] of services.ready) c = c.withServiceBinding(name, svc);
    for (const s of steps) {
      for (const [path, contents] of Object.entries(s.files)) {
        if (path.startsWith(`${l.assets}/`)) assets = assets.withNewFile(path.slice(l.assets.length + 1), contents, { permissions: 0o755 });
        else c = c.withNewFile(path, contents, { permissions: 0o755 });
      }
    }
    c = c.withMountedDirectory(l.assets, assets);
    const started = performance.now();
    c = await c.withExec([`${l.tools}/bin/python`, `${l.assets}/${RUN_STEPS_SCRIPT}`, `${l.assets}/steps.json`]).sync();
    const results = new Map<string, StepResult>();
    await Promise.all(
      steps.map(async (s) => {
        const dir = out(s);
        const [result, stdout, stderr] = await Promise.all([
          c.file(`${dir}/result.json`).contents().then((t) => JSON.parse(t) as { exitCode: number; durationMs: number; argv: string[]; timedOut: boolean }),
          c.file(`${dir}/stdout`).contents(),
          c.file(`${dir}/stderr`).contents(),
        ]);
        const reports: Record<string, string | null> = {};
        for (const p of s.reports) reports[p] = (await c.exists(p)) ? await c.file(p).contents() : null;
        this.containers.set(s.id, c);
        results.set(s.id, {
          id: s.id,
          exitCode: result.exitCode,
          stdout,
          stderr: result.timedOut ? `${stderr}\n${timeoutMessage(s, stdout)}` : stderr,
          durationMs: result.durationMs || performance.now() - started,
          reports,
          argv: result.argv,
        });
      }),
    );
    return results;
  }

  /**
   * The steps' services as Dagger services: `image` as it is (its entrypoint and default command
   * unless `command` is given), else the python image with the
   * Debian `package` installed (cached by the engine like any layer). One whose container cannot
   * be built is `broken`, with the reason: its step is red, the others run.
   */
  private async services(steps: Step[]): Promise<{ ready: Map<string, Service>; broken: Map<string, { broken: string; brokenFix: string }> }> {
    const ready = new Map<string, Service>();
    const broken = new Map<string, { broken: string; brokenFix: string }>();
    const all = new Map<string, TestService>(steps.flatMap((s) => s.services.map((svc) => [svc.name, svc] as const)));
    await Promise.all(
      [...all.values()].map(async (svc) => {
        let c = svc.image ? dag.container().from(svc.image) : dag.container().from(this.config.python.image);
        if (!svc.image && svc.package) {
          c = c
            .withEnvVariable("DEBIAN_FRONTEND", "noninteractive")
            .withExec(["apt-get", "update", "-qq"])
            .withExec(["apt-get", "install", "-y", "-qq", "--no-install-recommends", svc.package]);
        }
        try {
          c = await c.sync();
        } catch (e) {
          const why = e instanceof ExecError ? `installing ${svc.package} into ${this.config.python.image} failed (exit ${e.exitCode}): ${tail(e.stderr || e.stdout, 5)}` : `its container could not be made: ${(e as Error).message.split("\n")[0]}`;
          const fix = svc.image ? `check that the image ${svc.image} exists and can be pulled by the engine` : `check that ${svc.package} is a Debian package of ${this.config.python.image}'s release and that the engine reaches Debian's mirrors`;
          broken.set(svc.name, { broken: why, brokenFix: fix });
          return;
        }
        const args = svc.command.map((a) => a.replaceAll("{bind}", "0.0.0.0"));
        ready.set(svc.name, c.withExposedPort(svc.port, { experimentalSkipHealthcheck: true }).asService(args.length ? { args } : { useEntrypoint: true }));
      }),
    );
    return { ready, broken };
  }

  /** The cache volumes of the given steps. Two steps may share a cache path only under one name. */
  private caches(base: Container, steps: Step[]): Container {
    let c = base;
    const mounted = new Map<string, string>();
    for (const s of steps) {
      for (const [path, name] of Object.entries(s.caches)) {
        const had = mounted.get(path);
        if (had === name) continue;
        if (had) throw new Error(`steps share cache path ${path} under two names (${had}, ${name})`);
        mounted.set(path, name);
        c = c.withMountedCache(path, dag.cacheVolume(name), s.exclusiveCaches.includes(path) ? { sharing: CacheSharingMode.Private } : {});
      }
    }
    return c;
  }
}
