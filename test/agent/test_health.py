"""health and smoke against a real HTTP server on loopback; restart and crash loops with a fake
systemctl first on PATH (real systemd is tested in the container target)."""

from __future__ import annotations

import json
import subprocess
import urllib.error
from typing import Any

import pytest

import shipit_agent as agent
from conftest import Reply, free_port, healthy

FAST = ("--interval", "0.05")


def health(call: Any, url: str, timeout: str = "1", *extra: str) -> Any:
    return call("health", "--url", url, "--timeout", timeout, *FAST, *extra)


def test_healthy_on_the_first_answer(call: Any, http: Any) -> None:
    server = http({"/api/health": [healthy("1.2.0")]})
    got = health(call, server.url(), "30", "--expect-version", "1.2.0")
    assert got.out["ok"] is True
    assert got.out["health"] == healthy("1.2.0")
    assert got.out["attempts"] == 1


def test_healthy_after_starting_up(call: Any, http: Any) -> None:
    starting = healthy(status="starting", connected=False)
    server = http({"/api/health": [Reply(503, b"starting"), starting, healthy()]})
    got = health(call, server.url(), "60")
    assert got.code == 0
    assert got.out["attempts"] == 3


@pytest.mark.parametrize(
    ("replies", "code", "fragment"),
    [
        (
            [Reply(404, b'{"error": "not found"}')],
            "HEALTH_UNREACHABLE",
            "the health endpoint is missing: GET",
        ),
        (
            [Reply(500, b"Internal Server Error", "text/plain")],
            "HEALTH_UNREACHABLE",
            "answered HTTP 500",
        ),
        (
            [Reply(200, b"<html>OK</html>", "text/html")],
            "HEALTH_NOT_JSON",
            "with a body that is not JSON: '<html>OK</html>'",
        ),
        ([Reply(200, b"\xff\xfe")], "HEALTH_NOT_JSON", "not JSON"),
        ([[1, 2, 3]], "HEALTH_BAD_SHAPE", "JSON that is not an object (list)"),
        (
            [{"status": "running"}],
            "HEALTH_BAD_SHAPE",
            "connected is missing; channel is missing; version is missing; uptime is missing",
        ),
        (
            [healthy(connected="yes", uptime=True)],
            "HEALTH_BAD_SHAPE",
            'connected must be a bool, got "yes"; uptime must be a number, got true',
        ),
        ([healthy(uptime=-1)], "HEALTH_BAD_SHAPE", "uptime must not be negative, got -1"),
        (
            [healthy(connected=False)],
            "HEALTH_NOT_CONNECTED",
            "not connected to channel 'test-rosey' (status 'running', connected false)",
        ),
        ([healthy(status="stopping")], "HEALTH_NOT_CONNECTED", "status 'stopping'"),
        (
            [healthy("1.1.0")],
            "HEALTH_WRONG_VERSION",
            "reports version '1.1.0', expected '1.2.0': the old process may still be running",
        ),
        ([Reply(hang=30)], "HEALTH_TIMEOUT", "no answer from"),
    ],
)
def test_each_failure_has_its_own_code(
    call: Any, http: Any, replies: list[Any], code: str, fragment: str
) -> None:
    server = http({"/api/health": replies})
    got = call(
        "health",
        "--url",
        server.url(),
        "--timeout",
        "0.6",
        "--expect-version",
        "1.2.0",
        "--request-timeout",
        "0.3",
        *FAST,
    )
    assert got.code == 1
    assert got.error["code"] == code
    assert fragment in got.error["message"]
    assert "still failing after" in got.error["message"]
    assert isinstance(got.out["elapsed"], float)
    body = replies[-1]
    assert got.out["last"] == (body if isinstance(body, (dict, list)) else None)


def test_connection_refused(call: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/api/health"
    got = health(call, url, "0.3")
    assert got.error["code"] == "HEALTH_UNREACHABLE"
    assert f"connection refused: nothing listens at {url}" in got.error["message"]
    assert got.out["last"] is None


def test_a_closed_connection_is_unreachable(call: Any, http: Any) -> None:
    server = http({"/api/health": [Reply(close=True)]})
    got = health(call, server.url(), "0.3")
    assert got.error["code"] == "HEALTH_UNREACHABLE"
    assert "closed the connection without an answer" in got.error["message"]


def test_other_network_errors_are_unreachable(call: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    def unreachable(*args: Any, **kwargs: Any) -> None:
        raise urllib.error.URLError(OSError(101, "Network is unreachable"))

    monkeypatch.setattr(agent.urllib.request, "urlopen", unreachable)
    got = health(call, "http://127.0.0.1:9/api/health", "0")
    assert got.error["code"] == "HEALTH_UNREACHABLE"
    assert (
        "cannot reach http://127.0.0.1:9/api/health ([Errno 101] Network is unreachable)"
        in (got.error["message"])
    )


def test_the_last_problem_is_reported_with_the_last_json_seen(call: Any, http: Any) -> None:
    not_connected = healthy(connected=False)
    server = http({"/api/health": [not_connected, Reply(200, b"garbage", "text/plain")]})
    got = health(call, server.url(), "0.5")
    assert got.error["code"] == "HEALTH_NOT_JSON"
    assert got.out["last"] == not_connected


def test_health_from_a_real_process(proc: Any, http: Any) -> None:
    server = http({"/api/health": [healthy()]})
    got = proc("health", "--url", server.url(), "--timeout", "30")
    assert got.out["health"]["connected"] is True


# --------------------------------------------------------------------------- crash loops


def test_a_crash_looping_unit_fails_fast(call: Any, systemd: Any) -> None:
    systemd.set("crashing", "")
    systemd.set("journal", "bot.service: Main process exited, code=exited, status=1/FAILURE")
    url = f"http://127.0.0.1:{free_port()}/api/health"
    got = health(call, url, "120", "--unit", "rosey-test.service")
    assert got.error["code"] == "CRASH_LOOP"
    assert (
        "rosey-test.service is crash-looping: systemd restarted it 1 time(s)"
        in (got.error["message"])
    )
    assert "status=1/FAILURE" in got.out["journal"]
    assert got.out["elapsed"] < 120
    assert "show rosey-test.service -p ActiveState -p NRestarts" in systemd.calls()


def test_a_failed_unit_fails_fast(call: Any, systemd: Any) -> None:
    systemd.set("active-state", "failed")
    got = health(call, f"http://127.0.0.1:{free_port()}/api/health", "120", "--unit", "bot")
    assert got.error["code"] == "CRASH_LOOP"
    assert "unit bot has failed (ActiveState=failed)" in got.error["message"]


def test_a_steady_unit_is_waited_for(call: Any, systemd: Any) -> None:
    got = health(call, f"http://127.0.0.1:{free_port()}/api/health", "0.3", "--unit", "bot")
    assert got.error["code"] == "HEALTH_UNREACHABLE"


def test_without_systemctl_the_crash_check_is_skipped(
    call: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    got = health(call, f"http://127.0.0.1:{free_port()}/api/health", "0.2", "--unit", "bot")
    assert got.error["code"] == "HEALTH_UNREACHABLE"


def test_unit_state_parsing(systemd: Any) -> None:
    systemd.set("nrestarts", "not-a-number")
    assert agent.unit_state("bot") is None
    (systemd.dir / "systemctl").write_text("#!/bin/sh\nexit 1\n")
    assert agent.unit_state("bot") is None
    agent.check_crash_loop("bot", None, 0.0)  # no baseline: nothing to compare


# --------------------------------------------------------------------------- restart


def test_restart(call: Any, systemd: Any) -> None:
    got = call("restart", "--unit", "rosey-test.service")
    assert got.out["ok"] is True and got.out["unit"] == "rosey-test.service"
    assert systemd.calls() == ["reset-failed rosey-test.service", "restart rosey-test.service"]


def test_restart_failure_carries_stderr_and_the_journal(call: Any, systemd: Any) -> None:
    systemd.set(
        "restart-fails",
        "Job for rosey-test.service failed because the control process exited with error code.\n",
    )
    systemd.set("journal", "rosey: ConfigError: password_file: cannot read\n")
    got = call("restart", "--unit", "rosey-test.service")
    assert got.error["code"] == "RESTART_FAILED"
    message = got.error["message"]
    assert "`systemctl restart rosey-test.service` failed (exit 1)" in message
    assert "Job for rosey-test.service failed" in message
    assert "ConfigError: password_file" in message
    assert "ConfigError" in got.out["journal"]


def test_restart_without_systemd(call: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    got = call("restart", "--unit", "bot")
    assert got.error["code"] == "RESTART_FAILED"
    assert "systemctl was not found" in got.error["message"]
    assert "journalctl unavailable" in agent.journal_tail("bot")


def test_restart_that_hangs(call: Any, systemd: Any) -> None:
    (systemd.dir / "systemctl").write_text("#!/bin/sh\nsleep 30\n")
    got = call("restart", "--unit", "bot", "--timeout", "0.5")
    assert got.error["code"] == "RESTART_FAILED"
    assert "did not finish in 0.5 s" in got.error["message"]


def test_restart_through_sudo(call: Any, systemd: Any, tmp_path: Any) -> None:
    sudo = systemd.dir / "sudo"
    sudo.write_text('#!/bin/sh\n[ "$1" = "-n" ] && shift\nexec "$@"\n')
    sudo.chmod(0o755)
    got = call("restart", "--unit", "bot", "--sudo")
    assert got.code == 0
    assert systemd.calls() == ["reset-failed bot", "restart bot"]


def test_through_sudo_only_systemctl_goes_through_sudo(
    call: Any, systemd: Any, tmp_path: Any
) -> None:
    """`shipit setup`'s sudoers rule allows only systemctl restart, reset-failed and show: the
    journal is read without sudo (the deploy user is in systemd-journal)."""
    log = tmp_path / "sudo.log"
    sudo = systemd.dir / "sudo"
    sudo.write_text(f'#!/bin/sh\necho "$*" >> {log}\n[ "$1" = "-n" ] && shift\nexec "$@"\n')
    sudo.chmod(0o755)
    systemd.set("restart-fails", "Job for bot.service failed.\n")
    systemd.set("journal", "bot: ConfigError: bad\n")
    got = call("restart", "--unit", "bot", "--sudo")
    assert got.error["code"] == "RESTART_FAILED"
    assert "ConfigError: bad" in got.out["journal"]
    assert log.read_text().splitlines() == [
        "-n systemctl reset-failed bot",
        "-n systemctl restart bot",
    ]


# --------------------------------------------------------------------------- smoke


def smoke(call: Any, url: str, timeout: str = "1", *extra: str) -> Any:
    return call(
        "smoke",
        "--url",
        url,
        "--command",
        "!ping",
        "--expect",
        "pong",
        "--timeout",
        timeout,
        *FAST,
        *extra,
    )


def test_smoke_posts_the_command_to_the_sibling_endpoint(call: Any, http: Any) -> None:
    server = http({"/api/smoke": [{"reply": "pong!"}]})
    got = smoke(call, server.url("/api/health"), "30")
    assert got.out == {
        "ok": True,
        "command": "!ping",
        "reply": "pong!",
        "elapsed": got.out["elapsed"],
    }
    method, path, body = server.routes.requests[-1]
    assert (method, path, json.loads(body)) == ("POST", "/api/smoke", {"command": "!ping"})


def test_smoke_waits_for_the_endpoint(call: Any, http: Any) -> None:
    server = http({"/api/smoke": [Reply(503, b"warming up"), {"reply": "pong"}]})
    assert smoke(call, server.url("/api/smoke"), "30").code == 0


@pytest.mark.parametrize(
    ("reply", "code", "fragment"),
    [
        (
            {"reply": "nope"},
            "SMOKE_WRONG_ANSWER",
            "the bot answered '!ping' with \"nope\", which does not contain 'pong'",
        ),
        ({"answer": "pong"}, "SMOKE_WRONG_ANSWER", "which does not contain"),
        (
            Reply(200, b"pong but not json", "text/plain"),
            "SMOKE_WRONG_ANSWER",
            "with pong but not json",
        ),
        (Reply(404, b"{}"), "SMOKE_UNREACHABLE", "the smoke endpoint is missing"),
        (Reply(500, b"boom"), "SMOKE_WRONG_ANSWER", "answered HTTP 500"),
        (Reply(hang=30), "SMOKE_TIMEOUT", "no answer from"),
    ],
)
def test_smoke_failures(call: Any, http: Any, reply: Any, code: str, fragment: str) -> None:
    server = http({"/api/smoke": [reply]})
    got = smoke(call, server.url(), "0.6", "--request-timeout", "0.3")
    assert got.error["code"] == code
    assert fragment in got.error["message"]


def test_smoke_connection_refused(call: Any) -> None:
    got = smoke(call, f"http://127.0.0.1:{free_port()}/api/health", "0.3")
    assert got.error["code"] == "SMOKE_UNREACHABLE"
    assert "connection refused" in got.error["message"]


def test_smoke_url() -> None:
    assert agent.smoke_url("http://127.0.0.1:8080/api/health") == "http://127.0.0.1:8080/api/smoke"
    assert agent.smoke_url("http://h:1/api/smoke") == "http://h:1/api/smoke"
    assert agent.smoke_url("http://h:1") == "http://h:1/api/smoke"


def test_a_crash_loop_quotes_only_this_starts_journal(monkeypatch: pytest.MonkeyPatch) -> None:
    # Seen on the real Rosey: the excerpt began with the previous release's traceback. With the
    # restart's clock, journalctl reads from that start on.
    seen: list[list[str]] = []

    def fake(argv: list[str], timeout: float) -> Any:
        seen.append(argv)
        return subprocess.CompletedProcess(argv, 0, "this start's traceback\n", "")

    monkeypatch.setattr(agent, "run_cmd", fake)
    assert agent.journal_tail("bot", since=1767225600.5) == "this start's traceback"
    assert seen[-1] == [
        "journalctl", "-u", "bot", "-n", "20", "--no-pager", "--since=@1767225600.500"
    ]
    agent.journal_tail("bot")
    assert seen[-1] == ["journalctl", "-u", "bot", "-n", "20", "--no-pager"]
