import type { ResolvedConfig } from "./config.js";
import { tail } from "./errors.js";
import {
  leastCovered,
  parseAuditPins,
  parseBanditJson,
  parseCoverageJson,
  parseDetectSecretsJson,
  parseJUnit,
  parseMypy,
  parsePipAuditJson,
  parseRuffJson,
  type CoverageSummary,
  type JUnitSummary,
} from "./reports.js";
import { RANK, type Level, type SecurityFinding, type SourceScan } from "./security.js";
import type { Step, StepResult } from "./step.js";

export type GateName = "dependencies" | "lint" | "typecheck" | "test" | "security" | "build";
export type GateStatus = "passed" | "failed" | "skipped";

export interface Gate {
  name: GateName;
  status: GateStatus;
  durationMs: number;
  /** The one figure a person looks for: findings, errors, coverage, artifact size. */
  figure: string;
  /** Why it failed, with what to look at; empty when it passed. */
  detail: string;
  /** Something a person must know even when the gate passed (printed under the table). */
  warning?: string;
}

export interface TestVerdict extends Gate {
  coverage: CoverageSummary | null;
  junit: JUnitSummary | null;
  threshold: number;
}

const passed = (name: GateName, r: StepResult, figure: string): Gate => ({ name, status: "passed", durationMs: r.durationMs, figure, detail: "" });
const failed = (name: GateName, r: StepResult, figure: string, detail: string): Gate => ({ name, status: "failed", durationMs: r.durationMs, figure, detail });

/** A step the runner stopped at its timeout (`<gate>.timeoutSec`): named as such, with what was still running. */
/** What a runner appends to a step's stderr when it stopped the step at its timeout; timedOut reads it back. */
export function timeoutMessage(step: Step, stdout: string): string {
  const base = `shipit: step ${step.id} timed out after ${Math.round(step.timeoutMs / 1000)} s (raise ${step.id === "deps" ? "nothing: dependencies have a fixed 30 min" : `${step.id.split("-")[0]}.timeoutSec`} in shipit.json if it needs longer)`;
  const running = runningTests(stdout);
  return running ? `${base}; still running: ${running}` : base;
}

export function timedOut(name: GateName, r: StepResult): Gate | null {
  const line = /^shipit: step \S+ timed out after (\d+) s.*$/m.exec(r.stderr);
  if (!line) return null;
  return failed(name, r, `timed out after ${line[1]} s`, `${line[0].replace(/^shipit: /, "")}\n--- last output ---\n${tail(r.stdout, 10)}`);
}

export function skipped(name: GateName, why: string): Gate {
  return { name, status: "skipped", durationMs: 0, figure: why, detail: "" };
}

export function evaluateDeps(r: StepResult, c: ResolvedConfig): Gate {
  const files = c.requirements.length ? c.requirements.join(", ") : "no requirement files";
  if (r.exitCode === 0) return passed("dependencies", r, `${files} + tools (${c.python.installer})`);
  const out = r.stderr || r.stdout;
  if (/certificate|Failed to fetch|Connect|Temporary failure in name resolution|Network is unreachable|ConnectTimeout|ProxyError/i.test(out) && !/No solution found|not found in the package registry|No matching distribution/i.test(out)) {
    return failed(
      "dependencies",
      r,
      "package index unreachable",
      `the package index could not be reached to install ${files} (exit ${r.exitCode}).\n` +
        "Fix: check the network, proxy and CA certificates of the runner (a TLS-intercepting proxy needs its CA in the image or the engine), then rerun.\n" +
        tail(out, 15),
    );
  }
  return failed(
    "dependencies",
    r,
    "install failed",
    `dependencies could not be installed from ${files} (exit ${r.exitCode}).\n` +
      `Fix: check that every pinned package and version in ${files} exists on the package index and that the pins agree.\n` +
      tail(r.stderr || r.stdout, 15),
  );
}

export function evaluateLint(r: StepResult, report: string | null, root: string): Gate {
  const late = timedOut("lint", r);
  if (late) return late;
  if (report === null) {
    return failed("lint", r, "ruff did not run", `ruff wrote no report (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`);
  }
  const findings = parseRuffJson(report, root);
  const formatFailed = r.exitCode !== 0 && r.argv.includes("format");
  const figure = `${findings.length} finding${findings.length === 1 ? "" : "s"}${formatFailed ? ", format check failed" : ""}`;
  if (findings.length === 0 && r.exitCode === 0) return passed("lint", r, figure);
  if (findings.length === 0 && !formatFailed) {
    return failed("lint", r, figure, `ruff failed (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`);
  }
  const lines = findings.slice(0, 20).map((f) => `  ${f.file}:${f.line}:${f.col} ${f.code} ${f.message}`);
  if (findings.length > 20) lines.push(`  … and ${findings.length - 20} more`);
  if (formatFailed) lines.push(`  files need formatting (run \`ruff format\`):\n${tail(r.stdout, 10)}`);
  return failed("lint", r, figure, `ruff reported:\n${lines.join("\n")}`);
}

export function evaluateTypecheck(r: StepResult): Gate {
  const late = timedOut("typecheck", r);
  if (late) return late;
  const summary = parseMypy(r.stdout);
  const filesNote = summary.files === null ? "" : ` in ${summary.files} files`;
  if (r.exitCode === 0) return passed("typecheck", r, `0 errors${filesNote}`);
  if (summary.errors.length === 0) {
    return failed("typecheck", r, "mypy crashed", `mypy could not run (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`);
  }
  const lines = summary.errors.slice(0, 20).map((e) => `  ${e.file}:${e.line} [${e.code}] ${e.message}`);
  if (summary.errors.length > 20) lines.push(`  … and ${summary.errors.length - 20} more`);
  const n = summary.errors.length;
  return failed("typecheck", r, `${n} error${n === 1 ? "" : "s"}`, `mypy reported:\n${lines.join("\n")}`);
}

/** The test gate: every test passes and total coverage ≥ threshold. */
export function evaluateTest(
  r: StepResult,
  junitXml: string | null,
  coverageJson: string | null,
  c: Pick<ResolvedConfig, "coverage">,
): TestVerdict {
  const threshold = c.coverage.threshold;
  const base = { threshold, coverage: null, junit: null };
  const late = timedOut("test", r);
  if (late) return { ...late, ...base };
  if (junitXml === null) {
    return {
      ...failed("test", r, "pytest did not run", `pytest wrote no JUnit report (exit ${r.exitCode}); it could not start or collect.\n${tail(r.stdout + r.stderr)}`),
      ...base,
    };
  }
  const junit = parseJUnit(junitXml);
  const coverage = coverageJson === null ? null : parseCoverageJson(coverageJson);
  const bad = junit.failures + junit.errors;
  const passedCount = junit.tests - bad - junit.skipped;
  const covText = coverage ? `coverage ${coverage.percent}%` : "no coverage data";
  const figure = `${passedCount} passed${bad ? `, ${bad} failed` : ""} · ${covText} (threshold ${threshold}%)`;

  const collection = collectionErrors(r.stdout);
  if (collection.length) {
    // pytest stops before running anything: no tests ran and no coverage exists, so say only why
    const files = collection.map((c) => `  ${c.file}: ${c.error}`).join("\n");
    return {
      ...failed("test", r, `collection failed in ${collection.length} file${collection.length === 1 ? "" : "s"} · no tests ran`, `pytest could not collect the tests (an import or syntax error in a test module or conftest):\n${files}\nFix: run \`python -m pytest --collect-only\` in the repository to see the whole error`),
      ...base,
      junit,
    };
  }
  const problems: string[] = [];
  if (r.exitCode === 5 || junit.tests === 0) problems.push("no tests were collected");
  else if (r.exitCode !== 0 && bad === 0) problems.push(`pytest exited with code ${r.exitCode}:\n${tail(r.stdout + r.stderr, 15)}`);
  if (bad) problems.push(`${bad} test${bad === 1 ? "" : "s"} failed:\n${junit.failed.map((t) => `  ${t.id} — ${t.message}`).join("\n")}`);
  if (coverage === null) problems.push("coverage report missing: is pytest-cov installed and `--cov` honoured?");
  else if (coverage.percent < threshold) {
    problems.push(`coverage ${coverage.percent}% is below the threshold ${threshold}% (from ${c.coverage.from})`);
  }
  if (problems.length === 0) return { ...passed("test", r, figure), threshold, coverage, junit };

  const worst = coverage ? leastCovered(coverage.files) : [];
  const worstText = worst.length
    ? `\nleast-covered files:\n${worst.map((f) => `  ${f.percent.toFixed(1).padStart(5)}%  ${f.path} (${f.missing} of ${f.statements} lines missed)`).join("\n")}`
    : "";
  return {
    ...failed("test", r, figure, `${problems.join("\n")}${worstText}`),
    threshold,
    coverage,
    junit,
  };
}

/** pytest's "ERROR collecting FILE" sections: the file and the first `E   ` line of its error. */
export function collectionErrors(stdout: string): { file: string; error: string }[] {
  const out: { file: string; error: string }[] = [];
  const lines = stdout.split("\n");
  for (const [i, l] of lines.entries()) {
    const m = /^_+ ERROR collecting (\S+) _+$/.exec(l.trim());
    if (!m) continue;
    const e = lines.slice(i + 1).find((x) => /^E\s{2,}\S/.test(x)) ?? "";
    out.push({ file: m[1]!, error: e.replace(/^E\s+/, "").trim() || "see pytest's output" });
  }
  return out;
}

/**
 * The test pytest was still running. Its progress lines read `tests/test_x.py ..F.  [ 40%]`, or
 * with -v `tests/test_x.py::test_y PASSED  [ 40%]`; the last one without its result was running.
 */
export function runningTests(stdout: string): string | null {
  const lines = stdout.split("\n").filter((l) => /^\S+\.py\b/.test(l));
  const last = lines.at(-1);
  if (!last || /\[\s*\d+%\]\s*$/.test(last)) return null;
  const [where, rest = ""] = last.split(/\s+/, 2);
  if (where!.includes("::")) return where!;
  return `tests in ${where} (after ${rest.length} finished there)`;
}

export interface BuildInfo {
  artifact: string;
  sha256: string;
  bytes: number;
  files: number;
}

export function evaluateBuild(r: StepResult): Gate & { info: BuildInfo | null } {
  const late = timedOut("build", r);
  if (late) return { ...late, info: null };
  const last = r.stdout.trim().split("\n").pop() ?? "";
  let info: BuildInfo | null = null;
  try {
    info = r.exitCode === 0 ? (JSON.parse(last) as BuildInfo) : null;
  } catch {
    info = null;
  }
  if (info === null) {
    return {
      ...failed("build", r, "no artifact", `the artifact could not be built (exit ${r.exitCode}).\n${tail(r.stderr || r.stdout)}`),
      info,
    };
  }
  return { ...passed("build", r, `${info.artifact} (${info.files} files, ${formatBytes(info.bytes)})`), info };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/* ------------------------------------------------------------------ security -- */

export interface SecurityInputs {
  /** bandit's step. */
  code: StepResult;
  /** detect-secrets' step; null when the tree had no file to scan. */
  secrets: StepResult | null;
  /** audit_pins.py + pip-audit's step; null when there is no requirement file. */
  audit: StepResult | null;
}

/** Where each step's reports are, and what the inspection of the tree found. */
export interface SecurityPlanView {
  source: SourceScan;
  reports: { bandit: string; pins: string; audit: string };
}

export interface AuditOutcome {
  /** audited: the advisory source answered; unreachable: it did not (or knew none of the packages); none: no requirement files; failed: pip-audit broke. */
  status: "audited" | "unreachable" | "none" | "failed";
  service: "pypi" | "osv";
  /** security.auditUnreachable */
  policy: "warn" | "fail";
  packages: number;
  vulnerable: number;
  notAudited: { name: string; reason: string }[];
  /** The phrase in the summary row, e.g. "dependency audit: no advisory source reachable". */
  text: string;
  /** Why it is unreachable or failed; empty otherwise. */
  reason: string;
}

export interface SecurityVerdict extends Gate {
  /** Every finding, blocking ones first. */
  findings: SecurityFinding[];
  /** Tools that could not do their job (each makes the gate red). */
  errors: string[];
  audit: AuditOutcome;
  thresholds: { severity: Level; confidence: Level };
  /** Files the secret scan read and paths bandit scanned. */
  scanned: { files: number; paths: string[] };
}

export const UNREACHABLE = "dependency audit: no advisory source reachable";

const NETWORK_ERROR =
  /ConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|NameResolutionError|Failed to resolve|Name or service not known|Temporary failure in name resolution|Connection refused|Network is unreachable|No route to host|timed out|ProxyError|SSLError|Could not connect/;

/** The few words that say why pip-audit could not reach its source: host and cause, no traceback. */
export function networkReason(stderr: string): string {
  const host = /host='([^']+)'(?:, port=(\d+))?/.exec(stderr);
  const cause =
    /(Connection refused|Name or service not known|Temporary failure in name resolution|Failed to resolve '[^']+'|Network is unreachable|No route to host|timed out|Could not connect to [^"\n]+|ProxyError|SSLError)/.exec(stderr)?.[1] ??
    "connection failed";
  return host ? `${host[1]}${host[2] ? `:${host[2]}` : ""}: ${cause}` : cause;
}

function evaluateAudit(r: StepResult | null, plan: SecurityPlanView, c: ResolvedConfig, findings: SecurityFinding[], errors: string[]): AuditOutcome {
  const s = c.security;
  const base = { service: s.auditService, policy: s.auditUnreachable, packages: 0, vulnerable: 0, notAudited: [], reason: "" };
  if (r === null) return { ...base, status: "none", text: "dependency audit: no requirement files" };
  const pinsText = r.reports[plan.reports.pins] ?? null;
  if (pinsText === null) {
    errors.push(`the packages to audit could not be listed from ${c.requirements.join(", ")} (exit ${r.exitCode}):\n${tail(r.stderr || r.stdout, 10)}`);
    return { ...base, status: "failed", text: "dependency audit: could not list the packages", reason: "audit_pins.py failed" };
  }
  const pins = attempt(() => parseAuditPins(pinsText), errors);
  if (pins === null) return { ...base, status: "failed", text: "dependency audit: could not list the packages", reason: "unreadable audit_pins.py report" };
  const notAudited = pins.problems.map((p) => ({ name: p.requirement, reason: `${p.file}:${p.line}: ${p.reason}` }));
  const auditText = r.reports[plan.reports.audit] ?? null;
  if (auditText === null) {
    const out = r.stderr + r.stdout;
    if (NETWORK_ERROR.test(out)) {
      return { ...base, packages: pins.packages.length, notAudited, status: "unreachable", text: UNREACHABLE, reason: `${s.auditService}: ${networkReason(out)}` };
    }
    errors.push(`pip-audit failed (exit ${r.exitCode}):\n${tail(r.stderr || r.stdout, 10)}`);
    return { ...base, packages: pins.packages.length, notAudited, status: "failed", text: "dependency audit: pip-audit failed", reason: `exit ${r.exitCode}` };
  }
  const audited = attempt(() => parsePipAuditJson(auditText), errors);
  if (audited === null) return { ...base, packages: pins.packages.length, notAudited, status: "failed", text: "dependency audit: pip-audit failed", reason: "unreadable report" };
  const where = new Map(pins.packages.map((p) => [p.name.toLowerCase(), p]));
  const skipped = audited.filter((p) => p.skipped !== null);
  if (audited.length > 0 && skipped.length === audited.length) {
    const example = skipped[0]!.skipped!;
    return {
      ...base,
      packages: audited.length,
      notAudited,
      status: "unreachable",
      text: UNREACHABLE,
      reason: `${s.auditService} answered with no advisory data for any of the ${audited.length} packages, e.g. "${example}"`,
    };
  }
  let vulnerable = 0;
  for (const p of audited) {
    if (p.vulns.length) vulnerable++;
    const pin = where.get(p.name.toLowerCase());
    for (const v of p.vulns) {
      const fix = v.fixVersions.length ? `upgrade to ${v.fixVersions.join(" or ")}` : "no fixed version yet: replace the package or accept the advisory in security.ignoreVulns";
      const via = pin && !pin.direct ? ` (pulled in through ${pin.file}:${pin.line})` : "";
      const aka = v.aliases.length ? ` (${v.aliases.join(", ")})` : "";
      findings.push({
        category: "dependency",
        tool: "pip-audit",
        rule: v.id,
        title: `known vulnerability in ${p.name}`,
        file: pin?.file ?? c.requirements[0] ?? "requirements.txt",
        line: pin?.line ?? null,
        severity: "high",
        confidence: "high",
        blocking: true,
        message: `${p.name} ${p.version ?? ""} has ${v.id}${aka}${via}: ${v.description.replace(/\.+$/, "") || "no description"}. Fix: ${fix}`.replace(/ {2,}/g, " "),
      });
    }
  }
  for (const p of skipped) notAudited.push({ name: `${p.name}${p.version ? ` ${p.version}` : ""}`, reason: p.skipped! });
  const notText = notAudited.length ? `, ${notAudited.length} not audited` : "";
  return {
    ...base,
    packages: audited.length,
    vulnerable,
    notAudited,
    status: "audited",
    text: `dependency audit: ${audited.length} package${audited.length === 1 ? "" : "s"}, ${vulnerable} vulnerable${notText}`,
  };
}

/** A report that does not parse is a tool that could not do its job: an error of the gate, never a crash of the run. */
function attempt<T>(parse: () => T, errors: string[]): T | null {
  try {
    return parse();
  } catch (e) {
    errors.push((e as Error).message);
    return null;
  }
}

const slug = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "");

/**
 * The security gate: bandit at or above the configured severity and confidence, committed secrets
 * (detect-secrets and shipit's secret-key check), .gitignore coverage, and known vulnerabilities in
 * the dependencies. Red on any blocking finding, on a tool that could not run, and on an unreachable
 * advisory source when security.auditUnreachable is "fail"; an unreachable source is never silent.
 */
export function evaluateSecurity(r: SecurityInputs, plan: SecurityPlanView, c: ResolvedConfig): SecurityVerdict {
  const s = c.security;
  const findings: SecurityFinding[] = [...plan.source.findings];
  const errors: string[] = [];
  const thresholds = { severity: s.severity, confidence: s.confidence };

  const banditText = r.code.reports[plan.reports.bandit] ?? null;
  const bandit = banditText === null ? null : attempt(() => parseBanditJson(banditText), errors);
  if (banditText === null) {
    errors.push(`bandit did not run (exit ${r.code.exitCode}):\n${tail(r.code.stderr || r.code.stdout, 10)}`);
  } else if (bandit) {
    for (const i of bandit.issues) {
      const blocking = RANK[i.severity] >= RANK[s.severity] && RANK[i.confidence] >= RANK[s.confidence];
      findings.push({
        category: "code",
        tool: "bandit",
        rule: i.rule,
        title: i.name,
        file: i.file,
        line: i.line,
        severity: i.severity,
        confidence: i.confidence,
        blocking,
        message: `${i.message} (${i.severity} severity, ${i.confidence} confidence)`,
        ...(i.moreInfo ? { helpUri: i.moreInfo } : {}),
      });
    }
    for (const e of bandit.errors) errors.push(`bandit could not scan ${e.file}: ${e.reason}`);
  }

  if (r.secrets) {
    const out = r.secrets.stdout;
    const detected = r.secrets.exitCode === 0 ? attempt(() => parseDetectSecretsJson(out), errors) : null;
    if (detected === null) {
      errors.push(`detect-secrets did not run (exit ${r.secrets.exitCode}):\n${tail(r.secrets.stderr || r.secrets.stdout, 10)}`);
    } else {
      const tracked = new Set(plan.source.tracked);
      const literalAt = new Set(findings.filter((f) => f.rule === "secret-literal").map((f) => `${f.file}:${f.line}`));
      const accepted = new Set(plan.source.accepted.map((a) => `${a.file}\0${a.type}\0${a.hash}`));
      for (const d of detected) {
        if (!tracked.has(d.file)) continue;
        if (accepted.has(`${d.file}\0${d.type}\0${d.hash}`)) continue; // audited as a false positive in the baseline
        if (d.type === "Secret Keyword" && literalAt.has(`${d.file}:${d.line}`)) continue; // shipit's own finding says more
        findings.push({
          category: "secret",
          tool: "detect-secrets",
          rule: slug(d.type),
          title: d.type,
          file: d.file,
          line: d.line,
          severity: "high",
          confidence: "medium",
          blocking: true,
          message: `${d.type} committed. Fix: remove it from the repository and rotate it (a deliberate test value: end its line with "pragma: allowlist secret", or mark it a false positive in ${s.secretsBaseline} with detect-secrets audit)`,
        });
      }
    }
  }

  if (plan.source.baselineError) errors.push(plan.source.baselineError);
  const audit = evaluateAudit(r.audit, plan, c, findings, errors);

  findings.sort(
    (a, b) => Number(b.blocking) - Number(a.blocking) || RANK[b.severity] - RANK[a.severity] || a.file.localeCompare(b.file) || (a.line ?? 0) - (b.line ?? 0) || a.rule.localeCompare(b.rule),
  );
  const blocking = findings.filter((f) => f.blocking);
  const below = findings.length - blocking.length;
  const byCategory = (["code", "secret", "gitignore", "dependency"] as const)
    .map((k) => [k, blocking.filter((f) => f.category === k).length] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  const figure = [
    `${blocking.length} finding${blocking.length === 1 ? "" : "s"}${byCategory.length ? ` (${byCategory.join(", ")})` : ""}`,
    ...(below ? [`${below} below threshold`] : []),
    audit.text,
  ].join(" · ");

  const durationMs = Math.max(r.code.durationMs, r.secrets?.durationMs ?? 0, r.audit?.durationMs ?? 0);
  const unreachableFails = audit.status === "unreachable" && audit.policy === "fail";
  const warnings: string[] = [];
  if (audit.status === "unreachable" && audit.policy === "warn") {
    warnings.push(
      `${UNREACHABLE}: ${audit.reason}. The dependencies were NOT audited (security.auditUnreachable is "warn"). ` +
        `Fix: make ${audit.service === "osv" ? s.osvUrl : "pypi.org"} reachable from the build, or set security.auditUnreachable to "fail" to block on this`,
    );
  }
  if (audit.notAudited.length) warnings.push(`not audited: ${audit.notAudited.map((n) => `${n.name} (${n.reason})`).join("; ")}`);

  const base = { name: "security" as const, durationMs, figure, findings, errors, audit, thresholds, scanned: { files: plan.source.tracked.length, paths: s.paths } };
  const warning = warnings.length ? warnings.join("\n") : undefined;
  if (blocking.length === 0 && errors.length === 0 && !unreachableFails) {
    return { ...base, status: "passed", detail: "", ...(warning ? { warning } : {}) };
  }
  const lines: string[] = [];
  if (blocking.length) {
    lines.push(`${blocking.length} blocking finding${blocking.length === 1 ? "" : "s"}:`);
    for (const f of blocking.slice(0, 30)) lines.push(`  ${f.file}${f.line ? `:${f.line}` : ""} ${f.rule} ${f.message}`);
    if (blocking.length > 30) lines.push(`  … and ${blocking.length - 30} more (see security.json)`);
  }
  for (const e of errors) lines.push(e);
  if (unreachableFails) {
    lines.push(
      `${UNREACHABLE}: ${audit.reason}. security.auditUnreachable is "fail". ` +
        `Fix: make ${audit.service === "osv" ? s.osvUrl : "pypi.org"} reachable from the build, or set security.auditUnreachable to "warn"`,
    );
  }
  return { ...base, status: "failed", detail: lines.join("\n"), ...(warning ? { warning } : {}) };
}
