import { XMLParser } from "fast-xml-parser";
import { z } from "zod";
import { formatSchemaIssues, InfraError } from "../errors.js";

/**
 * A value a program wrote (a tool's report, the deploy driver's or the host agent's answer)
 * checked against the shape it always has. Anything else means that program, or shipit's reading
 * of it, is broken: an InfraError REPORT_INVALID naming `what` and every issue with its path.
 */
export function checkShape<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InfraError("REPORT_INVALID", `${what} has an unexpected shape: ${formatSchemaIssues(parsed.error.issues)}`);
  return parsed.data;
}

/** checkShape over JSON text; text that is not JSON is the same REPORT_INVALID, with the parser's reason. */
export function parseJsonShape<S extends z.ZodType>(schema: S, text: string, what: string): z.output<S> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new InfraError("REPORT_INVALID", `${what} is not JSON (${(e as Error).message})`);
  }
  return checkShape(schema, json, what);
}

interface FailedTest {
  id: string;
  message: string;
}

/** A test module (or conftest, or package) pytest could not import: the file and the exception line. */
export interface CollectionError {
  file: string;
  error: string;
}

export interface JUnitSummary {
  /** pytest's own count, which includes each collection error as one "test". */
  tests: number;
  failures: number;
  /** Errors in tests (setup/teardown), collection errors not included. */
  errors: number;
  skipped: number;
  failed: FailedTest[];
  collection: CollectionError[];
}

const asArray = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The text pytest's junitxml plugin puts in `<error message=…>` for a module it could not collect. */
const COLLECTION_FAILURE = "collection failure";

/**
 * pytest's JUnit XML → counts, the failing test ids (`file::Class::name`) with their first message
 * line, and the files that could not be collected with their exception line. A collection error is
 * a `<testcase>` of its own whose `<error message="collection failure">` holds the traceback: it is
 * not a failed test, and pytest ran nothing when it stopped there.
 */
export function parseJUnit(xml: string): JUnitSummary {
  const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", htmlEntities: true }).parse(xml) as Record<string, unknown>;
  const root = (doc["testsuites"] ?? doc) as Record<string, unknown>;
  const suites = asArray(root["testsuite"] as Record<string, unknown> | Record<string, unknown>[] | undefined);
  if (suites.length === 0) throw new InfraError("REPORT_INVALID", "JUnit report has no <testsuite>: not a pytest JUnit XML file");
  const summary: JUnitSummary = { tests: 0, failures: 0, errors: 0, skipped: 0, failed: [], collection: [] };
  for (const s of suites) {
    summary.tests += Number(s["tests"] ?? 0);
    summary.failures += Number(s["failures"] ?? 0);
    summary.errors += Number(s["errors"] ?? 0);
    summary.skipped += Number(s["skipped"] ?? 0);
    for (const tc of asArray(s["testcase"] as Record<string, unknown> | Record<string, unknown>[] | undefined)) {
      const bad = (tc["failure"] ?? tc["error"]) as Record<string, unknown> | string | undefined;
      if (bad === undefined) continue;
      const msg = typeof bad === "string" ? bad : String(bad["message"] ?? bad["#text"] ?? "");
      const classname = String(tc["classname"] ?? "");
      const name = String(tc["name"] ?? "");
      if (tc["failure"] === undefined && typeof bad === "object" && msg === COLLECTION_FAILURE) {
        summary.errors -= 1;
        summary.collection.push({ file: classname ? testId(classname, name) : `${name.split(".").join("/")}.py`, error: exceptionLine(String(bad["#text"] ?? "")) });
        continue;
      }
      summary.failed.push({ id: testId(classname, name), message: firstLine(msg) });
    }
  }
  return summary;
}

/**
 * The exception line of a pytest traceback: the last `E   Name: text` line (a SyntaxError's
 * `E     File "…", line 1` and source lines come before it), or with `--tb=native` the last
 * `Name: text` line; failing both, the first line there is.
 */
export function exceptionLine(traceback: string): string {
  const lines = traceback.split("\n");
  const marked = lines.filter((l) => /^E(\s|$)/.test(l)).map((l) => l.replace(/^E\s*/, ""));
  const candidates = (marked.length ? marked : lines).map((l) => l.trim()).filter(Boolean);
  const isException = (l: string) => /^[A-Za-z_][\w.]*: \S/.test(l) || /^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)$/.test(l);
  const exception = [...candidates].reverse().find(isException);
  return firstLine(exception ?? candidates[0] ?? "") || "no error text in the JUnit report";
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

interface CoverageFile {
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
  const report = parseJsonShape(CoverageJson, text, "coverage JSON report");
  return {
    percent: round1(report.totals.percent_covered),
    files: Object.entries(report.files).map(([path, f]) => ({
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
interface LintFinding {
  file: string;
  line: number;
  col: number;
  code: string;
  message: string;
}

/** ruff's JSON output → findings with paths relative to `root`. */
export function parseRuffJson(text: string, root: string): LintFinding[] {
  const findings = parseJsonShape(z.array(RuffFinding), text || "[]", "ruff JSON report");
  return findings.map((f) => ({
    file: relativeTo(f.filename, root),
    line: f.location.row,
    col: f.location.column,
    code: f.code ?? "syntax",
    message: f.message,
  }));
}

/** One mypy error: where, its error code and its message. */
interface TypecheckFinding {
  file: string;
  line: number;
  code: string;
  message: string;
}
interface MypySummary {
  errors: TypecheckFinding[];
  files: number | null;
}

/** mypy's text output → errors and the number of files checked (from its closing line). */
export function parseMypy(stdout: string): MypySummary {
  const errors: TypecheckFinding[] = [];
  for (const line of stdout.split("\n")) {
    const m = /^(.+?):(\d+)(?::\d+)?: error: (.*?)(?:\s+\[([a-z0-9-]+)\])?$/.exec(line);
    if (m) errors.push({ file: m[1]!, line: Number(m[2]), message: m[3]!, code: m[4] ?? "error" });
  }
  const checked = /(?:in|checked) (\d+) source files?/.exec(stdout);
  return { errors, files: checked ? Number(checked[1]) : null };
}

export function relativeTo(file: string, root: string): string {
  const r = root.endsWith("/") ? root : `${root}/`;
  return file.startsWith(r) ? file.slice(r.length) : file;
}

/* ------------------------------------------------------------------ security -- */

const BanditLevel = z.string().transform((s) => s.toLowerCase()).pipe(z.enum(["low", "medium", "high", "undefined"]));
const BanditJson = z.object({
  errors: z.array(z.object({ filename: z.string(), reason: z.string() })).default([]),
  results: z.array(
    z.object({
      filename: z.string(),
      line_number: z.number(),
      test_id: z.string(),
      test_name: z.string(),
      issue_severity: BanditLevel,
      issue_confidence: BanditLevel,
      issue_text: z.string(),
      more_info: z.string().optional(),
    }),
  ),
});

interface BanditIssue {
  file: string;
  line: number;
  rule: string;
  name: string;
  severity: "low" | "medium" | "high";
  confidence: "low" | "medium" | "high";
  /** bandit's one-line reason, with any quoted password value cut off. */
  message: string;
  moreInfo?: string;
}
interface BanditReport {
  issues: BanditIssue[];
  errors: { file: string; reason: string }[];
}

/** bandit's hard-coded-password checks (B105-B107) quote the value in their text: keep the words, drop the value. */
function redactBandit(rule: string, text: string): string {
  return /^B10[5-7]$/.test(rule) ? text.replace(/:\s*['"].*$/s, "") : text.replace(/\s+/g, " ").trim();
}

/** bandit's JSON report (`-f json`) → issues with paths relative to the source root. Bandit's `code` excerpts are dropped. */
export function parseBanditJson(text: string): BanditReport {
  const report = parseJsonShape(BanditJson, text, "bandit JSON report");
  const level = (l: string) => (l === "undefined" ? "low" : (l as "low" | "medium" | "high"));
  return {
    issues: report.results.map((r) => ({
      file: r.filename.replace(/^\.\//, ""),
      line: r.line_number,
      rule: r.test_id,
      name: r.test_name,
      severity: level(r.issue_severity),
      confidence: level(r.issue_confidence),
      message: redactBandit(r.test_id, r.issue_text),
      ...(r.more_info ? { moreInfo: r.more_info } : {}),
    })),
    errors: report.errors.map((e) => ({ file: e.filename.replace(/^\.\//, ""), reason: e.reason })),
  };
}

const DetectSecretsJson = z.object({
  results: z.record(
    z.string(),
    z.array(z.object({ type: z.string(), filename: z.string(), line_number: z.number().optional(), hashed_secret: z.string(), is_secret: z.boolean().optional() })),
  ),
});

interface DetectedSecret {
  file: string;
  line: number;
  /** detect-secrets' secret type, e.g. "Private Key", "Secret Keyword". */
  type: string;
  /** detect-secrets' SHA-1 of the secret: matched against a baseline, never printed nor reported. */
  hash: string;
  /** From a baseline: the audit's verdict (false = a false positive); undefined when not audited. */
  isSecret?: boolean;
}

/** detect-secrets' `scan` output, or a baseline it wrote → where each secret is, its type, and its hash for matching. */
export function parseDetectSecretsJson(text: string): DetectedSecret[] {
  const report = parseJsonShape(DetectSecretsJson, text, "detect-secrets output");
  return Object.values(report.results)
    .flat()
    .map((s) => ({
      file: s.filename.replace(/^\.\//, ""),
      line: s.line_number ?? 0,
      type: s.type,
      hash: s.hashed_secret,
      ...(s.is_secret === undefined ? {} : { isSecret: s.is_secret }),
    }))
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

const PipAuditJson = z.object({
  dependencies: z.array(
    z.object({
      name: z.string(),
      version: z.string().optional(),
      skip_reason: z.string().optional(),
      vulns: z
        .array(z.object({ id: z.string(), fix_versions: z.array(z.string()).default([]), aliases: z.array(z.string()).default([]), description: z.string().nullish() }))
        .optional(),
    }),
  ),
});

interface AuditedPackage {
  name: string;
  version: string | null;
  /** Why pip-audit could not audit it, when it could not. */
  skipped: string | null;
  vulns: { id: string; aliases: string[]; fixVersions: string[]; description: string }[];
}

/** pip-audit's JSON report (`-f json`) → each package with its advisories, or why it was skipped. */
export function parsePipAuditJson(text: string): AuditedPackage[] {
  return parseJsonShape(PipAuditJson, text, "pip-audit JSON report").dependencies.map((d) => ({
    name: d.name,
    version: d.version ?? null,
    skipped: d.skip_reason ?? null,
    vulns: (d.vulns ?? []).map((v) => ({ id: v.id, aliases: v.aliases, fixVersions: v.fix_versions, description: firstLine(v.description ?? "") })),
  }));
}

const AuditPins = z.object({
  packages: z.array(z.object({ name: z.string(), version: z.string(), file: z.string(), line: z.number(), direct: z.boolean() })),
  problems: z.array(z.object({ requirement: z.string(), file: z.string(), line: z.number(), reason: z.string() })),
});
type AuditPinsReport = z.infer<typeof AuditPins>;

/** src/python/audit_pins.py's JSON: the audited packages and the requirement file line that brought each in. */
export function parseAuditPins(text: string): AuditPinsReport {
  return parseJsonShape(AuditPins, text, "audit pins report");
}
