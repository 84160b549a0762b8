/** The security gate's verdict: bandit, detect-secrets and the dependency audit read into one gate. */
import type { ResolvedConfig } from "../../config/config.js";
import { tail } from "../../text.js";
import type { Gate } from "../gates.js";
import { parseAuditPins, parseBanditJson, parseDetectSecretsJson, parsePipAuditJson } from "../parsers.js";
import type { StepResult } from "../step.js";
import { RANK, type Level, type SecurityFinding, type SourceScan } from "./source-scan.js";

interface SecurityInputs {
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

interface AuditOutcome {
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
