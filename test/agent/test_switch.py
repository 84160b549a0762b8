"""switch: `current` moves by renaming a new link over it; it is never missing."""

from __future__ import annotations

import json
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
    assert first.out == {
        "ok": True,
        "previous": None,
        "current": A,
        "rollbackTo": None,
        "rollbackNote": "no release was live before this deploy: there is nothing to roll back to",
    }
    assert os.readlink(base / "current") == f"releases/{A}"
    second = call("switch", "--base", base, "--run", "r1", "--release", B)
    assert second.out == {"ok": True, "previous": A, "current": B, "rollbackTo": A}
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
        assert got.out == {"ok": True, "previous": A, "current": B, "rollbackTo": A}
    finally:
        holder.release()
    assert not (base / "current.tmp-run-5").exists()


C = "1.2.0-20260103T000000Z"


def ledger(base: Path, *entries: tuple[str, str, str]) -> None:
    with (base / "ledger.jsonl").open("a") as f:
        for kind, release, outcome in entries:
            f.write(json.dumps({"kind": kind, "release": release, "outcome": outcome}) + "\n")


def test_a_failed_deploy_goes_back_to_the_newest_release_that_passed_health(
    call: Any, base: Path, hold: Any
) -> None:
    # A went live; B's deploy failed and its rollback too, so B is live (broken); C's deploy
    # must go back to A, not to B (seen on the real Rosey: a second broken release "rolled back"
    # to the first broken one).
    hold("r1")
    for name in (A, B, C):
        fake_release(base, name)
    point_current(base, B)
    ledger(base, ("deploy", A, "succeeded"), ("deploy", B, "rollback_failed"))
    got = call("switch", "--base", base, "--run", "r1", "--release", C)
    assert got.out["previous"] == B
    assert got.out["rollbackTo"] == A
    assert got.out["rollbackNote"] == f"{B} (live before this deploy) never passed health; {A} did"


def test_no_known_good_release_means_no_automatic_rollback(
    call: Any, base: Path, hold: Any
) -> None:
    hold("r1")
    fake_release(base, B)
    fake_release(base, C)
    point_current(base, B)
    ledger(base, ("deploy", B, "rollback_failed"))
    got = call("switch", "--base", base, "--run", "r1", "--release", C)
    assert got.out["rollbackTo"] is None
    assert got.out["rollbackNote"] == (
        f"{B}, live before this deploy, failed its own deploy and never passed health, and no "
        "other release on the host has: there is no known-good release to roll back to"
    )


def test_a_release_the_ledger_does_not_mention_is_trusted(call: Any, base: Path, hold: Any) -> None:
    # hosts older than the ledger's `release` field, or a release put there by hand
    hold("r1")
    fake_release(base, A)
    fake_release(base, B)
    point_current(base, A)
    ledger(base, ("deploy", C, "rolled_back"))
    got = call("switch", "--base", base, "--run", "r1", "--release", B)
    assert got.out["rollbackTo"] == A
    assert "rollbackNote" not in got.out
