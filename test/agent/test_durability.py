"""Durability: a folder that cannot be flushed to disk fails the command (FSYNC_FAILED)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Any

import pytest

import shipit_agent as agent
from conftest import fake_release

A = "1.0.0-20260101T000000Z"


def test_a_folder_that_cannot_be_opened_is_fsync_failed(tmp_path: Path) -> None:
    missing = tmp_path / "gone"
    with pytest.raises(agent.AgentError) as caught:
        agent.fsync_dir(missing)
    assert caught.value.code == "FSYNC_FAILED"
    assert caught.value.message == (
        f"cannot open {missing} to flush it to disk (No such file or directory). "
        "Fix: check that the folder exists and the deploy user can read it"
    )


def test_a_switch_whose_folder_fsync_fails_reports_fsync_failed(
    call: Any, base: Path, hold: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold("r1")
    fake_release(base, A)
    real_fsync = os.fsync
    flushed: list[int] = []

    def fsync(fd: int) -> None:
        # files still sync; only a folder's flush fails, as on a failing disk
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            flushed.append(fd)
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        real_fsync(fd)

    monkeypatch.setattr(agent.os, "fsync", fsync)
    got = call("switch", "--base", base, "--run", "r1", "--release", A)
    assert got.code == agent.EXIT_ERROR
    assert got.error == {
        "code": "FSYNC_FAILED",
        "message": f"flushing {base} to disk failed (Input/output error): the change just made "
        "there may not survive a crash. Fix: check the host's disk (dmesg, df) and run again",
    }
    assert len(flushed) == 1
