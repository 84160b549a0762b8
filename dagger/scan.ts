/**
 * Print what the Dagger TypeScript runtime sees in this module, using the SDK's own introspector
 * (`scan`). Run under tsx: `npx tsx dagger/scan.ts`. The tests use it.
 */
import { scanModule } from "./introspect.js";

const mod = await scanModule();
// toJSON leaves out `isCheck`; put it back so callers see which functions are `dagger check` checks.
const out = {
  name: mod.name,
  description: mod.description,
  objects: Object.fromEntries(
    Object.entries(mod.objects).map(([name, obj]) => [
      name,
      {
        ...JSON.parse(JSON.stringify(obj)),
        methods: Object.fromEntries(
          Object.entries(obj.methods).map(([m, fn]) => [m, { ...JSON.parse(JSON.stringify(fn)), isCheck: fn.isCheck === true }]),
        ),
      },
    ]),
  ),
};
process.stdout.write(JSON.stringify(out));
