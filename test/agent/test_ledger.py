"""The ledger: append-only JSON lines; history reads it newest first and survives bad lines."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

import shipit_agent as agent
from conftest import PROC_TIMEOUT, spawn


def record(**changes: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "kind": "deploy",
        "env": "test",
        "version": "1.0.0",
        "release": "1.0.0-20260101T000000Z",
        "sha256": "a" * 64,
        "trigger": "push",
        "outcome": "succeeded",
        "started": "2026-11-26T21:00:00Z",
        "ended": "2026-11-26T21:00:09.250Z",
        "phases": {"upload": 0.4, "install": 5.1, "health": 2.0},
        "token_count": 3,
    }
    entry.update(changes)
    return entry


def append(call: Any, base: Path, entry: Any) -> Any:
    return call("ledger-append", "--base", base, stdin=json.dumps(entry).encode())


def test_append_adds_the_host_and_writes_one_line(call: Any, base: Path) -> None:
    got = append(call, base, record())
    assert got.out["ok"] is True
    assert got.out["entry"]["host"]
    lines = (base / "ledger.jsonl").read_text().splitlines()
    assert len(lines) == 1
    assert json.loads(lines[0]) == {**record(), "host": got.out["entry"]["host"]}


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        ({"kind": "deploy"}, "missing env, version, outcome, started, ended"),
        (record(kind="upgrade"), "kind must be one of deploy, rollback"),
        (record(env=""), "env must be a non-empty string"),
        (record(version=1), "version must be a non-empty string"),
        (record(started="yesterday"), "started must be a UTC ISO-8601 time"),
        (record(ended="2026-11-26T21:00:00+01:00"), "ended must be a UTC ISO-8601 time"),
        (record(password="hunter2"), "password look like secrets"),
        (record(details={"ssh_key": "-----BEGIN"}), "details.ssh_key look like secrets"),
        (record(notes=[{"Bot_Secret": "x"}]), "notes[0].Bot_Secret look like secrets"),
        ([record()], "must be one JSON object"),
    ],
)
def test_bad_entries_are_refused(call: Any, base: Path, entry: Any, fragment: str) -> None:
    got = append(call, base, entry)
    assert got.error["code"] == "BAD_LEDGER_ENTRY"
    assert fragment in got.error["message"]
    assert "hunter2" not in got.stdout and "BEGIN" not in got.stdout
    assert not (base / "ledger.jsonl").exists()


def test_empty_secret_named_keys_are_fine(call: Any, base: Path) -> None:
    assert append(call, base, record(password="", api_key=None)).code == 0


def test_not_json(call: Any, base: Path) -> None:
    got = call("ledger-append", "--base", base, stdin=b"kind=deploy")
    assert got.error["code"] == "BAD_LEDGER_ENTRY"


def test_history_newest_first_with_a_limit(call: Any, base: Path) -> None:
    for i in range(5):
        append(call, base, record(version=f"1.0.{i}"))
    got = call("history", "--base", base, "--limit", "3")
    assert [e["version"] for e in got.out["entries"]] == ["1.0.4", "1.0.3", "1.0.2"]
    assert got.out["total"] == 5
    assert got.out["corrupt"] == 0


def test_history_skips_and_counts_corrupt_lines(call: Any, base: Path) -> None:
    append(call, base, record(version="1.0.0"))
    with open(base / "ledger.jsonl", "ab") as fh:
        fh.write(b"{torn write\n\xff\xfe\n[1, 2]\n\n")
    append(call, base, record(version="1.0.1"))
    with open(base / "ledger.jsonl", "ab") as fh:
        fh.write(b'{"kind": "deploy", "ver')  # killed mid-write, no newline
    got = call("history", "--base", base)
    assert [e["version"] for e in got.out["entries"]] == ["1.0.1", "1.0.0"]
    assert got.out["corrupt"] == 4


def test_history_of_a_new_environment_is_empty(call: Any, base: Path) -> None:
    got = call("history", "--base", base)
    assert got.out == {"ok": True, "entries": [], "total": 0, "corrupt": 0}
    assert not base.exists()


def test_concurrent_appends_never_interleave(base: Path) -> None:
    layout = agent.Layout(base).ensure()
    errors: list[Exception] = []

    def writer(n: int) -> None:
        try:
            for i in range(25):
                agent.append_ledger(layout, record(version=f"{n}.{i}", notes="x" * 20000))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    entries, corrupt = agent.read_ledger(layout)
    assert corrupt == 0
    assert sorted(e["version"] for e in entries) == sorted(
        f"{n}.{i}" for n in range(4) for i in range(25)
    )


def test_concurrent_appending_processes(base: Path) -> None:
    procs = [spawn("ledger-append", "--base", base) for _ in range(6)]
    for i, p in enumerate(procs):
        assert p.stdin is not None
        p.stdin.write(json.dumps(record(version=f"9.{i}")).encode())
    for p in procs:  # all of them append at about the same moment
        assert p.stdin is not None
        p.stdin.close()
    for p in procs:
        assert p.stdout is not None and p.stderr is not None
        out = p.stdout.read()
        p.stderr.read()
        assert p.wait(timeout=PROC_TIMEOUT) == 0, out
        p.stdout.close()
        p.stderr.close()
    entries, corrupt = agent.read_ledger(agent.Layout(base))
    assert corrupt == 0
    assert sorted(e["version"] for e in entries) == [f"9.{i}" for i in range(6)]
