"""List the exact packages the project's dependencies bring into its environment, for pip-audit.

shipit's security gate runs this with the tools venv's Python, pointed (``--venv``) at the project
venv that the dependency layer built: the tools' own packages are not the project's. It walks each
requirement of the requirement files and the ``--roots`` file (pyproject's declared dependencies,
with their lines; extras and environment markers honoured) and the dependencies of every
installed distribution it reaches, and writes:

* ``--out``: one ``name==version`` line per package, the input of
  ``pip-audit --no-deps --disable-pip`` (no resolver, no index: only the advisory source is asked);
* ``--json``: the same packages with the requirement file and line that brought each one in
  (direct or through another package), and the requirements that could not be pinned.

Only the standard library and ``packaging`` (a dependency of pip-audit) are used. Exits 0 unless
its own arguments are wrong, so that the gate, not this script, reports what it found.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Root:
    requirement: Requirement
    file: str
    line: int


def read_requirements(path: Path, seen: set[Path], problems: list[dict[str, object]]) -> list[Root]:
    """Requirement lines of a pip requirements file; `-r` includes followed, other options skipped."""
    shown = _shown(path)
    real = path.resolve()
    if real in seen:
        return []
    seen.add(real)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        problems.append({"requirement": shown, "file": shown, "line": 0, "reason": f"cannot read: {exc.strerror}"})
        return []
    roots: list[Root] = []
    logical, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not logical:
            start = number
        line = "" if raw.lstrip().startswith("#") else raw.split(" #", 1)[0].strip()
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        entry, logical = (logical + line).strip(), ""
        if not entry:
            continue
        include = INCLUDE.match(entry)
        if include:
            roots += read_requirements(path.parent / include.group(1).strip(), seen, problems)
        elif entry.startswith(("-e", "--editable")):
            problems.append({"requirement": entry, "file": shown, "line": start, "reason": "editable install: not a published package"})
        elif not entry.startswith("-"):  # skips --index-url, -c constraints, --find-links, a lone --hash ...
            spec = entry.split(" --", 1)[0].strip()  # drops per-requirement options such as --hash
            try:
                roots.append(Root(Requirement(spec), shown, start))
            except InvalidRequirement as exc:
                problems.append({"requirement": spec, "file": shown, "line": start, "reason": f"not a requirement: {exc}"})
    return roots


INCLUDE = re.compile(r"^(?:-r|--requirement)(?:\s+|=)?(\S.*)$")


def _shown(path: Path) -> str:
    """The path as the gate reports it: relative to the source root (the working directory)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def marker_ok(req: Requirement, extras: set[str]) -> bool:
    if req.marker is None:
        return True
    env = default_environment()
    return any(req.marker.evaluate({**env, "extra": extra}) for extra in (extras or {""}))


def read_roots(path: Path, problems: list[dict[str, object]]) -> list[Root]:
    """pyproject's declared dependencies as shipit's plan lists them: [{requirement, file, line}]."""
    roots: list[Root] = []
    for entry in json.loads(path.read_text(encoding="utf-8")):
        try:
            roots.append(Root(Requirement(entry["requirement"]), entry["file"], entry["line"]))
        except InvalidRequirement as exc:
            problems.append({"requirement": entry["requirement"], "file": entry["file"], "line": entry["line"], "reason": f"not a requirement: {exc}"})
    return roots


def finder(venv: str | None) -> Any:
    """metadata.distribution over the project venv's site-packages (default: this interpreter's)."""
    if venv is None:
        return metadata.distribution
    paths = [str(p) for p in sorted(Path(venv).glob("lib/python*/site-packages"))]

    def find(name: str) -> metadata.Distribution:
        for dist in metadata.distributions(name=name, path=paths):
            return dist
        raise metadata.PackageNotFoundError(name)

    return find


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-r", "--requirement", action="append", default=[], help="requirement file (repeatable)")
    parser.add_argument("--roots", help="JSON list of declared dependencies with their file and line (pyproject.toml)")
    parser.add_argument("--venv", help="the environment whose installed packages are listed (default: this interpreter's)")
    parser.add_argument("--out", required=True, help="pinned requirements for pip-audit")
    parser.add_argument("--json", required=True, help="packages with the file and line that brought them in")
    args = parser.parse_args(argv)

    problems: list[dict[str, object]] = []
    seen: set[Path] = set()
    roots: list[Root] = []
    for file in args.requirement:
        roots += read_requirements(Path(file), seen, problems)
    if args.roots:
        roots += read_roots(Path(args.roots), problems)
    distribution = finder(args.venv)

    packages: dict[str, dict[str, object]] = {}
    queue: list[tuple[Requirement, set[str], Root, bool]] = [(r.requirement, set(r.requirement.extras), r, True) for r in roots]
    expanded: set[tuple[str, frozenset[str]]] = set()
    while queue:
        req, extras, root, direct = queue.pop(0)
        if direct and not marker_ok(req, set()):
            continue
        name = canonicalize_name(req.name)
        try:
            dist = distribution(req.name)
        except metadata.PackageNotFoundError:
            if direct:
                problems.append({"requirement": str(req), "file": root.file, "line": root.line, "reason": "not installed in the dependency environment"})
            continue
        entry = packages.setdefault(name, {"name": name, "version": dist.version, "file": root.file, "line": root.line, "direct": direct})
        if direct and not entry["direct"]:
            entry.update({"file": root.file, "line": root.line, "direct": True})
        key = (name, frozenset(extras))
        if key in expanded:
            continue
        expanded.add(key)
        for text in dist.requires or []:
            try:
                child = Requirement(text)
            except InvalidRequirement:
                continue
            if marker_ok(child, extras):
                queue.append((child, set(child.extras), root, False))

    ordered = sorted(packages.values(), key=lambda p: str(p["name"]))
    Path(args.out).write_text("".join(f"{p['name']}=={p['version']}\n" for p in ordered), encoding="utf-8")
    Path(args.json).write_text(json.dumps({"packages": ordered, "problems": problems}, indent=2) + "\n", encoding="utf-8")
    print(f"{len(ordered)} packages pinned for the audit, {len(problems)} requirements not pinned", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
