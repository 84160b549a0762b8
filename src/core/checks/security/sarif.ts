/**
 * The security gate's two report files, rendered from its verdict: `security.json` (shipit's own
 * shape, for people and scripts) and `security.sarif` (SARIF 2.1.0, one run, which GitHub code
 * scanning accepts). Both hold locations, rules and messages, never a secret's value.
 */
import type { Log, ReportingDescriptor, Result } from "sarif";
import type { SecurityVerdict } from "./gate.js";
import type { Level, SecurityFinding } from "./source-scan.js";

export const SECURITY_JSON = "security.json";
export const SECURITY_SARIF = "security.sarif";

const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";
/** GitHub sorts alerts by `security-severity` (CVSS-like, 0-10) on the rule. */
const SECURITY_SEVERITY: Record<Level, string> = { high: "8.0", medium: "5.0", low: "2.0" };

/** The gate's verdict as JSON: status, figures, the dependency audit and every finding. */
export function renderSecurityJson(v: SecurityVerdict, name: string): string {
  const blocking = v.findings.filter((f) => f.blocking);
  const doc = {
    schemaVersion: 1,
    name,
    gate: "security",
    passed: v.status === "passed",
    status: v.status,
    figure: v.figure,
    thresholds: v.thresholds,
    counts: {
      blocking: blocking.length,
      belowThreshold: v.findings.length - blocking.length,
      byCategory: Object.fromEntries((["code", "secret", "gitignore", "dependency"] as const).map((k) => [k, blocking.filter((f) => f.category === k).length])),
    },
    scanned: v.scanned,
    audit: v.audit,
    errors: v.errors,
    ...(v.warning ? { warning: v.warning } : {}),
    findings: v.findings,
  };
  return JSON.stringify(doc, null, 2) + "\n";
}

const ruleId = (f: SecurityFinding) => `${f.tool}/${f.rule}`;

/** The verdict as a SARIF 2.1.0 log: one run of the "shipit" driver, a rule per tool rule, a result per finding. */
export function renderSarif(v: SecurityVerdict, name: string): string {
  const rules: ReportingDescriptor[] = [];
  const index = new Map<string, number>();
  for (const f of v.findings) {
    const id = ruleId(f);
    if (index.has(id)) continue;
    index.set(id, rules.length);
    rules.push({
      id,
      name: f.title,
      shortDescription: { text: `${f.tool}: ${f.title}` },
      ...(f.helpUri ? { helpUri: f.helpUri } : {}),
      properties: { tags: ["security", f.category], "security-severity": SECURITY_SEVERITY[f.severity] },
    });
  }
  const results: Result[] = v.findings.map((f) => ({
    ruleId: ruleId(f),
    ruleIndex: index.get(ruleId(f))!,
    level: f.blocking ? "error" : f.severity === "low" ? "note" : "warning",
    message: { text: f.message },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: encodeURI(f.file), uriBaseId: "%SRCROOT%" },
          ...(f.line ? { region: { startLine: f.line } } : {}),
        },
      },
    ],
    properties: { tool: f.tool, category: f.category, severity: f.severity, confidence: f.confidence, blocking: f.blocking },
  }));
  const notes = [
    ...v.errors.map((e) => ({ level: "error" as const, message: { text: e.split("\n")[0]! } })),
    ...(v.audit.status === "unreachable" ? [{ level: (v.audit.policy === "fail" ? "error" : "warning") as "error" | "warning", message: { text: `${v.audit.text} (${v.audit.reason})` } }] : []),
    ...v.audit.notAudited.map((n) => ({ level: "warning" as const, message: { text: `not audited: ${n.name} (${n.reason})` } })),
  ];
  const log: Log = {
    $schema: SARIF_SCHEMA,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: { name: "shipit", rules },
        },
        automationDetails: { id: `shipit-security/${name}/` },
        invocations: [{ executionSuccessful: v.errors.length === 0, ...(notes.length ? { toolExecutionNotifications: notes } : {}) }],
        originalUriBaseIds: { "%SRCROOT%": { description: { text: "The root of the scanned source tree" } } },
        results,
        properties: { passed: v.status === "passed", figure: v.figure },
      },
    ],
  };
  return JSON.stringify(log, null, 2) + "\n";
}
