/**
 * `shipit init` through the real CLI on disk: the bundled sample bot and a tree shaped like Rosey
 * (bot/rosey/config.json.dist with user: [name, password], requirements.txt, pytest.ini,
 * .coveragerc, systemd/cytube-bot.service), made at test time. The written shipit.json loads with
 * the config loader; the workflows pass actionlint and zizmor (pedantic); nothing is overwritten
 * without --force.
 */
import { cp, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../../src/core/config/load.js";
import { resolveEnvironment } from "../../src/core/config/environments.js";
import { hostSourceView } from "../../src/runners/host.js";
import { actionlintBin, zizmorBin } from "../helpers/workflow-tools.js";
import { REPO } from "../helpers/variants.js";

const WORKFLOWS = ["pull-request.yml", "main.yml", "rollback.yml", "pr-comment.yml"].map((f) => `.github/workflows/${f}`);
const WRITTEN = ["shipit.json", ...WORKFLOWS, "shipit.init.md"];
let actionlint: string;
let zizmor: string;

const init = (dir: string, extra: string[] = []) =>
  execa(join(REPO, "node_modules/.bin/tsx"), [join(REPO, "dagger/bin/shipit.mjs"), "init", `--source=${dir}`, "--module=github.com/team/shipit@v0.1.0", ...extra], { reject: false, cwd: REPO });

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "shipit-init-"));
  for (const [p, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, p)), { recursive: true });
    await writeFile(join(dir, p), text);
  }
  return dir;
}

beforeAll(async () => {
  [actionlint, zizmor] = await Promise.all([actionlintBin(), zizmorBin()]);
}, 600_000);

async function expectGoodWorkflows(dir: string): Promise<void> {
  const lint = await execa(actionlint, ["-no-color", ...WORKFLOWS], { cwd: dir, reject: false });
  expect(lint.exitCode, lint.stdout + lint.stderr).toBe(0);
  const z = await execa(zizmor, ["--offline", "--persona=pedantic", "--no-progress", ...WORKFLOWS], { cwd: dir, reject: false });
  expect(z.exitCode, z.stdout + z.stderr).toBe(0);
  expect(z.stdout).toContain("No findings to report.");
}

describe("shipit init", () => {
  test("on the sample bot: writes the files, the config loads, the workflows lint clean", async () => {
    const dir = await mkdtemp(join(tmpdir(), "shipit-init-sample-"));
    await cp(join(REPO, "test/fixtures/sample-bot"), dir, { recursive: true, filter: (s) => !/__pycache__|_cache/.test(s) });
    const r = await init(dir);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.split("\n").slice(0, 6)).toEqual(WRITTEN.map((f) => `wrote ${f}`));
    expect(r.stdout).toContain("next steps (also in shipit.init.md):\n1. Set each environment's host in shipit.json (environments.test.host, environments.prod.host).");
    const config = await loadConfig(hostSourceView(dir));
    expect(config.origin).toBe("shipit.json");
    expect([config.name, config.requirements, config.typecheck.paths, config.build.include]).toEqual(["rosey", ["requirements.txt"], ["bot", "common", "lib", "web"], ["bot", "common", "lib", "web"]]);
    expect(resolveEnvironment("test", config.environments, config.origin, { requireHost: false }).setup.exec).toEqual(["-m", "bot.rosey", "--config", "config.json"]);
    await expectGoodWorkflows(dir);
  });

  test("on a Rosey-shaped tree: its start command, its secrets, its coverage threshold", async () => {
    const dir = await tree({
      "requirements.txt": "python-socketio[client]==5.18.1\n",
      "pytest.ini": "[pytest]\ntestpaths = tests\n",
      ".coveragerc": "[run]\nsource = lib, common, bot\n\n[report]\nfail_under = 66.0\n",
      ".gitignore": "config.json\n*.db\n*.log\n",
      "bot/rosey/rosey.py": "print('rosey')\n",
      "bot/rosey/config.json.dist": JSON.stringify({ domain: "https://cytu.be", channel: "YourChannelName", user: ["YourUsername", "YourPassword"], db: "bot_data.db", log_level: "WARNING", shell: "localhost:5555" }, null, 2),
      "common/__init__.py": "",
      "lib/__init__.py": "",
      "tests/test_bot.py": "def test_x() -> None:\n    pass\n",
      "systemd/cytube-bot.service": "[Unit]\nDescription=CyTube Bot\n[Service]\nUser=botuser\nWorkingDirectory=/home/botuser/cytube-bot\nExecStart=/usr/bin/python3 bot/rosey/rosey.py bot/rosey/config.json\nRestart=always\n[Install]\nWantedBy=multi-user.target\n",
    });
    const r = await init(dir);
    expect(r.exitCode, r.stderr).toBe(0);
    const written = JSON.parse(await readFile(join(dir, "shipit.json"), "utf8"));
    expect(written.environments.test).toEqual({
      host: "",
      basePath: "/srv/rosey-test",
      unit: "rosey-test.service",
      // the bot's own format, ready for a deploy: the keys shipit knows, the password from the secret
      runtimeConfig: {
        template: "bot/rosey/config.json.dist",
        path: "bot/rosey/config.json",
        values: { domain: "https://cytu.be", channel: "test-rosey", "user[0]": "RoseyTest", db: "data/test.db", log_level: "DEBUG" },
        secrets: { "user[1]": "CYTUBEBOT_TEST_PASSWORD" },
      },
      health: { kind: ["systemd"] },
      smoke: { kind: "presence" },
      setup: { exec: ["bot/rosey/rosey.py", "bot/rosey/config.json"] },
    });
    const config = await loadConfig(hostSourceView(dir));
    // and the loader checked each path against the template (user[0] exists, user[1] exists)
    expect(resolveEnvironment("prod", config.environments, config.origin, { requireHost: false }).runtimeConfig?.values).toEqual({ domain: "https://cytu.be", channel: "rosey", "user[0]": "Rosey", db: "data/rosey.db", log_level: "INFO" });
    expect([config.name, config.typecheck.paths, config.test.paths]).toEqual(["rosey", ["bot", "common", "lib"], []]);
    expect(r.stdout).toContain("bot/rosey/config.json.dist has secret-looking values at user[1]: keep only placeholders there, and have the deploy fill them from secrets");
    const notes = await readFile(join(dir, "shipit.init.md"), "utf8");
    expect(notes).toContain("- systemd unit systemd/cytube-bot.service: ExecStart=/usr/bin/python3 bot/rosey/rosey.py bot/rosey/config.json → `environments.*.setup.exec` [\"bot/rosey/rosey.py\",\"bot/rosey/config.json\"] (shipit's built-in unit runs it with the release's own interpreter in current/, as the deploy user instead of botuser)\n");
    expect(notes).toContain("- coverage config in .coveragerc: fail_under 66 is the coverage gate's threshold\n");
    await expectGoodWorkflows(dir);
  });

  test("never overwrites without --force: names every file that is there, writes nothing", async () => {
    const dir = await tree({ "requirements.txt": "", "app/__init__.py": "", "shipit.json": '{"name": "mine"}\n', ".github/workflows/main.yml": "name: mine\n" });
    const r = await init(dir);
    expect(r.exitCode).toBe(2);
    expect(r.stderr.trim()).toBe("shipit: shipit init refused: shipit.json, .github/workflows/main.yml already exist; nothing was written. Fix: move them away, or pass --force to overwrite");
    expect(await readFile(join(dir, "shipit.json"), "utf8")).toBe('{"name": "mine"}\n');
    expect(await readFile(join(dir, ".github/workflows/main.yml"), "utf8")).toBe("name: mine\n");
    await expect(readFile(join(dir, "shipit.init.md"), "utf8")).rejects.toThrow(/ENOENT/);
    const forced = await init(dir, ["--force"]);
    expect(forced.exitCode, forced.stderr).toBe(0);
    expect(JSON.parse(await readFile(join(dir, "shipit.json"), "utf8")).name).toBe(dir.split("/").at(-1)!.toLowerCase().replace(/[^a-z0-9-]+/g, "-"));
    expect(await readFile(join(dir, ".github/workflows/main.yml"), "utf8")).toContain("name: main\n");
  });
});
