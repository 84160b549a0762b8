/** Reads a repository's history with git in a container, over the repository's .git (see git.ts). */
import { dag, ReturnType, type Directory } from "@dagger.io/dagger";
import { gitFailure, type GitReader } from "./git.js";

export function daggerGit(repo: Directory, image: string): GitReader {
  const base = dag
    .container()
    .from(image)
    .withEnvVariable("DEBIAN_FRONTEND", "noninteractive")
    .withExec(["apt-get", "update", "-qq"])
    .withExec(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "git"])
    .withMountedDirectory("/repo", repo)
    .withWorkdir("/repo")
    .withEnvVariable("LC_ALL", "C");
  return {
    async run(args) {
      // The mounted .git belongs to another uid: tell git it is safe to read.
      const c = base.withExec(["git", "-c", "safe.directory=*", ...args], { expect: ReturnType.Any });
      const [code, out, err] = await Promise.all([c.exitCode(), c.stdout(), c.stderr()]);
      if (code !== 0) throw gitFailure(args, "", err || out, "pass the repository root with --git (the folder holding .git)");
      return out;
    },
  };
}
