/**
 * `setup` and `init` through the real engine (`npm run call`): setup on a bare target reached
 * through the docker bridge gateway from the deploy container (the admin key a mounted Secret),
 * twice; init returning its files as a Directory.
 */
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { call } from "../helpers/call.js";
import { startTarget, type Target } from "../helpers/target.js";
import { makeVariant } from "../helpers/variants.js";

let t: Target;
let source: string;
let dir: string;

beforeAll(async () => {
  t = await startTarget({ image: "bare" });
  source = await makeVariant("clean", { "shipit.json": JSON.stringify({ environments: { test: { host: t.bridgeHost, port: t.bridgePort, user: "deploy" } } }) });
  dir = await mkdtemp(join(tmpdir(), "e2e-setup-"));
  await writeFile(join(dir, "deploy.pub"), `${t.publicKey}\n`);
});
afterAll(async () => t?.stop());

test("setup through the engine: each change the first time, none the second; the admin key never shows", async () => {
  const args = ["setup", "--env=test", `--source=${source}`, "--admin-key=env:SHIPIT_ADMIN_SSH_KEY", `--known-hosts=${t.knownHostsPath}`, `--deploy-key=${join(dir, "deploy.pub")}`];
  const first = await call(args, { SHIPIT_ADMIN_SSH_KEY: t.privateKey });
  expect(first.exitCode, first.stderr).toBe(0);
  expect(first.stdout).toContain(`changed: wrote /etc/sudoers.d/shipit-rosey-test: deploy may run only systemctl restart rosey-test.service, systemctl reset-failed rosey-test.service, systemctl show rosey-test.service (checked with visudo -cf)\nsetup of test on root@${t.bridgeHost}:${t.bridgePort}: 7 changes; the host is ready for deploys as deploy`);
  const second = await call(args, { SHIPIT_ADMIN_SSH_KEY: t.privateKey });
  expect(second.exitCode, second.stderr).toBe(0);
  expect(second.stdout).not.toContain("changed:");
  expect(second.stdout).toContain(`setup of test on root@${t.bridgeHost}:${t.bridgePort}: nothing to change (8 checks)`);
  const body = t.privateKey.split("\n")[1]!;
  expect(first.stdout + first.stderr + second.stdout + second.stderr).not.toContain(body);
  expect((await t.exec(["id", "-nG", "deploy"])).stdout.trim()).toBe("deploy systemd-journal");
});

test("init through the engine returns shipit.json, the workflows and shipit.init.md", async () => {
  const out = join(dir, "init-out");
  const r = await call(["init", `--source=${source}`, "--shipit-module=github.com/team/shipit@v0.1.0", "--force", "-o", out]);
  expect(r.exitCode, r.stderr).toBe(0);
  expect(JSON.parse(await readFile(join(out, "shipit.json"), "utf8"))).toMatchObject({ name: "rosey", environments: { test: { basePath: "/srv/rosey-test", unit: "rosey-test.service" } } });
  expect(await readFile(join(out, ".github/workflows/pull-request.yml"), "utf8")).toContain("shim --source=. --module=github.com/team/shipit@v0.1.0");
  // the source already has a shipit.json: without --force, init refuses
  const refused = await call(["init", `--source=${source}`, "-o", join(dir, "refused")]);
  expect(refused.exitCode).not.toBe(0);
  expect(refused.stderr).toContain("shipit init refused: shipit.json already exists; nothing was written. Fix: move it away, or pass --force to overwrite");
});
