#!/usr/bin/env python3
"""Pack a reproducible release artifact (.tar.gz) with a manifest.

Same inputs give the same bytes: entries sorted, mtimes fixed, owners zeroed,
modes normalised, gzip header without a timestamp or file name.
Stdlib only; runs in the check container and on a developer's host alike.

A pyproject project (``--project-wheels``) ships its own wheel beside its dependencies' wheels,
and PINNED (``shipit-requirements.txt``), which pins every bundled wheel: the host agent installs
it offline (``pip --no-index --find-links wheels``) as it installs any requirement file.
"""

from __future__ import annotations

import argparse
import ast
import gzip
import hashlib
import io
import json
import os
import platform
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".venv", "venv", "node_modules"}
SKIP_SUFFIXES = (".pyc", ".pyo")
# what a build backend leaves in the source tree while the checks run (setuptools: *.egg-info)
SKIP_DIR_SUFFIXES = (".egg-info",)
PINNED = "shipit-requirements.txt"


def collect(src: Path, include: list[str]) -> dict[str, Path]:
    """Relative archive path -> file on disk, for every included file."""
    files: dict[str, Path] = {}
    for entry in include:
        root = src / entry.rstrip("/")
        if root.is_file():
            files[root.relative_to(src).as_posix()] = root
            continue
        if not root.is_dir():
            raise SystemExit(f"pack: include path {entry!r} does not exist under {src}")
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.endswith(SKIP_DIR_SUFFIXES))
            for name in filenames:
                if name.endswith(SKIP_SUFFIXES):
                    continue
                path = Path(dirpath) / name
                files[path.relative_to(src).as_posix()] = path
    return files


class _Imports(ast.NodeVisitor):
    """Absolute imports a module needs to start: not those under `try:` (optional) or
    `if TYPE_CHECKING:` (never run)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int]] = []

    def visit_Try(self, node: ast.Try) -> None:
        for part in (node.handlers, node.orelse, node.finalbody):
            for child in part:
                self.visit(child)

    visit_TryStar = visit_Try

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
        if name != "TYPE_CHECKING":
            self.generic_visit(node)
        else:
            for child in node.orelse:
                self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(a.name.split(".")[0], node.lineno) for a in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.found.append((node.module.split(".")[0], node.lineno))


def missing_modules(src: Path, files: dict[str, Path], provided: set[str]) -> list[str]:
    """Modules of the repository's top level that shipped code imports but the artifact leaves out
    (seen on a real bot: lib/__init__.py imports __version__, a top-level file): the release would
    not start. One line per module, naming the first importer and the fix."""
    shipped = {rel.split("/")[0].removesuffix(".py") for rel in files}
    problems: dict[str, str] = {}
    for rel, path in sorted(files.items()):
        if not rel.endswith(".py") or rel.startswith("wheels/"):
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=rel)
        except (SyntaxError, ValueError):
            continue  # the lint and typecheck gates report it
        visitor = _Imports()
        visitor.visit(tree)
        for name, line in visitor.found:
            if name in shipped or name in provided or name in problems:
                continue
            if (src / f"{name}.py").is_file():
                entry = f"{name}.py"
            elif (src / name / "__init__.py").is_file():
                entry = name
            else:
                continue  # the standard library or a dependency
            problems[name] = (
                f"{rel}:{line} imports {name}, which is {entry} in the repository but not in the "
                f"artifact: the release would not start. Fix: add \"{entry}\" to build.include in shipit.json"
            )
    return list(problems.values())


def wheel_top_level(path: Path) -> set[str]:
    """The import names a wheel provides (its top-level packages and modules)."""
    with zipfile.ZipFile(path) as whl:
        names = {n.split("/")[0] for n in whl.namelist()}
    return {n.removesuffix(".py") for n in names if not n.endswith((".dist-info", ".data"))}


def wheel_pin(name: str) -> str:
    """`attrs-25.3.0-py3-none-any.whl` -> `attrs==25.3.0` (wheel names are escaped: no '-' inside a part)."""
    dist, version = name.split("-")[:2]
    return f"{dist}=={version}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add(tar: tarfile.TarFile, arcname: str, data: bytes, executable: bool = False) -> None:
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    info.mtime = FIXED_MTIME
    info.mode = 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--wheels", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--commit", default="unknown")
    ap.add_argument("--include", action="append", default=[])
    ap.add_argument("--requirements", action="append", default=[])
    ap.add_argument("--version-source", choices=["argument", "config", "pyproject", "default"], default="default")
    ap.add_argument("--project-wheels", help="the folder the project's own wheel was built into")
    ap.add_argument("--file", action="append", default=[], help="a dependency file shipped as it is (pyproject.toml, uv.lock)")
    args = ap.parse_args()

    src = Path(args.src)
    files = collect(src, args.include)
    for req in [*args.requirements, *args.file]:
        files[req] = src / req
    wheel_dir = Path(args.wheels)
    found = {p.name: p for p in wheel_dir.glob("*.whl")} if wheel_dir.is_dir() else {}
    project = None
    if args.project_wheels:
        built = sorted(Path(args.project_wheels).glob("*.whl"))
        if len(built) != 1:
            raise SystemExit(f"pack: expected the project's one wheel in {args.project_wheels}, found {[p.name for p in built]}")
        found[built[0].name] = built[0]
        dist, version = wheel_pin(built[0].name).split("==")
        project = {"name": dist, "version": version, "wheel": built[0].name}
    wheels = sorted(found)
    provided = set().union(*(wheel_top_level(p) for p in found.values())) if found else set()
    problems = missing_modules(src, files, provided)
    if problems:
        raise SystemExit("pack: " + "\npack: ".join(problems))
    for name in wheels:
        files[f"wheels/{name}"] = found[name]

    contents = {rel: path.read_bytes() for rel, path in sorted(files.items())}
    requirements = list(args.requirements)
    if project:
        contents[PINNED] = "".join(f"{wheel_pin(w)}\n" for w in wheels).encode()
        requirements.append(PINNED)
        contents = dict(sorted(contents.items()))
    manifest = {
        "schema": 1,
        "name": args.name,
        "version": args.version,
        "versionSource": args.version_source,
        "commit": args.commit,
        "python": {
            "version": platform.python_version(),
            "implementation": sys.implementation.name,
            "tag": f"cp{sys.version_info.major}{sys.version_info.minor}",
            "platform": sysconfig.get_platform(),
        },
        "requirements": requirements,
        "wheels": wheels,
        **({"project": project} if project else {}),
        "files": {rel: sha256(data) for rel, data in contents.items()},
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()

    prefix = f"{args.name}-{args.version}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, f"{prefix}/manifest.json", manifest_bytes)
        for rel, data in contents.items():
            add(tar, f"{prefix}/{rel}", data, executable=rel in files and os.access(files[rel], os.X_OK))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "wb") as fh:
        with gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0, compresslevel=9) as gz:
            gz.write(raw.getvalue())
    (out.parent / "manifest.json").write_bytes(manifest_bytes)
    artifact = out.read_bytes()
    print(json.dumps({"artifact": out.name, "sha256": sha256(artifact), "bytes": len(artifact), "files": len(contents)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
