/** The artifact's manifest schema and text (the tar itself is read by src/runners/artifact.ts: test/integration/artifact-tar.test.ts). */
import { describe, expect, test } from "vitest";
import { manifestOfText, parseManifest, releaseAssetName } from "../../../src/core/deploy/artifact.js";
import { thrown } from "../../helpers/thrown.js";


const FIX = "build it with `shipit build -o dist/` (or the build function)";
describe("manifestOfText: the text's manifest, or ARTIFACT_INVALID saying why", () => {
  test.each([
    [null, undefined, "the archive has no NAME-VERSION/manifest.json"],
    ["{ version", undefined, /^manifest\.json is not JSON: .+/],
    ["{}", "not a whole tar archive: cut short", "not a whole tar archive: cut short"],
  ] as const)("%j (%s)", (text, problem, expected) => {
    const e = thrown(() => manifestOfText(text, "release v1.4.0", problem));
    expect(e.code).toBe("ARTIFACT_INVALID");
    const inner = /^release v1\.4\.0 refused: the artifact has no valid manifest\.json \((.*)\); /.exec(e.message)?.[1];
    expect(e.message.endsWith(`; ${FIX}`)).toBe(true);
    if (typeof expected === "string") expect(inner).toBe(expected);
    else expect(inner).toMatch(expected);
  });
});

describe("parseManifest", () => {
  test.each([
    [null, "there is none"],
    [undefined, "there is none"],
    [{ version: "1.0.0", files: {} }, "name: expected string, received undefined"],
    [[], "(root): expected object, received array"],
  ])("%j: %s", (raw, problem) => {
    const e = thrown(() => parseManifest(raw, "deploy to prod"));
    expect(e.code).toBe("ARTIFACT_INVALID");
    expect(e.message).toBe(`deploy to prod refused: the artifact has no valid manifest.json (${problem}); build it with \`shipit build -o dist/\` (or the build function)`);
  });
});

test("the release asset is named after the app and the manifest's version", () => {
  expect(releaseAssetName("rosey", { name: "rosey-bot", version: "1.4.0", files: {} })).toBe("rosey-1.4.0.tar.gz");
});
