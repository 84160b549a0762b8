/**
 * The rules of Dagger's TypeScript runtime (sdk/typescript/runtime at v0.19.10), checked without
 * the runtime, which cannot run here:
 * - its entrypoint imports every .ts/.mts file under src/, so importing any of them must do nothing;
 * - it removes @dagger.io/dagger from package.json and runs `npm install --omit=dev`, and it
 *   imports `typescript` at run time, so the production dependencies alone must load the module;
 * - it refuses a module whose engineVersion is newer than the engine: one version everywhere;
 * - its introspector evaluates decorator arguments alone, so they are literals.
 */
import { execa } from "execa";
import { cp, mkdtemp, readdir, readFile, writeFile, symlink, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, test } from "vitest";
import { DAGGER_IGNORE, GIT_ONLY } from "../../src/core/config/ignore.js";
import { REPO } from "../helpers/variants.js";

const TSX = join(REPO, "node_modules/.bin/tsx");
const PRELOAD = pathToFileURL(join(REPO, "test/module/side-effects.mjs")).href;

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (/\.m?ts$/.test(e.name) && !e.name.endsWith(".d.ts")) out.push(p);
  }
  return out.sort();
}

const FILES = (await sourceFiles(join(REPO, "src"))).map((f) => relative(REPO, f));

describe("importing any file under src/ does nothing", () => {
  test("src/ holds the module and the CLIs' code", () => {
    expect(FILES).toContain("src/index.ts");
    expect(FILES).toContain("src/cli/host.ts");
    expect(FILES.length).toBeGreaterThan(30);
  });

  test.concurrent.each(FILES)("%s", async (file) => {
    const cwd = await mkdtemp(join(tmpdir(), "shipit-import-"));
    const before = (await execa("git", ["status", "--porcelain"], { cwd: REPO })).stdout;
    const effectsFile = join(await mkdtemp(join(tmpdir(), "shipit-effects-")), "effects.txt");
    const r = await execa(TSX, ["--import", PRELOAD, join(REPO, file)], {
      cwd,
      reject: false,
      timeout: 90_000,
      // the runtime runs in the module folder, with its tsconfig (decorators)
      env: { PATH: process.env.PATH ?? "", HOME: cwd, TSX_TSCONFIG_PATH: join(REPO, "tsconfig.json"), SHIPIT_EFFECTS_FILE: effectsFile },
      extendEnv: false,
    });
    const effects = (await readFile(effectsFile, "utf8").catch(() => "")).trim();
    expect(r.timedOut, `${file} kept running after its import (a server, a timer, an open session?)`).toBe(false);
    expect(effects, `${file} did something on import`).toBe("");
    expect(r.stdout, `${file} printed on import`).toBe("");
    expect(r.stderr, `${file} printed on import`).toBe("");
    expect(r.exitCode).toBe(0);
    expect(await readdir(cwd), `${file} wrote into its working folder`).toEqual([]);
    expect((await execa("git", ["status", "--porcelain"], { cwd: REPO })).stdout, `${file} changed the repository`).toBe(before);
  });

  test("the side-effect probe itself sees a CLI that runs on import (the test can fail)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shipit-import-"));
    await writeFile(join(dir, "bad.ts"), `import { writeFileSync } from "node:fs";\nwriteFileSync("out.txt", "x");\nconsole.log("ran");\n`);
    const effectsFile = join(dir, "effects.txt");
    const r = await execa(TSX, ["--import", PRELOAD, join(dir, "bad.ts")], { cwd: dir, reject: false, env: { SHIPIT_EFFECTS_FILE: effectsFile } });
    expect(await readFile(effectsFile, "utf8")).toContain("fs.writeFileSync: out.txt");
    expect(r.stdout).toBe("ran");
  });
});

describe("decorator arguments are literals the 0.19.10 introspector accepts", () => {
  test("every ignore list in src/index.ts is a literal copy of DAGGER_IGNORE or GIT_ONLY", async () => {
    const text = await readFile(join(REPO, "src/index.ts"), "utf8");
    const lists = [...text.matchAll(/ignore:\s*(\[[^\]]*\])/g)].map((m) => m[1]!);
    expect(lists.length).toBeGreaterThan(20);
    for (const list of lists) {
      const parsed = JSON.parse(list) as string[];
      expect([DAGGER_IGNORE, GIT_ONLY]).toContainEqual(parsed);
    }
    // No decorator argument names a constant: every value is a string, number, boolean or array literal.
    for (const m of text.matchAll(/@(?:argument|func|object|check)\(\{([^)]*)\}\)/g)) {
      for (const kv of m[1]!.split(/,(?![^[]*\])/)) {
        const value = kv.split(":").slice(1).join(":").trim();
        expect(value, `decorator argument ${kv.trim()}`).toMatch(/^("[^"]*"|\[.*\]|true|false|\d+)$/);
      }
    }
  });
});

describe("one Dagger version everywhere", () => {
  test("dagger.json, the npm SDK, engine-up and the workflows all say v0.19.10", async () => {
    const dj = JSON.parse(await readFile(join(REPO, "dagger.json"), "utf8")) as { engineVersion: string };
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    const installed = JSON.parse(await readFile(join(REPO, "node_modules/@dagger.io/dagger/package.json"), "utf8")) as { version: string };
    const engineUp = await readFile(join(REPO, "dagger/engine-up.sh"), "utf8");
    const consts = await readFile(join(REPO, "dagger/engine/distconsts/consts.go"), "utf8");
    expect(dj.engineVersion).toBe("v0.19.10");
    expect(`v${pkg.dependencies["@dagger.io/dagger"]}`).toBe(dj.engineVersion);
    expect(`v${installed.version}`).toBe(dj.engineVersion);
    expect(/WANT_VERSION="\$\{DAGGER_VERSION:-(v[0-9.]+)\}"/.exec(engineUp)?.[1]).toBe(dj.engineVersion);
    expect(consts).toContain(`EngineContainerName                = "dagger-engine-${dj.engineVersion}"`);
    const workflows = join(REPO, ".github/workflows");
    for (const f of await readdir(workflows)) {
      const text = await readFile(join(workflows, f), "utf8");
      const uses = [...text.matchAll(/uses: dagger\/dagger-for-github@([0-9a-f]{40}) # v\S+\n\s+with:\n\s+version: (\S+)/g)];
      expect(uses.length, `${f} installs dagger with dagger/dagger-for-github pinned by commit`).toBe(1);
      expect(uses[0]![2]).toBe(dj.engineVersion);
      expect(text).not.toMatch(/curl[^\n]*\|\s*(ba)?sh/);
    }
  });
});

describe("the production dependencies alone load the module, as the runtime installs them", () => {
  test("package.json without @dagger.io/dagger, npm install --omit=dev, then scan finds the functions", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shipit-runtime-"));
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { dependencies: Record<string, string> };
    delete pkg.dependencies["@dagger.io/dagger"];
    await writeFile(join(dir, "package.json"), JSON.stringify(pkg, null, 2));
    await cp(join(REPO, "package-lock.json"), join(dir, "package-lock.json"));
    for (const d of ["src", "config", "dagger/introspect.ts", "dagger/scan.ts", "tsconfig.json"]) await cp(join(REPO, d), join(dir, d), { recursive: true });
    const install = await execa("npm", ["install", "--omit=dev", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: dir, reject: false });
    expect(install.exitCode, install.stderr).toBe(0);
    const installed = await readdir(join(dir, "node_modules"));
    expect(installed).toContain("typescript"); // the runtime's introspector imports it
    expect(installed).not.toContain("vitest");
    // The runtime mounts its own SDK where the module imports it from.
    await mkdir(join(dir, "node_modules/@dagger.io"), { recursive: true });
    await symlink(join(REPO, "node_modules/@dagger.io/dagger"), join(dir, "node_modules/@dagger.io/dagger"));
    const scan = await execa(TSX, [join(dir, "dagger/scan.ts")], { cwd: dir, reject: false });
    expect(scan.exitCode, scan.stderr).toBe(0);
    const mod = JSON.parse(scan.stdout) as { objects: Record<string, { methods: Record<string, unknown> }> };
    expect(Object.keys(mod.objects["Shipit"]!.methods)).toEqual(expect.arrayContaining(["ci", "lint", "typecheck", "test", "security", "build", "deploy", "rollback"]));
  });
});
