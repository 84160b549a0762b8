"""receive and install: sha256 on the way in, safe extraction, manifest check, offline venv."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any

import pytest

import shipit_agent as agent
from conftest import (
    PROC_TIMEOUT,
    Artifact,
    entry,
    fake_release,
    point_current,
    retar,
    spawn,
    tar_of,
    wait_for,
)

# --------------------------------------------------------------------------- receive


def test_receive_streams_checks_and_renames(call: Any, base: Path, make_artifact: Any) -> None:
    art = make_artifact()
    got = call(
        "receive", "--base", base, "--run", "r1", "--sha256", art.sha.upper(), stdin=art.bytes()
    )
    assert got.out == {
        "ok": True,
        "path": str(base / "incoming" / "r1.tar.gz"),
        "bytes": len(art.bytes()),
        "sha256": art.sha,
    }
    assert (base / "incoming" / "r1.tar.gz").read_bytes() == art.bytes()
    assert not (base / "incoming" / "r1.tar.gz.part").exists()


def test_receive_refuses_a_mismatch_and_keeps_nothing(
    call: Any, base: Path, make_artifact: Any
) -> None:
    art = make_artifact()
    fake_release(base, "0.9.0-20260101T000000Z")
    point_current(base, "0.9.0-20260101T000000Z")
    cut = art.bytes()[: len(art.bytes()) // 2]
    got = call("receive", "--base", base, "--run", "r1", "--sha256", art.sha, stdin=cut)
    assert got.code == 1
    assert got.error["code"] == "SHA256_MISMATCH"
    actual = hashlib.sha256(cut).hexdigest()
    assert (
        f"expected sha256 {art.sha}, got {actual} ({len(cut)} bytes received)"
        in (got.error["message"])
    )
    assert "nothing on the host was changed" in got.error["message"]
    assert list((base / "incoming").iterdir()) == []
    assert os.readlink(base / "current") == "releases/0.9.0-20260101T000000Z"


def test_a_connection_cut_mid_upload_leaves_only_a_part_file(
    base: Path, make_artifact: Any, proc: Any
) -> None:
    art = make_artifact(files={"bot/big.bin": "x" * 300_000})
    fake_release(base, "0.9.0-20260101T000000Z")
    point_current(base, "0.9.0-20260101T000000Z")
    receiver = spawn("receive", "--base", base, "--run", "r1", "--sha256", art.sha)
    assert receiver.stdin is not None
    receiver.stdin.write(art.bytes()[:1000])
    receiver.stdin.flush()
    part = base / "incoming" / "r1.tar.gz.part"
    wait_for(lambda: part.exists() and part.stat().st_size == 1000)
    receiver.kill()
    receiver.communicate(timeout=PROC_TIMEOUT)
    assert sorted(p.name for p in (base / "incoming").iterdir()) == ["r1.tar.gz.part"]
    status = proc("status", "--base", base)
    assert status.out["current"] == "0.9.0-20260101T000000Z"
    assert status.out["problems"] == []


# --------------------------------------------------------------------------- install


def test_install_makes_a_complete_release(
    install: Any, base: Path, make_artifact: Any, hold: Any
) -> None:
    hold("r1")
    art = make_artifact(version="1.4.0")
    got = install(art, "r1")
    assert got.code == 0, got.out
    name = got.out["release"]
    assert agent.RELEASE_RE.match(name) and name.startswith("1.4.0-")
    assert got.out["version"] == "1.4.0"
    assert set(got.out["durations"]) == {"unpack", "venv"}
    release = base / "releases" / name
    assert (release / "bot" / "main.py").read_text().startswith('VERSION = "x"')
    assert os.readlink(release / "config.json") == "../../shared/config.json"
    assert os.readlink(release / "data") == "../../shared/data"
    assert (release / "data").resolve() == (base / "shared" / "data").resolve()
    assert (release / ".venv" / "bin" / "python").exists()
    manifest = json.loads((release / "manifest.json").read_text())
    assert manifest["version"] == "1.4.0"
    assert stat.S_IMODE((release / "bot" / "main.py").stat().st_mode) == 0o644
    assert list((base / "incoming").iterdir()) == []
    assert [p.name for p in (base / "releases").iterdir()] == [name]
    assert not (base / "current").exists()  # install never switches


def test_install_keeps_exec_bits(
    install: Any, base: Path, make_artifact: Any, hold: Any, tmp_path: Path
) -> None:
    hold("r1")
    art = make_artifact()
    script = entry(
        "bot-1.0.0/bot/run.sh", b"#!/bin/sh\necho hi\n", type=tarfile.REGTYPE, mode=0o755
    )
    digest = hashlib.sha256(script[1] or b"").hexdigest()

    def add_to_manifest(name: str, data: bytes) -> bytes:
        if name.endswith("manifest.json"):
            manifest = json.loads(data)
            manifest["files"]["bot/run.sh"] = digest
            return json.dumps(manifest).encode()
        return data

    art = retar(art, tmp_path / "x.tar.gz", add_to_manifest, extra=[script])
    got = install(art, "r1")
    assert got.code == 0, got.out
    run_sh = base / "releases" / got.out["release"] / "bot" / "run.sh"
    assert stat.S_IMODE(run_sh.stat().st_mode) == 0o755


def test_two_installs_in_the_same_second_get_distinct_names(
    install: Any, make_artifact: Any, hold: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold("r1")
    stamps = iter(["20260101T000000Z", "20260101T000000Z", "20260101T000001Z"])
    monkeypatch.setattr(agent, "stamp", lambda dt=None: next(stamps))
    monkeypatch.setattr(agent.time, "sleep", lambda s: None)
    art = make_artifact()
    assert install(art, "r1").out["release"] == "1.0.0-20260101T000000Z"
    assert install(art, "r1").out["release"] == "1.0.0-20260101T000001Z"


def test_no_free_release_name(
    install: Any, make_artifact: Any, hold: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold("r1")
    monkeypatch.setattr(agent, "stamp", lambda dt=None: "20260101T000000Z")
    monkeypatch.setattr(agent.time, "sleep", lambda s: None)
    art = make_artifact()
    assert install(art, "r1").code == 0
    assert install(art, "r1").error["code"] == "INSTALL_FAILED"


def test_install_without_an_upload(call: Any, base: Path, hold: Any) -> None:
    hold("r1")
    got = call("install", "--base", base, "--run", "r1", "--sha256", "a" * 64)
    assert got.error["code"] == "NO_ARTIFACT"
    assert "Upload it first" in got.error["message"]


def test_install_rechecks_the_sha256(call: Any, base: Path, make_artifact: Any, hold: Any) -> None:
    hold("r1")
    art = make_artifact()
    call("receive", "--base", base, "--run", "r1", "--sha256", art.sha, stdin=art.bytes())
    (base / "incoming" / "r1.tar.gz").write_bytes(art.bytes() + b"tampered")
    got = call("install", "--base", base, "--run", "r1", "--sha256", art.sha)
    assert got.error["code"] == "SHA256_MISMATCH"
    assert art.sha in got.error["message"]
    assert list((base / "releases").iterdir()) == []


def _edit_main(name: str, data: bytes) -> bytes | None:
    return data + b"# tampered\n" if name.endswith("bot/main.py") else data


def _drop_main(name: str, data: bytes) -> bytes | None:
    return None if name.endswith("bot/main.py") else data


@pytest.mark.parametrize(
    ("edit", "extra", "fragment"),
    [
        (_edit_main, [], "bot/main.py does not match manifest.json (sha256 "),
        (_drop_main, [], "bot/main.py is listed in manifest.json but missing"),
        (
            None,
            [entry("bot-1.0.0/bot/extra.py", b"x = 1\n", type=tarfile.REGTYPE)],
            "bot/extra.py is in the artifact but not listed in manifest.json",
        ),
    ],
)
def test_every_file_is_checked_against_the_manifest(
    install: Any,
    base: Path,
    make_artifact: Any,
    hold: Any,
    tmp_path: Path,
    edit: Any,
    extra: Any,
    fragment: str,
) -> None:
    hold("r1")
    art = retar(make_artifact(), tmp_path / "tampered.tar.gz", edit, extra)
    got = install(art, "r1")
    assert got.error["code"] == "MANIFEST_MISMATCH"
    assert fragment in got.error["message"]
    assert list((base / "releases").iterdir()) == []


def test_manifest_listing_an_unsafe_path(tmp_path: Path) -> None:
    with pytest.raises(agent.AgentError) as err:
        agent.verify_files(tmp_path, {"../outside": "0" * 64})
    assert err.value.code == "MANIFEST_MISMATCH"


REG = tarfile.REGTYPE


@pytest.mark.parametrize(
    ("entries", "fragment"),
    [
        ([entry("/etc/cron.d/evil", b"x", type=REG)], "has an absolute path"),
        ([entry("bot-1.0.0/"), entry("bot-1.0.0/../../evil", b"x", type=REG)], "contains '..'"),
        (
            [entry("bot-1.0.0/"), entry("bot-1.0.0/l", type=tarfile.SYMTYPE, linkname="../../..")],
            "is a link pointing outside",
        ),
        (
            [entry("bot-1.0.0/"), entry("bot-1.0.0/l", type=tarfile.SYMTYPE, linkname="/etc")],
            "is a link to an absolute path",
        ),
        (
            [
                entry("bot-1.0.0/"),
                entry("bot-1.0.0/l", type=tarfile.LNKTYPE, linkname="/etc/passwd"),
            ],
            "has an absolute path",
        ),
        (
            [entry("bot-1.0.0/"), entry("bot-1.0.0/l", type=tarfile.LNKTYPE, linkname="other/x")],
            "is a hard link to a file outside the artifact",
        ),
        (
            [entry("bot-1.0.0/"), entry("bot-1.0.0/dev", type=tarfile.CHRTYPE, devmajor=1)],
            "is a device, FIFO or other special file",
        ),
        (
            [entry("bot-1.0.0/"), entry("bot-1.0.0/fifo", type=tarfile.FIFOTYPE)],
            "is a device, FIFO or other special file",
        ),
        (
            [entry("bot-1.0.0/"), entry("other-1.0.0/x", b"x", type=REG)],
            "is outside the artifact's top folder",
        ),
        ([entry("bot-1.0.0", b"x", type=REG)], "is not a folder"),
        (
            [entry("bot-1.0.0/a", b"x", type=REG), entry("bot-1.0.0/a", b"y", type=REG)],
            "appears twice",
        ),
        (
            [entry("bot-1.0.0/a", b"x", type=REG), entry("bot-1.0.0/a/")],
            "is a folder and a file at once",
        ),
    ],
)
def test_unsafe_archives_are_refused(tmp_path: Path, entries: Any, fragment: str) -> None:
    archive = tar_of(tmp_path / "evil.tar.gz", entries)
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(agent.AgentError) as err:
        agent.safe_extract(archive, dest)
    assert err.value.code == "UNSAFE_ARTIFACT"
    assert fragment in err.value.message
    assert not (tmp_path / "evil").exists()


def test_links_that_stay_inside_are_extracted(tmp_path: Path) -> None:
    archive = tar_of(
        tmp_path / "links.tar.gz",
        [
            entry("./"),
            entry("app-1.0/"),
            entry("app-1.0/a.txt", b"hello", type=REG),
            entry("app-1.0/sub/b.txt", b"b", type=REG),
            entry("app-1.0/sub/link", type=tarfile.SYMTYPE, linkname="../a.txt"),
            entry("app-1.0/hard", type=tarfile.LNKTYPE, linkname="app-1.0/a.txt"),
        ],
    )
    dest = tmp_path / "dest"
    dest.mkdir()
    assert agent.safe_extract(archive, dest) == "app-1.0"
    assert (dest / "sub" / "link").read_text() == "hello"
    assert (dest / "hard").read_text() == "hello"


def test_unsafe_artifact_through_install_leaves_nothing(
    install: Any, base: Path, hold: Any, tmp_path: Path
) -> None:
    hold("r1")
    manifest = json.dumps({"name": "bot", "version": "1.0.0", "files": {}}).encode()
    path = tar_of(
        tmp_path / "evil.tar.gz",
        [
            entry("bot-1.0.0/manifest.json", manifest, type=REG),
            entry("bot-1.0.0/l", type=tarfile.SYMTYPE, linkname="../../../.."),
        ],
    )
    got = install(Artifact(path, agent.sha256_file(path), "bot", "1.0.0"), "r1")
    assert got.error["code"] == "UNSAFE_ARTIFACT"
    assert list((base / "releases").iterdir()) == []


@pytest.mark.parametrize(
    ("content", "code", "fragment"),
    [
        (b"this is not a tarball", "BAD_ARTIFACT", "is not a readable .tar.gz"),
        (None, "BAD_MANIFEST", "has no manifest.json in its top folder"),
    ],
)
def test_unreadable_artifacts(
    install: Any, hold: Any, tmp_path: Path, content: bytes | None, code: str, fragment: str
) -> None:
    hold("r1")
    path = tmp_path / "bad.tar.gz"
    if content is None:
        tar_of(path, [entry("bot-1.0.0/"), entry("bot-1.0.0/x.py", b"x", type=REG)])
    else:
        path.write_bytes(content)
    got = install(Artifact(path, agent.sha256_file(path), "bot", "1.0.0"), "r1")
    assert got.error["code"] == code
    assert fragment in got.error["message"]


def test_empty_archive(tmp_path: Path) -> None:
    archive = tar_of(tmp_path / "empty.tar.gz", [])
    with pytest.raises(agent.AgentError) as err:
        agent.safe_extract(archive, tmp_path)
    assert err.value.code == "BAD_ARTIFACT"
    assert "is empty" in err.value.message


def _manifest_edit(change: Any) -> Any:
    def edit(name: str, data: bytes) -> bytes:
        if name.endswith("/manifest.json"):
            return change(data)
        return data

    return edit


def _set(key: str, value: Any) -> Any:
    def change(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest[key] = value
        return json.dumps(manifest).encode()

    return _manifest_edit(change)


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (_manifest_edit(lambda d: b"{not json"), "manifest.json is not valid JSON"),
        (_manifest_edit(lambda d: b"[1, 2]"), "no usable version"),
        (_set("version", "../../1"), "no usable version"),
        (_set("name", "other"), "top folder is 'bot-1.0.0' but its manifest says 'other-1.0.0'"),
        (_set("files", ["bot/main.py"]), "files must map each path to its sha256"),
        (_set("name", ""), "name must be a non-empty string"),
        (_set("requirements", "requirements.txt"), "requirements must be a list"),
        (_set("requirements", ["missing.txt"]), "'missing.txt' is not among the manifest's files"),
    ],
)
def test_bad_manifests(
    install: Any,
    base: Path,
    make_artifact: Any,
    hold: Any,
    tmp_path: Path,
    edit: Any,
    fragment: str,
) -> None:
    hold("r1")
    art = retar(make_artifact(), tmp_path / "bad-manifest.tar.gz", edit)
    got = install(art, "r1")
    assert got.error["code"] == "BAD_MANIFEST"
    assert fragment in got.error["message"]
    assert list((base / "releases").iterdir()) == []


def test_load_manifest_edge_cases(tmp_path: Path) -> None:
    with pytest.raises(agent.AgentError, match="has no manifest.json"):
        agent.load_manifest(tmp_path, "bot-1.0.0")
    (tmp_path / "manifest.json").write_text('"a string"')
    with pytest.raises(agent.AgentError, match="is not a JSON object"):
        agent.load_manifest(tmp_path, "bot-1.0.0")


def test_host_managed_names_in_the_artifact_are_refused(
    install: Any, make_artifact: Any, hold: Any
) -> None:
    hold("r1")
    art = make_artifact(files={"config.json": "{}"})
    got = install(art, "r1")
    assert got.error["code"] == "BAD_ARTIFACT"
    assert "has config.json at its root" in got.error["message"]


def test_venv_failures(
    install: Any, call: Any, base: Path, make_artifact: Any, hold: Any, tmp_path: Path
) -> None:
    hold("r1")
    art = make_artifact()
    call("receive", "--base", base, "--run", "r1", "--sha256", art.sha, stdin=art.bytes())
    missing = call(
        "install",
        "--base",
        base,
        "--run",
        "r1",
        "--sha256",
        art.sha,
        "--python",
        tmp_path / "no-such-python",
    )
    assert missing.error["code"] == "VENV_FAILED"
    assert "was not found on the host" in missing.error["message"]
    broken = tmp_path / "broken-python"
    broken.write_text("#!/bin/sh\necho 'No module named venv' >&2\nexit 1\n")
    broken.chmod(0o755)
    failed = call("install", "--base", base, "--run", "r1", "--sha256", art.sha, "--python", broken)
    assert failed.error["code"] == "VENV_FAILED"
    assert "No module named venv" in failed.error["message"]
    assert "python3-venv" in failed.error["message"]
    # Nothing half-made stays behind, and the upload is kept for a retry.
    assert list((base / "releases").iterdir()) == []
    assert (base / "incoming" / "r1.tar.gz").exists()


def test_pip_failure_names_the_python_mismatch(
    install: Any, make_artifact: Any, hold: Any, tmp_path: Path
) -> None:
    hold("r1")
    art = make_artifact(requirements="shipit-hello==1.0\n")
    got = install(art, "r1")  # the fast venv has no pip: pip cannot run
    assert got.error["code"] == "PIP_FAILED"
    assert "Every requirement must have a wheel" in got.error["message"]
    old = retar(art, tmp_path / "old.tar.gz", _set("python", {"tag": "cp27"}))
    got = install(old, "r1")
    assert got.error["code"] == "PIP_FAILED"
    assert "built for cp27 but the host's" in got.error["message"]


def test_requirement_files_with_only_comments_need_no_pip(
    install: Any, make_artifact: Any, hold: Any
) -> None:
    hold("r1")
    got = install(make_artifact(requirements="# nothing yet\n\n"), "r1")
    assert got.code == 0, got.out


def make_wheel(folder: Path) -> Path:
    """A tiny pure-Python wheel with a console script, built here so the test stays offline."""
    dist = "shipit_hello-1.0.dist-info"
    files = {
        "shipit_hello/__init__.py": b'def main() -> None:\n    print("hello from a wheel")\n',
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: shipit-hello\nVersion: 1.0\n",
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: shipit-tests\nRoot-Is-Purelib: true\n"
            b"Tag: py3-none-any\n"
        ),
        f"{dist}/entry_points.txt": b"[console_scripts]\nshipit-hello = shipit_hello:main\n",
    }
    record = []
    for name, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{dist}/RECORD,,")
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / "shipit_hello-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return wheel


def test_a_real_wheel_installs_offline_into_a_real_venv(
    call: Any,
    base: Path,
    make_artifact: Any,
    hold: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hold("r1")
    # Any index pip could be pointed at is unreachable: the install must use the bundled wheel.
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:9/simple")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))
    wheel = make_wheel(tmp_path)
    art = make_artifact(version="2.0.0", requirements="shipit-hello==1.0\n", wheels=[wheel])
    call("receive", "--base", base, "--run", "r1", "--sha256", art.sha, stdin=art.bytes())
    got = call(
        "install", "--base", base, "--run", "r1", "--sha256", art.sha, "--python", sys.executable
    )
    assert got.code == 0, got.out
    release = base / "releases" / got.out["release"]
    venv = release / ".venv"
    script = venv / "bin" / "shipit-hello"
    # Made in the .tmp folder, then moved: the scripts name the final folder.
    assert ".tmp" not in script.read_text()
    assert ".tmp" not in (venv / "pyvenv.cfg").read_text()
    ran = subprocess.run(
        [str(script)], capture_output=True, text=True, timeout=PROC_TIMEOUT, check=True
    )
    assert ran.stdout.strip() == "hello from a wheel"
    imported = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import shipit_hello; print(shipit_hello.__file__)"],
        capture_output=True,
        text=True,
        timeout=PROC_TIMEOUT,
        check=True,
    )
    assert imported.stdout.startswith(str(venv))
