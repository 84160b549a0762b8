/**
 * `shipit init`: from what detect.ts found, the files a bot's repository needs to ship with shipit:
 * `shipit.json` (plain JSON, checked by the config loader before anything is written), the GitHub
 * workflows calling shipit's module by reference with the bot's repository as `--source`, and
 * `shipit.init.md`, which explains each choice and lists the next steps (secrets, hosts to set up).
 *
 * Why a companion file and not comments: the config loader reads strict JSON (JSON.parse, then a
 * zod schema that rejects unknown keys at every level), so neither `//` comments nor `"$comment"`
 * keys would load. `$schema` gives an editor each key's description instead.
 */
import type { ResolvedConfig, SourceView } from "../config/config.js";
import { resolveConfig } from "../config/config.js";
import { resolveEnvironment, type Environment } from "../config/environments.js";
import { ShipitError } from "../errors.js";
import type { ConfigTemplate, Layout, SystemdUnit } from "./detect.js";

export interface ModuleRef {
  owner: string;
  repo: string;
  ref: string;
}

/** `github.com/OWNER/REPO@REF`, as `dagger call -m` takes shipit's module. */
export function parseModuleRef(text: string): ModuleRef {
  const m = /^github\.com\/([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))\/([A-Za-z0-9._-]{1,100})@([A-Za-z0-9][A-Za-z0-9._\/-]{0,99})$/.exec(text);
  if (!m || m[3]!.includes("..")) {
    throw new ShipitError("BAD_ARGUMENT", `--module=${text}: not a module reference. Fix: pass shipit's module as github.com/OWNER/REPO@TAG, e.g. github.com/acme/shipit@v1.4.0 (a tag or a commit, never a moving branch)`);
  }
  return { owner: m[1]!, repo: m[2]!, ref: m[3]! };
}

const moduleText = (m: ModuleRef) => `github.com/${m.owner}/${m.repo}@${m.ref}`;

/** Lower-case letters, digits and '-': fit for an artifact name, a base path and a unit name. */
function slug(s: string | undefined): string | undefined {
  const out = s?.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 40);
  return out && /^[a-z0-9]/.test(out) ? out : undefined;
}

const EXEC_ARG = /^[A-Za-z0-9._/:=@+,-]+$/;

/** The unit's ExecStart as setup.exec: the interpreter dropped, paths under WorkingDirectory made relative. */
export function execFromUnit(unit: SystemdUnit): string[] | undefined {
  const tokens = (unit.execStart ?? "").replace(/^[-@+!:]+/, "").split(/\s+/).filter(Boolean);
  if (!tokens.length || !/(^|\/)python[0-9.]*$/.test(tokens[0]!)) return undefined;
  const wd = unit.workingDirectory?.replace(/\/$/, "");
  const args = tokens.slice(1).map((t) => (wd && t.startsWith(`${wd}/`) ? t.slice(wd.length + 1) : t));
  return args.length && args.every((a) => EXEC_ARG.test(a)) ? args : undefined;
}

/** The unit that runs the bot: the first whose ExecStart runs Python. */
function botUnit(layout: Layout): { unit: SystemdUnit; exec: string[] } | undefined {
  for (const unit of layout.units) {
    const exec = execFromUnit(unit);
    if (exec) return { unit, exec };
  }
  return undefined;
}

/**
 * The bot's own config template, for `runtimeConfig`: a JSON template of the file the bot's unit
 * names on its command line (Rosey: bot/rosey/config.json from config.json.dist), or else the only
 * JSON template there is.
 */
export function botTemplate(layout: Layout): ConfigTemplate | undefined {
  const json = layout.templates.filter((t) => t.renders && t.format === "json" && t.fields);
  const exec = botUnit(layout)?.exec ?? [];
  return json.find((t) => exec.includes(t.renders!)) ?? (json.length === 1 ? json[0] : undefined);
}

/** Template keys shipit knows how to fill, by the names bots use for them. */
const SERVER_KEYS = ["domain", "server", "url"];
const CHANNEL_KEYS = ["channel", "room"];
const DB_KEYS = ["db", "database", "db_path", "database_path"];
const LOG_KEYS = ["log_level", "loglevel", "logLevel"];
const USER_KEYS = ["user", "login", "account", "credentials"];

/**
 * The environment's `runtimeConfig`, `runtime`, `health` and `smoke` for a bot in its own format:
 * the template's keys that shipit knows set from the environment's defaults, the password at
 * `user[1]` from the environment's bot-password secret; health from systemd (the bot serves no
 * health contract), and the presence smoke (it answers no command shipit knows).
 */
function ownFormat(t: ConfigTemplate, env: Environment): Record<string, unknown> {
  const f = t.fields ?? {};
  const first = (keys: string[], kind: "scalar" | "list") => keys.find((k) => f[k] === kind);
  const values: Record<string, string> = {};
  const server = first(SERVER_KEYS, "scalar");
  if (server) values[server] = `https://${env.runtime.server}`;
  const channel = first(CHANNEL_KEYS, "scalar");
  if (channel) values[channel] = env.runtime.channel;
  const user = first(USER_KEYS, "list");
  const pair = user !== undefined && t.secrets.includes(`${user}[1]`);
  if (pair) values[`${user}[0]`] = env.runtime.bot_name;
  const db = first(DB_KEYS, "scalar");
  if (db) values[db] = env.runtime.db_path;
  const log = first(LOG_KEYS, "scalar");
  if (log) values[log] = env.runtime.log_level;
  return {
    runtimeConfig: { template: t.path, path: t.renders, values, ...(pair ? { secrets: { [`${user}[1]`]: env.secrets.botPassword } } : {}) },
    health: { kind: ["systemd"] },
    smoke: { kind: "presence" },
  };
}

export function initName(layout: Layout, hint?: string): string {
  const bot = botUnit(layout);
  const script = bot?.exec.find((a) => a.endsWith(".py"));
  return slug(layout.pyproject?.name) ?? slug(script?.split("/").at(-1)!.replace(/\.py$/, "")) ?? slug(layout.mainModule?.split(".").at(-1)) ?? slug(hint) ?? "app";
}

export function renderShipitJson(layout: Layout, mod: ModuleRef, name: string): string {
  const bot = botUnit(layout);
  const doc: Record<string, unknown> = { $schema: `https://raw.githubusercontent.com/${mod.owner}/${mod.repo}/${mod.ref}/config/shipit.schema.json` };
  if (!layout.pyproject?.name) doc["name"] = name;
  if (!layout.pyproject && layout.requirements.length) doc["requirements"] = layout.requirements;
  if (layout.appFolders.length) {
    doc["typecheck"] = { paths: layout.appFolders };
    doc["build"] = { include: [...layout.appFolders, ...layout.appModules] };
    doc["security"] = { paths: layout.appFolders };
  }
  // pytest's own testpaths win when it has them; else the test folders found
  if (!layout.pytestConfig?.testpaths.length && layout.testFolders.length) doc["test"] = { paths: layout.testFolders };
  const own = botTemplate(layout);
  const env = (e: string) => ({ host: "", basePath: `/srv/${name}-${e}`, unit: `${name}-${e}.service`, ...(own ? ownFormat(own, resolveEnvironment(e, {}, "shipit.json", { requireHost: false })) : {}), ...(bot ? { setup: { exec: bot.exec } } : {}) });
  doc["environments"] = { test: env("test"), prod: env("prod") };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

const CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2";
const SETUP_NODE = "actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020 # v4.4.0";
const DAGGER = "dagger/dagger-for-github@27b130bf0f79a7f6fbbbe0fbca6760dc9bb40a77 # v8.4.1";
const UPLOAD = "actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2";
const DOWNLOAD = "actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0";

/** Steps every workflow shares: the bot's checkout, shipit's at the pinned ref, node, the dagger CLI. */
function prepare(mod: ModuleRef, fullHistory: boolean): string {
  return `      - uses: ${CHECKOUT}
        with:
${fullHistory ? "          fetch-depth: 0\n" : ""}          persist-credentials: false
      # shipit itself, at the pinned ref, for its shim (the module runs from the same ref: --module)
      - uses: ${CHECKOUT}
        with:
          repository: ${mod.owner}/${mod.repo}
          ref: ${mod.ref}
          path: .shipit/shipit
          persist-credentials: false
      - uses: ${SETUP_NODE}
        with:
          node-version: 20
      - run: npm ci --prefix .shipit/shipit
      # installs the dagger CLI only (no verb/args): the shim makes every call
      - uses: ${DAGGER}
        with:
          version: v0.19.10
`;
}

const shim = (mod: ModuleRef, extra = "--source=.") => `node .shipit/shipit/dagger/bin/shipit.mjs shim ${extra} --module=${moduleText(mod)}`;
const envBlock = (names: string[]) => ["GITHUB_TOKEN", ...names].map((n) => `          ${n}: \${{ secrets.${n} }}`).join("\n");

export function renderWorkflows(config: ResolvedConfig, mod: ModuleRef): Record<string, string> {
  const prEnv = resolveEnvironment(config.roles.pullRequests, config.environments, config.origin, { requireHost: false });
  const prodEnv = resolveEnvironment(config.roles.production, config.environments, config.origin, { requireHost: false });
  const head = (what: string) => `# ${what}\n# Written by shipit init: all logic lives in shipit's shim, run from ${moduleText(mod)} with this\n# repository as --source. Update both refs together to move to another shipit release.\n`;
  return {
    ".github/workflows/pull-request.yml": `${head("A pull request: ci, then a deploy to the test environment, then one sticky comment on the PR.")}name: pull request

on:
  pull_request:
    types: [opened, synchronize, reopened]

permissions: {}

jobs:
  pipeline:
    name: ci and test deploy
    runs-on: ubuntu-24.04
    timeout-minutes: 45
    permissions:
      contents: read
      pull-requests: write # the sticky comment on the PR
      deployments: write # the test deployment and its status
    concurrency:
      group: shipit-deploy-${prEnv.name}
      cancel-in-progress: false
    steps:
${prepare(mod, true)}      - name: shipit
        run: ${shim(mod)}
        env:
${envBlock(["DEPLOY_SSH_KEY", prEnv.secrets.botPassword, prEnv.secrets.smokePassword])}
      - name: keep the comment context (pr-comment.yml posts it for forks)
        if: always()
        uses: ${UPLOAD}
        with:
          name: shipit-comment
          path: .shipit/ci/comment.json
          if-no-files-found: ignore
          retention-days: 3
`,
    ".github/workflows/main.yml": `${head("A merge to main: ci, release, then a deploy of that same artifact to production.")}name: main

on:
  push:
    branches: [main]

permissions: {}

jobs:
  release-and-deploy:
    name: release and deploy to ${prodEnv.name}
    runs-on: ubuntu-24.04
    timeout-minutes: 45
    permissions:
      contents: write # the release: its tag and the GitHub Release with the artifact
      deployments: write # the deployment and its status
      issues: write # the incident issue: opened on a failed deploy, closed by the next healthy one
    concurrency:
      group: shipit-deploy-${prodEnv.name}
      cancel-in-progress: false
    steps:
${prepare(mod, true)}      - name: shipit
        run: ${shim(mod)}
        env:
${envBlock(["DEPLOY_SSH_KEY", prodEnv.secrets.botPassword, prodEnv.secrets.smokePassword])}
`,
    ".github/workflows/rollback.yml": `${head("Manual rollback: Actions → rollback → Run workflow. Health-gated, in the ledger.")}name: rollback

on:
  workflow_dispatch:
    inputs:
      environment:
        description: Environment to roll back
        type: choice
        options: [${[prEnv.name, prodEnv.name].join(", ")}]
        required: true
      version:
        description: Version to go back to (empty = the previous release)
        type: string
        required: false

permissions: {}

jobs:
  rollback:
    name: rollback
    runs-on: ubuntu-24.04
    timeout-minutes: 15
    permissions:
      contents: read
      deployments: write # the rollback shows as a deployment of that environment
      issues: write # the incident issue
    concurrency:
      group: shipit-deploy-\${{ inputs.environment }}
      cancel-in-progress: false
    steps:
${prepare(mod, false)}      - name: shipit
        run: ${shim(mod)}
        env:
${envBlock(["DEPLOY_SSH_KEY"])}
`,
    ".github/workflows/pr-comment.yml": `${head("The sticky comment for pull requests from forks: only data from the fork's run is read, and validated.")}name: pr comment

on:
  workflow_run: # zizmor: ignore[dangerous-triggers] only data from the fork's run is read, and validated
    workflows: [pull request]
    types: [completed]

permissions: {}

concurrency:
  group: shipit-pr-comment-\${{ github.event.workflow_run.head_sha }}
  cancel-in-progress: false

jobs:
  comment:
    name: comment on a fork's pull request
    runs-on: ubuntu-24.04
    timeout-minutes: 15
    permissions:
      actions: read # download the comment context the fork's run uploaded
      contents: read
      pull-requests: write # the sticky comment on the fork's PR
    steps:
${prepare(mod, false)}      - uses: ${DOWNLOAD}
        with:
          name: shipit-comment
          path: .shipit/fork
          run-id: \${{ github.event.workflow_run.id }}
          github-token: \${{ secrets.GITHUB_TOKEN }}
      - name: shipit
        run: ${shim(mod, "--context=.shipit/fork/comment.json")}
        env:
${envBlock([])}
`,
  };
}

/** The next steps, in order: what a person still has to do before the first deploy. */
export function nextSteps(config: ResolvedConfig, layout: Layout, mod: ModuleRef): string[] {
  const envs = [config.roles.pullRequests, config.roles.production].map((n) => resolveEnvironment(n, config.environments, config.origin, { requireHost: false }));
  const secrets = [...new Set(["DEPLOY_SSH_KEY", ...envs.flatMap((e) => [e.secrets.botPassword, e.secrets.smokePassword])])];
  const steps = [
    ...(mod.owner === "acme" ? [`Point the workflows and \`$schema\` at your copy of shipit: they call github.com/acme/shipit (a placeholder); rerun with --module=github.com/OWNER/shipit@TAG --force, or edit them.`] : []),
    `Set each environment's host in shipit.json (${envs.map((e) => `environments.${e.name}.host`).join(", ")}).`,
    `Pin the hosts' keys: ssh-keyscan -p ${[...new Set(envs.map((e) => e.port))].join("/")} HOST >> .github/known_hosts for each host, check each fingerprint out of band, and commit the file.`,
    "Make the deploy key: ssh-keygen -t ed25519 -N '' -C shipit-deploy -f deploy_key (deploy_key.pub goes to setup; the private half becomes the DEPLOY_SSH_KEY secret; never commit either).",
    ...envs.map((e) => `Set up the ${e.name} host once: shipit setup --env=${e.name} --admin-key=env:SHIPIT_ADMIN_SSH_KEY --known-hosts=.github/known_hosts --deploy-key=deploy_key.pub (the admin key is root's; the deploy user ${e.user} gets only the rights a deploy needs).`),
    `Add the repository secrets (Settings → Secrets and variables → Actions): ${secrets.join(", ")}.`,
  ];
  for (const t of layout.templates.filter((x) => x.secrets.length)) {
    steps.push(`${t.path} has secret-looking values at ${t.secrets.join(", ")}: keep only placeholders there, and have the deploy fill them from secrets (CONFIGURATION.md, the runtime config).`);
  }
  for (const u of layout.units.filter((x) => x.logsToFile && x === botUnit(layout)?.unit)) {
    steps.push(`${u.path} appends its output to a file (StandardOutput=append:…): shipit's built-in unit logs to the journal instead, which log health and failure messages read.`);
  }
  const own = botTemplate(layout);
  if (own) {
    const secret = envs.map((e) => e.secrets.botPassword).join("/");
    steps.push(`Check environments.*.runtimeConfig in shipit.json: it renders ${own.renders} from ${own.path} with each environment's values${own.secrets.some((p) => /\[1\]$/.test(p)) ? ` and the bot's password from ${secret}` : ""}; other secret-looking keys stay as in the template. Health is \`systemd\` (the unit stays up): add \`"log"\` to \`health.kind\` with a \`health.logPattern\` your bot prints once it is in (Rosey: \`login .*'success': True\`) to know it logged in.`);
  }
  steps.push("Commit shipit.json and .github/workflows/, open a pull request: it runs ci and deploys to the test environment.");
  return steps;
}

function describeLayout(layout: Layout): string[] {
  const out: string[] = [];
  out.push(layout.pyproject ? `pyproject.toml${layout.pyproject.name ? ` (project ${layout.pyproject.name})` : ""}: its dependencies and groups are installed for the checks` : layout.requirements.length ? `requirement files: ${layout.requirements.join(", ")} → \`requirements\`` : "no requirement files and no pyproject.toml: only the tools are installed");
  out.push(layout.appFolders.length ? `app folders: ${layout.appFolders.join(", ")} → \`typecheck.paths\`, \`build.include\`, \`security.paths\`` : "no app folders with Python files: the defaults stay");
  if (layout.appModules.length && layout.appFolders.length) out.push(`top-level modules the app imports: ${layout.appModules.join(", ")} → \`build.include\` (a release without them cannot start)`);
  out.push(layout.pytestConfig ? `pytest settings in ${layout.pytestConfig.file}${layout.pytestConfig.testpaths.length ? ` (testpaths ${layout.pytestConfig.testpaths.join(", ")}: kept, so \`test.paths\` is not set)` : ""}` : `no pytest settings${layout.testFolders.length ? `; test folders ${layout.testFolders.join(", ")} → \`test.paths\`` : ""}`);
  if (layout.coverage) out.push(`coverage config in ${layout.coverage.file}${layout.coverage.failUnder !== undefined ? `: fail_under ${layout.coverage.failUnder} is the coverage gate's threshold` : ""}`);
  const own = botTemplate(layout);
  for (const t of layout.templates) {
    out.push(`config ${t.path} (${t.format}${t.renders ? `, a template of ${t.renders}` : ""})${t.secrets.length ? `; secret-looking: ${t.secrets.join(", ")}` : ""}${t === own ? " → `environments.*.runtimeConfig` (the deploy renders it per environment, 0600, in each release; `health.kind` systemd, `smoke.kind` presence)" : ""}`);
  }
  const bot = botUnit(layout);
  for (const u of layout.units) {
    const exec = u === bot?.unit ? bot.exec : undefined;
    const what = exec
      ? ` → \`environments.*.setup.exec\` ${JSON.stringify(exec)} (shipit's built-in unit runs it with the release's own interpreter in current/${u.user ? `, as the deploy user instead of ${u.user}` : ""})`
      : bot ? " (not the bot's unit: shipit deploys one service per environment)" : " (its ExecStart runs no Python: check `environments.*.setup.exec`)";
    out.push(`systemd unit ${u.path}${u.execStart ? `: ExecStart=${u.execStart}` : ""}${what}`);
  }
  if (!layout.units.length) {
    out.push(`no systemd unit: shipit's built-in unit runs the release's interpreter with \`environments.*.setup.exec\` (default \`-m bot.rosey --config config.json\`)${layout.mainModule ? `; ${layout.mainModule.replace(/\./g, "/")}/__main__.py makes \`-m ${layout.mainModule}\` a start command: check the default fits` : ""}`);
  }
  return out;
}

export function renderInitNotes(layout: Layout, config: ResolvedConfig, mod: ModuleRef): string {
  return [
    "# shipit init",
    "",
    `Written by \`shipit init\` with shipit ${moduleText(mod)}. Edit shipit.json freely; this file is`,
    "only notes (delete it once you are done).",
    "",
    "shipit.json is plain JSON: shipit's loader reads strict JSON and rejects unknown keys, so it can",
    "hold neither comments nor `\"$comment\"` keys. Its `$schema` gives your editor each key's",
    "description; the notes are here instead.",
    "",
    "## What it found",
    "",
    ...describeLayout(layout).map((l) => `- ${l}`),
    "",
    "## Next steps",
    "",
    ...nextSteps(config, layout, mod).map((s, i) => `${i + 1}. ${s}`),
    "",
  ].join("\n");
}

export interface InitResult {
  files: Record<string, string>;
  steps: string[];
  config: ResolvedConfig;
}

/** Every file init writes, with its shipit.json already through the config loader (on this very tree). */
export async function renderInit(view: SourceView, layout: Layout, mod: ModuleRef, nameHint?: string): Promise<InitResult> {
  const shipitJson = renderShipitJson(layout, mod, initName(layout, nameHint));
  const config = await resolveConfig(shipitJson, "shipit.json (written by shipit init)", view);
  return {
    files: { "shipit.json": shipitJson, ...renderWorkflows(config, mod), "shipit.init.md": renderInitNotes(layout, config, mod) },
    steps: nextSteps(config, layout, mod),
    config,
  };
}

/** Never overwrite without --force: every file that is already there, named at once. */
export async function refuseOverwrites(view: SourceView, files: string[], force: boolean): Promise<void> {
  if (force) return;
  const present: string[] = [];
  for (const f of files) if ((await view.kind(f)) !== null) present.push(f);
  if (present.length) {
    throw new ShipitError("INIT_WOULD_OVERWRITE", `shipit init refused: ${present.join(", ")} already exist${present.length === 1 ? "s" : ""}; nothing was written. Fix: move ${present.length === 1 ? "it" : "them"} away, or pass --force to overwrite`);
  }
}
