/**
 * The release artifact's manifest: its schema (the one deploys and releases both check), reading
 * NAME-VERSION/manifest.json out of the uncompressed tar, and the release asset's name. The bytes
 * come from a runner (src/runners/artifact.ts); nothing here touches a file.
 */
import { z } from "zod";
import { ShipitError } from "../errors.js";
import { FileNamePart, SafeVersion } from "../config/grammar.js";

/** What shipit reads from manifest.json (pack_artifact.py writes more: python, requirements, wheels). */
const ManifestSchema = z.object({ name: FileNamePart, version: SafeVersion, commit: z.string().optional(), files: z.record(z.string(), z.string()) });
export type ArtifactManifest = z.infer<typeof ManifestSchema>;

const FIX = "build it with `shipit build -o dist/` (or the build function)";

function invalid(verb: string, problem: string): ShipitError {
  return new ShipitError("ARTIFACT_INVALID", `${verb} refused: the artifact has no valid manifest.json (${problem}); ${FIX}`);
}

/** The manifest as the schema reads it; an ARTIFACT_INVALID error naming each bad field otherwise. `verb` says what is refused ("deploy to prod"). */
export function parseManifest(raw: unknown, verb: string): ArtifactManifest {
  const r = ManifestSchema.safeParse(raw);
  if (r.success) return r.data;
  if (raw === null || raw === undefined) throw invalid(verb, "there is none");
  throw invalid(verb, r.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; "));
}

/** The manifest of an uncompressed tar: its NAME-VERSION/manifest.json, parsed and checked. */
export function manifestOfTar(tar: Uint8Array, verb: string): ArtifactManifest {
  let text: string | null;
  try {
    text = manifestTextOfTar(tar);
  } catch (e) {
    throw invalid(verb, e instanceof Error ? e.message : String(e));
  }
  if (text === null) throw invalid(verb, "the archive has no NAME-VERSION/manifest.json");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(verb, `manifest.json is not JSON: ${e instanceof Error ? e.message : String(e)}`);
  }
  return parseManifest(raw, verb);
}

/** The file name the artifact gets as a release asset. */
export function releaseAssetName(appName: string, manifest: ArtifactManifest): string {
  return `${appName}-${manifest.version}.tar.gz`;
}

const BLOCK = 512;
const MANIFEST_PATH = /^[^/]+\/manifest\.json$/;

/**
 * The text of the first regular file named `<top>/manifest.json` in a tar (ustar or pax, as
 * pack_artifact.py writes it; GNU long names too), or null when there is none. Throws on bytes that
 * are not a tar: a bad header checksum, or a member that runs past the end.
 */
export function manifestTextOfTar(tar: Uint8Array): string | null {
  const text = new TextDecoder();
  let longName: string | undefined;
  for (let off = 0; off + BLOCK <= tar.length; ) {
    const header = tar.subarray(off, off + BLOCK);
    if (header.every((b) => b === 0)) return null; // the end-of-archive marker
    if (checksum(header) !== octal(header, 148, 8)) throw new Error(`not a tar archive: bad header checksum at byte ${off}`);
    const size = octal(header, 124, 12);
    if (!Number.isFinite(size)) throw new Error(`unsupported tar member at byte ${off}: its size is not an octal number`);
    const start = off + BLOCK;
    if (start + size > tar.length) throw new Error(`not a whole tar archive: the member at byte ${off} runs past the end`);
    const data = tar.subarray(start, start + size);
    const type = String.fromCharCode(header[156]!);
    off = start + Math.ceil(size / BLOCK) * BLOCK;
    if (type === "x") {
      longName = paxPath(text.decode(data)) ?? longName;
      continue;
    }
    if (type === "L") {
      longName = cString(data, 0, data.length);
      continue;
    }
    if (type === "g") continue;
    const prefix = cString(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${cString(header, 0, 100)}` : cString(header, 0, 100));
    longName = undefined;
    if ((type === "0" || type === "\0" || type === "7") && MANIFEST_PATH.test(name)) return text.decode(data);
  }
  return null;
}

function cString(bytes: Uint8Array, at: number, length: number): string {
  const field = bytes.subarray(at, at + length);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

/** A tar number field: octal digits, padded with spaces or NULs. */
function octal(bytes: Uint8Array, at: number, length: number): number {
  const field = cString(bytes, at, length).trim();
  if (!/^[0-7]*$/.test(field)) return Number.NaN;
  return field ? parseInt(field, 8) : 0;
}

/** The header's checksum: the sum of its bytes, with the checksum field counted as spaces. */
function checksum(header: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  return sum;
}

/** The `path` record of a pax extended header (`<length> path=<name>\n` records). */
function paxPath(records: string): string | undefined {
  for (const line of records.split("\n")) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}
