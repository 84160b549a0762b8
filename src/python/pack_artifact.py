#!/usr/bin/env python3
"""Pack a reproducible release artifact (.tar.gz) with a manifest.

Same inputs give the same bytes: entries sorted, mtimes fixed, owners zeroed,
modes normalised, gzip header without a timestamp or file name.
Stdlib only; runs in the check container and on a developer's host alike.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import platform
import sys
import sysconfig
import tarfile
from pathlib import Path

FIXED_MTIME = 315532800  # 1980-01-01T00:00:00Z
SKIP_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git", ".venv", "venv", "node_modules"}
SKIP_SUFFIXES = (".pyc", ".pyo")


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
            dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
            for name in filenames:
                if name.endswith(SKIP_SUFFIXES):
                    continue
                path = Path(dirpath) / name
                files[path.relative_to(src).as_posix()] = path
    return files


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
    args = ap.parse_args()

    src = Path(args.src)
    files = collect(src, args.include)
    for req in args.requirements:
        files[req] = src / req
    wheel_dir = Path(args.wheels)
    wheels = sorted(p.name for p in wheel_dir.glob("*.whl")) if wheel_dir.is_dir() else []
    for name in wheels:
        files[f"wheels/{name}"] = wheel_dir / name

    contents = {rel: path.read_bytes() for rel, path in sorted(files.items())}
    manifest = {
        "schema": 1,
        "name": args.name,
        "version": args.version,
        "commit": args.commit,
        "python": {
            "version": platform.python_version(),
            "implementation": sys.implementation.name,
            "tag": f"cp{sys.version_info.major}{sys.version_info.minor}",
            "platform": sysconfig.get_platform(),
        },
        "requirements": args.requirements,
        "wheels": wheels,
        "files": {rel: sha256(data) for rel, data in contents.items()},
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()

    prefix = f"{args.name}-{args.version}"
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add(tar, f"{prefix}/manifest.json", manifest_bytes)
        for rel, data in contents.items():
            add(tar, f"{prefix}/{rel}", data, executable=os.access(files[rel], os.X_OK))
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
