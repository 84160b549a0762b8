import { dag, type Directory, type File, type Service } from "@dagger.io/dagger";
import { COMMIT_TIMES_ARGS, parseCommitTimes } from "../core/insight/gather.js";
import { daggerGit } from "./git-dagger.js";
import type { CommitTimes } from "../core/insight/metrics.js";

/**
 * Commit times for lead time, from a repository (its root, holding .git), read with git in a
 * container like the release history (git-dagger.ts). A shallow clone knows only its own commits;
 * the others count as unknown.
 */
export async function daggerCommitTimes(git: Directory | undefined, image: string): Promise<CommitTimes> {
  // No repository there (a plain folder, or a tarball of the source): lead time is unknown, not an error.
  if (!git || !(await git.entries()).some((e) => e.replace(/\/$/, "") === ".git")) return {};
  return parseCommitTimes(await daggerGit(git, image).run(COMMIT_TIMES_ARGS));
}

/** The page served by Python's http.server on port 8080 (the image every deploy already pulls). */
export function dashboardService(page: File, image: string): Service {
  return dag
    .container()
    .from(image)
    .withFile("/srv/dashboard/index.html", page)
    .withExposedPort(8080)
    .asService({ args: ["python3", "-m", "http.server", "8080", "--bind", "0.0.0.0", "--directory", "/srv/dashboard"] });
}
