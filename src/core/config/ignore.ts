/**
 * What shipit never reads from a source tree: VCS data, virtualenvs, tool caches. One list for the
 * host runner (folder names) and for the Dagger functions' `ignore` patterns.
 *
 * Dagger's 0.19 introspector evaluates decorator arguments on their own and cannot resolve a
 * named constant, so src/index.ts writes these lists out as literals in every `@argument`;
 * test/module/runtime-rules.test.ts checks that each copy equals DAGGER_IGNORE or GIT_ONLY.
 */
export const IGNORED = [".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".tox", ".shipit", ".coverage"];

/** The same names as Dagger ignore patterns, at any depth. */
export const DAGGER_IGNORE = IGNORED.map((name) => `**/${name}`);

/** Only the repository's .git: what release versions and notes are read from. */
export const GIT_ONLY = ["*", "!.git", "!.git/**"];
