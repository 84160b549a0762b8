/**
 * npm run call -- FUNCTION [--arg=value ...] [FIELD ...] [-o PATH | --output=PATH]
 *
 * Runs one shipit function on a real Dagger engine the way `dagger call` does, through the SDK's own
 * module machinery: connect as a client, `scan` the module, `load` its files, `invoke` the function
 * with its arguments as engine IDs. The decorated class runs exactly as the engine's TypeScript
 * runtime would run it; only the runtime container itself is skipped (its digest-pinned images
 * cannot exist offline).
 *
 *   --source=PATH        Directory arguments from host paths (ignore patterns applied)
 *   --config=FILE        File arguments from host paths
 *   --ssh-key=env:NAME   Secret arguments from the environment (or file:PATH); never in argv
 *   --webhooks=env:A,env:B  list arguments, comma-separated as `dagger call` takes them
 *   FIELD                chained field of a returned object, e.g. `test-report reports`
 *   -o, --output PATH    export a returned File or Directory to the host
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { execaSync } from "execa";
import { MODULE_ENTRY, cachedScan, sdk, type ScannedArg, type TypeDef } from "./introspect.js";

const ENGINE_ENV = "/var/lib/shipit-engine/env.sh";

/** `dagger call` takes kebab-case; the module's functions are camelCase. */
const camel = (s: string) => s.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

interface Parsed {
  fn: string;
  args: Map<string, string>;
  fields: string[];
  output?: string;
}

function parseCallArgs(argv: string[]): Parsed {
  const args = new Map<string, string>();
  const fields: string[] = [];
  let output: string | undefined;
  let fn: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "-o" || a === "--output") output = argv[++i];
    else if (a.startsWith("--output=")) output = a.slice("--output=".length);
    else if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq === -1) {
        const next = argv[i + 1];
        if (next === undefined || next.startsWith("-")) args.set(camel(a.slice(2)), "true");
        else args.set(camel(a.slice(2)), argv[++i]!);
      } else args.set(camel(a.slice(2, eq)), a.slice(eq + 1));
    } else if (fn === undefined) fn = camel(a);
    else fields.push(camel(a));
  }
  if (!fn) throw new UsageError("name a function, e.g. `npm run call -- ci --source=test/fixtures/sample-bot`");
  return { fn, args, fields, output };
}

class UsageError extends Error {}

/** Pick up what `npm run engine:up` wrote, unless the caller set it already. */
function engineEnvironment(): void {
  if (!process.env["_EXPERIMENTAL_DAGGER_CLI_BIN"] && existsSync(ENGINE_ENV)) {
    for (const m of readFileSync(ENGINE_ENV, "utf8").matchAll(/^export ([A-Z_]+)=(.*)$/gm)) {
      process.env[m[1]!] ??= m[2]!.replace(/^["']|["']$/g, "");
    }
  }
  process.env["DAGGER_NO_UPDATE_CHECK"] ??= "1";
  process.env["DO_NOT_TRACK"] ??= "1";
  if (!process.env["_EXPERIMENTAL_DAGGER_CLI_BIN"]) {
    throw new UsageError("no Dagger engine: run `npm run engine:up` first (it writes " + ENGINE_ENV + "), or set _EXPERIMENTAL_DAGGER_CLI_BIN and _EXPERIMENTAL_DAGGER_RUNNER_HOST");
  }
}

function contextRoot(): string {
  const r = execaSync("git", ["rev-parse", "--show-toplevel"], { reject: false, cwd: process.cwd() });
  return r.exitCode === 0 ? r.stdout.trim() : process.cwd();
}

async function main(): Promise<number> {
  const parsed = parseCallArgs(process.argv.slice(2));
  engineEnvironment();
  const scan = await cachedScan();
  timing(scan.cached ? "scan (cached)" : "scan");
  const objects = scan.json.objects;
  const main = Object.values(objects).find((o) => o.name.toLowerCase() === scan.json.name.toLowerCase()) ?? Object.values(objects)[0]!;
  const fn = main.methods[parsed.fn];
  if (!fn) throw new UsageError(`shipit has no function "${parsed.fn}"; it has: ${Object.keys(main.methods).join(", ")}`);
  const known = new Set(Object.keys(fn.arguments));
  for (const name of parsed.args.keys()) {
    if (!known.has(name)) throw new UsageError(`${parsed.fn} has no argument --${name}; it takes: ${[...known].map((k) => `--${k}`).join(", ")}`);
  }

  // The SDK's module machinery and the module itself load while the engine session starts (a
  // separate process): on two cores the ~2 s of imports and the session overlap.
  const machinery = (async () => {
    const [{ load }, { invoke }, { Executor }, mod] = await Promise.all([
      sdk<{ load: (files: string[]) => Promise<unknown[]> }>("module/entrypoint/load.js"),
      sdk<{ invoke: (e: unknown, m: unknown, ctx: unknown) => Promise<unknown> }>("module/entrypoint/invoke.js"),
      sdk<{ Executor: new (modules: unknown[], mod: unknown) => unknown }>("module/executor.js"),
      scan.module(),
    ]);
    return { invoke, mod, executor: new Executor(await load([MODULE_ENTRY]), mod) };
  })();
  machinery.catch(() => undefined); // awaited below; a failure surfaces there
  const { connection, dag } = await import("@dagger.io/dagger");

  let code = 0;
  await connection(
    async () => {
      const fnArgs: Record<string, unknown> = {};
      for (const name of Object.keys(fn.arguments)) {
        const arg = fn.arguments[name]!;
        const raw = parsed.args.get(name);
        const value = raw === undefined ? await defaultValue(arg, dag) : await toValue(arg, raw, dag);
        if (value !== undefined) fnArgs[name] = value;
      }
      timing("session and arguments");
      const { invoke, mod, executor } = await machinery;
      timing("load");
      let result: unknown;
      try {
        result = await invoke(executor, mod, { parentName: main.name, fnName: fn.name, parentArgs: {}, fnArgs });
      } catch (e) {
        timing("invoke");
        console.error((e as Error).message);
        code = 1;
        return;
      }
      timing("invoke");
      await present(result, fn.returnType, parsed, objects, dag);
    },
    { LogOutput: process.stderr },
  );
  timing("session closed");
  return code;
}

/** SHIPIT_CALL_TIMINGS=1: where a call's time goes, one stderr line per phase (npm run bench:engine reads them). */
let last = 0;
function timing(phase: string): void {
  const now = performance.now();
  if (process.env["SHIPIT_CALL_TIMINGS"] === "1") process.stderr.write(`shipit-call-timing ${phase} ${((now - last) / 1000).toFixed(3)}s\n`);
  last = now;
}

type Dag = (typeof import("@dagger.io/dagger"))["dag"];

async function defaultValue(arg: ScannedArg, dag: Dag): Promise<unknown> {
  if (arg.defaultPath === undefined) return undefined;
  const path = resolve(contextRoot(), `.${arg.defaultPath}`);
  return hostObject(arg.type, path, arg.ignore, dag);
}

async function hostObject(type: TypeDef, path: string, ignore: string[] | undefined, dag: Dag): Promise<string> {
  if (!existsSync(path)) throw new UsageError(`${path} does not exist`);
  if (type.name === "Directory") return dag.host().directory(path, { exclude: ignore ?? [] }).id();
  return dag.host().file(path).id();
}

async function toValue(arg: ScannedArg, raw: string, dag: Dag): Promise<unknown> {
  switch (arg.type.kind) {
    case "STRING_KIND":
      return raw;
    case "INTEGER_KIND":
    case "FLOAT_KIND": {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new UsageError(`--${arg.name} takes a number, got "${raw}"`);
      return n;
    }
    case "BOOLEAN_KIND":
      if (raw !== "true" && raw !== "false") throw new UsageError(`--${arg.name} takes true or false, got "${raw}"`);
      return raw === "true";
    case "OBJECT_KIND":
      if (arg.type.name === "Secret") return secretFrom(arg.name, raw, dag);
      if (arg.type.name === "Directory" || arg.type.name === "File") return hostObject(arg.type, resolve(raw), arg.ignore, dag);
      break;
    case "LIST_KIND": {
      // `dagger call` reads a list flag as one comma-separated (CSV) value: --webhooks=env:A,env:B
      const element = arg.type.typeDef;
      if (element && element.kind !== "LIST_KIND") return Promise.all(csvFields(raw).map((v) => toValue({ ...arg, type: element }, v, dag)));
    }
  }
  throw new UsageError(`--${arg.name}: argument type ${arg.type.kind} ${arg.type.name ?? ""} is not supported by npm run call`);
}

/** One CSV record, as pflag's slice flags read it: commas split, a double-quoted field may hold commas and "" for a quote. */
function csvFields(raw: string): string[] {
  if (raw === "") return [];
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (quoted) {
      if (c === '"' && raw[i + 1] === '"') (field += '"'), i++;
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"' && field === "") quoted = true;
    else if (c === ",") fields.push(field), (field = "");
    else field += c;
  }
  if (quoted) throw new UsageError(`a list argument has an unclosed quote: ${raw}`);
  fields.push(field);
  return fields;
}

/** `env:NAME` or `file:PATH`, as `dagger call` takes them; the value never reaches argv or a log. */
async function secretFrom(name: string, raw: string, dag: Dag): Promise<string> {
  const [scheme, ref] = [raw.slice(0, raw.indexOf(":")), raw.slice(raw.indexOf(":") + 1)];
  let value: string | undefined;
  if (scheme === "env") value = process.env[ref];
  else if (scheme === "file") value = existsSync(ref) ? readFileSync(ref, "utf8") : undefined;
  else throw new UsageError(`--${name} takes a secret as env:NAME or file:PATH`);
  if (value === undefined || value === "") throw new UsageError(`--${name}=${raw}: ${scheme === "env" ? `environment variable ${ref} is not set` : `file ${ref} is missing`}`);
  return dag.setSecret(`${name}-${scheme}-${ref}`, value).id();
}

async function present(result: unknown, type: TypeDef, p: Parsed, objects: Record<string, { properties: Record<string, { name: string; type: TypeDef }> }>, dag: Dag): Promise<void> {
  let value = result;
  let t = type;
  for (const field of p.fields) {
    const obj = t.kind === "OBJECT_KIND" ? objects[t.name!] : undefined;
    const prop = obj && Object.values(obj.properties).find((x) => x.name === field);
    if (!prop) throw new UsageError(`${t.name ?? t.kind} has no field "${field}"`);
    value = (value as Record<string, unknown>)[field];
    t = prop.type;
  }
  const core = t.kind === "OBJECT_KIND" && (t.name === "File" || t.name === "Directory");
  if (p.output) {
    if (!core) throw new UsageError(`-o exports a File or Directory; this call returns ${t.name ?? t.kind}`);
    const id = value as string;
    const target = resolve(p.output);
    const written = t.name === "File" ? await dag.loadFileFromID(id as never).export(target, { allowParentDirPath: true }) : await dag.loadDirectoryFromID(id as never).export(target);
    console.log(written);
    return;
  }
  if (core) {
    const id = value as string;
    console.log(t.name === "File" ? `File ${await dag.loadFileFromID(id as never).name()} (${await dag.loadFileFromID(id as never).size()} bytes); use -o PATH to export it` : `Directory: ${(await dag.loadDirectoryFromID(id as never).entries()).join(" ")}; use -o PATH to export it`);
    return;
  }
  console.log(typeof value === "string" ? value : JSON.stringify(value, null, 2));
}

/** Exit only once stdout and stderr are drained: on pipes Node writes asynchronously, and the
 * engine's progress (and even the result) would otherwise be cut off. */
function exitAfterFlush(code: number): void {
  process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
}

main().then(exitAfterFlush, (e: unknown) => {
  console.error(e instanceof UsageError ? `npm run call: ${e.message}` : e);
  exitAfterFlush(2);
});
