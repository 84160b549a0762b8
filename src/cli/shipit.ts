/**
 * `shipit`: one command for everything shipit does on a host. commander draws the help, finds the
 * command, refuses unknown commands and flags with a "did you mean", and shows every flag with
 * its default; the flags themselves are each CLI's own table (FLAGS, src/cli/flags.ts), and each
 * command's description is its Dagger function's JSDoc (src/cli/descriptions.ts).
 *
 * Exit codes: 0 green, 1 a red gate or a failed deploy, 2 a usage or config error, 3 the
 * infrastructure failed (docker, the engine, the network, a tool that could not run).
 */
import { Command, CommanderError, Option } from "commander";
import { readFileSync } from "node:fs";
import { functionDescriptions } from "./descriptions.js";
import type { Flag, Flags } from "./flags.js";
import { CHECKS, FLAGS as CHECK_FLAGS, main as checksMain } from "./host.js";
import { FLAGS as DEPLOY_FLAGS, main as deployMain } from "./deploy.js";
import { FLAGS as INSIGHT_FLAGS, main as insightMain } from "./insight.js";
import { FLAGS as SHIM_FLAGS, main as shimMain } from "./shim.js";
import { main as schemaMain } from "./schema.js";
import { FLAGS as NOTIFY_FLAGS, main as notifyMain } from "./notify.js";
import { FLAGS as SETUP_FLAGS, main as setupMain } from "./setup.js";
import { FLAGS as INIT_FLAGS, main as initMain } from "./init.js";

const EXIT_CODES = `Exit codes:
  0  green
  1  a red gate, or a deploy or rollback that failed
  2  a usage or config error (nothing ran)
  3  the infrastructure failed (docker, the engine, the network, a tool that could not run)`;

type Group = "checks" | "deploys" | "insight" | "people" | "adoption" | "workflow";
interface CommandSpec {
  name: string;
  group: Group;
  /** The Dagger function whose JSDoc describes it (null: no function; `description` instead). */
  fn: string | null;
  description?: string;
  flags: Flags;
  /** Flag names this command takes (default: all of `flags`). */
  only?: string[];
  argument?: string;
  run: (argv: string[]) => Promise<number>;
}

const pick = (flags: Flags, names: string[]): Flags => Object.fromEntries(names.map((n) => [n, flags[n]!]));
const DEPLOY_COMMON = ["env", "source", "ssh-key", "known-hosts", "run"];
const INSIGHT_COMMON = ["env", "days", "since", "until", "ledger", "git", "source", "ssh-key", "known-hosts"];

export const COMMANDS: CommandSpec[] = [
  ...CHECKS.map((name): CommandSpec => ({
    name,
    group: "checks",
    fn: name,
    flags: CHECK_FLAGS,
    only: name === "ci" || name === "build" ? undefined : ["source", "config", "json", "reports"],
    run: (argv) => checksMain([name, ...argv]),
  })),
  { name: "deploy", group: "deploys", fn: "deploy", flags: DEPLOY_FLAGS, only: [...DEPLOY_COMMON, "artifact", "bot-password", "smoke-password", "trigger", "json", "expect-sha256"], run: (a) => deployMain(["deploy", ...a]) },
  { name: "rollback", group: "deploys", fn: "rollback", flags: DEPLOY_FLAGS, only: [...DEPLOY_COMMON, "to", "trigger", "json"], run: (a) => deployMain(["rollback", ...a]) },
  { name: "status", group: "deploys", fn: "status", flags: DEPLOY_FLAGS, only: DEPLOY_COMMON, run: (a) => deployMain(["status", ...a]) },
  { name: "history", group: "deploys", fn: "history", flags: DEPLOY_FLAGS, only: [...DEPLOY_COMMON, "limit"], run: (a) => deployMain(["history", ...a]) },
  { name: "health", group: "deploys", fn: "health", flags: DEPLOY_FLAGS, only: DEPLOY_COMMON, run: (a) => deployMain(["health", ...a]) },
  { name: "smoke", group: "deploys", fn: "smoke", flags: DEPLOY_FLAGS, only: [...DEPLOY_COMMON, "smoke-password"], run: (a) => deployMain(["smoke", ...a]) },
  { name: "metrics", group: "insight", fn: "metrics", flags: INSIGHT_FLAGS, only: [...INSIGHT_COMMON, "format"], run: (a) => insightMain(["metrics", ...a]) },
  { name: "dashboard", group: "insight", fn: "dashboard", flags: INSIGHT_FLAGS, only: [...INSIGHT_COMMON, "output", "title"], run: (a) => insightMain(["dashboard", ...a]) },
  { name: "notify", group: "people", fn: "notify", flags: NOTIFY_FLAGS, run: (a) => notifyMain(a) },
  { name: "setup", group: "adoption", fn: "setup", flags: SETUP_FLAGS, run: (a) => setupMain(a) },
  { name: "init", group: "adoption", fn: "init", flags: INIT_FLAGS, run: (a) => initMain(a) },
  {
    name: "shim",
    group: "workflow",
    fn: null,
    description: "The GitHub Actions workflow shim: for one event (pull_request, push, workflow_dispatch, workflow_run), run the `dagger call` sequence the workflows run, printing each command first.",
    flags: SHIM_FLAGS,
    argument: "[event]",
    run: (a) => shimMain(a),
  },
  { name: "schema", group: "workflow", fn: null, description: "Regenerate config/shipit.schema.json (the JSON Schema of shipit.json) and config/contracts/*.schema.json (the health answer, a ledger line) from their zod schemas.", flags: {}, run: () => schemaMain() },
];

/** A command's one-line description: its Dagger function's, or its own. */
export function describe(spec: CommandSpec): string {
  if (!spec.fn) return spec.description!;
  const d = functionDescriptions().get(spec.fn);
  if (!d) throw new Error(`src/index.ts has no JSDoc for the Dagger function ${spec.fn}`);
  return d;
}

function option(name: string, f: Flag): Option {
  const flags = `${f.short ? `-${f.short}, ` : ""}--${name}${f.type === "string" ? ` <${f.value ?? "VALUE"}>` : ""}`;
  const o = new Option(flags, f.help);
  if (f.default !== undefined && f.type === "string") o.default(f.default);
  if (f.multiple) o.argParser((v: string, prev: string[] | undefined) => [...(prev ?? []), v]);
  return o;
}

function buildProgram(onRun: (spec: CommandSpec) => void): Command {
  const program = new Command("shipit")
    .description("The whole CI/CD pipeline for a Python chat bot: checks, the release artifact, deploys over SSH with health, smoke and rollback, and delivery metrics. The same steps run as Dagger functions (npm run call -- FUNCTION).")
    .version((JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version, "-V", "print shipit's version")
    .option("--debug", "print stack traces of unexpected errors")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(`${text.trim().replace(/\n+/g, " ")} Fix: shipit --help lists the commands\n`) })
    .addHelpText("after", `\n${EXIT_CODES}\n\nshipit COMMAND --help shows a command's flags.`);
  program.addHelpCommand(false);
  for (const spec of COMMANDS) {
    const c = program.command(spec.name).description(describe(spec)).exitOverride().showSuggestionAfterError(true);
    c.configureOutput({ outputError: (text, write) => write(`${text.trim().replace(/\n+/g, " ")} Fix: see shipit ${spec.name} --help\n`) });
    if (spec.argument) c.argument(spec.argument);
    const flags = spec.only ? pick(spec.flags, spec.only) : spec.flags;
    for (const [name, f] of Object.entries(flags)) c.addOption(option(name, f));
    c.helpGroup?.(spec.group);
    c.action(() => onRun(spec));
  }
  return program;
}

/** Run `shipit ARGV`; returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  let chosen: CommandSpec | undefined;
  const program = buildProgram((spec) => (chosen = spec));
  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.code === "commander.helpDisplayed" || e.code === "commander.version" || e.code === "commander.help" ? 0 : 2;
    throw e;
  }
  if (!chosen) {
    program.outputHelp();
    return 2;
  }
  // The command's own tokens, as typed: each CLI parses them against the same FLAGS table.
  const tokens = argv.filter((a) => a !== "--debug");
  const at = tokens.indexOf(chosen.name);
  return chosen.run(tokens.slice(at + 1));
}

