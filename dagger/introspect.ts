/**
 * The SDK's own module machinery (what the engine's TypeScript runtime runs), reached by file path
 * because the package's `exports` map hides dist/.
 */
import { copyFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

export const ROOT = resolve(import.meta.dirname, "..");
export const MODULE_ENTRY = join(ROOT, "src/index.ts");
const SDK = join(ROOT, "node_modules/@dagger.io/dagger/dist/src");

/**
 * `scan` resolves Dagger core types only from a non-declaration `client.gen.ts` (the engine's
 * runtime has the generated source there); npm ships `client.gen.d.ts`. Put the declarations
 * beside it under the name scan expects, as in the engine's runtime layout.
 */
export async function ensureScannable(): Promise<void> {
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
export interface ScannedFn {
  name: string;
  arguments: Record<string, ScannedArg>;
  returnType: TypeDef;
  isCheck?: boolean;
  getArgsOrder(): string[];
}
export interface ScannedObject {
  name: string;
  methods: Record<string, ScannedFn>;
  properties: Record<string, { name: string; type: TypeDef }>;
}
export interface ScannedModule {
  name: string;
  description: string;
  objects: Record<string, ScannedObject>;
}

export async function scanModule(): Promise<ScannedModule> {
  await ensureScannable();
  const { scan } = await sdk<{ scan: (files: string[], name?: string) => Promise<ScannedModule> }>("module/introspector/index.js");
  return scan([MODULE_ENTRY], "shipit");
}
