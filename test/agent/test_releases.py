"""rollback-target, prune and status: which release to go back to, what to keep, what is live."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from conftest import LockHolder, fake_release, free_port, healthy, point_current

R1 = "1.0.0-20260101T000000Z"
R2 = "1.1.0-20260102T000000Z"
R3 = "1.2.0-20260103T000000Z"
R4 = "1.2.0-20260104T000000Z"
R5 = "1.3.0-20260105T000000Z"


def releases(base: Path, *names: str, current: str | None = None) -> None:
    for name in names:
        fake_release(base, name)
    if current:
        point_current(base, current)


def ledger(base: Path, *entries: dict[str, Any]) -> None:
    with open(base / "ledger.jsonl", "a") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in entries)


def live(release: str, outcome: str = "succeeded", kind: str = "deploy") -> dict[str, Any]:
    return {
        "kind": kind,
        "env": "test",
        "version": release.split("-")[0],
        "release": release,
        "outcome": outcome,
        "started": "2026-01-01T00:00:00Z",
        "ended": "2026-01-01T00:00:09Z",
    }


def old(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


# --------------------------------------------------------------------------- rollback-target


def test_rollback_goes_to_the_last_release_that_was_live(call: Any, base: Path) -> None:
    # R3 is newer than R2 but never went live (its deploy failed and rolled back).
    releases(base, R1, R2, R3, R4, current=R4)
    ledger(base, live(R1), live(R2, "success"), live(R3, "rolled_back"), live(R4))
    got = call("rollback-target", "--base", base)
    assert got.out == {
        "ok": True,
        "release": R2,
        "version": "1.1.0",
        "current": R4,
        "reason": "ledger",
    }


def test_after_a_rollback_the_target_is_the_one_rolled_back_from(call: Any, base: Path) -> None:
    releases(base, R1, R2, current=R1)
    ledger(base, live(R1), live(R2), live(R1, kind="rollback"))
    assert call("rollback-target", "--base", base).out["release"] == R2


def test_ledger_entries_for_pruned_releases_are_skipped(call: Any, base: Path) -> None:
    releases(base, R2, R3, current=R3)
    ledger(base, live(R1), live(R3))
    got = call("rollback-target", "--base", base)
    assert (got.out["release"], got.out["reason"]) == (R2, "older")


def test_without_a_ledger_the_newest_older_release_is_chosen(call: Any, base: Path) -> None:
    releases(base, R1, R2, R3, current=R2)
    got = call("rollback-target", "--base", base)
    assert (got.out["release"], got.out["reason"]) == (R1, "older")


def test_without_an_older_release_the_newest_other_is_chosen(call: Any, base: Path) -> None:
    releases(base, R1, R2, current=R1)
    got = call("rollback-target", "--base", base)
    assert (got.out["release"], got.out["reason"]) == (R2, "newest")
    os.unlink(base / "current")
    got = call("rollback-target", "--base", base)
    assert (got.out["release"], got.out["current"]) == (R2, None)


def test_rollback_to_a_version(call: Any, base: Path) -> None:
    releases(base, R1, R3, R4, R5, current=R5)
    got = call("rollback-target", "--base", base, "--to", "1.2.0")
    assert (got.out["release"], got.out["version"], got.out["reason"]) == (R4, "1.2.0", "version")


def test_no_previous_release(call: Any, base: Path) -> None:
    got = call("rollback-target", "--base", base)
    assert got.error["code"] == "NO_PREVIOUS_RELEASE"
    assert "no releases are installed" in got.error["message"]
    releases(base, R1, current=R1)
    got = call("rollback-target", "--base", base)
    assert got.error["code"] == "NO_PREVIOUS_RELEASE"
    assert got.error["message"] == (
        f"there is no previous release to roll back to: releases on the host: {R1} (live). "
        "Deploy a known-good version instead"
    )


def test_no_such_version(call: Any, base: Path) -> None:
    releases(base, R1, R2, current=R2)
    got = call("rollback-target", "--base", base, "--to", "0.9.0")
    assert got.error["code"] == "NO_SUCH_VERSION"
    assert (
        f"version 0.9.0 is not on the host (it may have been pruned); releases on the host: "
        f"{R1}, {R2} (live)" in got.error["message"]
    )
    got = call("rollback-target", "--base", base, "--to", "1.1.0")
    assert got.error["code"] == "NO_SUCH_VERSION"
    assert "is the live release" in got.error["message"]


# --------------------------------------------------------------------------- prune


def test_prune_keeps_n_and_never_the_live_or_previous_release(call: Any, base: Path) -> None:
    releases(base, R1, R2, R3, R4, R5, current=R2)
    ledger(base, live(R1), live(R2))
    got = call("prune", "--base", base, "--keep", "1")
    assert got.out["deleted"] == [R4, R3]
    assert got.out["kept"] == [R1, R2, R5]
    assert sorted(p.name for p in (base / "releases").iterdir()) == [R1, R2, R5]
    assert os.readlink(base / "current") == f"releases/{R2}"


def test_prune_with_keep_0_still_keeps_live_and_previous(call: Any, base: Path) -> None:
    releases(base, R1, R2, R3, current=R3)
    got = call("prune", "--base", base, "--keep", "0")
    assert got.out["deleted"] == [R1]
    assert got.out["kept"] == [R2, R3]


def test_prune_with_a_single_release(call: Any, base: Path) -> None:
    releases(base, R1, current=R1)
    assert call("prune", "--base", base, "--keep", "0").out["deleted"] == []


def test_prune_cleans_stale_leftovers_only(call: Any, base: Path) -> None:
    releases(base, R1, current=R1)
    incoming = base / "incoming"
    incoming.mkdir()
    for name in ("old.tar.gz.part", "new.tar.gz.part", "old.tar.gz", "new.tar.gz"):
        (incoming / name).write_bytes(b"x")
    old(incoming / "old.tar.gz.part", 7200)
    old(incoming / "old.tar.gz", 3 * 86400)
    old(incoming / "new.tar.gz", 7200)  # a failed install's upload, kept for a day
    stale_tmp = base / "releases" / f"{R2}.tmp"
    stale_tmp.mkdir()
    old(stale_tmp, 7200)
    (base / "releases" / f"{R3}.tmp").mkdir()  # an install in progress
    (base / "releases" / f".{R4}.deleting-1").mkdir()
    (base / "current.tmp-run-1").symlink_to(f"releases/{R1}")
    old(base / "current.tmp-run-1", 600)
    (base / "current.tmp-run-2").symlink_to(f"releases/{R1}")
    got = call("prune", "--base", base, "--keep", "5")
    assert sorted(got.out["cleaned"]) == sorted(
        [
            "incoming/old.tar.gz.part",
            "incoming/old.tar.gz",
            f"releases/{R2}.tmp",
            f"releases/.{R4}.deleting-1",
            "current.tmp-run-1",
        ]
    )
    assert sorted(p.name for p in incoming.iterdir()) == ["new.tar.gz", "new.tar.gz.part"]
    assert (base / "releases" / f"{R3}.tmp").is_dir()
    assert (base / "current.tmp-run-2").is_symlink()


# --------------------------------------------------------------------------- status


def test_status_of_a_new_environment_creates_nothing(call: Any, base: Path) -> None:
    got = call("status", "--base", base)
    assert got.out == {
        "ok": True,
        "current": None,
        "version": None,
        "releases": [],
        "lock": None,
        "stale": [],
        "problems": [],
    }
    assert not base.exists()


def test_status_reports_live_release_lock_and_health(call: Any, base: Path, http: Any) -> None:
    releases(base, R1, R2, current=R2)
    (base / "releases" / f"{R3}.tmp").mkdir()
    server = http({"/api/health": [healthy("1.1.0")]})
    holder = LockHolder(base, "run-9", version="1.2.0")
    try:
        got = call("status", "--base", base, "--url", server.url())
    finally:
        holder.release()
    assert got.out["current"] == R2
    assert got.out["version"] == "1.1.0"
    assert got.out["releases"] == [R1, R2]
    assert got.out["lock"]["run"] == "run-9"
    assert got.out["stale"] == [f"releases/{R3}.tmp"]
    assert got.out["health"] == {"ok": True, "body": healthy("1.1.0")}


def test_status_with_an_unhealthy_bot(call: Any, base: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/health"
    got = call("status", "--base", base, "--url", url)
    assert got.out["health"]["ok"] is False
    assert got.out["health"]["code"] == "HEALTH_UNREACHABLE"


def test_status_names_a_broken_current(call: Any, base: Path) -> None:
    releases(base, R1)
    point_current(base, R2)
    got = call("status", "--base", base)
    assert got.out["current"] == R2
    assert got.out["version"] == "1.1.0"
    assert "which is missing or incomplete" in got.out["problems"][0]
    os.unlink(base / "current")
    (base / "current").mkdir()
    got = call("status", "--base", base)
    assert got.out["problems"] == ["current exists but is not a symlink"]
