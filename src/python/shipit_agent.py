"""shipit's host agent: every piece of host-side deploy work, one command per SSH round trip.

Uploaded to the bot's Linux host with each deploy and run as
``python3 shipit_agent.py COMMAND --base BASE [options]``. Standard library only (Python 3.9+).

Every command prints exactly one JSON object as the last line of stdout: ``{"ok": true, ...}`` or
``{"ok": false, "error": {"code": "UPPER_SNAKE", "message": "..."}}``. The exit code is 0 on
success, 1 on an error and 3 when the deploy lock could not be taken (``LOCKED``). Progress goes
to stderr. Secrets only ever arrive on stdin; they are written to 0600 files and never printed.

Host layout under BASE::

    releases/<version>-<YYYYmmddTHHMMSSZ>/   unpacked artifact, .venv, config.json, secrets/ (0700,
                                             the password it was deployed with) and data links
    current -> releases/<name>               switched atomically (rename of a new link over it)
    shared/data/                             shared by every release (shared/config.json and
                                             shared/secrets/ only for configure without --release)
    incoming/<run>.tar.gz                    uploads (.part while receiving)
    ledger.jsonl                             append-only deploy and rollback records
    deploy.lock, deploy.lock.json            flock target and its holder's details
"""

from __future__ import annotations

import argparse
import collections
import errno
import fcntl
import gzip
import hashlib
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import (
    IO,
    Any,
    Callable,
    NamedTuple,
    NoReturn,
    Optional,
    cast,
)

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_LOCKED = 3

LOCK_POLL = 0.2
CHUNK = 1 << 20
STALE_PART_SECONDS = 3600.0
STALE_INCOMING_SECONDS = 86400.0
STALE_LINK_SECONDS = 60.0
MAX_JSON_INPUT = 1 << 20
MAX_JSON_DEPTH = 64
# What an artifact may unpack to (install's --max-unpacked-mb and --max-entries): a small
# archive that inflates past these (a decompression bomb) is refused before it fills the disk.
MAX_UNPACKED_MB = 1024
MAX_ENTRIES = 100_000
TAIL_LINES = 20

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
VERSION_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}$")
RELEASE_RE = re.compile(r"^(?P<version>[0-9A-Za-z][0-9A-Za-z.+!_-]*)-(?P<ts>\d{8}T\d{6}Z)$")
UNIT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9:._@\\-]{0,255}$")
SHA256_RE = re.compile(r"^[0-9a-fA-F]{64}$")
SECRET_KEY_RE = re.compile(r"password|passwd|secret|token|key$", re.IGNORECASE)
Json = dict[str, Any]


class AgentError(Exception):
    """A failure with a stable code and a sentence that names the problem and the fix."""

    def __init__(self, code: str, message: str, exit_code: int = EXIT_ERROR, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code
        self.extra = extra

    def payload(self) -> Json:
        out: Json = {"ok": False, "error": {"code": self.code, "message": self.message}}
        out.update(self.extra)
        return out


# --------------------------------------------------------------------------- small helpers
# Time, output, stdin, files: what every command below uses.


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def iso(dt: datetime | None = None) -> str:
    return (dt or utc_now()).strftime("%Y-%m-%dT%H:%M:%SZ")


def stamp(dt: datetime | None = None) -> str:
    return (dt or utc_now()).strftime("%Y%m%dT%H%M%SZ")


def log(message: str) -> None:
    """Progress for humans: stderr only, so stdout stays one JSON object."""
    print(f"shipit-agent: {message}", file=sys.stderr, flush=True)


def emit(obj: Json) -> None:
    try:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the SSH side is gone; nobody is left to read the answer
        pass


def stdin_bytes() -> IO[bytes]:
    return cast(IO[bytes], getattr(sys.stdin, "buffer", sys.stdin))


def read_stdin_json(code: str, what: str) -> Any:
    """One JSON value from stdin, strict: what JSON.parse takes, at most MAX_JSON_DEPTH deep.

    NaN and Infinity are refused (the agent's answers must stay JSON for the TypeScript side),
    and so are lone surrogates, which cannot be written as UTF-8.
    """
    raw = stdin_bytes().read(MAX_JSON_INPUT + 1)
    if len(raw) > MAX_JSON_INPUT:
        raise AgentError(code, f"{what} on stdin is larger than {MAX_JSON_INPUT} bytes; send less")
    try:
        value = strict_json(raw)
        problem = json_problem(value)
    except UnicodeDecodeError:
        problem = "not UTF-8"
    except json.JSONDecodeError as exc:
        problem = exc.msg
    except ValueError as exc:  # NaN, Infinity, 1e999, too deep; an integer past the digit limit
        problem = str(exc)
    if problem:
        # Never echo the input: it may hold secrets.
        raise AgentError(
            code, f"{what} on stdin is not valid JSON ({problem}); send one JSON object"
        ) from None
    return value


def json_problem(value: Any) -> str | None:
    """Why a parsed value cannot be taken (too deep, a lone surrogate), or None. Iterative."""
    todo: list[tuple[Any, int]] = [(value, 1)]
    while todo:
        item, depth = todo.pop()
        if depth > MAX_JSON_DEPTH:
            return f"nested deeper than {MAX_JSON_DEPTH} levels"
        if isinstance(item, dict):
            todo.extend((k, depth) for k in item)
            todo.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            todo.extend((v, depth + 1) for v in item)
        elif isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "a string holds a lone UTF-16 surrogate, which is not UTF-8 text"
    return None


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename, a new link) to disk, so they survive a power cut.

    A folder that cannot be opened or synced is FSYNC_FAILED: the change just made there may not
    be on disk, so the command fails rather than report a step it cannot vouch for.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise AgentError(
            "FSYNC_FAILED",
            f"cannot open {path} to flush it to disk ({exc.strerror or exc}). "
            "Fix: check that the folder exists and the deploy user can read it",
        ) from exc
    try:
        os.fsync(fd)
    except OSError as exc:
        raise AgentError(
            "FSYNC_FAILED",
            f"flushing {path} to disk failed ({exc.strerror or exc}): the change just made there "
            "may not survive a crash. Fix: check the host's disk (dmesg, df) and run again",
        ) from exc
    finally:
        os.close(fd)


def write_all(fd: int, data: bytes) -> None:
    """os.write until every byte is out (it may write fewer than asked)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write a temp file beside ``path`` (created with ``mode``), fsync it, rename it over."""
    tmp = path.parent / f".{path.name}.tmp-{os.getpid()}-{threading.get_ident()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, mode)
    try:
        os.fchmod(fd, mode)
        write_all(fd, data)
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        tmp.unlink()
        raise
    os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def tail(text: str, lines: int = TAIL_LINES) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def age_seconds(path: Path) -> float:
    return time.time() - os.lstat(path).st_mtime


def inside(root: str, path: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


# --------------------------------------------------------------------------- layout
# BASE's folders and the releases in it (the module docstring draws the tree).


class Release(NamedTuple):
    name: str
    version: str
    ts: str


class Layout:
    def __init__(self, base: Path) -> None:
        self.base = base
        self.releases = base / "releases"
        self.current = base / "current"
        self.shared = base / "shared"
        self.config = self.shared / "config.json"
        self.secrets = self.shared / "secrets"
        self.data = self.shared / "data"
        self.incoming = base / "incoming"
        self.ledger = base / "ledger.jsonl"
        self.lock = base / "deploy.lock"
        self.lock_info = base / "deploy.lock.json"

    def ensure(self) -> Layout:
        """Create the layout on first use; tighten the secrets folder every time."""
        for folder in (self.base, self.releases, self.shared, self.data, self.incoming):
            folder.mkdir(parents=True, exist_ok=True)
        self.secrets.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.secrets, 0o700)
        return self

    def releases_list(self) -> list[Release]:
        """Complete releases (a matching name and a manifest), oldest first."""
        if not self.releases.is_dir():
            return []
        found = []
        for entry in self.releases.iterdir():
            match = RELEASE_RE.match(entry.name)
            complete = entry.is_dir() and (entry / "manifest.json").is_file()
            if match and complete and not entry.is_symlink():
                found.append(Release(entry.name, match["version"], match["ts"]))
        return sorted(found, key=lambda r: (r.ts, r.name))

    def current_name(self) -> str | None:
        try:
            target = os.readlink(self.current)
        except OSError:
            return None
        return Path(target).name or None

    def stale_links(self) -> list[Path]:
        if not self.base.is_dir():
            return []
        return sorted(p for p in self.base.glob("current.tmp-*") if p.is_symlink())


def describe_releases(releases: list[Release], current: str | None) -> str:
    if not releases:
        return "no releases are installed"
    names = [f"{r.name} (live)" if r.name == current else r.name for r in releases]
    return "releases on the host: " + ", ".join(names)


# --------------------------------------------------------------------------- lock
# A deploy's first call: hold BASE/deploy.lock for the whole run. The driver's SSH session
# keeps it; it dies with the session.


def read_holder(layout: Layout) -> Json | None:
    try:
        info = json.loads(layout.lock_info.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def describe_holder(holder: Json | None) -> str:
    if not holder:
        return "another process (deploy.lock.json has no holder details)"
    return (
        f"run {holder.get('run', '?')} (version {holder.get('version', '?')}, "
        f"trigger {holder.get('trigger', '?')}) since {holder.get('since', '?')}"
    )


def try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            return False
        raise
    return True


def lock_is_held(layout: Layout) -> bool:
    """True when some process holds the flock on deploy.lock (tested without keeping it)."""
    try:
        fd = os.open(layout.lock, os.O_RDONLY)
    except OSError:
        return False
    try:
        if try_flock(fd):
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        return True
    finally:
        os.close(fd)


def current_holder(layout: Layout) -> Json | None:
    """The holder's details when the lock is really held, else None (stale details ignored)."""
    if not lock_is_held(layout):
        return None
    return read_holder(layout) or {}


def require_lock(layout: Layout, run: str) -> None:
    holder = read_holder(layout)
    fix = f"Take it first with `shipit_agent.py lock --run {run}` and keep that session open"
    if not holder or holder.get("run") != run:
        held_by = describe_holder(holder) if lock_is_held(layout) else "nobody"
        raise AgentError(
            "NOT_LOCKED",
            f"run {run} does not hold the deploy lock of {layout.base} (held by {held_by}). {fix}",
        )
    pid = holder.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid) or not lock_is_held(layout):
        raise AgentError(
            "NOT_LOCKED",
            f"the deploy lock of run {run} on {layout.base} is gone (its holder process "
            f"{pid} has exited). {fix}",
        )


class _Released(Exception):
    pass


def _raise_released(signum: int, frame: Any) -> None:
    raise _Released()


def hold_until_released(answer: Json) -> None:
    """Print the answer, then block until stdin closes (the SSH session ended) or SIGTERM/SIGHUP.

    The handlers go in before the answer is printed: a signal right after it still releases.
    """
    handlers: list[tuple[signal.Signals, Any]] = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            handlers.append((sig, signal.signal(sig, _raise_released)))
    try:
        emit(answer)
        stream = stdin_bytes()
        read = getattr(stream, "read1", stream.read)
        while read(65536):
            pass
    except _Released:
        pass
    finally:
        for sig, old in handlers:
            signal.signal(sig, old)


def cmd_lock(args: argparse.Namespace) -> Json | None:
    layout = Layout(args.base).ensure()
    fd = os.open(layout.lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        started = time.monotonic()
        announced = False
        while not try_flock(fd):
            waited = time.monotonic() - started
            holder = read_holder(layout)
            if not announced:
                log(
                    f"waiting up to {args.wait:g} s: the environment is locked by "
                    f"{describe_holder(holder)}"
                )
                announced = True
            if waited >= args.wait:
                raise AgentError(
                    "LOCKED",
                    f"environment is locked by {describe_holder(holder)}; waited {args.wait:g} s. "
                    "Retry later, or check that run",
                    exit_code=EXIT_LOCKED,
                    holder=holder,
                )
            time.sleep(min(LOCK_POLL, max(0.01, args.wait - waited)))
        info = {
            "run": args.run,
            "version": args.version,
            "trigger": args.trigger,
            "since": iso(),
            "pid": os.getpid(),
            "host": socket.gethostname(),
        }
        atomic_write(layout.lock_info, (json.dumps(info) + "\n").encode())
        try:
            hold_until_released({"ok": True, "locked": True, "run": args.run})
        finally:
            holder = read_holder(layout)
            if holder and holder.get("run") == args.run and holder.get("pid") == os.getpid():
                layout.lock_info.unlink()
    finally:
        os.close(fd)
    return None


# --------------------------------------------------------------------------- receive
# Upload: the artifact arrives on stdin into incoming/, checked against its sha256.


def cmd_receive(args: argparse.Namespace) -> Json:
    layout = Layout(args.base).ensure()
    final = layout.incoming / f"{args.run}.tar.gz"
    part = layout.incoming / f"{args.run}.tar.gz.part"
    digest = hashlib.sha256()
    size = 0
    stream = stdin_bytes()
    # read1: write what has arrived at once, so a cut connection leaves what it had received.
    read = getattr(stream, "read1", stream.read)
    fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for chunk in iter(lambda: read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
            write_all(fd, chunk)
        os.fsync(fd)
    finally:
        os.close(fd)
    actual = digest.hexdigest()
    if actual != args.sha256:
        part.unlink()
        raise AgentError(
            "SHA256_MISMATCH",
            f"the uploaded artifact does not match: expected sha256 {args.sha256}, got {actual} "
            f"({size} bytes received). The upload was cut or corrupted; nothing on the host was "
            "changed. Upload it again",
        )
    os.replace(part, final)
    fsync_dir(layout.incoming)
    log(f"received {size} bytes into {final}")
    return {"ok": True, "path": str(final), "bytes": size, "sha256": actual}


# --------------------------------------------------------------------------- install
# Unpack the artifact safely into releases/<version>-<stamp>/ and build its venv offline.


def unsafe(member: str, why: str) -> AgentError:
    return AgentError(
        "UNSAFE_ARTIFACT",
        f"refusing the artifact: entry {member!r} {why}. Rebuild it with shipit's build",
    )


def check_inside(root_real: str, path: Path, member: str) -> None:
    probe = path
    while not os.path.lexists(probe):
        probe = probe.parent
    if not inside(root_real, os.path.realpath(probe)):
        raise unsafe(member, "would be written outside the release folder (through a link)")


def member_parts(name: str) -> list[str]:
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        raise unsafe(name, "has an absolute path")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise unsafe(name, "contains '..'")
    return parts


class Budget:
    """A bound on what an artifact unpacks to: the bytes its entries declare, and their number.

    Charged with each entry's header before its data is read or skipped, so a decompression bomb
    is refused after at most the bound has been inflated.
    """

    def __init__(self, max_mb: int = MAX_UNPACKED_MB, max_entries: int = MAX_ENTRIES) -> None:
        self.max_mb = max_mb
        self.max_entries = max_entries
        self.bytes = 0
        self.entries = 0

    def too_large(self, what: str) -> AgentError:
        return AgentError(
            "ARTIFACT_TOO_LARGE",
            f"refusing the artifact: {what}. It may be a decompression bomb; nothing was "
            "installed. Fix: keep large data out of build.include (or raise install's "
            "--max-unpacked-mb / --max-entries)",
        )

    def charge(self, member: tarfile.TarInfo) -> None:
        self.entries += 1
        if self.entries > self.max_entries:
            raise self.too_large(f"it has more than {self.max_entries} entries")
        self.add(max(0, member.size), member.name)

    def add(self, size: int, name: str) -> None:
        self.bytes += size
        if self.bytes > self.max_mb << 20:
            raise self.too_large(
                f"it unpacks to more than {self.max_mb} MiB (at entry {name!r}, {size} bytes)"
            )


def unreadable(archive: Path, exc: BaseException) -> AgentError:
    return AgentError(
        "BAD_ARTIFACT",
        f"{archive.name} is not a readable .tar.gz ({exc}). Rebuild and upload it again",
    )


def unpack_failed(member: str, exc: OSError) -> AgentError:
    """A file system refusal while writing an entry, as a coded error."""
    if exc.errno in (errno.ENOTDIR, errno.EEXIST):
        return unsafe(member, "is under an entry that is not a folder")
    if exc.errno == errno.ENAMETOOLONG:
        return AgentError(
            "BAD_ARTIFACT",
            f"entry {member!r} has a name too long for the host's file system. "
            "Shorten it and rebuild",
        )
    return AgentError(
        "INSTALL_FAILED",
        f"cannot unpack entry {member!r} ({exc.strerror or exc}). Fix: check free space and "
        "permissions on the host (df, ls -l) and deploy again",
    )


def safe_extract(archive: Path, dest: Path, budget: Budget | None = None) -> str:
    """Extract ``archive`` into ``dest`` with its single top folder stripped; return that folder.

    Rejects absolute paths, '..', links that point outside (also through links made later),
    hard links to anything but an earlier file, devices, FIFOs, entries outside the one top
    folder, more than the budget, and a gzip stream that is cut or fails its checksum.
    """
    budget = budget or Budget()
    root_real = os.path.realpath(dest)
    top: str | None = None
    links: list[tuple[str, Path]] = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                budget.charge(member)
                try:
                    top = extract_member(tar, member, dest, root_real, top, links)
                except OSError as exc:
                    if isinstance(exc, gzip.BadGzipFile):
                        raise
                    raise unpack_failed(member.name, exc) from None
            # tarfile stops at the end-of-archive blocks (or at a cut header): read the gzip
            # stream to its end, so that a cut or corrupted stream is refused, not half-read.
            stream = cast(IO[bytes], tar.fileobj)
            for chunk in iter(lambda: stream.read(CHUNK), b""):
                budget.add(len(chunk), "(after the end of the archive)")
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise unreadable(archive, exc) from None
    if top is None:
        raise AgentError("BAD_ARTIFACT", f"{archive.name} is empty. Rebuild and upload it again")
    # A link checked when it was made can lead out once later links exist (a -> s/.., then
    # s -> .): every link must still resolve inside.
    for name, link in links:
        if not inside(root_real, os.path.realpath(link)):
            raise unsafe(name, f"is a link pointing outside ({os.readlink(link)!r}, through links)")
    return top


def extract_member(
    tar: tarfile.TarFile,
    member: tarfile.TarInfo,
    dest: Path,
    root_real: str,
    top: str | None,
    links: list[tuple[str, Path]],
) -> str | None:
    """Write one entry under ``dest``; return the top folder (set by the first entry)."""
    parts = member_parts(member.name)
    if not parts:
        return top
    if top is None:
        top = parts[0]
    elif parts[0] != top:
        raise unsafe(member.name, f"is outside the artifact's top folder {top!r}")
    rel = parts[1:]
    if not rel:
        if not member.isdir():
            raise unsafe(member.name, "is not a folder")
        return top
    target = dest.joinpath(*rel)
    check_inside(root_real, target.parent, member.name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if member.isdir():
        if os.path.lexists(target) and not target.is_dir():
            raise unsafe(member.name, "is a folder and a file at once")
        target.mkdir(mode=0o755, exist_ok=True)
        return top
    if os.path.lexists(target):
        raise unsafe(member.name, "appears twice")
    if member.isfile():
        source = tar.extractfile(member)
        assert source is not None
        mode = 0o755 if member.mode & 0o111 else 0o644
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        with source, os.fdopen(os.open(target, flags, mode), "wb") as out:
            shutil.copyfileobj(source, out, CHUNK)
    elif member.issym():
        link_to = member.linkname
        if os.path.isabs(link_to):
            raise unsafe(member.name, f"is a link to an absolute path {link_to!r}")
        os.symlink(link_to, target)
        links.append((member.name, target))
        if not inside(root_real, os.path.realpath(target)):
            target.unlink()
            raise unsafe(member.name, f"is a link pointing outside ({link_to!r})")
    elif member.islnk():
        link = member_parts(member.linkname)
        source_path = dest.joinpath(*link[1:]) if link[:1] == [top] else None
        if source_path is None or not source_path.is_file() or source_path.is_symlink():
            raise unsafe(member.name, "is a hard link to a file outside the artifact")
        check_inside(root_real, source_path, member.name)
        os.link(source_path, target)
    else:
        raise unsafe(member.name, "is a device, FIFO or other special file")
    return top


def load_manifest(root: Path, top: str) -> Json:
    path = root / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AgentError(
            "BAD_MANIFEST", "the artifact has no manifest.json. Build it with shipit's build"
        ) from None
    except (OSError, ValueError, RecursionError) as exc:
        raise AgentError(
            "BAD_MANIFEST", f"manifest.json is not valid JSON ({exc}). Rebuild the artifact"
        ) from None
    problems = []
    if not isinstance(manifest, dict):
        raise AgentError("BAD_MANIFEST", "manifest.json is not a JSON object. Rebuild the artifact")
    if not isinstance(manifest.get("name"), str) or not manifest["name"]:
        problems.append("name must be a non-empty string")
    if not isinstance(manifest.get("version"), str) or not VERSION_RE.match(manifest["version"]):
        problems.append("version must be a version such as 1.2.3")
    files = manifest.get("files")
    if not isinstance(files, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in files.items()
    ):
        problems.append("files must map each path to its sha256")
    reqs = manifest.setdefault("requirements", [])
    if not isinstance(reqs, list) or not all(isinstance(r, str) for r in reqs):
        problems.append("requirements must be a list of file names")
    if problems:
        raise AgentError(
            "BAD_MANIFEST", "manifest.json is malformed: " + "; ".join(problems) + ". Rebuild it"
        )
    expected_top = f"{manifest['name']}-{manifest['version']}"
    if top != expected_top:
        raise AgentError(
            "BAD_MANIFEST",
            f"the artifact's top folder is {top!r} but its manifest says {expected_top!r}. "
            "Rebuild it with shipit's build",
        )
    for req in reqs:
        if req not in cast(dict[str, str], files):
            raise AgentError(
                "BAD_MANIFEST",
                f"requirements file {req!r} is not among the manifest's files. Rebuild it",
            )
    return manifest


def verify_files(root: Path, files: dict[str, str]) -> None:
    for rel in sorted(files):
        expected = files[rel].lower()
        path = root / rel
        if ".." in rel.split("/") or rel.startswith("/"):
            raise AgentError("MANIFEST_MISMATCH", f"manifest.json lists an unsafe path {rel!r}")
        if not path.is_file() or path.is_symlink():
            raise AgentError(
                "MANIFEST_MISMATCH",
                f"{rel} is listed in manifest.json but missing from the artifact. "
                "The artifact was altered; rebuild it",
            )
        actual = sha256_file(path)
        if actual != expected:
            raise AgentError(
                "MANIFEST_MISMATCH",
                f"{rel} does not match manifest.json (sha256 {actual}, manifest says {expected}). "
                "The artifact was altered; rebuild it",
            )
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            rel = (Path(dirpath) / name).relative_to(root).as_posix()
            if rel != "manifest.json" and rel not in files:
                raise AgentError(
                    "MANIFEST_MISMATCH",
                    f"{rel} is in the artifact but not listed in manifest.json. "
                    "The artifact was altered; rebuild it",
                )


def has_requirements(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise AgentError(
            "BAD_MANIFEST",
            f"requirements file {path.name!r} is not UTF-8 text. Rebuild the artifact",
        ) from None
    for line in text.splitlines():
        text = line.split("#", 1)[0].strip()
        if text:
            return True
    return False


def clean_env() -> dict[str, str]:
    """The environment for pip: no index, no user config, no inherited PIP_* settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env.update(
        {
            "PIP_CONFIG_FILE": os.devnull,
            "PIP_NO_INDEX": "1",
            "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            "PIP_NO_INPUT": "1",
        }
    )
    return env


def run_cmd(
    argv: list[str],
    timeout: float,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def python_tag(python: Path) -> str:
    try:
        result = run_cmd(
            [str(python), "-c", "import sys; print('cp%d%d' % sys.version_info[:2])"], timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def make_venv(root: Path, final: Path, manifest: Json, python: str) -> None:
    venv = root / ".venv"
    try:
        made = run_cmd([python, "-m", "venv", str(venv)], timeout=900, env=clean_env())
    except FileNotFoundError:
        raise AgentError(
            "VENV_FAILED",
            f"cannot create the virtualenv: {python!r} was not found on the host. "
            "Install python3 (with venv) or pass --python",
        ) from None
    except subprocess.TimeoutExpired:
        raise AgentError("VENV_FAILED", f"`{python} -m venv` did not finish in 900 s") from None
    if made.returncode != 0:
        raise AgentError(
            "VENV_FAILED",
            f"`{python} -m venv` failed (exit {made.returncode}): {tail(made.stderr, 5)}. "
            "Install the venv module (Debian: apt-get install python3-venv)",
        )
    reqs = [r for r in manifest["requirements"] if has_requirements(root / r)]
    if reqs:
        argv = [str(venv / "bin" / "python"), "-m", "pip", "install", "--no-index", "--quiet"]
        if (root / "wheels").is_dir():
            argv += ["--find-links", str(root / "wheels")]
        for req in reqs:
            argv += ["-r", str(root / req)]
        log("installing " + ", ".join(reqs) + " from the bundled wheels")
        try:
            pip = run_cmd(argv, timeout=1800, cwd=root, env=clean_env())
        except subprocess.TimeoutExpired:
            raise AgentError("PIP_FAILED", "pip install did not finish in 1800 s") from None
        if pip.returncode != 0:
            built = (manifest.get("python") or {}).get("tag", "unknown")
            have = python_tag(venv / "bin" / "python")
            hint = (
                f" The artifact was built for {built} but the host's {python} is {have}: "
                "build with the host's Python version, or pass --python"
                if built != have
                else " Every requirement must have a wheel in the artifact's wheels/ folder"
            )
            raise AgentError(
                "PIP_FAILED",
                f"pip could not install the requirements offline (exit {pip.returncode}): "
                f"{tail(pip.stderr or pip.stdout, 8)}.{hint}",
            )
    relocate_venv(venv, str(root), str(final))


def relocate_venv(venv: Path, old: str, new: str) -> None:
    """Scripts and pyvenv.cfg name the folder they were made in; point them at the final one."""
    candidates = [venv / "pyvenv.cfg"]
    bindir = venv / "bin"
    if bindir.is_dir():
        candidates += sorted(bindir.iterdir())
    old_b, new_b = old.encode(), new.encode()
    for path in candidates:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > CHUNK:
            continue
        data = path.read_bytes()
        if old_b in data:
            mode = path.stat().st_mode & 0o7777
            atomic_write(path, data.replace(old_b, new_b), mode)


def peek_version(archive: Path, budget: Budget | None = None) -> str:
    """The manifest's version, read before unpacking (it names the release folder)."""
    budget = budget or Budget()
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in tar:
                budget.charge(member)
                parts = [p for p in member.name.split("/") if p not in ("", ".")]
                if len(parts) == 2 and parts[1] == "manifest.json" and member.isfile():
                    source = tar.extractfile(member)
                    assert source is not None
                    manifest = json.loads(source.read(MAX_JSON_INPUT).decode("utf-8"))
                    version = manifest.get("version") if isinstance(manifest, dict) else None
                    if not isinstance(version, str) or not VERSION_RE.match(version):
                        raise AgentError(
                            "BAD_MANIFEST",
                            f"manifest.json has no usable version ({version!r}). "
                            "Rebuild the artifact with shipit's build",
                        )
                    return version
    except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
        raise unreadable(archive, exc) from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AgentError(
            "BAD_MANIFEST", f"manifest.json is not valid JSON ({exc}). Rebuild the artifact"
        ) from None
    raise AgentError(
        "BAD_MANIFEST",
        f"{archive.name} has no manifest.json in its top folder. Build it with shipit's build",
    )


def release_name(layout: Layout, version: str) -> str:
    for _ in range(10):
        name = f"{version}-{stamp()}"
        taken = [layout.releases / name, layout.releases / f"{name}.tmp"]
        if not any(os.path.lexists(p) for p in taken):
            return name
        time.sleep(0.5)
    raise AgentError("INSTALL_FAILED", f"no free release name for {version}; retry in a second")


def cmd_install(args: argparse.Namespace) -> Json:
    layout = Layout(args.base).ensure()
    require_lock(layout, args.run)
    artifact = layout.incoming / f"{args.run}.tar.gz"
    if not artifact.is_file():
        raise AgentError(
            "NO_ARTIFACT",
            f"no uploaded artifact for run {args.run} ({artifact} is missing). "
            "Upload it first with `receive`",
        )
    actual = sha256_file(artifact)
    if actual != args.sha256:
        raise AgentError(
            "SHA256_MISMATCH",
            f"{artifact.name} on the host does not match: expected sha256 {args.sha256}, got "
            f"{actual}. Nothing was changed; upload it again",
        )
    started = time.monotonic()
    version = peek_version(artifact, Budget(args.max_unpacked_mb, args.max_entries))
    name = release_name(layout, version)
    final = layout.releases / name
    tmp = layout.releases / f"{name}.tmp"
    tmp.mkdir()
    try:
        top = safe_extract(artifact, tmp, Budget(args.max_unpacked_mb, args.max_entries))
        manifest = load_manifest(tmp, top)
        verify_files(tmp, manifest["files"])
        for reserved in ("config.json", "data", ".venv"):
            if os.path.lexists(tmp / reserved):
                raise AgentError(
                    "BAD_ARTIFACT",
                    f"the artifact has {reserved} at its root, which the host manages "
                    f"(it links or creates {reserved} there). Remove it from build.include",
                )
        unpacked = time.monotonic()
        log(f"unpacked and verified {len(manifest['files'])} files into releases/{tmp.name}")
        make_venv(tmp, final, manifest, args.python)
        venv_done = time.monotonic()
        os.symlink("../../shared/config.json", tmp / "config.json")
        os.symlink("../../shared/data", tmp / "data")
        os.rename(tmp, final)
        fsync_dir(layout.releases)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    artifact.unlink()
    log(f"installed release {name}")
    return {
        "ok": True,
        "release": name,
        "version": manifest["version"],
        "durations": {
            "unpack": round(unpacked - started, 3),
            "venv": round(venv_done - unpacked, 3),
        },
    }


# --------------------------------------------------------------------------- configure
# The release's config.json, and its secrets from stdin into 0600 files.


def secret_keys(value: Any, prefix: str = "") -> Iterator[str]:
    """Paths of keys named like a secret whose value is a non-empty string."""
    if isinstance(value, dict):
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if (
                SECRET_KEY_RE.search(str(key))
                and isinstance(inner, str)
                and inner
                and str(key) != "password_file"
            ):
                yield path
            yield from secret_keys(inner, path)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield from secret_keys(inner, f"{prefix}[{i}]")


PATH_PART_RE = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def json_path(path: str) -> list[str | int]:
    """`user[1]` -> ["user", 1], as src/core/config/runtime-config.ts parses it."""
    parts: list[str | int] = []
    for m in PATH_PART_RE.finditer(path):
        parts.append(int(m.group(2)) if m.group(2) is not None else m.group(1))
    return parts


def set_at(doc: Any, path: str, value: Any, template: str) -> None:
    """Replace the value at an existing path of the template; a path it lacks is an error."""
    parts = json_path(path)
    cur = doc
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(part, int):
            ok = isinstance(cur, list) and part < len(cur)
        else:
            ok = isinstance(cur, dict) and part in cur
        if not ok:
            raise AgentError(
                "TEMPLATE_PATH_MISSING",
                f"{template} in the release has no {path}; fix runtimeConfig (values or "
                "secrets) or the template",
            )
        if last:
            cur[part] = value
        else:
            cur = cur[part]


def render_runtime_file(root: Path, spec: Any, secrets: dict[str, str]) -> tuple[Path, bytes]:
    """The bot's own config file from its template in the release: where it goes (0600, into
    the release) and its bytes. Checks everything and writes nothing, so that a refusal leaves
    the host as it was."""
    if not isinstance(spec, dict) or not all(
        isinstance(spec.get(k), str) for k in ("template", "path")
    ):
        raise AgentError("BAD_CONFIG_INPUT", '"file" needs "template" and "path" (strings)')
    values = spec.get("values", {})
    wanted = spec.get("secrets", {})
    if not isinstance(values, dict) or not isinstance(wanted, dict):
        raise AgentError("BAD_CONFIG_INPUT", '"file.values" and "file.secrets" must be objects')
    real = os.path.realpath(root)
    template: Path = root / str(spec["template"])
    target: Path = root / str(spec["path"])
    for what, where in (("template", template), ("path", target)):
        if "\0" in str(spec[what]):
            raise AgentError("BAD_CONFIG_INPUT", f"runtimeConfig.{what} holds a NUL byte")
        if not inside(real, os.path.realpath(where)) or os.path.realpath(where) == real:
            raise AgentError(
                "BAD_CONFIG_INPUT", f"runtimeConfig.{what} {spec[what]!r} leaves the release"
            )
    if not template.is_file():
        raise AgentError(
            "TEMPLATE_MISSING",
            f"the release has no {spec['template']} (runtimeConfig.template); add its folder "
            "to build.include",
        )
    probe = target.parent
    while not os.path.lexists(probe):
        probe = probe.parent
    if target.is_dir() or not probe.is_dir():
        raise AgentError(
            "BAD_CONFIG_INPUT",
            f"runtimeConfig.path {spec['path']!r} names a folder, or a path under a file, in "
            "the release; name a file",
        )
    try:
        doc = json.loads(template.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AgentError(
            "TEMPLATE_NOT_JSON", f"{spec['template']} in the release is not JSON ({exc})"
        ) from None
    for key, value in values.items():
        set_at(doc, str(key), value, spec["template"])
    for key, name in wanted.items():
        if not isinstance(name, str) or name not in secrets:
            raise AgentError(
                "BAD_CONFIG_INPUT",
                f"runtimeConfig.secrets {key} names {name!r}, which was not sent",
            )
        set_at(doc, str(key), secrets[name], spec["template"])
    return target, (json.dumps(doc, indent=2) + "\n").encode()


def cmd_configure(args: argparse.Namespace) -> Json:
    layout = Layout(args.base).ensure()
    require_lock(layout, args.run)
    payload = read_stdin_json("BAD_CONFIG_INPUT", "the configuration")
    if not isinstance(payload, dict) or not (
        isinstance(payload.get("config"), dict) or isinstance(payload.get("file"), dict)
    ):
        raise AgentError(
            "BAD_CONFIG_INPUT",
            'stdin must be a JSON object {"config": {...}, "secrets": {"name": "value"}} '
            'or {"file": {"template", "path", "values", "secrets"}, "secrets": {...}}',
        )
    secrets = payload.get("secrets", {})
    if not isinstance(secrets, dict):
        raise AgentError("BAD_CONFIG_INPUT", '"secrets" must be an object of name to string value')
    for name, value in secrets.items():
        if not NAME_RE.match(name) or not isinstance(value, str) or not value:
            raise AgentError(
                "BAD_CONFIG_INPUT",
                f"secret {name!r} needs a name of letters, digits, '.', '_' or '-' and a "
                "non-empty string value",
            )
    config = payload.get("config")
    config = {} if config is None else config
    if not isinstance(config, dict):
        raise AgentError("BAD_CONFIG_INPUT", '"config" must be an object')
    config = dict(config)
    leaked = sorted(secret_keys(config))
    if leaked:
        raise AgentError(
            "BAD_CONFIG_INPUT",
            f"the runtime config holds a secret value under {', '.join(leaked)}; send secrets "
            'in "secrets" so they reach the host only as 0600 files',
        )
    target = layout.config
    secrets_dir = layout.secrets
    if args.release and not release_complete(layout, args.release):
        raise AgentError(
            "NO_SUCH_RELEASE", f"release {args.release} is not on the host; install it first"
        )
    rendered: tuple[Path, bytes] | None = None
    if isinstance(payload.get("file"), dict):
        if not args.release:
            raise AgentError(
                "BAD_CONFIG_INPUT",
                "a runtimeConfig file is rendered into a release: pass --release",
            )
        rendered = render_runtime_file(layout.releases / args.release, payload["file"], secrets)
    # Everything is checked: from here on the call writes.
    if args.release:
        # The config and the secrets belong to the release: a rollback brings back what the
        # previous release ran with, so a deploy with a wrong password cannot break the rollback.
        target = layout.releases / args.release / "config.json"
        if target.is_symlink():
            target.unlink()
        secrets_dir = layout.releases / args.release / "secrets"
        if secrets_dir.is_symlink():
            secrets_dir.unlink()
        secrets_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(secrets_dir, 0o700)
    for name in sorted(secrets):
        atomic_write(secrets_dir / name, secrets[name].encode("utf-8"), 0o600)
    if rendered is not None:
        path, body = rendered
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            path.unlink()
        atomic_write(path, body, 0o600)
        return {"ok": True, "config": str(path), "secrets": sorted(secrets)}
    password = secrets_dir / "bot_password"
    if password.is_file():
        config["password_file"] = str(password.absolute())
    body = (json.dumps(config, indent=2) + "\n").encode()
    atomic_write(target, body, 0o600)
    return {"ok": True, "config": str(target), "secrets": sorted(secrets)}


# --------------------------------------------------------------------------- switch
# The commit point: `current` is renamed over to the new release in one step.


def release_complete(layout: Layout, name: str) -> bool:
    path = layout.releases / name
    return (
        RELEASE_RE.match(name) is not None
        and path.is_dir()
        and not path.is_symlink()
        and (path / "manifest.json").is_file()
    )


def switch_to(layout: Layout, run: str, name: str) -> str | None:
    previous = layout.current_name()
    link = layout.base / f"current.tmp-{run}"
    if os.path.lexists(link):
        link.unlink()
    os.symlink(f"releases/{name}", link)
    try:
        os.replace(link, layout.current)
    except OSError as exc:
        link.unlink()
        raise AgentError(
            "BAD_LAYOUT",
            f"cannot replace {layout.current} ({exc.strerror}); it must be a symlink. "
            "Move it away and switch again",
        ) from None
    try:
        fsync_dir(layout.base)
    except AgentError as exc:
        # The new link may not be on disk: put the previous one back, so that a switch that
        # failed has changed nothing (the driver then reports "failed before the switch").
        put_back(layout, run, previous)
        raise AgentError(
            exc.code, f"{exc.message}. current was put back to {previous or 'nothing'}"
        ) from None
    return previous


def put_back(layout: Layout, run: str, previous: str | None) -> None:
    """Point `current` at `previous` again (no release: remove it), without a flush of its own."""
    if previous is None:
        layout.current.unlink()
        return
    link = layout.base / f"current.back-{run}"
    if os.path.lexists(link):
        link.unlink()
    os.symlink(f"releases/{previous}", link)
    os.replace(link, layout.current)


def cmd_switch(args: argparse.Namespace) -> Json:
    layout = Layout(args.base).ensure()
    require_lock(layout, args.run)
    if not release_complete(layout, args.release):
        raise AgentError(
            "NO_SUCH_RELEASE",
            f"release {args.release!r} is not installed on the host; "
            f"{describe_releases(layout.releases_list(), layout.current_name())}",
        )
    on_host = {r.name for r in layout.releases_list() if release_complete(layout, r.name)}
    # Before the switch: what the ledger says of the release that is live now.
    rollback_to, note = automatic_rollback_target(
        layout, layout.current_name(), args.release, on_host
    )
    previous = switch_to(layout, args.run, args.release)
    log(f"current: {previous} -> {args.release}")
    answer: Json = {
        "ok": True,
        "previous": previous,
        "current": args.release,
        "rollbackTo": rollback_to,
    }
    if note:
        answer["rollbackNote"] = note
    return answer


FAILED_OUTCOMES = ("failed", "rolled_back", "rollback_failed")


def automatic_rollback_target(
    layout: Layout, previous: str | None, new: str, on_host: set[str]
) -> tuple[str | None, str]:
    """Where a failed deploy goes back to: the release live before it, unless the ledger shows that
    one never passed health (it failed its own deploy, and no deploy or rollback to it succeeded);
    then the newest release on the host that did. A release the ledger does not mention (a host
    older than the ledger's `release` field) is trusted, as before. (None, why) when there is none.
    """
    entries, _ = read_ledger(layout)
    good: list[str] = []
    failed: set[str] = set()
    for e in entries:
        release = e.get("release")
        if not isinstance(release, str):
            continue
        if e.get("outcome") == "succeeded":
            good.append(release)
        elif e.get("outcome") in FAILED_OUTCOMES and e.get("kind") == "deploy":
            failed.add(release)
    if previous is None:
        return None, "no release was live before this deploy: there is nothing to roll back to"
    if previous not in failed or previous in good:
        return previous, ""
    for release in reversed(good):
        if release not in (new, previous) and release in on_host:
            return release, (
                f"{previous} (live before this deploy) never passed health; {release} did"
            )
    return None, (
        f"{previous}, live before this deploy, failed its own deploy and never passed health, "
        "and no other release on the host has: there is no known-good release to roll back to"
    )


# --------------------------------------------------------------------------- restart
# Restart the systemd unit, and tell a crash loop from a slow start.


def systemctl(sudo: bool) -> list[str]:
    return (["sudo", "-n"] if sudo else []) + ["systemctl"]


def journal_tail(unit: str, sudo: bool = False, since: float | None = None) -> str:
    # Never through sudo: the deploy user reads the journal as a member of systemd-journal (what
    # `shipit setup` grants), and its sudoers rule allows only restart, reset-failed and show.
    # `since` (the restart's wall clock): only this release's lines, never the one before's.
    del sudo
    argv = ["journalctl", "-u", unit, "-n", "20", "--no-pager"]
    if since is not None:
        argv.append(f"--since=@{since:.3f}")
    try:
        result = run_cmd(argv, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"(journalctl unavailable: {exc})"
    return tail(result.stdout or result.stderr)


def cmd_restart(args: argparse.Namespace) -> Json:
    started = time.monotonic()
    since = time.time()
    argv = systemctl(args.sudo) + ["restart", args.unit]
    try:
        # A unit that crash-looped past its start limit refuses `restart` until reset: a rollback
        # right after a crash loop must still be able to start the previous release.
        run_cmd(systemctl(args.sudo) + ["reset-failed", args.unit], timeout=args.timeout)
        result = run_cmd(argv, timeout=args.timeout)
    except FileNotFoundError:
        raise AgentError(
            "RESTART_FAILED",
            f"cannot restart {args.unit}: {argv[0]} was not found. The host needs systemd",
        ) from None
    except subprocess.TimeoutExpired:
        journal = journal_tail(args.unit, args.sudo)
        raise AgentError(
            "RESTART_FAILED",
            f"`systemctl restart {args.unit}` did not finish in {args.timeout:g} s. "
            f"Last journal lines:\n{journal}",
            journal=journal,
        ) from None
    if result.returncode != 0:
        journal = journal_tail(args.unit, args.sudo)
        raise AgentError(
            "RESTART_FAILED",
            f"`systemctl restart {args.unit}` failed (exit {result.returncode}): "
            f"{tail(result.stderr, 5)}. Check the unit; last journal lines:\n{journal}",
            stderr=tail(result.stderr),
            journal=journal,
        )
    return {
        "ok": True,
        "unit": args.unit,
        "duration": round(time.monotonic() - started, 3),
        # the journal of this start begins here: health's crash-loop excerpt reads from it
        "since": round(since, 3),
    }


def unit_state(unit: str) -> tuple[str, int] | None:
    """(ActiveState, NRestarts) of a unit, or None when systemctl cannot tell."""
    try:
        result = run_cmd(["systemctl", "show", unit, "-p", "ActiveState", "-p", "NRestarts"], 30)
    except (OSError, subprocess.SubprocessError):
        return None
    if result.returncode != 0:
        return None
    props = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    try:
        return props.get("ActiveState", "unknown"), int(props.get("NRestarts", "0"))
    except ValueError:
        return None


def check_crash_loop(
    unit: str, baseline: tuple[str, int] | None, elapsed: float, since: float | None = None
) -> None:
    if baseline is None:
        return
    state = unit_state(unit)
    if state is None:
        return
    active, restarts = state
    why = ""
    if active == "failed":
        why = f"unit {unit} has failed (ActiveState=failed)"
    elif restarts > baseline[1]:
        why = (
            f"unit {unit} is crash-looping: systemd restarted it {restarts - baseline[1]} time(s) "
            f"while waiting for health (NRestarts {baseline[1]} -> {restarts})"
        )
    if why:
        journal = journal_tail(unit, since=since)
        raise AgentError(
            "CRASH_LOOP",
            f"{why}, {elapsed:.1f} s after the start. The bot exits on start; last journal "
            f"lines:\n{journal}",
            journal=journal,
            elapsed=round(elapsed, 3),
        )


# --------------------------------------------------------------------------- health and smoke
# Is the new release up: GET /api/health (the contract is
# config/contracts/health.schema.json, generated from src/core/deploy/contracts.ts), then a chat
# command through POST /api/smoke.


HEALTH_FIELDS: tuple[tuple[str, str], ...] = (
    ("status", "str"),
    ("connected", "bool"),
    ("channel", "str"),
    ("version", "str"),
    ("uptime", "number"),
)
HEALTH_CONTRACT = (
    "GET /api/health must answer JSON {status: str, connected: bool, channel: str, "
    "version: str, uptime: number} (see CONFIGURATION.md)"
)


class Probe(NamedTuple):
    code: str | None
    message: str
    body: Any = None
    status: int | None = None


def _http_exchange(
    url: str, timeout: float, data: bytes | None
) -> tuple[int | None, bytes, Probe | None]:
    headers = {"Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(MAX_JSON_INPUT)
            missing = response.length  # what Content-Length announced and never came
            if missing and len(body) < MAX_JSON_INPUT:
                return (
                    None,
                    b"",
                    Probe(
                        "UNREACHABLE",
                        f"{url} closed the connection after {len(body)} bytes of the "
                        f"{len(body) + missing} it announced (HTTP {response.status})",
                    ),
                )
            return response.status, body, None
    except urllib.error.HTTPError as exc:
        try:
            body = exc.read(MAX_JSON_INPUT)
        except (OSError, http.client.HTTPException):
            body = b""
        return exc.code, body, None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (socket.timeout, TimeoutError)):
            return None, b"", Probe("TIMEOUT", f"no answer from {url} within {timeout:.1f} s")
        if isinstance(reason, ConnectionRefusedError):
            return None, b"", Probe("UNREACHABLE", f"connection refused: nothing listens at {url}")
        return None, b"", Probe("UNREACHABLE", f"cannot reach {url} ({reason})")
    except (socket.timeout, TimeoutError):
        return None, b"", Probe("TIMEOUT", f"no answer from {url} within {timeout:.1f} s")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return (
            None,
            b"",
            Probe("UNREACHABLE", f"{url} closed the connection without an answer ({exc!r})"),
        )


def http_call(
    url: str, timeout: float, data: bytes | None = None
) -> tuple[int | None, bytes, Probe | None]:
    """(HTTP status, body, None) for any answer; (None, b"", problem) when there was none.

    The problem's code is a suffix ("UNREACHABLE", "TIMEOUT") for the caller to prefix. The whole
    exchange is bounded by `timeout`, not each read: a server that trickles its headers or its
    body a byte at a time, or sends chunks forever, is a TIMEOUT when the time is up (urllib's own
    timeout is per socket read, so alone it would wait for as long as the bytes keep coming). The
    exchange runs in a daemon thread that is left behind when it is late.
    """
    done: list[tuple[int | None, bytes, Probe | None]] = []

    def exchange() -> None:
        try:
            done.append(_http_exchange(url, timeout, data))
        except Exception as exc:  # noqa: BLE001 - whatever urllib raises is an unreachable URL
            done.append((None, b"", Probe("UNREACHABLE", f"cannot reach {url} ({exc!r})")))

    worker = threading.Thread(target=exchange, name="shipit-http", daemon=True)
    worker.start()
    worker.join(timeout + 0.05)
    if not done:
        return None, b"", Probe("TIMEOUT", f"no whole answer from {url} within {timeout:.1f} s")
    return done[0]


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is not a finite number")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(raw: bytes) -> Any:
    """JSON as RFC 8259 has it: no NaN or Infinity (Python's json reads them, then writes JSON
    that no other reader takes), no number too large for a float; nested at most as deep as the
    interpreter allows (RecursionError is a ValueError here: far deeper than MAX_JSON_DEPTH)."""
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels") from None


def type_ok(value: Any, kind: str) -> bool:
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, str)


def health_shape_problems(body: Json) -> list[str]:
    """What in a health answer (a JSON object) breaks the contract; empty when nothing does."""
    problems = []
    for field, kind in HEALTH_FIELDS:
        if field not in body:
            problems.append(f"{field} is missing")
        elif not type_ok(body[field], kind):
            problems.append(f"{field} must be a {kind}, got {json.dumps(body[field])}")
        elif kind == "number" and body[field] < 0:
            problems.append(f"{field} must not be negative, got {json.dumps(body[field])}")
    return problems


def probe_health(url: str, timeout: float, expect_version: str | None) -> Probe:
    status, raw, problem = http_call(url, timeout)
    if problem is not None:
        return problem._replace(code=f"HEALTH_{problem.code}")
    if status == 404:
        return Probe(
            "HEALTH_UNREACHABLE",
            f"the health endpoint is missing: GET {url} answered HTTP 404. Check the health "
            f"URL and port; {HEALTH_CONTRACT}",
            status=status,
        )
    try:
        body = strict_json(raw)
    except (UnicodeDecodeError, ValueError):
        snippet = raw[:120].decode("utf-8", "replace")
        if status is not None and not 200 <= status < 300:
            message = f"GET {url} answered HTTP {status} ({snippet!r})"
            return Probe("HEALTH_UNREACHABLE", message, None, status)
        return Probe(
            "HEALTH_NOT_JSON",
            f"GET {url} answered HTTP {status} with a body that is not JSON: {snippet!r}. "
            f"{HEALTH_CONTRACT}",
            status=status,
        )
    if not isinstance(body, dict):
        return Probe(
            "HEALTH_BAD_SHAPE",
            f"GET {url} answered JSON that is not an object ({type(body).__name__}). "
            f"{HEALTH_CONTRACT}",
            body,
            status,
        )
    problems = health_shape_problems(body)
    if problems:
        return Probe(
            "HEALTH_BAD_SHAPE",
            f"the health answer has the wrong shape: {'; '.join(problems)}. {HEALTH_CONTRACT}",
            body,
            status,
        )
    if body["status"] != "running" or body["connected"] is not True:
        return Probe(
            "HEALTH_NOT_CONNECTED",
            f"the bot answers but is not connected to channel {body['channel']!r} "
            f"(status {body['status']!r}, connected {json.dumps(body['connected'])}). "
            "Check the server, the credentials and the bot's log",
            body,
            status,
        )
    if expect_version is not None and body["version"] != expect_version:
        return Probe(
            "HEALTH_WRONG_VERSION",
            f"the bot reports version {body['version']!r}, expected {expect_version!r}: the old "
            "process may still be running (did the restart take effect?)",
            body,
            status,
        )
    return Probe(None, "healthy", body, status)


def probe_http(url: str, timeout: float) -> Probe:
    """`http` health: any 2xx from the URL."""
    status, raw, problem = http_call(url, timeout)
    if problem is not None:
        return problem._replace(code=f"HEALTH_{problem.code}")
    if status is None or not 200 <= status < 300:
        snippet = raw[:120].decode("utf-8", "replace")
        return Probe(
            "HEALTH_HTTP_STATUS",
            f"GET {url} answered HTTP {status} ({snippet!r}), not a 2xx",
            status=status,
        )
    return Probe(None, f"HTTP {status}", status=status)


def unit_invocation(unit: str) -> str:
    """The InvocationID of the unit's current run ('' when it has none yet)."""
    try:
        result = run_cmd(["systemctl", "show", unit, "-p", "InvocationID", "--value"], 30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


JOURNAL_DENIED = ("insufficient permissions", "not seeing messages from other users")


def probe_log(unit: str, pattern: re.Pattern[str]) -> Probe:
    """`log` health: a journal line of this run of the unit (its InvocationID) matches."""
    invocation = unit_invocation(unit)
    if not invocation:
        return Probe("HEALTH_LOG_NOT_SEEN", f"unit {unit} has not started yet (no InvocationID)")
    argv = ["journalctl", f"_SYSTEMD_INVOCATION_ID={invocation}", "-o", "cat", "--no-pager"]
    try:
        result = run_cmd(argv, 30)
    except (OSError, subprocess.SubprocessError) as exc:
        return Probe("HEALTH_LOG_UNREADABLE", f"cannot run journalctl: {exc}")
    if result.returncode != 0 or any(d in result.stderr for d in JOURNAL_DENIED):
        return Probe(
            "HEALTH_LOG_UNREADABLE",
            f"cannot read the journal of {unit}: "
            f"{tail(result.stderr, 3) or f'exit {result.returncode}'}",
        )
    for line in result.stdout.splitlines():
        if pattern.search(line):
            return Probe(None, "seen", body=line[:200])
    return Probe(
        "HEALTH_LOG_NOT_SEEN",
        f"no line of {unit}'s journal since this restart matches {pattern.pattern!r}",
    )


class UnitWatch:
    """`systemd` health: the unit active, with no restart, for `stable` seconds in a row."""

    def __init__(self, unit: str, stable: float, baseline: tuple[str, int] | None) -> None:
        self.unit = unit
        self.stable = stable
        self.baseline = baseline
        self.since: float | None = None

    def probe(self) -> Probe:
        state = unit_state(self.unit)
        now = time.monotonic()
        if state is None:
            self.since = None
            return Probe("HEALTH_UNIT_INACTIVE", f"systemctl cannot tell the state of {self.unit}")
        active, restarts = state
        if active != "active" or (self.baseline is not None and restarts != self.baseline[1]):
            self.since = None
            return Probe("HEALTH_UNIT_INACTIVE", f"unit {self.unit} is {active}, not active")
        if self.since is None:
            self.since = now
        up = now - self.since
        if up >= self.stable:
            return Probe(None, "stable", body={"stableSec": round(up, 3), "restarts": restarts})
        return Probe(
            "HEALTH_UNIT_NOT_STABLE",
            f"unit {self.unit} has been active without a restart for {up:.1f} s of the "
            f"{self.stable:g} s it must stay up (health.stableSec)",
        )


def health_kinds(args: argparse.Namespace) -> list[str]:
    kinds = args.kind or ["contract"]
    if any(k in ("contract", "http") for k in kinds) and not args.url:
        raise AgentError("BAD_ARGUMENTS", "health kinds contract and http need --url")
    if any(k in ("systemd", "log") for k in kinds) and not args.unit:
        raise AgentError("BAD_ARGUMENTS", "health kinds systemd and log need --unit")
    if "log" in kinds and not args.log_pattern:
        raise AgentError("BAD_ARGUMENTS", "health kind log needs --log-pattern")
    return kinds


def cmd_health(args: argparse.Namespace) -> Json:
    kinds = health_kinds(args)
    pattern: re.Pattern[str] | None = None
    if args.log_pattern:
        try:
            pattern = re.compile(args.log_pattern)
        except re.error as exc:
            raise AgentError(
                "BAD_ARGUMENTS",
                f"--log-pattern {args.log_pattern!r} is not a regular expression: {exc}",
            ) from None
    started = time.monotonic()
    deadline = started + args.timeout
    baseline = unit_state(args.unit) if args.unit else None
    watch = UnitWatch(args.unit, args.stable, baseline) if "systemd" in kinds else None
    attempts = 0
    last_body: Any = None
    passed: dict[str, Any] = {}
    while True:
        attempts += 1
        remaining = max(0.1, deadline - time.monotonic())
        failing: list[tuple[str, Probe]] = []
        for kind in kinds:
            if kind in passed and kind != "systemd":
                continue  # an answer or a log line once seen stays seen; the unit must stay up
            if kind == "contract":
                probe = probe_health(
                    url=args.url,
                    timeout=min(args.request_timeout, remaining),
                    expect_version=args.expect_version,
                )
                if probe.body is not None:
                    last_body = probe.body
            elif kind == "http":
                probe = probe_http(args.url, min(args.request_timeout, remaining))
            elif kind == "log":
                assert pattern is not None
                probe = probe_log(args.unit, pattern)
            else:
                assert watch is not None
                probe = watch.probe()
            if probe.code is None:
                passed[kind] = probe.body
            else:
                passed.pop(kind, None)
                failing.append((kind, probe))
        elapsed = time.monotonic() - started
        if not failing:
            answer: Json = {"ok": True, "elapsed": round(elapsed, 3), "attempts": attempts}
            if kinds == ["contract"]:
                answer["health"] = passed["contract"]
            else:
                answer["kinds"] = kinds
                answer["checks"] = passed
                if "contract" in passed:
                    answer["health"] = passed["contract"]
            return answer
        if args.unit:
            check_crash_loop(args.unit, baseline, elapsed, args.since)
        if time.monotonic() >= deadline:
            first = failing[0][1]
            message = (
                first.message
                if len(kinds) == 1
                else "; ".join(f"{kind}: {probe.message}" for kind, probe in failing)
            )
            raise AgentError(
                str(first.code),
                f"{message} (still failing after {elapsed:.1f} s and {attempts} attempts)",
                last=last_body,
                elapsed=round(elapsed, 3),
                failing=[kind for kind, _ in failing],
            )
        time.sleep(max(0.0, min(args.interval, deadline - time.monotonic())))


def smoke_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.path.rstrip("/").endswith("/api/smoke"):
        return url
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, "/api/smoke", "", ""))


def cmd_smoke(args: argparse.Namespace) -> Json:
    url = smoke_url(args.url)
    data = json.dumps({"command": args.command}).encode()
    started = time.monotonic()
    deadline = started + args.timeout
    attempts = 0
    while True:
        attempts += 1
        remaining = max(0.1, deadline - time.monotonic())
        status, raw, problem = http_call(url, min(args.request_timeout, remaining), data)
        elapsed = time.monotonic() - started
        if problem is None and status in (404, 405, 501):
            raise AgentError(
                "SMOKE_UNREACHABLE",
                f"the smoke endpoint is missing: POST {url} answered HTTP {status}. The bot's "
                'status server must answer POST /api/smoke {"command": ...} with '
                '{"reply": ...} (see CONFIGURATION.md)',
                elapsed=round(elapsed, 3),
            )
        if problem is None and status is not None and 200 <= status < 300:
            try:
                body = strict_json(raw)
            except (UnicodeDecodeError, ValueError):
                body = None
            reply = body.get("reply") if isinstance(body, dict) else None
            if isinstance(reply, str) and args.expect in reply:
                return {
                    "ok": True,
                    "command": args.command,
                    "reply": reply,
                    "elapsed": round(elapsed, 3),
                }
            seen = (
                json.dumps(reply)
                if isinstance(reply, str)
                else raw[:200].decode("utf-8", "replace")
            )
            raise AgentError(
                "SMOKE_WRONG_ANSWER",
                f"the bot answered {args.command!r} with {seen}, which does not contain "
                f"{args.expect!r}. The new release does not handle basic commands",
                reply=reply,
                elapsed=round(elapsed, 3),
            )
        if problem is None:
            problem = Probe(
                "WRONG_ANSWER", f"POST {url} answered HTTP {status}: {raw[:200]!r}", status=status
            )
        if time.monotonic() >= deadline:
            raise AgentError(
                f"SMOKE_{problem.code}",
                f"smoke check {args.command!r} failed: {problem.message} (after {elapsed:.1f} s "
                f"and {attempts} attempts)",
                elapsed=round(elapsed, 3),
            )
        time.sleep(max(0.0, min(args.interval, deadline - time.monotonic())))


# --------------------------------------------------------------------------- prune
# After a successful deploy: old releases and stale uploads go; the rollback target stays.


def remove_tree(path: Path) -> None:
    """Rename first, so a half-deleted release never looks complete, then delete."""
    doomed = path.parent / f".{path.name}.deleting-{os.getpid()}"
    os.rename(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


def cmd_prune(args: argparse.Namespace) -> Json:
    layout = Layout(args.base).ensure()
    releases = layout.releases_list()
    current = layout.current_name()
    protected = {current}
    try:
        protected.add(rollback_target(layout)[0].name)
    except AgentError:
        pass
    newest_first = list(reversed(releases))
    keep = {r.name for r in newest_first[: args.keep]} | {n for n in protected if n}
    deleted = []
    for release in newest_first:
        if release.name not in keep:
            remove_tree(layout.releases / release.name)
            deleted.append(release.name)
    cleaned = []
    for entry in sorted(layout.releases.iterdir()):
        stale_tmp = entry.name.endswith(".tmp") and age_seconds(entry) > STALE_PART_SECONDS
        if ".deleting-" in entry.name or stale_tmp:
            shutil.rmtree(entry, ignore_errors=True)
            cleaned.append(f"releases/{entry.name}")
    for entry in sorted(layout.incoming.iterdir()):
        limit = STALE_PART_SECONDS if entry.name.endswith(".part") else STALE_INCOMING_SECONDS
        if entry.is_file() and age_seconds(entry) > limit:
            entry.unlink()
            cleaned.append(f"incoming/{entry.name}")
    for link in layout.stale_links():
        if age_seconds(link) > STALE_LINK_SECONDS:
            link.unlink()
            cleaned.append(link.name)
    return {
        "ok": True,
        "deleted": deleted,
        "kept": [r.name for r in releases if r.name not in deleted],
        "cleaned": cleaned,
    }


# --------------------------------------------------------------------------- ledger
# The run's last call: one line in BASE/ledger.jsonl. Its contract is
# config/contracts/ledger-entry.schema.json (from src/core/deploy/contracts.ts); the constants
# here are checked against it by test/agent/test_contracts.py.


ISO_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
LEDGER_KINDS = ("deploy", "rollback")
LEDGER_REQUIRED = ("kind", "env", "version", "outcome", "started", "ended")
LEDGER_OUTCOMES = ("succeeded", "failed", "rolled_back", "rollback_failed")
# Read as today's word, never written: appending one is refused.
LEGACY_OUTCOMES = {"success": "succeeded"}


# The driver writes 3 levels; a deeper line would not survive the trip back as JSON.
LEDGER_MAX_DEPTH = 32


def nesting_depth(value: Any) -> int:
    """How many lists and objects deep a parsed JSON value goes (iterative: no recursion limit)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, (dict, list)):
            deepest = max(deepest, depth)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return deepest


def ledger_line(line: bytes) -> Json | None:
    """One ledger line as an entry (legacy outcome words read as today's), or None when it is
    not one: not UTF-8, not JSON, not an object, or nested deeper than any entry is."""
    try:
        entry = json.loads(line.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # RecursionError: nested too deep
        return None
    brackets = line.count(b"[") + line.count(b"{")
    if brackets > LEDGER_MAX_DEPTH and nesting_depth(entry) > LEDGER_MAX_DEPTH:
        return None
    if not isinstance(entry, dict):
        return None
    outcome = entry.get("outcome")
    if isinstance(outcome, str) and outcome in LEGACY_OUTCOMES:
        entry["outcome"] = LEGACY_OUTCOMES[outcome]
    return entry


def read_ledger_tail(layout: Layout, keep: int | None) -> tuple[list[Json], int, int]:
    """The last `keep` good entries (all when None) oldest first, how many good entries there are
    and how many lines were corrupt (skipped: a line cut off mid-append, garbage). Read a line at
    a time, so memory follows `keep`, not the ledger's size."""
    entries: collections.deque[Json] = collections.deque(maxlen=keep)
    total = corrupt = 0
    try:
        fh = layout.ledger.open("rb")
    except FileNotFoundError:
        return [], 0, 0
    with fh:
        for line in fh:
            if not line.strip():
                continue
            entry = ledger_line(line)
            if entry is None:
                corrupt += 1
            else:
                total += 1
                entries.append(entry)
    return list(entries), total, corrupt


def read_ledger(layout: Layout) -> tuple[list[Json], int]:
    """Good entries oldest first, and how many lines were corrupt (skipped)."""
    entries, _, corrupt = read_ledger_tail(layout, None)
    return entries, corrupt


def check_ledger_entry(entry: Any) -> Json:
    if not isinstance(entry, dict):
        raise AgentError("BAD_LEDGER_ENTRY", "the ledger entry must be one JSON object")
    problems = []
    missing = [k for k in LEDGER_REQUIRED if k not in entry]
    if missing:
        problems.append("missing " + ", ".join(missing))
    if "kind" in entry and entry["kind"] not in LEDGER_KINDS:
        problems.append(f"kind must be one of {', '.join(LEDGER_KINDS)}")
    if isinstance(entry.get("outcome"), str) and entry["outcome"] not in LEDGER_OUTCOMES:
        problems.append(f"outcome must be one of {', '.join(LEDGER_OUTCOMES)}")
    for key in ("env", "version", "outcome"):
        if key in entry and (not isinstance(entry[key], str) or not entry[key]):
            problems.append(f"{key} must be a non-empty string")
    for key in ("started", "ended"):
        if key in entry and (not isinstance(entry[key], str) or not ISO_RE.match(entry[key])):
            problems.append(f"{key} must be a UTC ISO-8601 time such as 2026-11-26T21:00:00Z")
    if nesting_depth(entry) > LEDGER_MAX_DEPTH:
        # history reads a line this deep as corrupt: it would be written and never read back
        problems.append(f"it is nested deeper than {LEDGER_MAX_DEPTH} levels")
    leaked = sorted(secret_keys(entry))
    if leaked:
        problems.append(
            f"{', '.join(leaked)} look like secrets (keys named like password, secret, token or "
            "key must not hold values in the ledger)"
        )
    if problems:
        raise AgentError(
            "BAD_LEDGER_ENTRY", "refusing the ledger entry: " + "; ".join(problems) + "."
        )
    return entry


def append_ledger(layout: Layout, entry: Json) -> Json:
    """Validate, add the host, and append one line: O_APPEND, a single write, fsync."""
    entry = dict(check_ledger_entry(entry))
    entry["host"] = socket.gethostname()
    line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
    fd = os.open(layout.ledger, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        write_all(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def cmd_ledger_append(args: argparse.Namespace) -> Json:
    layout = Layout(args.base).ensure()
    entry = read_stdin_json("BAD_LEDGER_ENTRY", "the ledger entry")
    return {"ok": True, "entry": append_ledger(layout, entry)}


def cmd_history(args: argparse.Namespace) -> Json:
    entries, total, corrupt = read_ledger_tail(Layout(args.base), args.limit)
    return {"ok": True, "entries": list(reversed(entries)), "total": total, "corrupt": corrupt}


# --------------------------------------------------------------------------- rollback
# Which release to go back to (a manual rollback's first call; a failed deploy's rollback
# switches to `switch`'s previous release instead).


def rollback_target(layout: Layout, to_version: str | None = None) -> tuple[Release, str]:
    """The release to go back to, and why it was chosen ("ledger", "older", "newest", "version")."""
    releases = layout.releases_list()
    current = layout.current_name()
    by_name = {r.name: r for r in releases}
    others = [r for r in releases if r.name != current]
    listing = describe_releases(releases, current)
    if to_version is not None:
        matches = [r for r in others if r.version == to_version]
        if matches:
            return matches[-1], "version"
        if any(r.version == to_version for r in releases):
            raise AgentError(
                "NO_SUCH_VERSION",
                f"version {to_version} is the live release ({current}); nothing to roll back to. "
                f"{listing[0].upper() + listing[1:]}",
            )
        raise AgentError(
            "NO_SUCH_VERSION",
            f"version {to_version} is not on the host (it may have been pruned); {listing}. "
            "Pick one of those, or deploy that version again",
        )
    entries, _ = read_ledger(layout)
    for entry in reversed(entries):
        release = entry.get("release")
        went_live = entry.get("outcome") == "succeeded" and isinstance(release, str)
        if went_live and release != current and release in by_name:
            return by_name[release], "ledger"
    if not others:
        raise AgentError(
            "NO_PREVIOUS_RELEASE",
            f"there is no previous release to roll back to: {listing}. "
            "Deploy a known-good version instead",
        )
    live = by_name.get(current or "")
    older = [r for r in others if live is not None and (r.ts, r.name) < (live.ts, live.name)]
    if older:
        return older[-1], "older"
    return others[-1], "newest"


def cmd_rollback_target(args: argparse.Namespace) -> Json:
    layout = Layout(args.base).ensure()
    release, reason = rollback_target(layout, args.to)
    return {
        "ok": True,
        "release": release.name,
        "version": release.version,
        "current": layout.current_name(),
        "reason": reason,
    }


# --------------------------------------------------------------------------- status
# Read-only: what is live, what is installed, whether it is healthy and who holds the lock.


def release_version(layout: Layout, name: str) -> str | None:
    try:
        manifest = json.loads((layout.releases / name / "manifest.json").read_text("utf-8"))
        version = manifest.get("version")
        if isinstance(version, str):
            return version
    except (OSError, ValueError, AttributeError):
        pass
    match = RELEASE_RE.match(name)
    return match["version"] if match else None


def cmd_status(args: argparse.Namespace) -> Json:
    layout = Layout(args.base)
    out: Json = {
        "ok": True,
        "current": None,
        "version": None,
        "releases": [],
        "lock": None,
        "stale": [],
        "problems": [],
    }
    if layout.base.is_dir():
        current = layout.current_name()
        out["current"] = current
        out["releases"] = [r.name for r in layout.releases_list()]
        if current is not None:
            out["version"] = release_version(layout, current)
            if not release_complete(layout, current):
                out["problems"].append(
                    f"current points at releases/{current}, which is missing or incomplete; "
                    "switch to an installed release"
                )
        elif os.path.lexists(layout.current):
            out["problems"].append("current exists but is not a symlink")
        out["lock"] = current_holder(layout)
        if out["lock"] is None and layout.lock_info.exists():
            out["stale"].append("deploy.lock.json (its holder is gone; the lock is free)")
        out["stale"] += [p.name for p in layout.stale_links()]
        if layout.releases.is_dir():
            out["stale"] += [
                f"releases/{p.name}"
                for p in sorted(layout.releases.iterdir())
                if p.name.endswith(".tmp") or ".deleting-" in p.name
            ]
    if args.url:
        probe = probe_health(args.url, args.request_timeout, None)
        if probe.code is None:
            out["health"] = {"ok": True, "body": probe.body}
        else:
            out["health"] = {
                "ok": False,
                "code": probe.code,
                "message": probe.message,
                "body": probe.body,
            }
    return out


# --------------------------------------------------------------------------- arguments
# The command line: one subcommand per call above.


class Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise AgentError(
            "BAD_ARGUMENTS",
            f"{message}. Usage: {self.format_usage().strip().removeprefix('usage: ')}",
        )


def typed(pattern: re.Pattern[str], what: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if not pattern.match(value):
            raise argparse.ArgumentTypeError(f"{value!r} is not a valid {what}")
        return value

    return check


def sha256_arg(value: str) -> str:
    if not SHA256_RE.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a sha256 (64 hex digits)")
    return value.lower()


def seconds(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not number >= 0 or number == float("inf"):
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds >= 0")
    return number


def count(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 0")
    return number


def url_arg(value: str) -> str:
    try:
        parts = urllib.parse.urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        raise argparse.ArgumentTypeError(f"{value!r} is not an http(s) URL with a valid port")
    return value


def base_arg(value: str) -> Path:
    if not value:
        raise argparse.ArgumentTypeError("must not be empty")
    return Path(value).absolute()


Handler = Callable[[argparse.Namespace], Optional[Json]]


def build_parser() -> Parser:
    parser = Parser(prog="shipit_agent.py", description="shipit's host agent (JSON out)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    run = typed(NAME_RE, "run id (letters, digits, '.', '_', '-')")

    def command(name: str, handler: Handler, base: bool = True) -> Parser:
        p: Parser = sub.add_parser(name, help=(handler.__doc__ or "").strip() or None)
        p.add_argument("--base", type=base_arg, required=base, help="the environment's folder")
        p.set_defaults(handler=handler)
        return p

    p = command("lock", cmd_lock)
    p.add_argument("--run", type=run, required=True)
    p.add_argument("--version", default="unknown")
    p.add_argument("--trigger", default="manual")
    p.add_argument("--wait", type=seconds, default=0.0)

    p = command("receive", cmd_receive)
    p.add_argument("--run", type=run, required=True)
    p.add_argument("--sha256", type=sha256_arg, required=True)

    p = command("install", cmd_install)
    p.add_argument("--run", type=run, required=True)
    p.add_argument("--sha256", type=sha256_arg, required=True)
    p.add_argument("--python", default="python3")
    p.add_argument("--max-unpacked-mb", type=count, default=MAX_UNPACKED_MB)
    p.add_argument("--max-entries", type=count, default=MAX_ENTRIES)

    p = command("configure", cmd_configure)
    p.add_argument("--run", type=run, required=True)
    p.add_argument("--release", type=typed(RELEASE_RE, "release name"))

    p = command("switch", cmd_switch)
    p.add_argument("--run", type=run, required=True)
    p.add_argument("--release", type=typed(RELEASE_RE, "release name"), required=True)

    unit = typed(UNIT_RE, "systemd unit name")
    p = command("restart", cmd_restart, base=False)
    p.add_argument("--unit", type=unit, required=True)
    p.add_argument("--timeout", type=seconds, default=120.0)
    p.add_argument("--sudo", action="store_true", help="run systemctl through sudo -n")

    p = command("health", cmd_health, base=False)
    p.add_argument("--kind", action="append", choices=["contract", "http", "systemd", "log"])
    p.add_argument("--url", type=url_arg)
    p.add_argument("--stable", type=seconds, default=5.0)
    p.add_argument("--log-pattern")
    p.add_argument("--timeout", type=seconds, required=True)
    p.add_argument("--expect-version")
    p.add_argument("--interval", type=seconds, default=0.5)
    p.add_argument("--request-timeout", type=seconds, default=5.0)
    p.add_argument("--unit", type=unit)
    # the restart's wall clock: journal lines from it on
    p.add_argument("--since", type=float)

    p = command("smoke", cmd_smoke, base=False)
    p.add_argument("--url", type=url_arg, required=True)
    p.add_argument("--command", default="!ping")
    p.add_argument("--expect", default="pong")
    p.add_argument("--timeout", type=seconds, default=10.0)
    p.add_argument("--interval", type=seconds, default=0.5)
    p.add_argument("--request-timeout", type=seconds, default=5.0)

    p = command("rollback-target", cmd_rollback_target)
    p.add_argument("--to", type=typed(VERSION_RE, "version"))

    p = command("prune", cmd_prune)
    p.add_argument("--keep", type=count, required=True)

    command("ledger-append", cmd_ledger_append)

    p = command("history", cmd_history)
    p.add_argument("--limit", type=count, default=20)

    p = command("status", cmd_status)
    p.add_argument("--url", type=url_arg)
    p.add_argument("--request-timeout", type=seconds, default=3.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        args = build_parser().parse_args(argv)
        result = args.handler(args)
    except AgentError as exc:
        emit(exc.payload())
        return exc.exit_code
    except KeyboardInterrupt:
        emit(AgentError("INTERRUPTED", "interrupted; nothing live was changed").payload())
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - one JSON answer, whatever happens
        emit(
            AgentError(
                "INTERNAL_ERROR",
                f"the agent failed unexpectedly: {type(exc).__name__}: {exc}. Report this with "
                "the command that was run",
            ).payload()
        )
        return EXIT_ERROR
    if result is not None:
        emit(result)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
