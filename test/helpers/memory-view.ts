import type { SourceView } from "../../src/core/config/config.js";

/** An in-memory source tree: keys are file paths; folders are implied by them. */
export function memoryView(files: Record<string, string>): SourceView {
  const dirs = new Set<string>(["."]);
  for (const f of Object.keys(files)) {
    const parts = f.split("/");
    for (let i = 1; i < parts.length; i++) dirs.add(parts.slice(0, i).join("/"));
  }
  return {
    async kind(p) {
      if (p in files) return "file";
      return dirs.has(p) ? "dir" : null;
    },
    async read(p) {
      return files[p] ?? null;
    },
    async entries() {
      return [...new Set(Object.keys(files).map((f) => f.split("/")[0]!))].sort();
    },
    async files() {
      return Object.keys(files).sort();
    },
  };
}

/** A Rosey-shaped tree. */
export const ROSEY: Record<string, string> = {
  "requirements.txt": "python-socketio[client]==5.18.1\n",
  "pytest.ini": "[pytest]\ntestpaths = tests\n",
  "lib/__init__.py": "",
  "common/__init__.py": "",
  "bot/rosey/__init__.py": "",
  "web/__init__.py": "",
  "tests/test_x.py": "",
  test: "a file named test",
};
