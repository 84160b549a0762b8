/**
 * The build refuses an artifact whose code imports a top-level module of the repository that the
 * artifact leaves out. Found shipping the real Rosey: its lib/__init__.py imports __version__, a
 * top-level file outside build.include, so the release crash-looped on the host although every
 * gate had passed (pytest runs from the repository's root, where __version__.py is).
 * The real build step (pack_artifact.py) through the host runner, on variants of the sample bot.
 */
import { join } from "node:path";
import { execa } from "execa";
import { describe, expect, test } from "vitest";
import { runCheck } from "../../src/core/checks/pipeline.js";
import { hostSetup } from "../helpers/host.js";
import { makeVariant } from "../helpers/variants.js";

const LIB_INIT = '"""Generic helpers."""\n\nfrom __version__ import __version__\n\n__all__ = ["__version__"]\n';

async function build(files: Record<string, string>) {
  const s = await hostSetup(await makeVariant("clean", { "__version__.py": '__version__ = "1.2.3"\n', ...files }), { version: "1.0.0", commit: "c1" });
  const gate = await runCheck("build", s.plan, s.runner, s.config);
  return { gate, out: join(s.runner.layout.out, "build") };
}

describe("build: top-level modules the shipped code imports", () => {
  test("left out of build.include: the build gate is red, naming the importer, the module and the fix", async () => {
    const { gate } = await build({ "lib/__init__.py": LIB_INIT });
    expect(gate.status).toBe("failed");
    expect(gate.figure).toBe("no artifact");
    expect(gate.detail).toContain(
      `pack: lib/__init__.py:3 imports __version__, which is __version__.py in the repository but not in the artifact: the release would not start. Fix: add "__version__.py" to build.include in shipit.json`,
    );
  }, 240_000);

  test("added to build.include: the artifact carries it", async () => {
    const { gate, out } = await build({
      "lib/__init__.py": LIB_INIT,
      "shipit.json": JSON.stringify({ build: { include: ["bot", "common", "lib", "web", "__version__.py"] } }),
    });
    expect(gate.status, gate.detail).toBe("passed");
    const names = (await execa("tar", ["-tzf", join(out, gate.info!.artifact)])).stdout.split("\n");
    expect(names).toContain("app-1.0.0/__version__.py");
  }, 240_000);

  test("an optional import (under try) or a type-only one (if TYPE_CHECKING) does not block the build", async () => {
    const { gate } = await build({
      "lib/__init__.py":
        '"""Generic helpers."""\n\nfrom typing import TYPE_CHECKING\n\ntry:\n    import __version__\nexcept ImportError:\n    __version__ = None\n\n' +
        "if TYPE_CHECKING:\n    import __version__ as v  # noqa: F401\n",
    });
    expect(gate.status, gate.detail).toBe("passed");
  }, 240_000);
});
