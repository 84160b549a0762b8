import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { UNREACHABLE, type SecurityVerdict } from "../../src/core/checks/security/gate.js";
import { runCheck } from "../../src/core/checks/pipeline.js";
import { renderSarif, renderSecurityJson } from "../../src/core/checks/security/sarif.js";
import { renderSummary } from "../../src/core/checks/summary.js";
import { hostSetup } from "../helpers/host.js";
import { closedUrl, startOsv } from "../helpers/osv.js";
import { CANARY, makeVariant, REPO, type Variant } from "../helpers/variants.js";

/**
 * The real bandit, detect-secrets and pip-audit through the host runner. The dependency audit asks
 * a local OSV stand-in (see helpers/osv.ts) so that its answers are known; the default advisory
 * source (PyPI) is exercised by its own test, which accepts either of its two honest outcomes.
 */
let osv: Awaited<ReturnType<typeof startOsv>>;
beforeAll(async () => {
  osv = await startOsv({
    "python-socketio==5.18.1": [{ id: "GHSA-shpt-test-0001", aliases: ["CVE-2099-0001"], summary: "Crafted packet crashes the client", fixed: "5.18.2" }],
    "bidict==0.24.1": [{ id: "PYSEC-2099-7", summary: "Test advisory with no fix" }],
  });
});
afterAll(() => osv.close());

const auditVia = (url: string, extra: object = {}) => JSON.stringify({ security: { auditService: "osv", osvUrl: url, ...extra } });

async function security(variant: Variant, extra: Record<string, string> = {}): Promise<SecurityVerdict> {
  const clean = await startOsv();
  try {
    const s = await hostSetup(await makeVariant(variant, { "shipit.json": auditVia(clean.url), ...extra }));
    return await runCheck("security", s.plan, s.runner, s.config);
  } finally {
    await clean.close();
  }
}

const blockingLines = (v: SecurityVerdict) => v.findings.filter((f) => f.blocking).map((f) => `${f.file}${f.line ? `:${f.line}` : ""} ${f.rule} ${f.message}`);

describe("the security gate on the sample bot and its variants", () => {
  test("clean sample bot: green, bandit's lower findings kept as notes, 13 packages audited", async () => {
    const v = await security("clean");
    expect(v.status, v.detail).toBe("passed");
    expect(v.figure).toBe("0 findings · 2 below threshold · dependency audit: 13 packages, 0 vulnerable");
    // (Lines left out: the sample bot's code moves; the rules, files and verdicts are what matter here.)
    expect(v.findings.map((f) => [f.file, f.rule, f.severity, f.blocking, f.line! > 0])).toEqual([
      ["bot/rosey/connection.py", "B310", "medium", false, true],
      ["bot/rosey/bot.py", "B101", "low", false, true],
    ]);
    expect(v.warning).toBeUndefined();
    expect(v.scanned.files).toBeGreaterThanOrEqual(25);
  });

  test("shell injection: subprocess with shell=True on user input is a high-severity bandit finding", async () => {
    const v = await security("shell-injection");
    expect(v.status).toBe("failed");
    expect(v.figure).toBe("1 finding (1 code) · 3 below threshold · dependency audit: 13 packages, 0 vulnerable");
    expect(blockingLines(v)).toEqual(["lib/lookup.py:7 B602 subprocess call with shell=True identified, security issue. (high severity, high confidence)"]);
    expect(renderSummary("shipit security (app)", [v])).toContain(
      "[security] 1 blocking finding:\n  lib/lookup.py:7 B602 subprocess call with shell=True identified, security issue. (high severity, high confidence)",
    );
  });

  test("the bandit thresholds are configurable: at severity medium the urlopen audit blocks too", async () => {
    const v = await security("clean", { "shipit.json": JSON.stringify({ security: { severity: "medium", auditService: "osv", osvUrl: await closedUrl(), auditUnreachable: "warn" } }) });
    expect(v.status).toBe("failed");
    expect(blockingLines(v)).toEqual([
      expect.stringMatching(/^bot\/rosey\/connection\.py:\d+ B310 Audit url open for permitted schemes\. Allowing use of file:\/ or custom schemes is often unexpected\. \(medium severity, high confidence\)$/),
    ]);
  });

  test("hard-coded password in a config file: the key and line are named, the value never", async () => {
    const v = await security("hardcoded-password");
    expect(v.status).toBe("failed");
    expect(v.figure).toBe("1 finding (1 secret) · 2 below threshold · dependency audit: 13 packages, 0 vulnerable");
    expect(blockingLines(v)).toMatchInlineSnapshot(`
      [
        "bot/rosey/config.json.dist:8 secret-literal key "password" holds a literal value, not a placeholder. Fix: put a placeholder such as "\${PASSWORD}" or "<password>" in the file, keep the real value out of the repository, and rotate it",
      ]
    `);
  });

  test("committed private key: detect-secrets finds it", async () => {
    const v = await security("private-key");
    expect(v.status).toBe("failed");
    expect(blockingLines(v)).toEqual([
      `deploy/rosey_deploy_key:1 private-key Private Key committed. Fix: remove it from the repository and rotate it (a deliberate test value: end its line with "pragma: allowlist secret", or mark it a false positive in .secrets.baseline with detect-secrets audit)`,
    ]);
  });

  test("runtime config not ignored: the .gitignore coverage names the file and the line to add", async () => {
    const v = await security("config-not-ignored");
    expect(v.status).toBe("failed");
    expect(v.figure).toBe("1 finding (1 gitignore) · 2 below threshold · dependency audit: 13 packages, 0 vulnerable");
    expect(blockingLines(v)).toEqual([
      `bot/rosey/config.json not-ignored bot/rosey/config.json (the runtime config made from bot/rosey/config.json.dist) is not ignored: it would be committed with its real values. Fix: add "/bot/rosey/config.json" to .gitignore`,
    ]);
  });

  test("a planted canary secret is found in three places and never printed, nor written to the JSON or SARIF", async () => {
    const v = await security("hardcoded-password", {
      "lib/settings.py": `API_TOKEN = "${CANARY}"\n`,
      ".env.example": `ROSEY_TOKEN=${CANARY}\nROSEY_DB=\${ROSEY_DB}\n`,
    });
    expect(v.findings.map((f) => `${f.file}:${f.line} ${f.rule}`)).toEqual(
      expect.arrayContaining([".env.example:1 secret-literal", "bot/rosey/config.json.dist:8 secret-literal", "lib/settings.py:1 B105"]),
    );
    expect(v.findings.find((f) => f.rule === "B105")?.message).toBe("Possible hardcoded password (low severity, medium confidence)");
    const outputs = [renderSummary("shipit security (app)", [v]), v.detail, renderSecurityJson(v, "app"), renderSarif(v, "app")];
    for (const out of outputs) expect(out).not.toContain(CANARY);
    expect(outputs.join("\n")).not.toContain(CANARY.slice(-16));
  });
});

test("a detect-secrets baseline accepts a finding audited as a false positive (matched by the real tool's hash), not one audited as a secret", async () => {
  const clean = await startOsv();
  try {
    const dir = await makeVariant("private-key", { "shipit.json": auditVia(clean.url) });
    const red = await hostSetup(dir);
    expect((await runCheck("security", red.plan, red.runner, red.config)).status).toBe("failed");
    // What `detect-secrets scan > .secrets.baseline && detect-secrets audit .secrets.baseline` leaves behind.
    const scan = await execa(join(red.runner.layout.tools, "bin/detect-secrets"), ["scan", "deploy/rosey_deploy_key"], { cwd: dir });
    const baseline = (isSecret: boolean) => {
      const doc = JSON.parse(scan.stdout) as { results: Record<string, { is_secret?: boolean }[]> };
      for (const entries of Object.values(doc.results)) for (const e of entries) e.is_secret = isSecret;
      return JSON.stringify(doc, null, 2);
    };
    await writeFile(join(dir, ".secrets.baseline"), baseline(false));
    const accepted = await hostSetup(dir);
    const green = await runCheck("security", accepted.plan, accepted.runner, accepted.config);
    expect(green.status, green.detail).toBe("passed");
    await writeFile(join(dir, ".secrets.baseline"), baseline(true));
    const confirmed = await hostSetup(dir);
    expect(blockingLines(await runCheck("security", confirmed.plan, confirmed.runner, confirmed.config))).toEqual([
      expect.stringMatching(/^deploy\/rosey_deploy_key:1 private-key Private Key committed\./),
    ]);
  } finally {
    await clean.close();
  }
});

describe("the dependency audit", () => {
  test("known advisories (direct and transitive) are red findings at the requirement line", async () => {
    const s = await hostSetup(await makeVariant("clean", { "shipit.json": auditVia(osv.url) }));
    const v = await runCheck("security", s.plan, s.runner, s.config);
    expect(v.status).toBe("failed");
    expect(v.figure).toBe("2 findings (2 dependency) · 2 below threshold · dependency audit: 13 packages, 2 vulnerable");
    expect(blockingLines(v)).toEqual([
      // pip-audit reports an advisory under its preferred id (here the CVE alias) and lists the others.
      "requirements.txt:1 CVE-2099-0001 python-socketio 5.18.1 has CVE-2099-0001 (GHSA-shpt-test-0001): Crafted packet crashes the client. Fix: upgrade to 5.18.2",
      "requirements.txt:1 PYSEC-2099-7 bidict 0.24.1 has PYSEC-2099-7 (pulled in through requirements.txt:1): Test advisory with no fix. Fix: no fixed version yet: replace the package or accept the advisory in security.ignoreVulns",
    ]);
    expect(osv.queries).toEqual(expect.arrayContaining(["python-socketio==5.18.1", "bidict==0.24.1", "requests==2.34.2"]));
  });

  test("security.ignoreVulns accepts a reviewed advisory", async () => {
    const s = await hostSetup(await makeVariant("clean", { "shipit.json": auditVia(osv.url, { ignoreVulns: ["PYSEC-2099-7", "GHSA-shpt-test-0001"] }) }));
    const v = await runCheck("security", s.plan, s.runner, s.config);
    expect(v.status, v.detail).toBe("passed");
    expect(v.audit).toMatchObject({ status: "audited", packages: 13, vulnerable: 0 });
  });

  // The advisory source is made unreachable honestly: osvUrl points at a loopback port nothing
  // listens on, so the real pip-audit gets "connection refused", as it would behind a firewall.
  test("unreachable advisory source with auditUnreachable=warn: green, but the summary says so", async () => {
    const url = await closedUrl();
    const s = await hostSetup(await makeVariant("clean", { "shipit.json": auditVia(url, { auditUnreachable: "warn" }) }));
    const v = await runCheck("security", s.plan, s.runner, s.config);
    const port = new URL(url).port;
    expect(v.status).toBe("passed");
    expect(v.figure).toBe(`0 findings · 2 below threshold · ${UNREACHABLE}`);
    expect(v.audit).toMatchObject({ status: "unreachable", policy: "warn", reason: `osv: 127.0.0.1:${port}: Connection refused` });
    const summary = renderSummary("shipit security (app)", [v]);
    expect(summary).toMatch(/^security +ok +\S+ +0 findings · 2 below threshold · dependency audit: no advisory source reachable$/m);
    expect(summary).toContain(
      `[security] warning: dependency audit: no advisory source reachable: osv: 127.0.0.1:${port}: Connection refused. The dependencies were NOT audited (security.auditUnreachable is "warn").`,
    );
  });

  test("unreachable advisory source with auditUnreachable=fail: red, naming the switch", async () => {
    const url = await closedUrl();
    const s = await hostSetup(await makeVariant("clean", { "shipit.json": auditVia(url, { auditUnreachable: "fail" }) }));
    const v = await runCheck("security", s.plan, s.runner, s.config);
    expect(v.status).toBe("failed");
    expect(v.figure).toBe(`0 findings · 2 below threshold · ${UNREACHABLE}`);
    expect(v.detail).toBe(
      `${UNREACHABLE}: osv: 127.0.0.1:${new URL(url).port}: Connection refused. security.auditUnreachable is "fail". Fix: make ${url} reachable from the build, or set security.auditUnreachable to "warn"`,
    );
  });

  test("the default source (PyPI) is never a silent pass: it audits, or the gate says it could not", async () => {
    const s = await hostSetup(await makeVariant("clean"));
    const v = await runCheck("security", s.plan, s.runner, s.config);
    expect(v.audit.service).toBe("pypi");
    if (v.audit.status === "unreachable") {
      expect(v.figure.endsWith(UNREACHABLE)).toBe(true);
      expect(v.warning).toContain("The dependencies were NOT audited");
    } else {
      expect(v.audit.status).toBe("audited");
      expect(v.figure).toMatch(/dependency audit: 13 packages, \d+ vulnerable$/);
    }
  });
});

test("the host CLI exports security.json and security.sarif even when the gate is red", async () => {
  const dir = await makeVariant("private-key", { "shipit.json": auditVia(osv.url, { ignoreVulns: ["PYSEC-2099-7", "GHSA-shpt-test-0001"] }) });
  const out = await mkdtemp(join(tmpdir(), "shipit-security-reports-"));
  const r = await execa("npx", ["shipit", "security", `--source=${dir}`, `--reports=${out}`], { cwd: REPO, reject: false });
  expect(r.exitCode, r.stderr).toBe(1);
  expect(r.stdout).toContain("shipit security (app): FAILED gates: security");
  const json = JSON.parse(await readFile(join(out, "security.json"), "utf8"));
  expect(json).toMatchObject({ passed: false, counts: { blocking: 1, byCategory: { secret: 1 } } });
  const sarif = JSON.parse(await readFile(join(out, "security.sarif"), "utf8"));
  expect(sarif.version).toBe("2.1.0");
  expect(sarif.runs[0].results.filter((x: { level: string }) => x.level === "error")).toEqual([
    expect.objectContaining({
      ruleId: "detect-secrets/private-key",
      locations: [{ physicalLocation: { artifactLocation: { uri: "deploy/rosey_deploy_key", uriBaseId: "%SRCROOT%" }, region: { startLine: 1 } } }],
    }),
  ]);
});
