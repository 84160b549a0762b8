/**
 * src/runners/artifact.ts: the release reads its artifact without a container. The artifact is a
 * real one, packed by pack_artifact.py; the one stand-in is the Dagger File's `export`, here a copy
 * of that file to the path asked for. Every case checks the temp folder is gone afterwards.
 */
import { execFileSync } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ShipitError } from "../../src/core/errors.js";
import { readArtifact, type Exportable } from "../../src/runners/artifact.js";
import { REPO } from "../helpers/variants.js";

let work: string;
let artifact: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "shipit-artifact-read-"));
  await mkdir(join(work, "src/bot"), { recursive: true });
  await writeFile(join(work, "src/bot/app.py"), "print('hi')\n");
  await writeFile(join(work, "src/requirements.txt"), "");
  artifact = join(work, "rosey-1.4.0.tar.gz");
  execFileSync("python3", [
    join(REPO, "src/python/pack_artifact.py"), "--src", join(work, "src"), "--out", artifact, "--wheels", join(work, "no-wheels"),
    "--name", "rosey", "--version", "1.4.0", "--commit", "1111111111111111111111111111111111111111", "--include", "bot", "--requirements", "requirements.txt",
  ]);
});

afterAll(async () => {
  await rm(work, { recursive: true, force: true });
});

/** A fresh temp root per case, and an Exportable that copies `from` there and records the path it was given. */
async function setup(from: string | ((path: string) => Promise<void>)) {
  const root = await mkdtemp(join(work, "tmp-"));
  const asked: string[] = [];
  const file: Exportable = {
    async export(path: string) {
      asked.push(path);
      if (typeof from === "string") await copyFile(from, path);
      else await from(path);
      return path;
    },
  };
  return { root, asked, file };
}

async function expectCleaned(root: string, asked: string[]): Promise<void> {
  expect(asked).toHaveLength(1);
  expect(dirname(asked[0]!).startsWith(join(root, "shipit-artifact-"))).toBe(true);
  expect(existsSync(dirname(asked[0]!))).toBe(false);
  expect(await readdir(root)).toEqual([]);
}

async function refusal(p: Promise<unknown>): Promise<Error> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  if (e instanceof Error) return e;
  throw new Error("expected the read to fail");
}

describe("readArtifact", () => {
  test("a real artifact: its bytes and its manifest, and no temp folder left", async () => {
    const { root, asked, file } = await setup(artifact);
    const r = await readArtifact(file, "release v1.4.0", root);
    expect(r.data.equals(await readFile(artifact))).toBe(true);
    expect(r.manifest).toMatchObject({ name: "rosey", version: "1.4.0", commit: "1111111111111111111111111111111111111111" });
    expect(Object.keys(r.manifest.files).sort()).toEqual(["bot/app.py", "requirements.txt"]);
    await expectCleaned(root, asked);
  });

  test("an archive without a manifest: ARTIFACT_INVALID, and the folder is removed", async () => {
    const tar = execFileSync("python3", ["-c", "import io,sys,tarfile\nb=io.BytesIO()\nt=tarfile.open(fileobj=b,mode='w')\ni=tarfile.TarInfo('rosey-1.4.0/bot/app.py');d=b'x';i.size=1;t.addfile(i,io.BytesIO(d));t.close()\nsys.stdout.buffer.write(b.getvalue())"]);
    const bad = join(work, "no-manifest.tar.gz");
    await writeFile(bad, gzipSync(tar));
    const { root, asked, file } = await setup(bad);
    const e = await refusal(readArtifact(file, "release v1.4.0", root));
    expect(e).toBeInstanceOf(ShipitError);
    expect((e as ShipitError).code).toBe("ARTIFACT_INVALID");
    expect(e.message).toBe("release v1.4.0 refused: the artifact has no valid manifest.json (the archive has no NAME-VERSION/manifest.json); build it with `shipit build -o dist/` (or the build function)");
    await expectCleaned(root, asked);
  });

  test("a file that is not gzip: ARTIFACT_INVALID naming it, and the folder is removed", async () => {
    const bad = join(work, "not-gzip.tar.gz");
    await writeFile(bad, "just text\n");
    const { root, asked, file } = await setup(bad);
    const e = await refusal(readArtifact(file, "release v1.4.0", root));
    expect((e as ShipitError).code).toBe("ARTIFACT_INVALID");
    expect(e.message).toMatch(/^release v1\.4\.0 refused: the artifact is not a \.tar\.gz \(.*incorrect header check.*\); build it with `shipit build -o dist\/` \(or the build function\)$/);
    await expectCleaned(root, asked);
  });

  test("an export that fails: its own error comes through, and the folder (with what the export wrote) is removed", async () => {
    const { root, asked, file } = await setup(async (path) => {
      await writeFile(path, "half an artifact");
      throw new Error("the engine lost the file");
    });
    const e = await refusal(readArtifact(file, "release v1.4.0", root));
    expect(e.message).toBe("the engine lost the file");
    await expectCleaned(root, asked);
  });
});
