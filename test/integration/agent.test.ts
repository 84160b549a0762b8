import { copyFile, mkdir, mkdtemp, readdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { runCheck } from "../../src/core/checks/pipeline.js";
import { hostSetup } from "../helpers/host.js";
import { REPO } from "../helpers/variants.js";

/**
 * We eat our own cooking: the host agent (src/python/shipit_agent.py) and its pytest suite
 * (test/agent) are laid out as a Python repository and put through shipit's own lint, typecheck
 * and test gates with the host runner, as the sample bot is in host-checks.test.ts.
 *
 * Layout: the agent at the root (its tests import it as a module: pytest.ini has
 * `pythonpath = .`), the tests under tests/, test/agent/requirements.txt (hypothesis, for the
 * property tests) as requirements.txt, shipit's pack_artifact.py under support/ (the tests
 * build real artifacts with it; it is not linted here) and the smoke client beside it,
 * test/agent/shipit.json as shipit.json, and
 * the contracts the agent's copies are held to (test_contracts.py): config/contracts/*.schema.json
 * under contracts/, the golden fixtures of test/fixtures/contracts/ under contracts/fixtures/.
 */
const FILES: Record<string, string> = {
  "pytest.ini": "[pytest]\ntestpaths = tests\npythonpath = .\naddopts = -q\n",
  ".coveragerc": "[run]\ninclude = shipit_agent.py\n\n[report]\nfail_under = 85\nshow_missing = True\n",
  // ruff's default rules plus the sample bot's rule set; 3.9 is the oldest Python the agent meets.
  "ruff.toml": [
    "line-length = 100",
    'target-version = "py39"',
    "",
    "[lint]",
    'extend-select = ["E", "F", "W", "I", "B"]',
    "",
    "[lint.isort]",
    'known-first-party = ["shipit_agent", "conftest"]',
    "",
  ].join("\n"),
};

async function agentRepository(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shipit-agent-"));
  await mkdir(join(dir, "tests"));
  await mkdir(join(dir, "support"));
  await mkdir(join(dir, "contracts/fixtures"), { recursive: true });
  for (const name of await readdir(join(REPO, "config/contracts"))) await copyFile(join(REPO, "config/contracts", name), join(dir, "contracts", name));
  for (const name of await readdir(join(REPO, "test/fixtures/contracts"))) await copyFile(join(REPO, "test/fixtures/contracts", name), join(dir, "contracts/fixtures", name));
  await copyFile(join(REPO, "src/python/shipit_agent.py"), join(dir, "shipit_agent.py"));
  await copyFile(join(REPO, "src/python/pack_artifact.py"), join(dir, "support/pack_artifact.py"));
  // the smoke client, for the generated chat frames of test_props_smoke.py (not linted here either)
  await copyFile(join(REPO, "src/python/shipit_smoke.py"), join(dir, "support/shipit_smoke.py"));
  await copyFile(join(REPO, "test/agent/shipit.json"), join(dir, "shipit.json"));
  // the suite's own requirements (hypothesis, pinned): installed into its venv by the deps step
  await copyFile(join(REPO, "test/agent/requirements.txt"), join(dir, "requirements.txt"));
  for (const name of await readdir(join(REPO, "test/agent"))) {
    if (name.endsWith(".py")) await copyFile(join(REPO, "test/agent", name), join(dir, "tests", name));
  }
  for (const [name, text] of Object.entries(FILES)) await writeFile(join(dir, name), text);
  return dir;
}

test("the host agent passes shipit's own lint, typecheck and test gates, coverage >= 85%", async () => {
  const s = await hostSetup(await agentRepository());
  expect(s.config.name).toBe("shipit-agent");
  expect(s.config.coverage).toMatchObject({ threshold: 85, from: ".coveragerc [report] fail_under" });
  const [lint, typecheck, tests] = await Promise.all([
    runCheck("lint", s.plan, s.runner, s.config),
    runCheck("typecheck", s.plan, s.runner, s.config),
    runCheck("test", s.plan, s.runner, s.config),
  ]);
  expect([lint.status, lint.figure], lint.detail).toEqual(["passed", "0 findings"]);
  expect(typecheck.status, typecheck.detail).toBe("passed");
  expect(typecheck.figure).toMatch(/^0 errors in 1 file/);
  expect(tests.status, tests.detail).toBe("passed");
  expect(tests.junit?.failures).toBe(0);
  expect(tests.junit?.errors).toBe(0);
  expect(tests.junit?.skipped).toBe(0);
  expect(tests.junit?.tests).toBeGreaterThanOrEqual(150);
  expect(tests.coverage?.percent).toBeGreaterThanOrEqual(85);
  expect(tests.coverage?.files.map((f) => f.path)).toEqual(["shipit_agent.py"]);
});
