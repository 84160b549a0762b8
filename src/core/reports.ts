import { XMLParser } from "fast-xml-parser";
import { z } from "zod";

export interface FailedTest {
  id: string;
  message: string;
}

export interface JUnitSummary {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  failed: FailedTest[];
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** pytest's JUnit XML → counts and the failing test ids (`file::Class::name`) with their first message line. */
export function parseJUnit(xml: string): JUnitSummary {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", htmlEntities: true }).parse(xml) as Record<string, unknown>;
  const root = (doc["testsuites"] ?? doc) as Record<string, unknown>;
  const suites = asArray(root["testsuite"] as Record<string, unknown> | Record<string, unknown>[] | undefined);
  if (suites.length === 0) throw new Error("JUnit report has no <testsuite>: not a pytest JUnit XML file");
  const summary: JUnitSummary = { tests: 0, failures: 0, errors: 0, skipped: 0, failed: [] };
  for (const s of suites) {
    summary.tests += Number(s["tests"] ?? 0);
    summary.failures += Number(s["failures"] ?? 0);
    summary.errors += Number(s["errors"] ?? 0);
    summary.skipped += Number(s["skipped"] ?? 0);
    for (const tc of asArray(s["testcase"] as Record<string, unknown> | Record<string, unknown>[] | undefined)) {
      const bad = (tc["failure"] ?? tc["error"]) as Record<string, unknown> | string | undefined;
      if (bad === undefined) continue;
      const msg = typeof bad === "string" ? bad : String(bad["message"] ?? bad["#text"] ?? "");
      summary.failed.push({ id: testId(String(tc["classname"] ?? ""), String(tc["name"] ?? "")), message: firstLine(msg) });
    }
  }
  return summary;
}

/** pytest writes classname as dotted module path (+ class); turn it back into the `path::name` form people paste. */
function testId(classname: string, name: string): string {
  const parts = classname.split(".");
  const classIdx = parts.findIndex((p) => /^[A-Z]/.test(p));
  const mod = classIdx === -1 ? parts : parts.slice(0, classIdx);
  const cls = classIdx === -1 ? [] : parts.slice(classIdx);
  return [mod.join("/") + ".py", ...cls, name].join("::");
}

function firstLine(s: string): string {
  const line = s.split("\n").find((l) => l.trim()) ?? "";
  return line.length > 160 ? `${line.slice(0, 157)}...` : line.trim();
}

const CoverageJson = z.object({
  totals: z.object({ percent_covered: z.number(), covered_lines: z.number(), num_statements: z.number() }),
  files: z.record(
    z.string(),
    z.object({ summary: z.object({ percent_covered: z.number(), num_statements: z.number(), missing_lines: z.number() }) }),
  ),
});

export interface CoverageFile {
  path: string;
  percent: number;
  statements: number;
  missing: number;
}
export interface CoverageSummary {
  percent: number;
  files: CoverageFile[];
}

/** coverage.py's JSON report → total percent and per-file figures. */
export function parseCoverageJson(text: string): CoverageSummary {
  const parsed = CoverageJson.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`coverage JSON report has an unexpected shape: ${parsed.error.issues[0]?.message}`);
  return {
    percent: round1(parsed.data.totals.percent_covered),
    files: Object.entries(parsed.data.files).map(([path, f]) => ({
      path,
      percent: round1(f.summary.percent_covered),
      statements: f.summary.num_statements,
      missing: f.summary.missing_lines,
    })),
  };
}

/** Least-covered files first; ties broken by most missing lines, then path, so the order is stable. */
export function leastCovered(files: CoverageFile[], n = 5): CoverageFile[] {
  return [...files]
    .filter((f) => f.statements > 0)
    .sort((a, b) => a.percent - b.percent || b.missing - a.missing || a.path.localeCompare(b.path))
    .slice(0, n);
}

const round1 = (n: number) => Math.round(n * 10) / 10;

const RuffFinding = z.object({
  code: z.string().nullable(),
  message: z.string(),
  filename: z.string(),
  location: z.object({ row: z.number(), column: z.number() }),
});
export interface LintFinding {
  file: string;
  line: number;
  col: number;
  code: string;
  message: string;
}

/** ruff's JSON output → findings with paths relative to `root`. */
export function parseRuffJson(text: string, root: string): LintFinding[] {
  const parsed = z.array(RuffFinding).parse(JSON.parse(text || "[]"));
  return parsed.map((f) => ({
    file: relativeTo(f.filename, root),
    line: f.location.row,
    col: f.location.column,
    code: f.code ?? "syntax",
    message: f.message,
  }));
}

export interface TypeError_ {
  file: string;
  line: number;
  code: string;
  message: string;
}
export interface MypySummary {
  errors: TypeError_[];
  files: number | null;
}

/** mypy's text output → errors and the number of files checked (from its closing line). */
export function parseMypy(stdout: string): MypySummary {
  const errors: TypeError_[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^(.+?):(\d+)(?::\d+)?: error: (.*?)(?:\s+\[([a-z0-9-]+)\])?$/.exec(line);
    if (m) errors.push({ file: m[1]!, line: Number(m[2]), message: m[3]!, code: m[4] ?? "error" });
  }
  const checked = /(?:in|checked) (\d+) source files?/.exec(stdout);
  return { errors, files: checked ? Number(checked[1]) : null };
}

function relativeTo(file: string, root: string): string {
  const r = root.endsWith("/") ? root : `${root}/`;
  return file.startsWith(r) ? file.slice(r.length) : file;
}
