/**
 * The SDK's own module machinery (what the engine's TypeScript runtime runs), reached by file path
 * because the package's `exports` map hides dist/.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = resolve(import.meta.dirname, "..");
export const MODULE_ENTRY = join(ROOT, "src/index.ts");
const SDK = join(ROOT, "node_modules/@dagger.io/dagger/dist/src");

/**
 * `scan` resolves Dagger core types only from a non-declaration `client.gen.ts` (the engine's
 * runtime has the generated source there); npm ships `client.gen.d.ts`. Put the declarations
 * beside it under the name scan expects, as in the engine's runtime layout.
 */
async function ensureScannable(): Promise<void> {
  const target = join(SDK, "api/client.gen.ts");
  if (await stat(target).then(() => true, () => false)) return;
  await copyFile(join(SDK, "api/client.gen.d.ts"), target);
}

export function sdk<T>(path: string): Promise<T> {
  return import(pathToFileURL(join(SDK, path)).href) as Promise<T>;
}

export interface TypeDef {
  kind: string;
  name?: string;
  typeDef?: TypeDef;
}
export interface ScannedArg {
  name: string;
  type: TypeDef;
  isOptional: boolean;
  defaultPath?: string;
  ignore?: string[];
}
interface ScannedFn {
  name: string;
  description?: string;
  arguments: Record<string, ScannedArg>;
  returnType: TypeDef;
  isCheck?: boolean;
  getArgsOrder(): string[];
}
interface ScannedObject {
  name: string;
  methods: Record<string, ScannedFn>;
  properties: Record<string, { name: string; type: TypeDef }>;
}
interface ScannedModule {
  name: string;
  description: string;
  objects: Record<string, ScannedObject>;
}

export async function scanModule(): Promise<ScannedModule> {
  await ensureScannable();
  const { scan } = await sdk<{ scan: (files: string[], name?: string) => Promise<ScannedModule> }>("module/introspector/index.js");
  return scan([MODULE_ENTRY], "shipit");
}

/** Where scans are kept between calls, one file per module digest (under the ignored .shipit/). */
const SCAN_CACHE = join(ROOT, ".shipit/module-scan");
/** Bump when the cached shape changes. */
const SCAN_FORMAT = 1;

/**
 * The module's digest: every file under src/ (the files `load` imports and `scan` reads), the
 * tsconfig and the SDK's version. The TypeScript program behind `scan` takes ~6 s on 2 cores; the
 * engine's own runtime avoids it by caching module typedefs per source digest, and so does this.
 */
export async function moduleDigest(): Promise<string> {
  const h = createHash("sha256");
  const sdkPkg = JSON.parse(await readFile(join(ROOT, "node_modules/@dagger.io/dagger/package.json"), "utf8")) as { version: string };
  h.update(`format ${SCAN_FORMAT}\nsdk ${sdkPkg.version}\n`);
  const walk = async (dir: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) out.push(...(await walk(p)));
      else if (e.isFile()) out.push(p);
    }
    return out;
  };
  for (const f of [...(await walk(join(ROOT, "src"))), join(ROOT, "tsconfig.json")].sort()) {
    h.update(`${relative(ROOT, f)}\0`);
    h.update(await readFile(f));
    h.update("\0");
  }
  return h.digest("hex").slice(0, 24);
}

/** The scan as data: the SDK's own toJSON, plus `isCheck`, which toJSON leaves out. */
export function scanToJson(mod: ScannedModule): ScanJson {
  const json = JSON.parse(JSON.stringify(mod)) as ScanJson;
  for (const [name, obj] of Object.entries(mod.objects)) {
    for (const [m, fn] of Object.entries(obj.methods)) json.objects[name]!.methods[m]!.isCheck = fn.isCheck === true;
  }
  return json;
}

interface ScanJson {
  name: string;
  description: string;
  objects: Record<string, {
    name: string;
    constructor?: { arguments: Record<string, ScannedArg> };
    methods: Record<string, { name: string; arguments: Record<string, ScannedArg>; returnType: TypeDef; isCheck?: boolean }>;
    properties: Record<string, { name: string; type: TypeDef }>;
  }>;
  enums: Record<string, unknown>;
  interfaces: Record<string, unknown>;
}

/**
 * Rebuild a scan from its JSON with the SDK's own classes as prototypes: `invoke` reads only the
 * fields toJSON keeps, and tells objects from plain values with `instanceof DaggerObject`. A module
 * with enums or interfaces is not rebuilt (shipit has none); it is scanned every time.
 */
export async function scanFromJson(json: ScanJson): Promise<ScannedModule | null> {
  if (Object.keys(json.enums ?? {}).length || Object.keys(json.interfaces ?? {}).length) return null;
  const files = ["argument", "constructor", "function", "module", "object", "property"];
  const c: Record<string, { prototype: object }> = {};
  for (const f of files) Object.assign(c, await sdk<Record<string, { prototype: object }>>(`module/introspector/dagger_module/${f}.js`));
  const make = <T>(cls: string, fields: object): T => Object.assign(Object.create(c[cls]!.prototype) as object, fields) as T;
  const args = (a: Record<string, ScannedArg>) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, make("DaggerArgument", v)]));
  const map = <V, R>(o: Record<string, V>, f: (v: V) => R) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, f(v)]));
  const objects = map(json.objects, (o) => {
    // "constructor" is an own key only when the class has one (a plain object inherits Object's).
    const ctor = Object.hasOwn(o, "constructor") ? o.constructor : undefined;
    const { methods, properties, constructor: _inherited, ...rest } = o;
    return make("DaggerObject", {
      ...rest,
      _constructor: ctor ? make("DaggerConstructor", { arguments: args(ctor.arguments) }) : undefined,
      methods: map(methods, (f) => make("DaggerFunction", { ...f, arguments: args(f.arguments) })),
      properties: map(properties, (p) => make("DaggerProperty", p)),
    });
  });
  return make<ScannedModule>("DaggerModule", { name: json.name, description: json.description, objects, enums: {}, interfaces: {} });
}

/** A scan as data, and the module it describes, rebuilt on demand (which loads the SDK's introspector classes). */
interface CachedScan {
  json: ScanJson;
  cached: boolean;
  module(): Promise<ScannedModule>;
}

/**
 * scanModule, served from SCAN_CACHE when src/ is unchanged. A cache file that cannot be read or
 * rebuilt is ignored and the module scanned afresh. Reading the JSON needs no TypeScript; only
 * module() does, so a caller can check its arguments first and rebuild while the session starts.
 */
export async function cachedScan(): Promise<CachedScan> {
  const file = join(SCAN_CACHE, `${await moduleDigest()}.json`);
  const text = await readFile(file, "utf8").catch(() => null);
  const json = text === null ? null : (JSON.parse(text) as ScanJson);
  if (json && !Object.keys(json.enums ?? {}).length && !Object.keys(json.interfaces ?? {}).length) {
    let rebuilt: Promise<ScannedModule> | undefined;
    return { json, cached: true, module: () => (rebuilt ??= scanFromJson(json).then((m) => m ?? scanModule())) };
  }
  const mod = await scanModule();
  const fresh = scanToJson(mod);
  if (await scanFromJson(fresh)) {
    await mkdir(SCAN_CACHE, { recursive: true });
    const tmp = `${file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(fresh));
    await rename(tmp, file);
  }
  return { json: fresh, cached: false, module: () => Promise.resolve(mod) };
}
