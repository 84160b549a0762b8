/**
 * src/runners/artifact.ts's manifestTextOfTar (node-tar) and the core's manifestOfText over it: the
 * artifact's manifest, read from the uncompressed tar. The tars are written by Python's own
 * tarfile (what pack_artifact.py uses) in each format it can write, not built by hand.
 */
import { execFileSync } from "node:child_process";
import { beforeAll, describe, expect, test } from "vitest";
import { manifestOfText, type ArtifactManifest } from "../../src/core/deploy/artifact.js";
import { ShipitError } from "../../src/core/errors.js";
import { manifestTextOfTar as readTar } from "../../src/runners/artifact.js";

const manifestTextOfTar = async (tar: Uint8Array) => {
  const r = await readTar(Buffer.from(tar));
  if (r.problem) throw new Error(r.problem);
  return r.text;
};
async function manifestOfTar(tar: Uint8Array, verb: string): Promise<ArtifactManifest> {
  const { text, problem } = await readTar(Buffer.from(tar));
  return manifestOfText(text, verb, problem);
}

type Member = [name: string, content: string] | [name: string, content: null, type: "dir" | "symlink"];

const WRITE_TARS = `
import base64, io, json, sys, tarfile
out = []
for spec in json.load(sys.stdin):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=getattr(tarfile, spec["format"])) as tar:
        for m in spec["members"]:
            info = tarfile.TarInfo(m[0])
            if m[1] is None:
                info.type = tarfile.DIRTYPE if m[2] == "dir" else tarfile.SYMTYPE
                info.linkname = "elsewhere" if m[2] == "symlink" else ""
                tar.addfile(info)
            else:
                data = m[1].encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    out.append(base64.b64encode(buf.getvalue()).decode())
print(json.dumps(out))
`;

type Format = "PAX_FORMAT" | "GNU_FORMAT" | "USTAR_FORMAT";

/** Every tar a test asks for, written by one Python run when the file loads (one interpreter, not one per case). */
const wanted: { members: Member[]; format: Format }[] = [];
const written: Uint8Array[] = [];
function tarOf(members: Member[], format: Format = "PAX_FORMAT"): () => Uint8Array {
  const i = wanted.push({ members, format }) - 1;
  return () => written[i]!;
}
beforeAll(() => {
  const out = JSON.parse(execFileSync("python3", ["-c", WRITE_TARS], { input: JSON.stringify(wanted), encoding: "utf8" })) as string[];
  written.push(...out.map((b) => new Uint8Array(Buffer.from(b, "base64"))));
});

const MANIFEST = { schema: 1, name: "rosey", version: "1.4.0", commit: "1111111111111111111111111111111111111111", files: { "bot/rosey/__init__.py": "e3b0c442" } };
const MANIFEST_TEXT = JSON.stringify(MANIFEST, null, 2) + "\n";

async function thrown(f: () => Promise<unknown>): Promise<ShipitError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof ShipitError) return e;
    throw e;
  }
  throw new Error("expected a ShipitError");
}

describe("manifestTextOfTar finds NAME-VERSION/manifest.json", () => {
  const long = `rosey-${"x".repeat(120)}`;
  test.each<[string, () => Uint8Array, string]>([
    ["pack_artifact.py's layout (pax, manifest first)", tarOf([["rosey-1.4.0/manifest.json", MANIFEST_TEXT], ["rosey-1.4.0/bot/app.py", "print(1)\n"]]), MANIFEST_TEXT],
    ["after other members, as the agent reads it", tarOf([["rosey-1.4.0/", null, "dir"], ["rosey-1.4.0/a.py", "a"], ["rosey-1.4.0/manifest.json", MANIFEST_TEXT]]), MANIFEST_TEXT],
    ["a top folder longer than 100 bytes, pax", tarOf([[`${long}/manifest.json`, MANIFEST_TEXT]]), MANIFEST_TEXT],
    ["a top folder longer than 100 bytes, GNU long name", tarOf([[`${long}/manifest.json`, MANIFEST_TEXT]], "GNU_FORMAT"), MANIFEST_TEXT],
    ["a name split into ustar's prefix field", tarOf([[`${"p".repeat(90)}/manifest.json`, MANIFEST_TEXT]], "USTAR_FORMAT"), MANIFEST_TEXT],
    ["a manifest of exactly 512 bytes", tarOf([["r-1/manifest.json", "x".repeat(512)], ["r-1/b", "b"]], "USTAR_FORMAT"), "x".repeat(512)],
  ])("%s", async (_, tar, expected) => {
    expect(await manifestTextOfTar(tar())).toBe(expected);
  });

  test.each<[string, () => Uint8Array]>([
    ["an empty archive", tarOf([])],
    ["a manifest at the root", tarOf([["manifest.json", MANIFEST_TEXT]])],
    ["a manifest one folder too deep", tarOf([["rosey-1.4.0/sub/manifest.json", MANIFEST_TEXT]])],
    ["a folder named manifest.json", tarOf([["rosey-1.4.0/manifest.json", null, "dir"]])],
    ["a symlink named manifest.json", tarOf([["rosey-1.4.0/manifest.json", null, "symlink"]])],
  ])("none in %s: null", async (_, tar) => {
    expect(await manifestTextOfTar(tar())).toBeNull();
  });

  test("bytes that are not a tar: a bad header checksum", async () => {
    await expect(manifestTextOfTar(new TextEncoder().encode("not a tar at all".padEnd(1024, "!")))).rejects.toThrow("not a whole tar archive (TAR_ENTRY_INVALID: checksum failure)");
  });

  const cut = tarOf([["r-1/a.py", "a"], ["r-1/big", "b".repeat(2000)]], "USTAR_FORMAT");
  test("a tar cut short: how much is missing", async () => {
    await expect(manifestTextOfTar(cut().subarray(0, 1024 + 512 + 100))).rejects.toThrow("not a whole tar archive (TAR_BAD_ARCHIVE: Truncated input (needed 2048 more bytes, only 100 available))");
  });
});

describe("manifestOfTar: the manifest checked, or ARTIFACT_INVALID naming what is wrong", () => {
  const good = tarOf([["rosey-1.4.0/manifest.json", MANIFEST_TEXT]]);
  test("a good manifest, as the schema reads it (the rest of pack_artifact.py's fields dropped)", async () => {
    expect(await manifestOfTar(good(), "release v1.4.0")).toStrictEqual({
      name: "rosey",
      version: "1.4.0",
      commit: "1111111111111111111111111111111111111111",
      files: { "bot/rosey/__init__.py": "e3b0c442" },
    });
  });

  const FIX = "build it with `shipit build -o dist/` (or the build function)";
  test.each([
    ["no manifest", tarOf([["rosey-1.4.0/bot/app.py", "x"]]), `release v1.4.0 refused: the artifact has no valid manifest.json (the archive has no NAME-VERSION/manifest.json); ${FIX}`],
    ["not JSON", tarOf([["rosey-1.4.0/manifest.json", "{ version: 1.4.0"]]), /^release v1\.4\.0 refused: the artifact has no valid manifest\.json \(manifest\.json is not JSON: .+\); build it with/],
    [
      "wrong fields",
      tarOf([["rosey-1.4.0/manifest.json", JSON.stringify({ name: "rosey", version: "../1.4.0", files: [] })]]),
      `release v1.4.0 refused: the artifact has no valid manifest.json (version: must be a version such as 1.2.3 (letters, digits, '.', '+', '!', '_', '-'); files: expected record, received array); ${FIX}`,
    ],
    ["not a tar", () => new Uint8Array(1024).fill(7), `release v1.4.0 refused: the artifact has no valid manifest.json (not a whole tar archive (TAR_ENTRY_INVALID: checksum failure)); ${FIX}`],
  ] as const)("%s", async (_, tar, message) => {
    const e = await thrown(() => manifestOfTar(tar(), "release v1.4.0"));
    expect(e.code).toBe("ARTIFACT_INVALID");
    if (typeof message === "string") expect(e.message).toBe(message);
    else expect(e.message).toMatch(message);
  });
});
