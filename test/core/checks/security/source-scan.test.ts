import { describe, expect, test } from "vitest";
import { InfraError } from "../../../../src/core/errors.js";
import { resolveConfig, type ResolvedConfig } from "../../../../src/core/config/config.js";
import { evaluateSecurity, networkReason, UNREACHABLE, type SecurityPlanView } from "../../../../src/core/checks/security/gate.js";
import { parseAuditPins, parseBanditJson, parseDetectSecretsJson, parsePipAuditJson } from "../../../../src/core/checks/parsers.js";
import {
  configLiterals,
  dotenvEntries,
  Gitignores,
  gitignoreCoverage,
  isPlaceholder,
  jsonEntries,
  probePaths,
  scanSource,
  secretKeyMatcher,
  type SourceScan,
} from "../../../../src/core/checks/security/source-scan.js";
import type { StepResult } from "../../../../src/core/checks/step.js";
import { renderSummary } from "../../../../src/core/checks/summary.js";
import { DEFAULTS } from "../../../../src/core/config/config.js";
import { memoryView, ROSEY } from "../../../helpers/memory-view.js";

/* Fake secrets below are test data; each line that holds one carries the allowlist pragma, so
   shipit's own secret scan (.ci/run) still reads this file. */
const FAKE = "Zq8-fake-value-4b1d"; // pragma: allowlist secret

const bandit = (results: object[], errors: object[] = []) => JSON.stringify({ errors, generated_at: "2026-11-26T00:00:00Z", metrics: {}, results });
const issue = (over: Record<string, unknown>) => ({
  code: `1 PASSWORD = "${FAKE}"\n`,
  col_offset: 0,
  filename: "./lib/x.py",
  issue_confidence: "HIGH",
  issue_cwe: { id: 78, link: "https://cwe.mitre.org/data/definitions/78.html" },
  issue_severity: "HIGH",
  issue_text: "subprocess call with shell=True identified, security issue.",
  line_number: 5,
  line_range: [5],
  more_info: "https://bandit.readthedocs.io/en/1.9.4/plugins/b602_subprocess_popen_with_shell_equals_true.html",
  test_id: "B602",
  test_name: "subprocess_popen_with_shell_equals_true",
  ...over,
});

describe("report parsing", () => {
  test("bandit JSON: issues relative to the root, levels lower-cased, code excerpts dropped, password values cut", () => {
    const text = bandit(
      [
        issue({}),
        issue({ filename: "lib/pw.py", line_number: 1, test_id: "B105", test_name: "hardcoded_password_string", issue_severity: "LOW", issue_confidence: "MEDIUM", issue_text: `Possible hardcoded password: '${FAKE}'` }),
      ],
      [{ filename: "lib/broken.py", reason: "syntax error while parsing AST from file" }],
    );
    const r = parseBanditJson(text);
    expect(r).toEqual({
      issues: [
        {
          file: "lib/x.py",
          line: 5,
          rule: "B602",
          name: "subprocess_popen_with_shell_equals_true",
          severity: "high",
          confidence: "high",
          message: "subprocess call with shell=True identified, security issue.",
          moreInfo: "https://bandit.readthedocs.io/en/1.9.4/plugins/b602_subprocess_popen_with_shell_equals_true.html",
        },
        {
          file: "lib/pw.py",
          line: 1,
          rule: "B105",
          name: "hardcoded_password_string",
          severity: "low",
          confidence: "medium",
          message: "Possible hardcoded password",
          moreInfo: "https://bandit.readthedocs.io/en/1.9.4/plugins/b602_subprocess_popen_with_shell_equals_true.html",
        },
      ],
      errors: [{ file: "lib/broken.py", reason: "syntax error while parsing AST from file" }],
    });
    expect(JSON.stringify(r)).not.toContain(FAKE);
  });

  test("bandit JSON of another shape is a clear error", () => {
    expect(() => parseBanditJson(`{"results": [{"filename": 3}]}`)).toThrow(/^bandit JSON report has an unexpected shape/);
    const one = { results: [{ filename: "a.py", line_number: 3, test_id: "B101", test_name: "assert_used", issue_severity: "LOW", issue_confidence: "SEVERE", issue_text: "t" }] };
    expect(() => parseBanditJson(JSON.stringify(one))).toThrow(new InfraError("REPORT_INVALID", 'bandit JSON report has an unexpected shape: results[0].issue_confidence: Invalid option: expected one of "low"|"medium"|"high"|"undefined"'));
  });

  test("detect-secrets output (and baseline): file, line, type, hash for matching and the audit verdict, sorted", () => {
    const out = JSON.stringify({
      version: "1.5.0",
      plugins_used: [],
      filters_used: [],
      results: {
        "deploy/key": [{ type: "Private Key", filename: "deploy/key", hashed_secret: "hash-a", is_verified: false, line_number: 1 }], // pragma: allowlist secret
        "config-prod.json": [
          { type: "Secret Keyword", filename: "config-prod.json", hashed_secret: "hash-b", is_verified: false, line_number: 9, is_secret: false }, // pragma: allowlist secret
          { type: "Base64 High Entropy String", filename: "config-prod.json", hashed_secret: "hash-c", is_verified: false, line_number: 3 }, // pragma: allowlist secret
        ],
      },
      generated_at: "2026-11-26T21:00:00Z",
    });
    expect(parseDetectSecretsJson(out)).toEqual([
      { file: "config-prod.json", line: 3, type: "Base64 High Entropy String", hash: "hash-c" },
      { file: "config-prod.json", line: 9, type: "Secret Keyword", hash: "hash-b", isSecret: false },
      { file: "deploy/key", line: 1, type: "Private Key", hash: "hash-a" },
    ]);
  });

  test("pip-audit JSON: packages with advisories, or why they were skipped", () => {
    const out = JSON.stringify({
      dependencies: [
        { name: "requests", version: "2.19.0", vulns: [{ id: "PYSEC-2018-28", fix_versions: ["2.20.0"], aliases: ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"], description: "The Requests package\nsends an HTTP Authorization header" }] },
        { name: "bidict", version: "0.24.1", vulns: [] },
        { name: "private-pkg", skip_reason: "Dependency not found on PyPI and could not be audited: private-pkg (1.0)" },
      ],
      fixes: [],
    });
    expect(parsePipAuditJson(out)).toEqual([
      { name: "requests", version: "2.19.0", skipped: null, vulns: [{ id: "PYSEC-2018-28", aliases: ["CVE-2018-18074", "GHSA-x84v-xcm2-53pg"], fixVersions: ["2.20.0"], description: "The Requests package" }] },
      { name: "bidict", version: "0.24.1", skipped: null, vulns: [] },
      { name: "private-pkg", version: null, skipped: "Dependency not found on PyPI and could not be audited: private-pkg (1.0)", vulns: [] },
    ]);
  });

  test("audit pins: the JSON audit_pins.py writes", () => {
    const text = JSON.stringify({ packages: [{ name: "bidict", version: "0.24.1", file: "requirements.txt", line: 1, direct: false }], problems: [] });
    expect(parseAuditPins(text).packages[0]).toEqual({ name: "bidict", version: "0.24.1", file: "requirements.txt", line: 1, direct: false });
    expect(() => parseAuditPins(`{"packages": {}}`)).toThrow(new InfraError("REPORT_INVALID", "audit pins report has an unexpected shape: packages: expected array, received object; problems: expected array, received undefined"));
  });
});

describe(".gitignore coverage", () => {
  const ig = new Gitignores({
    ".gitignore": "bot/rosey/config.json\n*.db\ndata/\n*.log\n!keep.log\n.env\n",
    "web/.gitignore": "*.cache\n!important.db\n",
  });

  test.each([
    ["bot/rosey/config.json", true],
    ["bot/rosey/config.json.dist", false],
    ["rosey.db", true],
    ["data/anything.txt", true],
    ["data/keep.log", true], // an ignored folder hides everything below it, negations included
    ["logs/bot.log", true],
    ["keep.log", false],
    ["web/x.cache", true],
    ["x.cache", false],
    ["web/important.db", false], // the deeper .gitignore wins
    ["web/other.db", true],
    ["lib/.env", true],
  ])("%s ignored: %s", (path, ignored) => expect(ig.ignored(path)).toBe(ignored));

  test("probe paths stand in for a pattern at the root and one folder down", () => {
    expect(probePaths("*.db")).toEqual(["shipit-probe.db", "shipit-probe-dir/shipit-probe.db"]);
    expect(probePaths(".env")).toEqual([".env", "shipit-probe-dir/.env"]);
    expect(probePaths("/secrets/")).toEqual(["secrets/shipit-probe"]);
    expect(probePaths("bot/rosey/config.json")).toEqual(["bot/rosey/config.json"]);
    expect(probePaths("**/id_rsa*")).toEqual(["id_rsashipit-probe", "shipit-probe-dir/id_rsashipit-probe"]);
  });

  test("the runtime config of a template, a pattern and a present file that are not ignored are each named", () => {
    const files = ["bot/rosey/config.json.dist", ".env.example", "data.sqlite", "lib/a.py", "/root-only.pem".slice(1)];
    const g = new Gitignores({ ".gitignore": "/*.pem\n.env\n" });
    const findings = gitignoreCoverage(files, g, true, ["*.pem", "*.sqlite", ".env"]);
    expect(findings.map((f) => `${f.file} ${f.rule} ${f.message}`)).toMatchInlineSnapshot(`
      [
        ".gitignore not-ignored bot/rosey/config.json (the runtime config made from bot/rosey/config.json.dist) is not ignored: it would be committed with its real values. Fix: add "/bot/rosey/config.json" to .gitignore",
        ".gitignore not-ignored "*.pem" is not covered by .gitignore (e.g. shipit-probe-dir/shipit-probe.pem): such files would be committed. Fix: add "*.pem" to .gitignore",
        ".gitignore not-ignored "*.sqlite" is not covered by .gitignore (e.g. shipit-probe.sqlite): such files would be committed. Fix: add "*.sqlite" to .gitignore",
        "data.sqlite not-ignored data.sqlite matches "*.sqlite" but is not ignored: it would be committed. Fix: remove it from the repository and add "*.sqlite" to .gitignore",
      ]
    `);
    expect(findings.every((f) => f.blocking && f.category === "gitignore" && f.severity === "high")).toBe(true);
  });

  test("no .gitignore at all is its own finding", () => {
    const findings = gitignoreCoverage(["lib/a.py"], new Gitignores({}), false, ["*.db"]);
    expect(findings.map((f) => f.message)).toEqual([
      "the source has no .gitignore: runtime configs, databases, logs and key files would be committed. Fix: add a .gitignore that covers *.db",
      `"*.db" is not covered by .gitignore (e.g. shipit-probe.db): such files would be committed. Fix: add "*.db" to .gitignore`,
    ]);
  });
});

describe("secret keys in config files", () => {
  const isSecret = secretKeyMatcher(DEFAULTS.security.secretKeys);

  test.each([
    ["password", true],
    ["db_password", true],
    ["ROSEY_PASSWORD", true],
    ["apiKey", true],
    ["api_key", true],
    ["SECRET_KEY", true],
    ["access_token", true],
    ["client_secret", true],
    ["key", true],
    ["password_file", false],
    ["token_url", false],
    ["monkey", false],
    ["health_port", false],
    ["bot_name", false],
  ])("key %s is a secret key: %s", (key, secret) => expect(isSecret(key)).toBe(secret));

  test.each([
    ["", true],
    ["${ROSEY_PASSWORD}", true],
    ["$TOKEN", true],
    ["<your password>", true],
    ["CHANGE_ME", true],
    ["changeme", true],
    ["replace-me", true],
    ["xxxxxxxx", true],
    ["********", true],
    ["...", true],
    ["your-token-here", true],
    ["YOUR_API_KEY", true],
    ["{{ vault_token }}", true],
    ["hunter2", false], // pragma: allowlist secret
    [FAKE, false],
    ["ghp_0123456789abcdefghijklmnopqrstuvwxyz", false], // pragma: allowlist secret
  ])("%j is a placeholder: %s", (value, placeholder) => expect(isPlaceholder(value)).toBe(placeholder));

  test("JSON entries carry the line of their key, nested paths and comments included", () => {
    const text = `{\n  // the bot\n  "channel": "x",\n  "db": {\n    "password": "${FAKE}",\n    "port": 5432\n  },\n  "tokens": ["a", "b"]\n}\n`;
    expect(jsonEntries(text).map((e) => [e.path, e.line, e.value])).toEqual([
      ["channel", 3, "x"],
      ["db.password", 5, FAKE],
      ["db.port", 6, 5432],
      ["db", 4, {}],
      ["tokens", 8, ["a", "b"]],
    ]);
    expect(() => jsonEntries(`{"a": 1,,}`)).toThrow("expected a key at line 1");
  });

  test("dotenv entries: export prefix, quotes and comments", () => {
    expect(dotenvEntries(`# comment\nexport API_TOKEN="${FAKE}"\nDB=\${DB} # from the env\n\nbad line\n`).map((e) => [e.key, e.line, e.value])).toEqual([
      ["API_TOKEN", 2, FAKE],
      ["DB", 3, "${DB}"],
    ]);
  });

  test("a literal under a secret key is a finding naming file, line and key; placeholders and non-secret keys pass", () => {
    const json = JSON.stringify({ channel: "rosey", password: FAKE, api_key: "${API_KEY}", token: null, nested: { client_secret: 12345 } }, null, 2);
    const findings = configLiterals("config-prod.json", json, DEFAULTS.security.secretKeys);
    expect(findings.map((f) => `${f.file}:${f.line} ${f.rule} ${f.message}`)).toMatchInlineSnapshot(`
      [
        "config-prod.json:3 secret-literal key "password" holds a literal value, not a placeholder. Fix: put a placeholder such as "\${PASSWORD}" or "<password>" in the file, keep the real value out of the repository, and rotate it",
        "config-prod.json:7 secret-literal key "nested.client_secret" holds a literal value, not a placeholder. Fix: put a placeholder such as "\${CLIENT_SECRET}" or "<client_secret>" in the file, keep the real value out of the repository, and rotate it",
      ]
    `);
    expect(JSON.stringify(findings)).not.toContain(FAKE);
    expect(configLiterals(".env.example", `ROSEY_TOKEN=${FAKE}\nROSEY_PASSWORD=\n`, DEFAULTS.security.secretKeys).map((f) => f.line)).toEqual([1]);
  });

  test("a config file that is not valid JSON cannot be vouched for: a blocking finding", () => {
    expect(configLiterals("bot/rosey/config.json.dist", `{"password": }`, ["*password"])).toEqual([
      {
        category: "secret",
        tool: "shipit",
        rule: "unreadable-config",
        title: "config file cannot be checked",
        file: "bot/rosey/config.json.dist",
        line: null,
        severity: "high",
        confidence: "high",
        blocking: true,
        message: "bot/rosey/config.json.dist is not valid JSON (unexpected token at line 1), so its secret keys cannot be checked. Fix: make it valid JSON",
      },
    ]);
  });
});

describe("scanSource over a tree", () => {
  const TREE = {
    ...ROSEY,
    ".gitignore": "bot/rosey/config.json\n*.db\n*.log\n*.pem\n*.key\n.env\n",
    "bot/rosey/config.json.dist": `{\n  "channel": "x",\n  "password": "<password>"\n}\n`,
    "bot/rosey/config.json": `{\n  "channel": "x",\n  "password": "${FAKE}"\n}\n`,
    "config-prod.json": `{\n  "token": "${FAKE}"\n}\n`,
    "data/rosey.db": "SQLite format 3",
    ".env": `TOKEN=${FAKE}\n`,
  };

  test("a detect-secrets baseline: its audited false positives are accepted, and it is not scanned itself", async () => {
    const baseline = JSON.stringify({
      results: {
        "lib/a.py": [
          { type: "Secret Keyword", filename: "lib/a.py", hashed_secret: "h1", is_verified: false, line_number: 3, is_secret: false }, // pragma: allowlist secret
          { type: "Private Key", filename: "lib/a.py", hashed_secret: "h2", is_verified: false, line_number: 9, is_secret: true }, // pragma: allowlist secret
          { type: "Secret Keyword", filename: "lib/a.py", hashed_secret: "h3", is_verified: false, line_number: 12 }, // pragma: allowlist secret
        ],
      },
    });
    const tree = { ...ROSEY, ".gitignore": "*.db\n*.log\n*.pem\n*.key\n.env\n", ".secrets.baseline": baseline };
    const scan = await scanSource(memoryView(tree), await resolveConfig(null, "defaults", memoryView(tree)));
    expect(scan.accepted).toEqual([{ file: "lib/a.py", type: "Secret Keyword", hash: "h1" }]);
    expect(scan.tracked).not.toContain(".secrets.baseline");
    const broken = { ...tree, ".secrets.baseline": "{" };
    const bad = await scanSource(memoryView(broken), await resolveConfig(null, "defaults", memoryView(broken)));
    expect(bad.baselineError).toMatch(/^\.secrets\.baseline is not a detect-secrets baseline: /);
  });

  test("ignored files are left out of the secret scan; committed config files are checked", async () => {
    const c = await resolveConfig(null, "defaults", memoryView(TREE));
    const scan = await scanSource(memoryView(TREE), c);
    expect(scan.tracked).not.toContain("bot/rosey/config.json");
    expect(scan.tracked).not.toContain(".env");
    expect(scan.tracked).not.toContain("data/rosey.db");
    expect(scan.tracked).toContain("bot/rosey/config.json.dist");
    expect(scan.configFiles).toEqual(["bot/rosey/config.json.dist", "config-prod.json"]);
    expect(scan.gitignores).toEqual([".gitignore"]);
    expect(scan.findings.map((f) => `${f.file}:${f.line} ${f.rule}`)).toEqual(["config-prod.json:2 secret-literal"]);
  });
});

/* ---------------------------------------------------------------- the gate -- */

const REPORTS = { bandit: "/out/security/bandit.json", pins: "/out/security/audit-pins.json", audit: "/out/security/pip-audit.json" };
const result = (over: Partial<StepResult> = {}): StepResult => ({ id: "x", exitCode: 0, stdout: "", stderr: "", durationMs: 1200, reports: {}, argv: [], ...over });
const PINS = JSON.stringify({
  packages: [
    { name: "bidict", version: "0.24.1", file: "requirements.txt", line: 1, direct: false },
    { name: "python-socketio", version: "5.18.1", file: "requirements.txt", line: 1, direct: true },
  ],
  problems: [],
});
const audited = (deps: object[]) => JSON.stringify({ dependencies: deps, fixes: [] });
const CLEAN_AUDIT = audited([
  { name: "bidict", version: "0.24.1", vulns: [] },
  { name: "python-socketio", version: "5.18.1", vulns: [] },
]);
const noSecrets = result({ stdout: JSON.stringify({ results: {} }) });

async function gate(
  over: { banditResults?: object[]; secrets?: StepResult | null; audit?: StepResult | null; config?: object; source?: Partial<SourceScan> } = {},
) {
  const config: ResolvedConfig = await resolveConfig(JSON.stringify(over.config ?? {}), "shipit.json", memoryView(ROSEY));
  const plan: SecurityPlanView = {
    reports: REPORTS,
    source: { files: 3, tracked: ["lib/x.py", "config-prod.json", "deploy/key"], gitignores: [".gitignore"], configFiles: [], findings: [], accepted: [], baselineError: null, ...over.source },
  };
  const code = result({ reports: { [REPORTS.bandit]: bandit(over.banditResults ?? []) } });
  const audit = over.audit === undefined ? result({ exitCode: 0, reports: { [REPORTS.pins]: PINS, [REPORTS.audit]: CLEAN_AUDIT } }) : over.audit;
  return evaluateSecurity({ code, secrets: over.secrets === undefined ? noSecrets : over.secrets, audit }, plan, config);
}

describe("the security gate", () => {
  test("green: no finding, every package audited", async () => {
    const v = await gate();
    expect([v.status, v.figure, v.detail, v.warning]).toEqual(["passed", "0 findings · dependency audit: 2 packages, 0 vulnerable", "", undefined]);
  });

  test("bandit: red at or above the severity and confidence thresholds, the rest kept below threshold", async () => {
    const results = [issue({}), issue({ issue_severity: "MEDIUM", line_number: 9 }), issue({ issue_confidence: "LOW", line_number: 12 })];
    const def = await gate({ banditResults: results });
    expect(def.figure).toBe("2 findings (2 code) · 1 below threshold · dependency audit: 2 packages, 0 vulnerable");
    expect(def.findings.map((f) => [f.line, f.blocking])).toEqual([
      [5, true],
      [12, true],
      [9, false],
    ]);
    const strict = await gate({ banditResults: results, config: { security: { severity: "medium", confidence: "medium" } } });
    expect(strict.findings.map((f) => [f.line, f.blocking])).toEqual([
      [5, true],
      [9, true],
      [12, false],
    ]);
    expect(def.detail).toMatchInlineSnapshot(`
      "2 blocking findings:
        lib/x.py:5 B602 subprocess call with shell=True identified, security issue. (high severity, high confidence)
        lib/x.py:12 B602 subprocess call with shell=True identified, security issue. (high severity, low confidence)"
    `);
  });

  test("detect-secrets: every secret blocks; one on the same line as a secret-key finding is reported once; untracked files are dropped", async () => {
    const literal = configLiterals("config-prod.json", `{\n  "token": "${FAKE}"\n}`, ["*token"]);
    const secrets = result({
      stdout: JSON.stringify({
        results: {
          "config-prod.json": [{ type: "Secret Keyword", filename: "config-prod.json", line_number: 2, hashed_secret: "x" }], // pragma: allowlist secret
          "deploy/key": [{ type: "Private Key", filename: "deploy/key", line_number: 1, hashed_secret: "y" }], // pragma: allowlist secret
          "bot/rosey/config.json": [{ type: "Secret Keyword", filename: "bot/rosey/config.json", line_number: 3, hashed_secret: "z" }], // pragma: allowlist secret
          "lib/x.py": [{ type: "Secret Keyword", filename: "lib/x.py", line_number: 4, hashed_secret: "w" }], // pragma: allowlist secret
        },
      }),
    });
    const v = await gate({ secrets, source: { findings: literal, accepted: [{ file: "lib/x.py", type: "Secret Keyword", hash: "w" }] } });
    expect(v.findings.map((f) => `${f.file}:${f.line} ${f.tool} ${f.rule}`)).toEqual(["config-prod.json:2 shipit secret-literal", "deploy/key:1 detect-secrets private-key"]);
    expect(v.figure).toBe("2 findings (2 secret) · dependency audit: 2 packages, 0 vulnerable");
    expect(v.findings[1]!.message).toBe(
      `Private Key committed. Fix: remove it from the repository and rotate it (a deliberate test value: end its line with "pragma: allowlist secret", or mark it a false positive in .secrets.baseline with detect-secrets audit)`,
    );
    expect(JSON.stringify(v)).not.toMatch(/"(x|y|w)"/);
  });

  test("an unreadable detect-secrets baseline is an error of the gate", async () => {
    const v = await gate({ source: { baselineError: ".secrets.baseline is not a detect-secrets baseline: Unexpected token" } });
    expect([v.status, v.detail]).toEqual(["failed", ".secrets.baseline is not a detect-secrets baseline: Unexpected token"]);
  });

  test("a tool that could not run makes the gate red with its words", async () => {
    const v = await gate({ secrets: result({ exitCode: 1, stderr: "Traceback ...\nUnicodeDecodeError: boom" }) });
    expect(v.status).toBe("failed");
    expect(v.errors).toEqual(["detect-secrets did not run (exit 1):\nTraceback ...\nUnicodeDecodeError: boom"]);
    expect(v.detail).toBe("detect-secrets did not run (exit 1):\nTraceback ...\nUnicodeDecodeError: boom");
  });

  test("advisories are findings at the requirement line that brought the package in", async () => {
    const report = audited([
      { name: "bidict", version: "0.24.1", vulns: [{ id: "PYSEC-2099-7", fix_versions: [], aliases: [], description: "Bad things" }] },
      { name: "python-socketio", version: "5.18.1", vulns: [{ id: "GHSA-aaaa-bbbb-cccc", fix_versions: ["5.18.2", "5.19.0"], aliases: ["CVE-2099-1"], description: "Worse things" }] },
    ]);
    const v = await gate({ audit: result({ exitCode: 1, reports: { [REPORTS.pins]: PINS, [REPORTS.audit]: report } }) });
    expect(v.status).toBe("failed");
    expect(v.detail).toMatchInlineSnapshot(`
      "2 blocking findings:
        requirements.txt:1 GHSA-aaaa-bbbb-cccc python-socketio 5.18.1 has GHSA-aaaa-bbbb-cccc (CVE-2099-1): Worse things. Fix: upgrade to 5.18.2 or 5.19.0
        requirements.txt:1 PYSEC-2099-7 bidict 0.24.1 has PYSEC-2099-7 (pulled in through requirements.txt:1): Bad things. Fix: no fixed version yet: replace the package or accept the advisory in security.ignoreVulns"
    `);
    expect(v.figure).toBe("2 findings (2 dependency) · dependency audit: 2 packages, 2 vulnerable");
  });

  const REFUSED = `Traceback (most recent call last):\n  ...\nrequests.exceptions.ConnectionError: HTTPConnectionPool(host='127.0.0.1', port=9): Max retries exceeded with url: /v1/query (Caused by NewConnectionError("HTTPConnection(host='127.0.0.1', port=9): Failed to establish a new connection: [Errno 111] Connection refused"))`;
  const unreachable = () => result({ exitCode: 1, stderr: REFUSED, reports: { [REPORTS.pins]: PINS, [REPORTS.audit]: null } });

  test("no advisory source reachable, auditUnreachable=warn (default): green, the row and a warning say so", async () => {
    const v = await gate({ audit: unreachable(), config: { security: { auditService: "osv", osvUrl: "http://127.0.0.1:9/v1/query" } } });
    expect(v.status).toBe("passed");
    expect(v.figure).toBe(`0 findings · ${UNREACHABLE}`);
    expect(renderSummary("shipit security (app)", [v])).toMatchInlineSnapshot(`
      "shipit security (app)
      gate      status  duration  figure
      --------  ------  --------  ------
      security  ok      1.2s      0 findings · dependency audit: no advisory source reachable

      [security] warning: dependency audit: no advisory source reachable: osv: 127.0.0.1:9: Connection refused. The dependencies were NOT audited (security.auditUnreachable is "warn"). Fix: make http://127.0.0.1:9/v1/query reachable from the build, or set security.auditUnreachable to "fail" to block on this

      shipit security (app): the gate passed"
    `);
  });

  test("no advisory source reachable, auditUnreachable=fail: red", async () => {
    const v = await gate({ audit: unreachable(), config: { security: { auditUnreachable: "fail" } } });
    expect(v.status).toBe("failed");
    expect(v.figure).toBe(`0 findings · ${UNREACHABLE}`);
    expect(v.detail).toBe(
      `${UNREACHABLE}: pypi: 127.0.0.1:9: Connection refused. security.auditUnreachable is "fail". Fix: make pypi.org reachable from the build, or set security.auditUnreachable to "warn"`,
    );
  });

  test("a source that knows none of the packages is no audit either", async () => {
    const skipped = audited([
      { name: "bidict", skip_reason: "Dependency not found on PyPI and could not be audited: bidict (0.24.1)" },
      { name: "python-socketio", skip_reason: "Dependency not found on PyPI and could not be audited: python-socketio (5.18.1)" },
    ]);
    const v = await gate({ audit: result({ reports: { [REPORTS.pins]: PINS, [REPORTS.audit]: skipped } }), config: { security: { auditUnreachable: "fail" } } });
    expect(v.status).toBe("failed");
    expect(v.audit.reason).toBe(`pypi answered with no advisory data for any of the 2 packages, e.g. "Dependency not found on PyPI and could not be audited: bidict (0.24.1)"`);
  });

  test("some packages not audited: audited, with a warning naming them", async () => {
    const partly = audited([
      { name: "bidict", version: "0.24.1", vulns: [] },
      { name: "python-socketio", skip_reason: "Dependency not found on PyPI and could not be audited: python-socketio (5.18.1)" },
    ]);
    const v = await gate({ audit: result({ reports: { [REPORTS.pins]: PINS, [REPORTS.audit]: partly } }) });
    expect(v.status).toBe("passed");
    expect(v.figure).toBe("0 findings · dependency audit: 2 packages, 0 vulnerable, 1 not audited");
    expect(v.warning).toBe("not audited: python-socketio (Dependency not found on PyPI and could not be audited: python-socketio (5.18.1))");
  });

  test("pip-audit failing for another reason is red, not unreachable", async () => {
    const v = await gate({ audit: result({ exitCode: 1, stderr: "ERROR: invalid requirement: 'x=='", reports: { [REPORTS.pins]: PINS, [REPORTS.audit]: null } }) });
    expect(v.status).toBe("failed");
    expect(v.audit.status).toBe("failed");
    expect(v.detail).toBe("pip-audit failed (exit 1):\nERROR: invalid requirement: 'x=='");
  });

  test("no requirement files: said in the row", async () => {
    const v = await gate({ audit: null });
    expect(v.figure).toBe("0 findings · dependency audit: no requirement files");
  });

  test.each([
    [`HTTPSConnectionPool(host='api.osv.dev', port=443): Max retries exceeded (Caused by NameResolutionError("Failed to resolve 'api.osv.dev' ([Errno -2] Name or service not known)"))`, "api.osv.dev:443: Failed to resolve 'api.osv.dev'"],
    [`requests.exceptions.ConnectTimeout: HTTPSConnectionPool(host='pypi.org', port=443): Max retries exceeded (connect timeout=15)`, "pypi.org:443: connection failed"],
    ["pip_audit._service.interface.ConnectionError: Could not connect to OSV's vulnerability feed", "Could not connect to OSV's vulnerability feed"],
  ])("networkReason(%j) = %j", (stderr, reason) => expect(networkReason(stderr)).toBe(reason));
});
