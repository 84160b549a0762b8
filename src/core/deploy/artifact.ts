/**
 * The release artifact's manifest: its schema (the one deploys and releases both check), reading
 * NAME-VERSION/manifest.json's text, and the release asset's name. The bytes
 * come from a runner (src/runners/artifact.ts); nothing here touches a file.
 */
import { z } from "zod";
import { formatSchemaIssues, ShipitError } from "../errors.js";
import { FileNamePart, SafeVersion } from "../config/grammar.js";

/** What shipit reads from manifest.json (pack_artifact.py writes more: python, requirements, wheels). */
const ManifestSchema = z.object({
  name: FileNamePart,
  version: SafeVersion,
  /** Where the version came from: --version, shipit.json's build.version, pyproject's [project].version, or shipit's default. */
  versionSource: z.enum(["argument", "config", "pyproject", "default"]).optional(),
  commit: z.string().optional(),
  /** A pyproject project's own wheel (in wheels/, pinned in shipit-requirements.txt with every dependency). */
  project: z.object({ name: z.string(), version: z.string(), wheel: z.string() }).optional(),
  files: z.record(z.string(), z.string()),
});
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
  throw invalid(verb, formatSchemaIssues(r.error.issues));
}

/** Where pack_artifact.py puts the manifest: `NAME-VERSION/manifest.json`, one folder deep. */
export const MANIFEST_PATH = /^[^/]+\/manifest\.json$/;

/**
 * The manifest from the text of NAME-VERSION/manifest.json (null: the archive has none), parsed and
 * checked. `problem` is set when the archive itself could not be read, and says why.
 */
export function manifestOfText(text: string | null, verb: string, problem?: string): ArtifactManifest {
  if (problem) throw invalid(verb, problem);
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
