/**
 * Reading a release artifact where the code runs (the module's runtime, or a host): export it into
 * a fresh temp folder, read its bytes and its manifest, and remove the folder in a `finally`, so
 * neither a good nor a refused artifact leaves a file behind. No container is built for it.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { gunzip } from "node:zlib";
import { Parser, type ReadEntry } from "tar";
import { ShipitError } from "../core/errors.js";
import { MANIFEST_PATH, manifestOfText, type ArtifactManifest } from "../core/deploy/artifact.js";

const gunzipAsync = promisify(gunzip);

/**
 * The text of the first regular file named NAME-VERSION/manifest.json in an uncompressed tar (node-tar
 * reads ustar, pax and GNU headers), or null when there is none; `problem` when the bytes are not a
 * whole tar (a bad header, a member cut short).
 */
export function manifestTextOfTar(tar: Buffer): Promise<{ text: string | null; problem?: string }> {
  // An archive of end-of-archive blocks only is an empty tar, which node-tar calls unrecognized.
  if (tar.every((b) => b === 0)) return Promise.resolve({ text: null });
  return new Promise((resolve) => {
    let text: string | null = null;
    let problem: string | undefined;
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        if (text !== null || entry.type !== "File" || !MANIFEST_PATH.test(entry.path)) return entry.resume();
        const chunks: Buffer[] = [];
        entry.on("data", (c: Buffer) => chunks.push(c));
        entry.on("end", () => (text = Buffer.concat(chunks).toString("utf8")));
      },
    });
    parser.on("error", (e: Error) => (problem ??= `not a whole tar archive (${e.message})`));
    parser.on("close", () => resolve(problem ? { text: null, problem } : { text }));
    parser.end(tar);
  });
}

/** What can write itself to a path: a Dagger `File` (its `export`), or anything shaped like it. */
export interface Exportable {
  export(path: string): Promise<unknown>;
}

export interface ReadArtifact {
  data: Buffer;
  manifest: ArtifactManifest;
}

/**
 * The artifact's bytes and its checked manifest. `verb` says what is refused on a bad artifact
 * ("release v1.4.0"); `tmpRoot` is where the temp folder goes (default: the OS temp dir).
 */
export async function readArtifact(file: Exportable, verb: string, tmpRoot = tmpdir()): Promise<ReadArtifact> {
  const dir = await mkdtemp(join(tmpRoot, "shipit-artifact-"));
  let failed = false;
  try {
    const path = join(dir, "artifact.tar.gz");
    await file.export(path);
    const data = await readFile(path);
    let tar: Buffer;
    try {
      tar = await gunzipAsync(data);
    } catch (e) {
      throw new ShipitError("ARTIFACT_INVALID", `${verb} refused: the artifact is not a .tar.gz (${e instanceof Error ? e.message : String(e)}); build it with \`shipit build -o dist/\` (or the build function)`);
    }
    const { text, problem } = await manifestTextOfTar(tar);
    return { data, manifest: manifestOfText(text, verb, problem) };
  } catch (e) {
    failed = true;
    throw e;
  } finally {
    // A folder that cannot be removed fails a good read; after a failed one it is only reported, never hiding the first error.
    await rm(dir, { recursive: true, force: true }).catch((e: unknown) => {
      if (!failed) throw e;
      process.stderr.write(`warning: could not remove ${dir}: ${e instanceof Error ? e.message : String(e)}\n`);
    });
  }
}
