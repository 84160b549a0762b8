import { dag, ExecError, ExistsType, ReturnType, type Container, type Directory, type Secret } from "@dagger.io/dagger";
import type { ResolvedConfig, SourceView } from "../core/config.js";
import type { Runner } from "../core/pipeline.js";
import { CONTAINER_LAYOUT, type Step, type StepResult } from "../core/step.js";

/** A SourceView over a Dagger Directory: config validation runs before any container starts. */
export function directorySourceView(dir: Directory): SourceView {
  return {
    async kind(p) {
      if (p === "." || p === "") return "dir";
      if (await dir.exists(p, { expectedType: ExistsType.DirectoryType })) return "dir";
      return (await dir.exists(p)) ? "file" : null;
    },
    async read(p) {
      if (!(await dir.exists(p, { expectedType: ExistsType.RegularType }))) return null;
      return dir.file(p).contents();
    },
    async entries() {
      return (await dir.entries()).map((e) => e.replace(/\/$/, "")).sort();
    },
    async files() {
      // The engine marks folders with a trailing '/'; a path that prefixes another is a folder too.
      const all = (await dir.glob("**/*")).map((p) => p.replace(/^\.\//, ""));
      const dirs = new Set(all.filter((p) => p.endsWith("/")).map((p) => p.slice(0, -1)));
      for (const p of all) for (let i = p.indexOf("/"); i > 0; i = p.indexOf("/", i + 1)) dirs.add(p.slice(0, i));
      return all.filter((p) => !p.endsWith("/") && !dirs.has(p)).sort();
    },
  };
}

/**
 * Folds steps into containers. The dependency layer gets only the requirement files, so a
 * source-only change reuses it from the engine's cache.
 */
export class DaggerRunner implements Runner {
  readonly layout = CONTAINER_LAYOUT;
  /** The container each step ran in, for exporting its files. */
  readonly containers = new Map<string, Container>();
  private deps: Container | undefined;

  constructor(
    private readonly source: Directory,
    private readonly config: ResolvedConfig,
    private readonly secrets: Record<string, Secret> = {},
  ) {}

  async prepare(step: Step): Promise<StepResult> {
    let c = dag.container().from(this.config.python.image);
    for (const r of this.config.requirements) c = c.withFile(`${this.layout.deps}/${r}`, this.source.file(r));
    const result = await this.exec(this.apply(c, step), step);
    this.deps = this.containers.get(step.id);
    return result;
  }

  async run(step: Step): Promise<StepResult> {
    if (!this.deps) throw new Error("DaggerRunner.run called before prepare: the dependency layer must come first");
    return this.exec(this.apply(this.deps.withDirectory(this.layout.src, this.source), step), step);
  }

  private apply(base: Container, step: Step): Container {
    let c = base;
    for (const [path, name] of Object.entries(step.caches)) c = c.withMountedCache(path, dag.cacheVolume(name));
    for (const [k, v] of Object.entries(step.env)) c = c.withEnvVariable(k, v);
    for (const [k, name] of Object.entries(step.secretEnv)) {
      const secret = this.secrets[name];
      if (!secret) throw new Error(`step ${step.id} needs secret "${name}", which was not provided`);
      c = c.withSecretVariable(k, secret);
    }
    for (const [path, contents] of Object.entries(step.files)) c = c.withNewFile(path, contents, { permissions: 0o755 });
    return c.withWorkdir(step.cwd);
  }

  private async exec(base: Container, step: Step): Promise<StepResult> {
    let c = base;
    step.commands.forEach((cmd, i) => {
      const last = i === step.commands.length - 1;
      c = c.withExec(cmd, { expect: last ? ReturnType.Any : ReturnType.Success });
    });
    const started = performance.now();
    try {
      c = await c.sync();
    } catch (e) {
      if (!(e instanceof ExecError)) throw e;
      return { id: step.id, exitCode: e.exitCode, stdout: e.stdout, stderr: e.stderr, durationMs: performance.now() - started, reports: {}, argv: e.cmd };
    }
    const [exitCode, stdout, stderr] = await Promise.all([c.exitCode(), c.stdout(), c.stderr()]);
    const reports: Record<string, string | null> = {};
    for (const p of step.reports) reports[p] = (await c.exists(p)) ? await c.file(p).contents() : null;
    this.containers.set(step.id, c);
    return { id: step.id, exitCode, stdout, stderr, durationMs: performance.now() - started, reports, argv: step.commands.at(-1)! };
  }
}
