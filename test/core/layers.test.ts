import { execFileSync } from "node:child_process";
import { describe, expect, test } from "vitest";
import { cycles, importsOf } from "../helpers/imports.js";
import { REPO } from "../helpers/variants.js";

/**
 * The layers of src/, lowest first. A file may import only from its own layer or a lower one, and
 * the file graph has no cycle. The README's architecture section names the same folders.
 */
const LAYERS: [string, RegExp][] = [
  ["core kernel", /^src\/core\/(errors|text)\.ts$/],
  ["core/config", /^src\/core\/config\//],
  ["core/checks base", /^src\/core\/checks\/(step|gates|parsers|summary)\.ts$/],
  ["core/checks/security", /^src\/core\/checks\/security\//],
  ["core/checks", /^src\/core\/checks\//],
  ["core/deploy", /^src\/core\/deploy\//],
  ["core/setup, core/init", /^src\/core\/(setup|init)\//],
  ["core/github, core/insight, core/notify", /^src\/core\/(github|insight|notify)\//],
  ["assets", /^src\/assets\.ts$/],
  ["runners, github adapters", /^src\/(runners|github)\//],
  ["cli", /^src\/cli\//],
  ["module", /^src\/index\.ts$/],
];

function layerOf(file: string): number {
  const i = LAYERS.findIndex(([, re]) => re.test(file));
  if (i < 0) throw new Error(`${file} is in no layer: add it to LAYERS in test/core/layers.test.ts`);
  return i;
}

function upward(from: string, to: string): string | null {
  const a = layerOf(from);
  const b = layerOf(to);
  return b > a ? `${from} (${LAYERS[a]![0]}) imports ${to} (${LAYERS[b]![0]})` : null;
}

async function graph(): Promise<Map<string, string[]>> {
  const files = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "src/*.ts", "src/**/*.ts"], { cwd: REPO, encoding: "utf8" }).trim().split("\n");
  const g = new Map<string, string[]>();
  for (const f of files) g.set(f, (await importsOf(f, REPO)).flatMap((i) => (i.target?.startsWith("src/") ? [i.target] : [])));
  return g;
}

test("every file in src/ is in a layer and imports nothing above its own", async () => {
  const g = await graph();
  expect(g.size).toBeGreaterThan(50);
  const found = [...g].flatMap(([from, tos]) => tos.map((to) => upward(from, to)).filter((x) => x !== null));
  expect(found).toEqual([]);
});

test("the import graph of src/ has no cycle", async () => {
  expect(cycles(await graph()).map((c) => c.join(" → "))).toEqual([]);
});

describe("the layer check can fail", () => {
  test("an upward import is named with both layers", () => {
    expect(upward("src/core/config/config.ts", "src/core/deploy/plan.ts")).toBe("src/core/config/config.ts (core/config) imports src/core/deploy/plan.ts (core/deploy)");
    expect(upward("src/core/checks/security/gate.ts", "src/core/checks/pipeline.ts")).toMatch(/\(core\/checks\/security\) imports .*\(core\/checks\)$/);
    expect(upward("src/core/deploy/plan.ts", "src/runners/host.ts")).toMatch(/runners, github adapters/);
    expect(upward("src/core/checks/pipeline.ts", "src/core/checks/gates.ts")).toBeNull();
  });
  test("a cycle is reported as the path that closes it", () => {
    const g = new Map([["a", ["b"]], ["b", ["c"]], ["c", ["a"]], ["d", ["a"]]]);
    expect(cycles(g)).toEqual([["a", "b", "c", "a"]]);
  });
  test("the shells' decisions and input parsers sit in the core, their I/O helpers with the runners", () => {
    const layer = (f: string) => LAYERS[layerOf(f)]![0];
    expect(
      ["src/core/github/decisions.ts", "src/core/github/inputs.ts", "src/core/deploy/artifact.ts", "src/runners/artifact.ts", "src/cli/shim.ts"].map((f) => [f, layer(f)]),
    ).toEqual([
      ["src/core/github/decisions.ts", "core/github, core/insight, core/notify"],
      ["src/core/github/inputs.ts", "core/github, core/insight, core/notify"],
      ["src/core/deploy/artifact.ts", "core/deploy"],
      ["src/runners/artifact.ts", "runners, github adapters"],
      ["src/cli/shim.ts", "cli"],
    ]);
    // and the shim may call the core's decisions, never the other way round
    expect(upward("src/core/github/decisions.ts", "src/cli/shim.ts")).toBe("src/core/github/decisions.ts (core/github, core/insight, core/notify) imports src/cli/shim.ts (cli)");
    expect(upward("src/core/deploy/artifact.ts", "src/runners/artifact.ts")).toBe("src/core/deploy/artifact.ts (core/deploy) imports src/runners/artifact.ts (runners, github adapters)");
  });
  test("a file outside every layer is an error that says where to add it", () => {
    expect(() => layerOf("src/new-thing.ts")).toThrow("src/new-thing.ts is in no layer: add it to LAYERS in test/core/layers.test.ts");
  });
});
