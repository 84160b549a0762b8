import { expect, test } from "vitest";
import type { Log } from "sarif";
import type { SecurityVerdict } from "../../../../src/core/checks/security/gate.js";
import { renderSarif, renderSecurityJson } from "../../../../src/core/checks/security/sarif.js";
import type { SecurityFinding } from "../../../../src/core/checks/security/source-scan.js";

const finding = (over: Partial<SecurityFinding>): SecurityFinding => ({
  category: "code",
  tool: "bandit",
  rule: "B602",
  title: "subprocess_popen_with_shell_equals_true",
  file: "lib/lookup.py",
  line: 7,
  severity: "high",
  confidence: "high",
  blocking: true,
  message: "subprocess call with shell=True identified, security issue. (high severity, high confidence)",
  helpUri: "https://bandit.readthedocs.io/en/1.9.4/plugins/b602_subprocess_popen_with_shell_equals_true.html",
  ...over,
});

const VERDICT: SecurityVerdict = {
  name: "security",
  status: "failed",
  durationMs: 4200,
  figure: "3 findings (1 code, 1 secret, 1 gitignore) · 1 below threshold · dependency audit: no advisory source reachable",
  detail: "(not rendered in the files)",
  warning: "dependency audit: no advisory source reachable: osv: 127.0.0.1:9: Connection refused. The dependencies were NOT audited",
  findings: [
    finding({}),
    finding({ category: "secret", tool: "detect-secrets", rule: "private-key", title: "Private Key", file: "deploy/rosey deploy key", line: 1, confidence: "medium", message: "Private Key committed.", helpUri: undefined }),
    finding({ category: "gitignore", tool: "shipit", rule: "not-ignored", title: "must be ignored by .gitignore", file: ".gitignore", line: null, message: `"*.db" is not covered by .gitignore`, helpUri: undefined }),
    finding({ rule: "B101", title: "assert_used", file: "bot/rosey/bot.py", line: 152, severity: "low", blocking: false, message: "Use of assert detected.", helpUri: undefined }),
  ],
  errors: [],
  audit: { status: "unreachable", service: "osv", policy: "warn", packages: 13, vulnerable: 0, notAudited: [], text: "dependency audit: no advisory source reachable", reason: "osv: 127.0.0.1:9: Connection refused" },
  thresholds: { severity: "high", confidence: "low" },
  scanned: { files: 30, paths: ["lib", "bot"] },
};

test("SARIF 2.1.0: one run of the shipit driver, a rule per tool rule with its security-severity, a located result per finding", () => {
  const log = JSON.parse(renderSarif(VERDICT, "app")) as Log;
  expect(log.version).toBe("2.1.0");
  expect(log.$schema).toBe("https://json.schemastore.org/sarif-2.1.0.json");
  expect(log.runs).toHaveLength(1);
  const run = log.runs[0]!;
  expect(run.tool.driver.name).toBe("shipit");
  expect(run.tool.driver.rules!.map((r) => [r.id, r.properties?.["security-severity"], r.properties?.tags])).toEqual([
    ["bandit/B602", "8.0", ["security", "code"]],
    ["detect-secrets/private-key", "8.0", ["security", "secret"]],
    ["shipit/not-ignored", "8.0", ["security", "gitignore"]],
    ["bandit/B101", "2.0", ["security", "code"]],
  ]);
  expect(run.results).toMatchInlineSnapshot(`
    [
      {
        "level": "error",
        "locations": [
          {
            "physicalLocation": {
              "artifactLocation": {
                "uri": "lib/lookup.py",
                "uriBaseId": "%SRCROOT%",
              },
              "region": {
                "startLine": 7,
              },
            },
          },
        ],
        "message": {
          "text": "subprocess call with shell=True identified, security issue. (high severity, high confidence)",
        },
        "properties": {
          "blocking": true,
          "category": "code",
          "confidence": "high",
          "severity": "high",
          "tool": "bandit",
        },
        "ruleId": "bandit/B602",
        "ruleIndex": 0,
      },
      {
        "level": "error",
        "locations": [
          {
            "physicalLocation": {
              "artifactLocation": {
                "uri": "deploy/rosey%20deploy%20key",
                "uriBaseId": "%SRCROOT%",
              },
              "region": {
                "startLine": 1,
              },
            },
          },
        ],
        "message": {
          "text": "Private Key committed.",
        },
        "properties": {
          "blocking": true,
          "category": "secret",
          "confidence": "medium",
          "severity": "high",
          "tool": "detect-secrets",
        },
        "ruleId": "detect-secrets/private-key",
        "ruleIndex": 1,
      },
      {
        "level": "error",
        "locations": [
          {
            "physicalLocation": {
              "artifactLocation": {
                "uri": ".gitignore",
                "uriBaseId": "%SRCROOT%",
              },
            },
          },
        ],
        "message": {
          "text": ""*.db" is not covered by .gitignore",
        },
        "properties": {
          "blocking": true,
          "category": "gitignore",
          "confidence": "high",
          "severity": "high",
          "tool": "shipit",
        },
        "ruleId": "shipit/not-ignored",
        "ruleIndex": 2,
      },
      {
        "level": "note",
        "locations": [
          {
            "physicalLocation": {
              "artifactLocation": {
                "uri": "bot/rosey/bot.py",
                "uriBaseId": "%SRCROOT%",
              },
              "region": {
                "startLine": 152,
              },
            },
          },
        ],
        "message": {
          "text": "Use of assert detected.",
        },
        "properties": {
          "blocking": false,
          "category": "code",
          "confidence": "high",
          "severity": "low",
          "tool": "bandit",
        },
        "ruleId": "bandit/B101",
        "ruleIndex": 3,
      },
    ]
  `);
  expect(run.invocations).toEqual([
    { executionSuccessful: true, toolExecutionNotifications: [{ level: "warning", message: { text: "dependency audit: no advisory source reachable (osv: 127.0.0.1:9: Connection refused)" } }] },
  ]);
  expect(run.automationDetails).toEqual({ id: "shipit-security/app/" });
  expect(run.tool.driver.rules![0]!.helpUri).toBe("https://bandit.readthedocs.io/en/1.9.4/plugins/b602_subprocess_popen_with_shell_equals_true.html");
});

test("SARIF: a tool that could not run makes the invocation unsuccessful, naming it", () => {
  const log = JSON.parse(renderSarif({ ...VERDICT, findings: [], errors: ["bandit did not run (exit 2):\nTraceback"], audit: { ...VERDICT.audit, status: "none", text: "dependency audit: no requirement files" } }, "app")) as Log;
  expect(log.runs[0]!.invocations).toEqual([{ executionSuccessful: false, toolExecutionNotifications: [{ level: "error", message: { text: "bandit did not run (exit 2):" } }] }]);
  expect(log.runs[0]!.results).toEqual([]);
});

test("security.json: verdict, counts by category, the audit and every finding", () => {
  const doc = JSON.parse(renderSecurityJson(VERDICT, "app"));
  expect(doc).toMatchObject({
    schemaVersion: 1,
    name: "app",
    gate: "security",
    passed: false,
    status: "failed",
    figure: VERDICT.figure,
    thresholds: { severity: "high", confidence: "low" },
    counts: { blocking: 3, belowThreshold: 1, byCategory: { code: 1, secret: 1, gitignore: 1, dependency: 0 } },
    scanned: { files: 30, paths: ["lib", "bot"] },
    audit: { status: "unreachable", text: "dependency audit: no advisory source reachable", policy: "warn" },
    errors: [],
    warning: VERDICT.warning,
  });
  expect(doc.findings).toHaveLength(4);
  expect(doc.findings[1]).toEqual({
    category: "secret",
    tool: "detect-secrets",
    rule: "private-key",
    title: "Private Key",
    file: "deploy/rosey deploy key",
    line: 1,
    severity: "high",
    confidence: "medium",
    blocking: true,
    message: "Private Key committed.",
  });
});
