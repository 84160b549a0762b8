/**
 * Print what the Dagger TypeScript runtime sees in this module, using the SDK's own introspector
 * (`scan`). Run under tsx: `npx tsx dagger/scan.ts`. Used by the tests and by `npm run call`.
 */
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");
const { scan } = (await import(join(ROOT, "node_modules/@dagger.io/dagger/dist/src/module/introspector/index.js"))) as {
  scan: (files: string[], name?: string) => Promise<unknown>;
};
const mod = await scan([join(ROOT, "src/index.ts")], "shipit");
// toJSON leaves out `isCheck`; put it back so callers see which functions are `dagger check` checks.
type Fn = { toJSON(): object; isCheck?: boolean };
const m = mod as { name: string; description: string; objects: Record<string, { methods: Record<string, Fn> }> };
for (const obj of Object.values(m.objects)) {
  for (const [name, fn] of Object.entries(obj.methods)) {
    (obj.methods as Record<string, unknown>)[name] = { ...fn.toJSON(), isCheck: fn.isCheck === true };
  }
}
process.stdout.write(JSON.stringify(m));
