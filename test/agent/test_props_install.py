"""Property tests (hypothesis) for install: generated hostile tarballs against a live release.

Each case is uploaded with `receive` and given to `install` beside a real installed live release
that `current` points at, in a sandbox folder that also holds a folder outside the environment.
A refusal must carry a stable code, and change nothing in the sandbox (the live release, `current`,
the upload, the outside folder: hashed before and after). An accepted case may add only its own
release folder, and no link in it may lead out of it.

Seeded and reproducible: `derandomize=True` (the seed comes from the test's name), no example
database. A failure prints the shrunk case (hypothesis's "Falsifying example").
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shipit_agent as agent
from conftest import LockHolder, Result, changes, props, report, run_agent, snapshot

TOP = "bot-1.0.0"
# The agent's bound on what an artifact unpacks to, lowered for these runs so that a bomb
# stays small here: --max-unpacked-mb 2.
LIMIT_MB = 2
LIMIT = LIMIT_MB << 20
REFUSALS = {
    "UNSAFE_ARTIFACT",
    "BAD_ARTIFACT",
    "BAD_MANIFEST",
    "MANIFEST_MISMATCH",
    "ARTIFACT_TOO_LARGE",
    "PIP_FAILED",
}
APP = {"bot/__init__.py": b"", "bot/main.py": b"print('hello')\n"}


# --------------------------------------------------------------------------- the sandbox


@dataclass
class Sandbox:
    root: Path
    base: Path
    live: str
    python: Path
    tree: dict[str, tuple[str, ...]]  # the whole sandbox between cases (no upload)
    cases: int = 0

    def install(self, data: bytes) -> tuple[Result, list[str]]:
        """Upload one archive (as receive leaves it) and install it; the answer, what changed."""
        self.cases += 1
        sha = hashlib.sha256(data).hexdigest()
        upload = self.base / "incoming" / "r1.tar.gz"
        upload.write_bytes(data)
        upload.chmod(0o600)
        before = dict(self.tree)
        before["srv/bot/incoming/r1.tar.gz"] = ("file", oct(os.lstat(upload).st_mode), sha)
        argv = ["install", "--base", self.base, "--run", "r1", "--sha256", sha]
        answer = run_agent(argv + ["--python", self.python, "--max-unpacked-mb", LIMIT_MB])
        changed = changes(before, snapshot(self.root))
        self.check(answer, changed)
        return answer, changed

    def check(self, answer: Result, changed: list[str]) -> None:
        # The snapshot covers the live release and `current`; said again here for the reader.
        assert os.readlink(self.base / "current") == f"releases/{self.live}"
        if answer.code != 0:
            assert answer.error["code"] in REFUSALS, answer.error
            assert changed == [], f"a refused install changed {changed}"
            return
        new = f"srv/bot/releases/{answer.out['release']}"
        release = self.root / new
        try:
            stray = [
                c
                for c in changed
                if c != "srv/bot/incoming/r1.tar.gz" and c != new and not c.startswith(new + "/")
            ]
            assert not (self.base / "incoming" / "r1.tar.gz").exists()
            assert stray == [], f"install wrote outside its release folder: {stray}"
            real = os.path.realpath(release)
            for dirpath, dirs, files in os.walk(release):
                dirs[:] = [d for d in dirs if d != ".venv"]  # made by the tiny python here
                for name in dirs + files:
                    path = Path(dirpath) / name
                    if path.is_symlink() and name not in ("config.json", "data"):
                        target = os.path.realpath(path)
                        assert agent.inside(real, target), f"{path} leads out to {target}"
        finally:
            shutil.rmtree(release)


TINY_PYTHON = """\
#!/bin/sh
# python3 for install's venv step, in a few milliseconds: a venv folder whose python is this one.
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  mkdir -p "$3/bin" && ln -s "{python}" "$3/bin/python" && : > "$3/pyvenv.cfg"
  exit 0
fi
exec "{python}" "$@"
"""


@pytest.fixture
def sandbox(tmp_path: Path, make_artifact: Any, fast_python: Path) -> Any:
    """A live release (really installed and switched to), the lock held, a folder outside."""
    root = tmp_path / "sandbox"
    base = root / "srv" / "bot"
    (root / "outside").mkdir(parents=True)
    (root / "outside" / "keep.txt").write_text("outside\n")
    python = tmp_path / "tiny-python"
    python.write_text(TINY_PYTHON.format(python=os.path.realpath(shutil.which("python3") or "")))
    python.chmod(0o755)
    holder = LockHolder(base, "r1")
    try:
        art = make_artifact(version="0.9.0")
        got = run_agent(
            ["receive", "--base", base, "--run", "r1", "--sha256", art.sha], art.bytes()
        )
        assert got.code == 0, got.out
        argv = ["install", "--base", base, "--run", "r1", "--sha256", art.sha]
        got = run_agent(argv + ["--python", fast_python])
        assert got.code == 0, got.out
        live = got.out["release"]
        got = run_agent(["switch", "--base", base, "--run", "r1", "--release", live])
        assert got.code == 0, got.out
        assert not (base / "incoming" / "r1.tar.gz").exists()
        yield Sandbox(root, base, live, python, snapshot(root))
    finally:
        holder.release()


# --------------------------------------------------------------------------- archives


@dataclass(frozen=True)
class Member:
    """One tar entry: kind is file, dir, symlink, hardlink, chr, blk, fifo or bomb."""

    name: str
    kind: str = "file"
    data: bytes = b""
    link: str = ""
    size: int = 0


def tar_info(m: Member) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(m.name)
    info.mode = 0o644
    if m.kind in ("file", "bomb"):
        data = m.data if m.kind == "file" else bytes(m.size)
        info.size = len(data)
        return info, data
    kinds = {
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "chr": tarfile.CHRTYPE,
        "blk": tarfile.BLKTYPE,
        "fifo": tarfile.FIFOTYPE,
    }
    info.type = kinds[m.kind]
    info.linkname = m.link
    return info, None


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest_for(members: list[Member], mutation: str = "ok") -> bytes | None:
    """manifest.json listing the regular files under TOP, changed as `mutation` says."""
    files = {
        m.name[len(TOP) + 1 :]: digest(m.data)
        for m in members
        if m.kind == "file" and m.name.startswith(TOP + "/")
    }
    doc: dict[str, Any] = {"name": "bot", "version": "1.0.0", "files": files}
    if mutation == "missing":
        return None
    if mutation == "unlisted" and files:
        files.pop(min(files))
    if mutation == "wrong-sha" and files:
        files[max(files)] = "0" * 64
    if mutation == "ghost":
        files["bot/ghost.py"] = digest(b"ghost")
    if mutation == "not-json":
        return b'{"name": "bot", "version": '
    if mutation == "not-utf8":
        return b'{"name": "\xff\xfe"}'
    if mutation == "nested":
        return b"[" * 100_000 + b"]" * 100_000
    if mutation == "array":
        return b"[1, 2]"
    if mutation == "bad-version":
        doc["version"] = "../../1"
    if mutation == "other-name":
        doc["name"] = "other"
    if mutation == "files-list":
        doc["files"] = sorted(files)
    if mutation == "unsafe-listed":
        doc["files"] = {**files, "../../outside/keep.txt": "0" * 64}
    if mutation == "requirements-string":
        doc["requirements"] = "requirements.txt"
    if mutation == "requirements-unlisted":
        doc["requirements"] = ["nope.txt"]
    if mutation in ("requirements-not-utf8", "requirements-real", "requirements-comments"):
        doc["requirements"] = ["requirements.txt"]
    if mutation == "huge":
        doc["padding"] = "x" * (agent.MAX_JSON_INPUT + 10)
    return json.dumps(doc).encode()


REQUIREMENT_FILES = {
    "requirements-not-utf8": b"\xff\xfe not utf-8\n",
    "requirements-real": b"shipit-hello==1.0\n",
    "requirements-comments": b"# nothing\n",
}


def archive(
    members: list[Member], mutation: str = "ok", extra_manifest: int = -1, level: int = 1
) -> bytes:
    """A .tar.gz: TOP/, the members, and manifest.json (at position extra_manifest, or last)."""
    entries = [Member(TOP + "/", "dir"), *members]
    if mutation in REQUIREMENT_FILES:
        entries.append(Member(f"{TOP}/requirements.txt", data=REQUIREMENT_FILES[mutation]))
    manifest = manifest_for(entries, mutation)
    if manifest is not None:
        m = Member(f"{TOP}/manifest.json", data=manifest)
        if extra_manifest < 0:
            entries.append(m)
        else:
            entries.insert(min(extra_manifest, len(entries)), m)
    buf = io.BytesIO()
    with (
        gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=level, mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for m in entries:
            info, data = tar_info(m)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def app(extra: list[Member] | None = None) -> list[Member]:
    return [Member(f"{TOP}/{rel}", data=data) for rel, data in APP.items()] + (extra or [])


# --------------------------------------------------------------------------- strategies

PART = st.sampled_from(["a", "b", "bot", "sub", "main.py", ".", "..", "", "x" * 300, "é"])
REL = st.lists(PART, min_size=1, max_size=4).map("/".join)
SAFE_PART = st.sampled_from(["a", "b", "sub", "c.txt"])
SAFE_REL = st.lists(SAFE_PART, min_size=1, max_size=3).map("/".join)


def names(root: Path) -> st.SearchStrategy[str]:
    """Entry names: mostly under the top folder, and every way out of it."""
    return st.one_of(
        REL.map(lambda r: f"{TOP}/{r}"),
        REL.map(lambda r: f"./{TOP}/{r}"),
        REL.map(lambda r: f"{TOP}\\{r}"),
        REL.map(lambda r: f"other-1.0.0/{r}"),
        REL.map(lambda r: f"{root}/outside/{r}"),
        REL.map(lambda r: f"/{r}"),
        st.just(TOP),
    )


def link_targets(root: Path) -> st.SearchStrategy[str]:
    return st.one_of(
        REL,
        st.integers(1, 6).flatmap(lambda n: REL.map(lambda r: "../" * n + r)),
        st.sampled_from([f"{root}/outside", f"{root}/srv/bot/current", "/etc/passwd", "."]),
        REL.map(lambda r: f"{TOP}/{r}"),
    )


def members(root: Path) -> st.SearchStrategy[Member]:
    name = names(root)
    return st.one_of(
        st.builds(Member, name, st.just("file"), st.binary(max_size=64)),
        st.builds(Member, name, st.just("dir")),
        st.builds(Member, name, st.just("symlink"), st.just(b""), link_targets(root)),
        st.builds(Member, name, st.just("hardlink"), st.just(b""), link_targets(root)),
        st.builds(Member, name, st.sampled_from(["chr", "blk", "fifo"])),
        st.builds(
            Member, name, st.just("bomb"), size=st.integers(LIMIT - 4096, LIMIT + (LIMIT >> 1))
        ),
    )


MUTATIONS = st.sampled_from(
    [
        "ok",
        "missing",
        "unlisted",
        "wrong-sha",
        "ghost",
        "not-json",
        "not-utf8",
        "nested",
        "array",
        "bad-version",
        "other-name",
        "files-list",
        "unsafe-listed",
        "requirements-string",
        "requirements-unlisted",
        "requirements-not-utf8",
        "requirements-real",
        "requirements-comments",
        "huge",
    ]
)


def corrupt(data: bytes, how: str, where: float, byte: int) -> bytes:
    """Byte-level damage to a finished .tar.gz."""
    at = int(where * (len(data) - 1))
    if how == "truncate":
        return data[:at]
    if how == "flip":
        return data[:at] + bytes([data[at] ^ (byte or 1)]) + data[at + 1 :]
    if how == "garbage-after":
        return data + bytes([byte]) * 64
    if how == "plain-tar":
        return gzip.decompress(data)
    return data


# --------------------------------------------------------------------------- the properties

EXAMPLES = {"chaos": 220, "hostile": 150, "bomb": 40, "manifest": 80, "gzip": 100}


def test_any_generated_archive_is_refused_with_a_code_or_installed_safely(sandbox: Any) -> None:
    sb: Sandbox = sandbox

    @props(EXAMPLES["chaos"])
    @given(
        extra=st.lists(members(sb.root), max_size=6),
        position=st.integers(0, 8),
        mutation=MUTATIONS,
        damage=st.sampled_from(["none", "none", "none", "truncate", "flip", "garbage-after"]),
        where=st.floats(0, 1),
        byte=st.integers(0, 255),
    )
    def check(
        extra: list[Member], position: int, mutation: str, damage: str, where: float, byte: int
    ) -> None:
        members = app()
        for i, m in enumerate(extra):
            members.insert((position + i) % (len(members) + 1), m)
        data = corrupt(archive(members, mutation, position % 4), damage, where, byte)
        sb.install(data)

    check()
    report("install, any archive", sb.cases, EXAMPLES["chaos"])


HOSTILE_KINDS = [
    "absolute",
    "absolute-outside",
    "dotdot",
    "symlink-out",
    "symlink-absolute",
    "hardlink-out",
    "hardlink-absolute",
    "hardlink-later",
    "hardlink-to-symlink",
    "device",
    "fifo",
    "duplicate",
    "file-under-file",
    "other-top",
    "through-symlink",
    "relinked",
]


def hostile(kind: str, root: Path, rel: str, depth: int) -> list[Member]:
    """One way out (or one forbidden entry) in an otherwise valid artifact."""
    at = f"{TOP}/{rel}"
    up = "../" * (rel.count("/") + 1 + depth)
    return {
        "absolute": [Member(f"/{rel}", data=b"x")],
        "absolute-outside": [Member(f"{root}/outside/{rel}", data=b"x")],
        "dotdot": [Member(f"{TOP}/{up}{rel}", data=b"x")],
        "symlink-out": [Member(at, "symlink", link=f"{up}outside")],
        "symlink-absolute": [Member(at, "symlink", link=f"{root}/outside")],
        "hardlink-out": [Member(at, "hardlink", link=f"other-1.0.0/{rel}")],
        "hardlink-absolute": [Member(at, "hardlink", link=f"{root}/outside/keep.txt")],
        "hardlink-later": [Member(at, "hardlink", link=f"{TOP}/{rel}.later")],
        "hardlink-to-symlink": [
            Member(f"{TOP}/s", "symlink", link="bot/main.py"),
            Member(f"{TOP}/{rel}.h", "hardlink", link=f"{TOP}/s"),
        ],
        "device": [Member(at, "chr")],
        "fifo": [Member(at, "fifo")],
        "duplicate": [Member(at, data=b"1"), Member(at, data=b"2")],
        "file-under-file": [Member(f"{TOP}/f", data=b"1"), Member(f"{TOP}/f/{rel}", data=b"2")],
        "other-top": [Member(f"other-1.0.0/{rel}", data=b"x")],
        # each link resolves inside when it is made; a/.. leads out once s -> . exists
        "relinked": [
            Member(f"{TOP}/{rel}", "symlink", link="s/" + "../" * (rel.count("/") + 1)),
            Member(f"{TOP}/{rel.rpartition('/')[0]}/s".replace("//", "/"), "symlink", link="."),
        ],
        "through-symlink": [
            Member(f"{TOP}/d", "symlink", link=f"{up}outside"),
            Member(f"{TOP}/d/{rel}", data=b"x"),
        ],
    }[kind]


def test_every_hostile_entry_is_refused_as_unsafe(sandbox: Any) -> None:
    sb: Sandbox = sandbox

    @props(EXAMPLES["hostile"])
    @given(
        kind=st.sampled_from(HOSTILE_KINDS),
        rel=SAFE_REL,
        depth=st.integers(0, 3),
        position=st.integers(0, 3),
    )
    def check(kind: str, rel: str, depth: int, position: int) -> None:
        members = app()
        for i, m in enumerate(hostile(kind, sb.root, rel, depth)):
            members.insert(min(position + i, len(members)), m)
        got, _ = sb.install(archive(members))
        assert got.code == 1, (kind, got.out)
        assert got.error["code"] == "UNSAFE_ARTIFACT", (kind, got.error)

    check()
    report("install, hostile entries", sb.cases, EXAMPLES["hostile"])


def test_a_bomb_is_refused_before_it_is_unpacked(sandbox: Any) -> None:
    sb: Sandbox = sandbox

    @props(EXAMPLES["bomb"])
    @given(
        size=st.integers(LIMIT + 1, 8 * LIMIT),
        count=st.integers(1, 3),
        before_manifest=st.booleans(),
    )
    def check(size: int, count: int, before_manifest: bool) -> None:
        bombs = [Member(f"{TOP}/bomb{i}.bin", "bomb", size=size // count + 1) for i in range(count)]
        data = archive(app(bombs), extra_manifest=1 if not before_manifest else -1, level=9)
        assert len(data) < size // 50  # far larger than the archive
        got, _ = sb.install(data)
        assert got.error["code"] == "ARTIFACT_TOO_LARGE", got.error
        assert f"more than {LIMIT_MB} MiB" in got.error["message"]

    check()
    report("install, bombs", sb.cases, EXAMPLES["bomb"])


MANIFEST_CODES = {
    "missing": "BAD_MANIFEST",
    "unlisted": "MANIFEST_MISMATCH",
    "wrong-sha": "MANIFEST_MISMATCH",
    "ghost": "MANIFEST_MISMATCH",
    "not-json": "BAD_MANIFEST",
    "not-utf8": "BAD_MANIFEST",
    "nested": "BAD_MANIFEST",
    "array": "BAD_MANIFEST",
    "bad-version": "BAD_MANIFEST",
    "other-name": "BAD_MANIFEST",
    "files-list": "BAD_MANIFEST",
    "unsafe-listed": "MANIFEST_MISMATCH",
    "requirements-string": "BAD_MANIFEST",
    "requirements-unlisted": "BAD_MANIFEST",
    "requirements-not-utf8": "BAD_MANIFEST",
    "requirements-real": "PIP_FAILED",
    "huge": "BAD_MANIFEST",
}


def test_a_manifest_missing_or_disagreeing_with_the_files_is_refused(sandbox: Any) -> None:
    sb: Sandbox = sandbox

    @props(EXAMPLES["manifest"])
    @given(
        mutation=st.sampled_from(sorted(MANIFEST_CODES)),
        files=st.dictionaries(SAFE_REL.map(lambda r: f"bot/{r}.py"), st.binary(max_size=32)),
        position=st.integers(0, 4),
    )
    def check(mutation: str, files: dict[str, bytes], position: int) -> None:
        extra = [Member(f"{TOP}/{rel}", data=data) for rel, data in files.items()]
        got, _ = sb.install(archive(app(extra), mutation, position))
        assert got.error["code"] == MANIFEST_CODES[mutation], (mutation, got.error)

    check()
    report("install, manifests", sb.cases, EXAMPLES["manifest"])


def test_a_truncated_or_damaged_gzip_is_refused(sandbox: Any) -> None:
    sb: Sandbox = sandbox

    @props(EXAMPLES["gzip"])
    @given(
        how=st.sampled_from(["truncate", "flip", "plain-tar"]),
        where=st.floats(0, 0.999),
        byte=st.integers(1, 255),
        body=st.binary(min_size=0, max_size=2048),
    )
    def check(how: str, where: float, byte: int, body: bytes) -> None:
        data = corrupt(archive(app([Member(f"{TOP}/bot/blob.bin", data=body)])), how, where, byte)
        got, _ = sb.install(data)
        if how in ("truncate", "plain-tar"):
            assert got.error["code"] == "BAD_ARTIFACT", (how, got.error)
        # A flipped byte may still inflate to an archive: then its files fail the manifest.

    check()
    report("install, damaged gzip", sb.cases, EXAMPLES["gzip"])


# --------------------------------------------------------------------------- regressions
# The shrunk cases the properties above found, each fixed in shipit_agent.py, kept as plain
# tests. Before the fix, each of these ended in INTERNAL_ERROR or was accepted.


@pytest.mark.parametrize(
    ("members", "mutation", "damage", "code", "fragment"),
    [
        # The gzip stream cut in its last blocks was accepted (tarfile stops at a cut header).
        (app([Member(f"{TOP}/bot/blob.bin")]), "ok", 0.9375, "BAD_ARTIFACT", "not a readable"),
        # A requirements file that is not UTF-8: UnicodeDecodeError.
        (app(), "requirements-not-utf8", None, "BAD_MANIFEST", "is not UTF-8 text"),
        # A file under a file: FileExistsError from mkdir.
        (
            app([Member(f"{TOP}/f", data=b"1"), Member(f"{TOP}/f/a", data=b"2")]),
            "ok",
            None,
            "UNSAFE_ARTIFACT",
            "entry 'bot-1.0.0/f/a' is under an entry that is not a folder",
        ),
        # A member larger than the bound: unpacked in full (there was no bound).
        (
            app([Member(f"{TOP}/bomb.bin", "bomb", size=LIMIT + 1)]),
            "ok",
            None,
            "ARTIFACT_TOO_LARGE",
            f"it unpacks to more than {LIMIT_MB} MiB (at entry 'bot-1.0.0/bomb.bin'",
        ),
        # A manifest nested 100000 deep: RecursionError from json.loads.
        (app(), "nested", None, "BAD_MANIFEST", "manifest.json is not valid JSON"),
        # Each link inside when made; a -> s/.. leads out once s -> . exists.
        (
            app(hostile("relinked", Path("/"), "a", 0)),
            "ok",
            None,
            "UNSAFE_ARTIFACT",
            "entry 'bot-1.0.0/a' is a link pointing outside ('s/../', through links)",
        ),
    ],
    ids=["cut-gzip", "requirements-not-utf8", "file-under-file", "bomb", "nested", "relinked"],
)
def test_regressions_found_by_the_properties(
    sandbox: Any,
    members: list[Member],
    mutation: str,
    damage: float | None,
    code: str,
    fragment: str,
) -> None:
    data = archive(members, mutation)
    if damage is not None:
        data = corrupt(data, "truncate", damage, 0)
    got, changed = sandbox.install(data)
    assert got.code == 1, got.out
    assert got.error["code"] == code
    assert fragment in got.error["message"]
    assert changed == []


def test_the_bound_is_the_default_without_the_flag(tmp_path: Path) -> None:
    big = tmp_path / "big.tar.gz"
    big.write_bytes(archive(app([Member(f"{TOP}/bomb.bin", "bomb", size=LIMIT + 1)])))
    dest = tmp_path / "dest"
    dest.mkdir()
    assert agent.safe_extract(big, dest) == TOP  # the default bound (1024 MiB) lets it in
    again = tmp_path / "again"
    again.mkdir()
    with pytest.raises(agent.AgentError) as err:
        agent.safe_extract(big, again, agent.Budget(max_mb=1024, max_entries=3))
    assert err.value.code == "ARTIFACT_TOO_LARGE"
    assert "it has more than 3 entries" in err.value.message
    assert agent.MAX_UNPACKED_MB == 1024
