/**
 * ci.json: the machine-readable verdict of a `ci` run, written next to the artifact by `ci-report`
 * and read by the workflow shim to decide what runs next and what the PR comment says.
 */
import { z } from "zod";
import type { CiReport } from "./pipeline.js";
import { formatSchemaIssues, ShipitError } from "../errors.js";

export const CI_JSON = "ci.json";

const GateRowSchema = z.strictObject({
  name: z.string().max(40),
  status: z.enum(["passed", "failed", "skipped"]),
  durationMs: z.number().nonnegative(),
  figure: z.string().max(500),
  detail: z.string().max(4000),
});

export const CiJsonSchema = z.strictObject({
  ok: z.boolean(),
  name: z.string().max(200),
  gates: z.array(GateRowSchema).max(20),
  coverage: z.strictObject({ percent: z.number().min(0).max(100), threshold: z.number().min(0).max(100) }).nullable(),
  /** The artifact's file name, when the build gate passed. */
  artifact: z.string().regex(/^[\w.+!-]+\.tar\.gz$/).nullable(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/).nullable(),
  version: z.string().max(100),
  summary: z.string().max(20000),
});
export type CiJson = z.infer<typeof CiJsonSchema>;

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

export function renderCiJson(report: CiReport, name: string, version: string): CiJson {
  return CiJsonSchema.parse({
    ok: report.ok,
    name,
    gates: report.gates.map((g) => ({ name: g.name, status: g.status, durationMs: g.durationMs, figure: clip(g.figure, 500), detail: clip(g.detail, 4000) })),
    coverage: report.test?.coverage ? { percent: round1(report.test.coverage.percent), threshold: report.test.threshold } : null,
    artifact: report.build?.artifact ?? null,
    sha256: report.build?.sha256 ?? null,
    version,
    summary: clip(report.summary, 20000),
  });
}

const round1 = (n: number) => Math.round(n * 10) / 10;

/** Parse ci.json from disk or an artifact; names what is wrong when it is not shipit's. */
export function parseCiJson(text: string, origin: string): CiJson {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new ShipitError("CI_JSON_INVALID", `${origin} is not JSON: it must be the ci.json that \`dagger call ci-report\` exports`);
  }
  const r = CiJsonSchema.safeParse(raw);
  if (!r.success) throw new ShipitError("CI_JSON_INVALID", `${origin} is not a ci.json shipit wrote: ${formatSchemaIssues(r.error.issues)}`);
  return r.data;
}
