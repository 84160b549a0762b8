"""The deploy lock: a real flock held by a real process, released when that process goes."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import shipit_agent as agent
from conftest import LockHolder, first_line, spawn


def test_lock_answers_writes_holder_details_and_releases_when_stdin_closes(base: Path) -> None:
    holder = LockHolder(base, "42", version="1.2.0", trigger="push")
    assert holder.answer == {"ok": True, "locked": True, "run": "42"}
    info = json.loads((base / "deploy.lock.json").read_text())
    assert info["run"] == "42"
    assert info["version"] == "1.2.0"
    assert info["trigger"] == "push"
    assert info["pid"] == holder.process.pid
    assert agent.ISO_RE.match(info["since"])
    assert info["host"]
    assert (base / "releases").is_dir() and (base / "incoming").is_dir()
    assert holder.release() == 0
    assert not (base / "deploy.lock.json").exists()
    assert (base / "deploy.lock").exists()


def test_a_second_lock_waits_then_fails_with_the_holders_details(base: Path, proc: Any) -> None:
    holder = LockHolder(base, "42", version="1.2.0", trigger="push")
    try:
        got = proc("lock", "--base", base, "--run", "43", "--wait", "1")
        assert got.code == 3
        assert got.error["code"] == "LOCKED"
        since = json.loads((base / "deploy.lock.json").read_text())["since"]
        assert got.error["message"] == (
            f"environment is locked by run 42 (version 1.2.0, trigger push) since {since}; "
            "waited 1 s. Retry later, or check that run"
        )
        assert got.out["holder"]["pid"] == holder.process.pid
        # Who holds it is said once on stderr while waiting.
        assert got.stderr.count("locked by run 42") == 1
        # The holder is untouched.
        assert json.loads((base / "deploy.lock.json").read_text())["run"] == "42"
        assert holder.process.poll() is None
    finally:
        holder.release()


def test_a_waiting_lock_gets_it_when_the_holder_finishes(base: Path) -> None:
    holder = LockHolder(base, "1")
    waiter = spawn("lock", "--base", base, "--run", "2", "--wait", "60")
    try:
        assert waiter.stderr is not None
        assert b"locked by run 1" in waiter.stderr.readline()
        holder.release()
        assert first_line(waiter) == {"ok": True, "locked": True, "run": "2"}
        assert json.loads((base / "deploy.lock.json").read_text())["run"] == "2"
    finally:
        if waiter.poll() is None and waiter.stdin is not None:
            waiter.stdin.close()
        assert waiter.wait(timeout=60) == 0


def test_kill_9_of_the_holder_frees_the_lock_at_once(base: Path, proc: Any) -> None:
    holder = LockHolder(base, "42")
    holder.kill()
    # Its details stay behind, but the flock went with the process.
    assert json.loads((base / "deploy.lock.json").read_text())["run"] == "42"
    status = proc("status", "--base", base)
    assert status.out["lock"] is None
    assert any("deploy.lock.json" in s for s in status.out["stale"])
    nxt = LockHolder(base, "43")
    try:
        assert nxt.answer["locked"] is True
        assert json.loads((base / "deploy.lock.json").read_text())["run"] == "43"
    finally:
        nxt.release()


def test_sigterm_releases_the_lock(base: Path) -> None:
    holder = LockHolder(base, "7")
    holder.process.send_signal(signal.SIGTERM)
    assert holder.process.wait(timeout=60) == 0
    holder.release()
    assert not (base / "deploy.lock.json").exists()


def test_status_names_the_live_holder(base: Path, proc: Any) -> None:
    holder = LockHolder(base, "9", version="2.0.0", trigger="merge")
    try:
        lock = proc("status", "--base", base).out["lock"]
        assert lock["run"] == "9" and lock["version"] == "2.0.0" and lock["trigger"] == "merge"
    finally:
        holder.release()


def test_lock_in_process_with_a_closed_stdin_takes_and_releases(call: Any, base: Path) -> None:
    got = call("lock", "--base", base, "--run", "r1", "--version", "1.0.0", "--wait", "0")
    assert got.out == {"ok": True, "locked": True, "run": "r1"}
    assert not (base / "deploy.lock.json").exists()


def test_lock_times_out_in_process_without_holder_details(call: Any, base: Path) -> None:
    holder = LockHolder(base, "42")
    try:
        (base / "deploy.lock.json").unlink()
        got = call("lock", "--base", base, "--run", "43", "--wait", "0.3")
        assert got.code == 3
        assert "deploy.lock.json has no holder details" in got.error["message"]
    finally:
        holder.release()


def test_commands_that_change_the_host_need_the_lock(
    call: Any, base: Path, hold: Any, make_artifact: Any
) -> None:
    art = make_artifact()
    install = ("install", "--base", base, "--run", "r1", "--sha256", art.sha)
    switch = ("switch", "--base", base, "--run", "r1", "--release", "1.0.0-20260101T000000Z")
    configure = ("configure", "--base", base, "--run", "r1")
    for argv in (install, switch, configure):
        got = call(*argv, stdin=b'{"config": {}}')
        assert got.error["code"] == "NOT_LOCKED", argv
        assert "held by nobody" in got.error["message"]
        assert "lock --run r1" in got.error["message"]
    hold("other-run")
    got = call(*install)
    assert got.error["code"] == "NOT_LOCKED"
    assert "held by run other-run" in got.error["message"]


def test_holder_details_of_a_dead_process_do_not_count(call: Any, base: Path) -> None:
    holder = LockHolder(base, "r1")
    holder.kill()
    got = call("switch", "--base", base, "--run", "r1", "--release", "1.0.0-20260101T000000Z")
    assert got.error["code"] == "NOT_LOCKED"
    assert "is gone" in got.error["message"]


def test_holder_details_with_a_live_pid_but_no_flock_do_not_count(call: Any, base: Path) -> None:
    agent.Layout(base).ensure()
    (base / "deploy.lock").touch()
    (base / "deploy.lock.json").write_text(json.dumps({"run": "r1", "pid": os.getpid()}))
    got = call("switch", "--base", base, "--run", "r1", "--release", "1.0.0-20260101T000000Z")
    assert got.error["code"] == "NOT_LOCKED"


def test_pid_alive() -> None:
    assert agent.pid_alive(os.getpid())
    assert not agent.pid_alive(0)
    assert agent.pid_alive(1)  # not ours (PermissionError) or ours: alive either way
    child = spawn("status", "--base", "/nonexistent-shipit-base")
    child.communicate(timeout=60)
    assert not agent.pid_alive(child.pid)  # exited and reaped
