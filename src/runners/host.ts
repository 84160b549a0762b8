import { IGNORED } from "../core/config/ignore.js";
import { timeoutMessage } from "../core/checks/gates.js";
import { createHash } from "node:crypto";
import { cp, lstat, mkdir, readFile, rm, stat, writeFile, readdir } from "node:fs/promises";
import { InfraError } from "../core/errors.js";
import { dirname, join, relative, resolve } from "node:path";
import { execa } from "execa";
import type { ResolvedConfig, SourceView } from "../core/config/config.js";
import type { Runner } from "../core/checks/pipeline.js";
import { SERVICE_EXIT_CODE, type Layout, type Step, type StepResult } from "../core/checks/step.js";
import { startHostServices } from "./services-host.js";

const errno = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** A file system failure that is not "there is nothing there": named, with its path and cause, never read as absent. */
function unreadable(what: string, path: string, e: unknown): InfraError {
  return new InfraError("SOURCE_UNREADABLE", `cannot ${what} ${path}: ${errno(e) ?? (e as Error).message}. Fix: make it readable by this user (or remove it)`, { cause: e });
}

/**
 * A SourceView over a host folder. Only a path that is not there reads as absent (null), so that
 * the defaults apply; any other failure (EACCES, ELOOP, EIO, …) is an InfraError SOURCE_UNREADABLE
 * naming the path.
 */
export function hostSourceView(root: string): SourceView {
  return {
    async kind(p) {
      try {
        const s = await stat(join(root, p));
        return s.isDirectory() ? "dir" : "file";
      } catch (e) {
        // ENOTDIR: a path under a file, which is not there either.
        if (errno(e) === "ENOENT" || errno(e) === "ENOTDIR") return null;
        throw unreadable("look at", join(root, p), e);
      }
    },
    async read(p) {
      try {
        return await readFile(join(root, p), "utf8");
      } catch (e) {
        // EISDIR: not a file to read; callers that care ask kind() (shipit.json as a folder is a config error).
        if (errno(e) === "ENOENT" || errno(e) === "EISDIR") return null;
        throw unreadable("read", join(root, p), e);
      }
    },
    async entries() {
      return (await readdir(root)).filter((e) => !IGNORED.includes(e)).sort();
    },
    async files() {
      const out: string[] = [];
      const walk = async (rel: string): Promise<void> => {
        for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
          if (IGNORED.includes(e.name)) continue;
          const p = rel ? `${rel}/${e.name}` : e.name;
          if (e.isDirectory()) await walk(p);
          else if (e.isFile() || (e.isSymbolicLink() && (await stat(join(root, p)).then((s) => s.isFile(), () => false)))) out.push(p);
        }
      };
      await walk("");
      return out.sort();
    },
  };
}

interface HostRunnerOptions {
  /** Where venvs and package caches persist between runs (default: <repo>/.shipit/host). */
  cacheRoot: string;
  /** Folder for this run's source copy and reports. */
  runDir: string;
  /** Each step's output as it comes, for progress (e.g. pytest's percentage). */
  onOutput?: (stepId: string, chunk: string) => void;
}

/**
 * Runs steps as host processes with execa. Two cached venvs, as the Dagger runner's two layers:
 * the tools venv keyed by the tool pins alone, and the project venv keyed by the dependency files
 * (requirement files, pyproject.toml, uv.lock) and what installs them, so a source-only change
 * reuses both, and a tool bump leaves the project venv alone.
 */
export class HostRunner implements Runner {
  readonly layout: Layout;
  private copied: Promise<void> | undefined;

  private constructor(
    private readonly source: string,
    layout: Layout,
    private readonly opts: HostRunnerOptions,
    private readonly dependencyFiles: string[],
  ) {
    this.layout = layout;
  }

  static async create(source: string, config: ResolvedConfig, opts: HostRunnerOptions): Promise<HostRunner> {
    const toolsKey = createHash("sha256").update(JSON.stringify([config.python, config.tools, process.version])).digest("hex").slice(0, 16);
    const hash = createHash("sha256");
    const t = config.tools;
    hash.update(JSON.stringify([config.python, t.uv, t.pytest, t.pytestCov, config.requirements, config.project, config.shape.files, process.version]));
    for (const r of config.shape.files) hash.update(await readFile(join(source, r)));
    const key = hash.digest("hex").slice(0, 16);
    const layout: Layout = {
      src: join(opts.runDir, "src"),
      out: join(opts.runDir, "out"),
      deps: join(opts.runDir, "deps"),
      assets: join(opts.runDir, "assets"),
      venv: join(opts.cacheRoot, "venvs", key),
      tools: join(opts.cacheRoot, "venvs", `tools-${toolsKey}`),
      // inside the venv's folder: built, reused, locked and pruned with it
      wheels: join(opts.cacheRoot, "venvs", key, "shipit-wheels"),
      caches: join(opts.cacheRoot, "caches"),
    };
    return new HostRunner(resolve(source), layout, opts, config.shape.files);
  }

  async prepare(tools: Step, deps: Step): Promise<StepResult> {
    // Concurrent runs (test workers) share venvs by key: one builds, the others wait and reuse.
    const t = await withDirLock(`${this.layout.tools}.lock`, () => this.layer(this.layout.tools, tools, async () => undefined));
    if (t.exitCode !== 0) return t;
    const d = await withDirLock(`${this.layout.venv}.lock`, () => this.layer(this.layout.venv, deps, () => this.copyDependencyFiles()));
    return { ...d, durationMs: t.durationMs + d.durationMs };
  }

  /**
   * Build a cached venv unless it is there, built by the same recipe. The marker holds the recipe:
   * a venv made by other commands (an older shipit, say, before the wheels belonged to the layer)
   * is rebuilt, as the engine's cache key would miss.
   */
  private async layer(venv: string, step: Step, before: () => Promise<void>): Promise<StepResult> {
    const marker = join(venv, ".shipit-ready");
    // this run's folder, and the tools venv's own key, are not part of the project venv's recipe
    const here = (v: string) => v.split(this.layout.deps).join("<deps>").split(this.layout.tools).join("<tools>");
    const recipe = JSON.stringify({ commands: step.commands.map((c) => c.map(here)), env: step.env, dirs: step.dirs });
    if ((await readFile(marker, "utf8").catch(() => "")) === recipe) return { id: step.id, exitCode: 0, stdout: "venv reused", stderr: "", durationMs: 0, reports: {}, argv: [] };
    await rm(venv, { recursive: true, force: true });
    await before();
    const result = await this.exec(step);
    if (result.exitCode === 0) await writeFile(marker, recipe);
    else await rm(venv, { recursive: true, force: true });
    return result;
  }

  private async copyDependencyFiles(): Promise<void> {
    await mkdir(this.layout.deps, { recursive: true });
    for (const r of this.dependencyFiles) {
      await mkdir(dirname(join(this.layout.deps, r)), { recursive: true });
      await cp(join(this.source, r), join(this.layout.deps, r));
    }
  }

  /** Host processes side by side: each step's result arrives when it ends. */
  runAll(steps: Step[]): Promise<StepResult>[] {
    return steps.map((s) => this.run(s));
  }

  async run(step: Step): Promise<StepResult> {
    this.copied ??= (async () => {
      await rm(this.layout.src, { recursive: true, force: true });
      await cp(this.source, this.layout.src, { recursive: true, filter: (s) => keep(this.source, s) });
    })();
    await this.copied;
    if (!step.services.length) return this.exec(step);
    // test.services: local processes around the step, stopped however it ends
    const started = performance.now();
    const services = await startHostServices(step.services);
    try {
      if (services.failures.length) {
        return { id: step.id, exitCode: SERVICE_EXIT_CODE, stdout: "", stderr: services.failures.join("\n"), durationMs: performance.now() - started, reports: Object.fromEntries(step.reports.map((p) => [p, null])), argv: [] };
      }
      const r = await this.exec(step);
      return { ...r, durationMs: performance.now() - started };
    } finally {
      await services.stop();
    }
  }

  private async exec(step: Step): Promise<StepResult> {
    for (const [path, contents] of Object.entries(step.files)) {
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, contents, { mode: 0o755 });
    }
    for (const path of [...step.dirs, ...Object.keys(step.caches)]) await mkdir(path, { recursive: true });
    const env: Record<string, string> = { ...step.env };
    const started = performance.now();
    let stdout = "";
    let stderr = "";
    let exitCode = 0;
    let argv: string[] = [];
    for (const [i, cmd] of step.commands.entries()) {
      argv = cmd;
      const last = i === step.commands.length - 1;
      const child = execa(cmd[0]!, cmd.slice(1), {
        cwd: step.cwd,
        env,
        reject: false,
        timeout: step.timeoutMs,
        stdin: "ignore",
        all: false,
      });
      const onOutput = this.opts.onOutput;
      if (onOutput) child.stdout?.on("data", (chunk: Buffer) => onOutput(step.id, chunk.toString()));
      const r = await child;
      stdout += r.stdout;
      stderr += r.stderr;
      exitCode = r.exitCode ?? (r.timedOut ? 124 : 1);
      if (r.timedOut) stderr += `\n${timeoutMessage(step, stdout)}`;
      if (r.failed && r.exitCode === undefined) stderr += `\n${r.message}`;
      const ok = last ? step.okExitCodes.includes(exitCode) : exitCode === 0;
      if (!ok || exitCode !== 0) break;
    }
    const reports: Record<string, string | null> = {};
    for (const p of step.reports) reports[p] = await readFile(p, "utf8").catch(() => null);
    return { id: step.id, exitCode, stdout, stderr, durationMs: performance.now() - started, reports, argv };
  }
}

function keep(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || !rel.split("/").some((p) => IGNORED.includes(p));
}

/**
 * mkdir is atomic: whoever creates the folder holds the lock. A lock older than `staleMs` was left
 * by a dead run. Only EEXIST (another run holds it) means wait; any other failure to create it
 * (EACCES, ENOENT, ENOTDIR, EROFS, …) would wait forever, so it is an InfraError LOCK_FAILED.
 */
export async function withDirLock<T>(lock: string, fn: () => Promise<T>, staleMs = 15 * 60_000): Promise<T> {
  const failed = (e: unknown, why = errno(e) ?? (e as Error).message) =>
    new InfraError("LOCK_FAILED", `cannot create the lock ${lock}: ${why}. Fix: make ${dirname(lock)} a folder this user can write (it holds shipit's cached venvs)`, { cause: e });
  await mkdir(dirname(lock), { recursive: true }).catch((e: unknown) => {
    // mkdir -p answers EEXIST when the folder's own name is taken by a file
    throw failed(e, errno(e) === "EEXIST" ? `${dirname(lock)} is a file, not a folder` : undefined);
  });
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (e) {
      if (errno(e) !== "EEXIST") throw failed(e);
      // lstat: a lock that is a dangling link is still there, and as old as the link.
      const age = await lstat(lock).then((s) => Date.now() - s.mtimeMs, () => 0);
      if (age > staleMs) await rm(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}
