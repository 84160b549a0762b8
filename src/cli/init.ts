/**
 * `shipit init`: in a bot's repository, detect its layout and write shipit.json, the GitHub
 * workflows and shipit.init.md (what was found, and the next steps). Never overwrites a file
 * without --force.
 *
 *   shipit init [--source=DIR] [--module=github.com/OWNER/shipit@TAG] [--force]
 */
import { mkdir, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { parseFlags, type Flags } from "./flags.js";
import { hostSourceView } from "../runners/host.js";
import { detectLayout } from "../core/init/detect.js";
import { parseModuleRef, refuseOverwrites, renderInit } from "../core/init/render.js";

/** shipit's module as the workflows call it by default: this release, under the placeholder owner the README's badges use. */
export const DEFAULT_MODULE = "github.com/acme/shipit@v0.1.0";

export const FLAGS = {
  source: { type: "string", default: ".", value: "PATH", help: "the bot's repository" },
  module: { type: "string", default: DEFAULT_MODULE, value: "REF", help: "shipit's module as the workflows call it: github.com/OWNER/REPO@TAG" },
  force: { type: "boolean", default: false, help: "overwrite files that are already there" },
} satisfies Flags;

export async function main(argv: string[]): Promise<number> {
  const { values } = parseFlags(argv, FLAGS);
  const root = resolve(values.source);
  const mod = parseModuleRef(values.module);
  const view = hostSourceView(root);
  const layout = await detectLayout(view);
  const r = await renderInit(view, layout, mod, basename(root));
  await refuseOverwrites(view, Object.keys(r.files), values.force);
  for (const [path, text] of Object.entries(r.files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), text);
    console.log(`wrote ${path}`);
  }
  console.log(`\nnext steps (also in shipit.init.md):\n${r.steps.map((s, i) => `${i + 1}. ${s}`).join("\n")}`);
  return 0;
}
