import { describe, expect, test } from "vitest";
import { detectLayout, parseUnit, templateSecrets } from "../../../src/core/init/detect.js";
import { execFromUnit, parseModuleRef, refuseOverwrites, renderInit } from "../../../src/core/init/render.js";
import { memoryView } from "../../helpers/memory-view.js";
import { thrown } from "../../helpers/thrown.js";

const MOD = parseModuleRef("github.com/acme/shipit@v0.1.0");

/** Shaped like Rosey at f466354: its own config format with user: [name, password], a unit, pytest.ini, .coveragerc. */
const ROSEY_LIKE: Record<string, string> = {
  "requirements.txt": "python-socketio[client]==5.18.1\n",
  "pytest.ini": "[pytest]\npython_files = test_*.py\n# Test paths\ntestpaths = tests\naddopts =\n    -v\n",
  ".coveragerc": "[run]\nsource = lib, common, bot\n\n[report]\nprecision = 2\nfail_under = 66.0\n",
  "bot/rosey/rosey.py": "print('rosey')\n",
  "bot/rosey/config.json.dist": JSON.stringify({ domain: "https://cytu.be", channel: "YourChannelName", user: ["YourUsername", "YourPassword"], log_level: "WARNING", db: "bot_data.db", llm: { max_tokens: 500, openai: { api_key: "sk-YOUR_OPENAI_API_KEY" } } }),
  "common/__init__.py": "",
  // as in Rosey: a package imports a top-level module, which the release must carry
  "lib/__init__.py": "from __version__ import __version__\n",
  "__version__.py": "__version__ = '0.4.0'\n",
  "setup_bot.py": "import sys\n",
  "lib/__main__.py": "",
  "tests/test_bot.py": "def test_x():\n    pass\n",
  "examples/echo/config.json.dist": JSON.stringify({ user: ["Echo", "YourPassword"] }),
  "examples/echo/bot.py": "",
  "systemd/cytube-bot.service": "[Service]\nUser=botuser\nWorkingDirectory=/home/botuser/cytube-bot\nExecStart=/usr/bin/python3 bot/rosey/rosey.py bot/rosey/config.json\nStandardOutput=append:/var/log/cytube-bot/bot.log\n",
};

test("the layout of a Rosey-shaped repository", async () => {
  expect(await detectLayout(memoryView(ROSEY_LIKE))).toEqual({
    requirements: ["requirements.txt"],
    appFolders: ["bot", "common", "lib"],
    appModules: ["__version__.py"],
    testFolders: ["tests"],
    pytestConfig: { file: "pytest.ini", testpaths: ["tests"] },
    coverage: { file: ".coveragerc", failUnder: 66 },
    // examples/ is not the bot's own config; max_tokens is not a secret, api_key and user[1] are
    templates: [{ path: "bot/rosey/config.json.dist", renders: "bot/rosey/config.json", format: "json", secrets: ["user[1]", "llm.openai.api_key"], fields: { domain: "scalar", channel: "scalar", user: "list", log_level: "scalar", db: "scalar" } }],
    units: [{ path: "systemd/cytube-bot.service", execStart: "/usr/bin/python3 bot/rosey/rosey.py bot/rosey/config.json", user: "botuser", workingDirectory: "/home/botuser/cytube-bot", logsToFile: true }],
    mainModule: "lib",
  });
});

test("secret-looking keys in JSON, TOML and YAML templates", () => {
  expect(templateSecrets(JSON.stringify({ db: { password: "" }, tokens: 3, api: { token: "x" } }), "json")).toEqual(["db.password", "api.token"]);
  expect(templateSecrets('[chat]\nname = "bot"\npassword = "CHANGE_ME"\n[llm]\napi_key = "sk-x"\n', "toml")).toEqual(["chat.password", "llm.api_key"]); // pragma: allowlist secret
  expect(templateSecrets("chat:\n  name: bot\n  password: CHANGE_ME\nllm:\n  openai:\n    api_key: sk-x\nmax_tokens: 5\n", "yaml")).toEqual(["chat.password", "llm.openai.api_key"]);
  expect(templateSecrets("{not json", "json")).toEqual([]);
});

test("a unit's ExecStart becomes setup.exec: the interpreter dropped, paths under WorkingDirectory made relative", () => {
  expect(execFromUnit(parseUnit("u", "ExecStart=/usr/bin/python3 bot/rosey/rosey.py bot/rosey/config.json\n"))).toEqual(["bot/rosey/rosey.py", "bot/rosey/config.json"]);
  expect(execFromUnit(parseUnit("u", "WorkingDirectory=/opt/bot\nExecStart=-/opt/venv/bin/python3.11 /opt/bot/main.py --config /opt/bot/c.json\n"))).toEqual(["main.py", "--config", "c.json"]);
  expect(execFromUnit(parseUnit("u", "ExecStart=/usr/bin/node server.js\n"))).toBeUndefined();
  expect(execFromUnit(parseUnit("u", "ExecStart=/usr/bin/python3 bot.py --name $NAME\n"))).toBeUndefined();
});

describe("the files init writes", () => {
  test("shipit.json for the Rosey-shaped tree: its folders, its start command, hosts to fill in", async () => {
    const view = memoryView(ROSEY_LIKE);
    const r = await renderInit(view, await detectLayout(view), MOD, "rosey-robot");
    expect(Object.keys(r.files)).toEqual(["shipit.json", ".github/workflows/pull-request.yml", ".github/workflows/main.yml", ".github/workflows/rollback.yml", ".github/workflows/pr-comment.yml", "shipit.init.md"]);
    // its own config format: the keys shipit knows filled from each environment, the password from its secret
    const runtimeConfig = (e: string) => ({
      template: "bot/rosey/config.json.dist",
      path: "bot/rosey/config.json",
      values: e === "test"
        ? { domain: "https://cytu.be", channel: "test-rosey", "user[0]": "RoseyTest", db: "data/test.db", log_level: "DEBUG" }
        : { domain: "https://cytu.be", channel: "rosey", "user[0]": "Rosey", db: "data/rosey.db", log_level: "INFO" },
      secrets: { "user[1]": e === "test" ? "CYTUBEBOT_TEST_PASSWORD" : "CYTUBEBOT_PROD_PASSWORD" },
    });
    const env = (e: string) => ({ host: "", basePath: `/srv/rosey-${e}`, unit: `rosey-${e}.service`, runtimeConfig: runtimeConfig(e), health: { kind: ["systemd"] }, smoke: { kind: "presence" }, setup: { exec: ["bot/rosey/rosey.py", "bot/rosey/config.json"] } });
    expect(JSON.parse(r.files["shipit.json"]!)).toEqual({
      $schema: "https://raw.githubusercontent.com/acme/shipit/v0.1.0/config/shipit.schema.json",
      name: "rosey",
      requirements: ["requirements.txt"],
      typecheck: { paths: ["bot", "common", "lib"] },
      build: { include: ["bot", "common", "lib", "__version__.py"] },
      security: { paths: ["bot", "common", "lib"] },
      environments: { test: env("test"), prod: env("prod") },
    });
    expect(r.config.name).toBe("rosey");
    expect(r.steps).toContain("bot/rosey/config.json.dist has secret-looking values at user[1], llm.openai.api_key: keep only placeholders there, and have the deploy fill them from secrets (CONFIGURATION.md, the runtime config).");
    expect(r.steps).toContain("Add the repository secrets (Settings → Secrets and variables → Actions): DEPLOY_SSH_KEY, CYTUBEBOT_TEST_PASSWORD, CYTUBE_SMOKE_PASSWORD, CYTUBEBOT_PROD_PASSWORD.");
    expect(r.steps).toContain("Set up the test host once: shipit setup --env=test --admin-key=env:SHIPIT_ADMIN_SSH_KEY --known-hosts=.github/known_hosts --deploy-key=deploy_key.pub (the admin key is root's; the deploy user deploy gets only the rights a deploy needs).");
    expect(r.files["shipit.init.md"]).toContain("- coverage config in .coveragerc: fail_under 66 is the coverage gate's threshold\n");
    expect(r.files["shipit.init.md"]).toContain("- top-level modules the app imports: __version__.py → `build.include` (a release without them cannot start)\n");
    expect(r.steps.find((x) => x.startsWith("Check environments.*.runtimeConfig"))).toBe("Check environments.*.runtimeConfig in shipit.json: it renders bot/rosey/config.json from bot/rosey/config.json.dist with each environment's values and the bot's password from CYTUBEBOT_TEST_PASSWORD/CYTUBEBOT_PROD_PASSWORD; other secret-looking keys stay as in the template. Health is `systemd` (the unit stays up): add `\"log\"` to `health.kind` with a `health.logPattern` your bot prints once it is in (Rosey: `login .*'success': True`) to know it logged in.");
    // the rendered environments pass the loader's own checks, paths against the template included
    expect(r.config.environments).toBeDefined();
  });

  test("the workflows call shipit's module by reference with the repository as --source, secrets by name only", async () => {
    const view = memoryView(ROSEY_LIKE);
    const r = await renderInit(view, await detectLayout(view), parseModuleRef("github.com/team/shipit@v2.0.1"));
    const pr = r.files[".github/workflows/pull-request.yml"]!;
    expect(pr).toContain("        run: node .shipit/shipit/dagger/bin/shipit.mjs shim --source=. --module=github.com/team/shipit@v2.0.1\n");
    expect(pr).toContain("          repository: team/shipit\n          ref: v2.0.1\n          path: .shipit/shipit\n");
    expect(pr).toContain("          CYTUBEBOT_TEST_PASSWORD: ${{ secrets.CYTUBEBOT_TEST_PASSWORD }}\n");
    expect(r.files[".github/workflows/main.yml"]).toContain("          CYTUBEBOT_PROD_PASSWORD: ${{ secrets.CYTUBEBOT_PROD_PASSWORD }}\n");
    expect(r.files[".github/workflows/pr-comment.yml"]).toContain("shim --context=.shipit/fork/comment.json --module=github.com/team/shipit@v2.0.1\n");
    expect(r.steps.some((s) => s.includes("acme"))).toBe(false);
  });

  test("a module reference that is not OWNER/REPO@REF is refused", () => {
    expect(thrown(() => parseModuleRef("github.com/acme/shipit")).message).toBe(
      "--module=github.com/acme/shipit: not a module reference. Fix: pass shipit's module as github.com/OWNER/REPO@TAG, e.g. github.com/acme/shipit@v1.4.0 (a tag or a commit, never a moving branch)",
    );
    expect(thrown(() => parseModuleRef("github.com/acme/shipit@v1; rm -rf /")).code).toBe("BAD_ARGUMENT");
  });

  test("files already there are named, and nothing is written, unless --force", async () => {
    const view = memoryView({ ...ROSEY_LIKE, "shipit.json": "{}", ".github/workflows/main.yml": "x" });
    const err = await refuseOverwrites(view, ["shipit.json", ".github/workflows/main.yml", "shipit.init.md"], false).then(
      () => null,
      (e: Error) => e,
    );
    expect(err?.message).toBe("shipit init refused: shipit.json, .github/workflows/main.yml already exist; nothing was written. Fix: move them away, or pass --force to overwrite");
    await expect(refuseOverwrites(view, ["shipit.json"], true)).resolves.toBeUndefined();
  });
});
