"""Durability: a folder that cannot be flushed to disk fails the command (FSYNC_FAILED)."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path
from typing import Any

import pytest

import shipit_agent as agent
from conftest import fake_release

A = "1.0.0-20260101T000000Z"
B = "1.1.0-20260102T000000Z"


def test_a_folder_that_cannot_be_opened_is_fsync_failed(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(agent.AgentError) as caught:
        agent.fsync_dir(missing)
    assert caught.value.code == "FSYNC_FAILED"
    assert caught.value.message == (
        f"cannot open {missing} to flush it to disk (No such file or directory). "
        "Fix: check that the folder exists and the deploy user can read it"
    )


def failing_folder_fsync(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """os.fsync as on a failing disk: files still sync, a folder's flush fails (EIO)."""
    real_fsync = os.fsync
    failed: list[int] = []

    def fsync(fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            failed.append(fd)
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(agent.os, "fsync", fsync)
    return failed


def test_a_switch_whose_flush_fails_is_fsync_failed_and_puts_current_back(
    call: Any, base: Path, hold: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold("r1")
    fake_release(base, A)
    fake_release(base, B)
    assert call("switch", "--base", base, "--run", "r1", "--release", A).out["current"] == A
    failed = failing_folder_fsync(monkeypatch)
    got = call("switch", "--base", base, "--run", "r1", "--release", B)
    assert got.code == agent.EXIT_ERROR
    assert got.error == {
        "code": "FSYNC_FAILED",
        "message": f"flushing {base} to disk failed (Input/output error): the change just made "
        "there may not survive a crash. Fix: check the host's disk (dmesg, df) and run again. "
        f"current was put back to {A}",
    }
    assert len(failed) == 1
    # the switch that failed changed nothing: the previous release is live, no link is left over
    assert os.readlink(base / "current") == f"releases/{A}"
    assert sorted(p.name for p in base.glob("current*")) == ["current"]


def test_a_first_switch_whose_flush_fails_leaves_no_current(
    call: Any, base: Path, hold: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold("r1")
    fake_release(base, A)
    failing_folder_fsync(monkeypatch)
    got = call("switch", "--base", base, "--run", "r1", "--release", A)
    assert got.error["code"] == "FSYNC_FAILED"
    assert got.error["message"].endswith(". current was put back to nothing")
    assert not os.path.lexists(base / "current")


def test_a_receive_whose_flush_fails_is_fsync_failed(
    call: Any, base: Path, hold: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold("r1")
    data = b"not really a tarball, but receive only checks the sha256"
    failing_folder_fsync(monkeypatch)
    got = call(
        "receive", "--base", base, "--run", "r1", "--sha256", hashlib.sha256(data).hexdigest(),
        stdin=data,
    )
    assert got.error["code"] == "FSYNC_FAILED"
    assert got.error["message"].startswith(f"flushing {base / 'incoming'} to disk failed")
