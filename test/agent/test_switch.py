"""switch: `current` moves by renaming a new link over it; it is never missing."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import shipit_agent as agent
from conftest import LockHolder, fake_release, point_current

A = "1.0.0-20260101T000000Z"
B = "1.1.0-20260102T000000Z"


def test_switch_reports_previous_and_current(call: Any, base: Path, hold: Any) -> None:
    hold("r1")
    fake_release(base, A)
    fake_release(base, B)
    first = call("switch", "--base", base, "--run", "r1", "--release", A)
    assert first.out == {"ok": True, "previous": None, "current": A}
    assert os.readlink(base / "current") == f"releases/{A}"
    second = call("switch", "--base", base, "--run", "r1", "--release", B)
    assert second.out == {"ok": True, "previous": A, "current": B}
    assert os.readlink(base / "current") == f"releases/{B}"
    assert (base / "current" / "manifest.json").is_file()
    assert [p.name for p in base.glob("current.tmp-*")] == []


def test_switch_to_a_release_that_is_not_there(call: Any, base: Path, hold: Any) -> None:
    hold("r1")
    fake_release(base, A)
    point_current(base, A)
    (base / "releases" / f"{B}.tmp").mkdir()  # an install that never finished
    for name in (B, "9.9.9-20260101T000000Z"):
        got = call("switch", "--base", base, "--run", "r1", "--release", name)
        assert got.error["code"] == "NO_SUCH_RELEASE"
        assert f"release '{name}' is not installed on the host" in got.error["message"]
        assert f"releases on the host: {A} (live)" in got.error["message"]
    assert os.readlink(base / "current") == f"releases/{A}"


def test_switch_when_current_is_not_a_link(call: Any, base: Path, hold: Any) -> None:
    hold("r1")
    fake_release(base, A)
    (base / "current").mkdir()
    (base / "current" / "keep.txt").write_text("hand-made")
    got = call("switch", "--base", base, "--run", "r1", "--release", A)
    assert got.error["code"] == "BAD_LAYOUT"
    assert (base / "current" / "keep.txt").exists()
    assert [p.name for p in base.glob("current.tmp-*")] == []


def test_current_is_never_missing_while_switching_in_a_loop(base: Path) -> None:
    layout = agent.Layout(base).ensure()
    fake_release(base, A)
    fake_release(base, B)
    agent.switch_to(layout, "r0", A)
    stop = threading.Event()
    seen = {"checks": 0, "missing": 0, "targets": set()}

    def watch() -> None:
        while not stop.is_set():
            seen["checks"] += 1
            try:
                target = os.readlink(base / "current")
                if not (base / target / "manifest.json").is_file():
                    seen["missing"] += 1
                seen["targets"].add(target)
            except OSError:
                seen["missing"] += 1

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        for i in range(400):
            agent.switch_to(layout, f"r{i}", B if i % 2 == 0 else A)
    finally:
        stop.set()
        watcher.join(timeout=60)
    assert seen["checks"] > 0
    assert seen["missing"] == 0
    assert seen["targets"] <= {f"releases/{A}", f"releases/{B}"}


def test_a_deploy_killed_mid_switch_leaves_a_consistent_state(
    call: Any, base: Path, proc: Any
) -> None:
    fake_release(base, A)
    fake_release(base, B)
    point_current(base, A)
    # Killed after making the new link, before the rename: a dangling current.tmp-<run>.
    (base / "current.tmp-run-5").symlink_to(f"releases/{B}")
    status = proc("status", "--base", base)
    assert status.out["current"] == A
    assert status.out["version"] == "1.0.0"
    assert "current.tmp-run-5" in status.out["stale"]
    assert status.out["problems"] == []
    # The next deploy's switch (a new run) goes through, and so does the same run's retry.
    holder = LockHolder(base, "run-5")
    try:
        got = call("switch", "--base", base, "--run", "run-5", "--release", B)
        assert got.out == {"ok": True, "previous": A, "current": B}
    finally:
        holder.release()
    assert not (base / "current.tmp-run-5").exists()
