"""The protocol's frame: one JSON object on stdout, exit codes, argument errors, Python 3.9."""

from __future__ import annotations

import ast
import importlib.util
import sysconfig
from pathlib import Path
from typing import Any

import pytest

import shipit_agent as agent
from conftest import AGENT


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        ([], "required"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["status"], "--base"),
        (["lock", "--base", "/tmp/x"], "--run"),
        (["receive", "--base", "/tmp/x", "--run", "r1", "--sha256", "abc"], "not a sha256"),
        (["lock", "--base", "/tmp/x", "--run", "../evil"], "not a valid run id"),
        (["lock", "--base", "/tmp/x", "--run", "r1", "--wait", "-1"], "seconds >= 0"),
        (["lock", "--base", "/tmp/x", "--run", "r1", "--wait", "soon"], "seconds >= 0"),
        (["prune", "--base", "/tmp/x", "--keep", "-2"], "whole number"),
        (["switch", "--base", "/tmp/x", "--run", "r1", "--release", "../../etc"], "release name"),
        (["restart", "--unit", "bot service; rm -rf /"], "systemd unit"),
        (["health", "--url", "file:///etc/passwd", "--timeout", "1"], "http(s) URL"),
        (["smoke", "--url", "http://127.0.0.1:99999/api/health"], "valid port"),
        (["status", "--base", "/tmp/x", "--url", "http:///api/health"], "http(s) URL"),
        (["status", "--base", ""], "must not be empty"),
        (["history", "--base", "/tmp/x", "--limit", "many"], "whole number"),
    ],
)
def test_bad_arguments(call: Any, argv: list[str], fragment: str) -> None:
    got = call(*argv)
    assert got.code == 1
    assert got.error["code"] == "BAD_ARGUMENTS"
    assert fragment in got.error["message"]
    assert "Usage: shipit_agent.py" in got.error["message"]


def test_a_real_process_prints_one_json_line_and_exits_1_on_error(
    proc: Any, tmp_path: Path
) -> None:
    got = proc("frobnicate", "--base", tmp_path)
    assert got.code == 1
    assert got.error["code"] == "BAD_ARGUMENTS"
    ok = proc("status", "--base", tmp_path / "nothing-here")
    assert ok.code == 0
    assert ok.out["current"] is None


def test_an_unexpected_failure_is_still_one_json_answer(
    call: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    def boom(args: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(agent, "cmd_history", boom)
    got = call("history", "--base", tmp_path)
    assert got.code == 1
    assert got.error["code"] == "INTERNAL_ERROR"
    assert "RuntimeError: disk on fire" in got.error["message"]


def test_interrupt_is_reported(call: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    def interrupted(args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(agent, "cmd_history", interrupted)
    got = call("history", "--base", tmp_path)
    assert got.error["code"] == "INTERRUPTED"


def test_help_exits_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        agent.main(["--help"])
    assert exit_info.value.code == 0
    assert "rollback-target" in capsys.readouterr().out


def test_source_parses_as_python_3_9_and_imports_only_the_standard_library() -> None:
    source = AGENT.read_text()
    tree = ast.parse(source, feature_version=(3, 9))
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    paths = sysconfig.get_paths()
    stdlib = (paths["stdlib"], paths["platstdlib"])
    for name in sorted(modules):
        spec = importlib.util.find_spec(name)
        assert spec is not None, name
        origin = spec.origin or ""
        assert origin in ("built-in", "frozen") or origin.startswith(stdlib), (name, origin)
    # Names that only exist from Python 3.10 or 3.11 on.
    for newer in ("datetime.UTC", "from datetime import UTC", "zip(strict", "tomllib"):
        assert newer not in source


def test_timestamps_are_utc_with_z() -> None:
    assert agent.ISO_RE.match(agent.iso())
    assert agent.RELEASE_RE.match(f"1.0.0-{agent.stamp()}")
