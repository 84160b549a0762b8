"""health kinds that need no change to the bot (http, systemd, log), alone and combined, with
the fake systemctl and journalctl first on PATH (real systemd: the plain-bot integration test)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import Reply, free_port, healthy

FAST = ("--interval", "0.05")
UNIT = ("--unit", "plain-test.service")


def health(call: Any, timeout: str, *extra: str) -> Any:
    return call("health", "--timeout", timeout, *FAST, *extra)


def test_http_any_2xx(call: Any, http: Any) -> None:
    server = http({"/ping": [Reply(503, b"starting"), Reply(204, b"")]})
    got = health(call, "30", "--kind", "http", "--url", server.url("/ping"))
    assert got.out["ok"] is True
    assert got.out["kinds"] == ["http"]
    assert got.out["attempts"] == 2


def test_http_not_2xx_has_its_own_code(call: Any, http: Any) -> None:
    server = http({"/ping": [Reply(500, b"boom")]})
    got = health(call, "0.3", "--kind", "http", "--url", server.url("/ping"))
    assert got.error["code"] == "HEALTH_HTTP_STATUS"
    assert got.error["message"].startswith(
        f"GET {server.url('/ping')} answered HTTP 500 ('boom'), not a 2xx (still failing after"
    )


def test_http_nothing_listening(call: Any) -> None:
    url = f"http://127.0.0.1:{free_port()}/"
    got = health(call, "0.2", "--kind", "http", "--url", url)
    assert got.error["code"] == "HEALTH_UNREACHABLE"


def test_systemd_stable_for_n_seconds(call: Any, systemd: Any) -> None:
    got = health(call, "30", "--kind", "systemd", *UNIT, "--stable", "0.3")
    assert got.out["ok"] is True
    assert got.out["checks"]["systemd"]["restarts"] == 0
    assert got.out["checks"]["systemd"]["stableSec"] >= 0.3


def test_systemd_inactive_has_its_own_code(call: Any, systemd: Any) -> None:
    systemd.set("active-state", "inactive")
    got = health(call, "0.3", "--kind", "systemd", *UNIT, "--stable", "0.1")
    assert got.error["code"] == "HEALTH_UNIT_INACTIVE"
    assert got.error["message"].startswith(
        "unit plain-test.service is inactive, not active (still failing after"
    )


def test_systemd_not_up_long_enough(call: Any, systemd: Any) -> None:
    got = health(call, "0.3", "--kind", "systemd", *UNIT, "--stable", "5")
    assert got.error["code"] == "HEALTH_UNIT_NOT_STABLE"
    assert "of the 5 s it must stay up (health.stableSec)" in got.error["message"]


def test_a_crash_loop_is_still_detected_without_an_endpoint(call: Any, systemd: Any) -> None:
    systemd.set("crashing", "")
    systemd.set("journal", "Traceback: deliberately broken")
    got = health(
        call,
        "120",
        "--kind",
        "systemd",
        "--kind",
        "log",
        "--log-pattern=joined channel",
        *UNIT,
        "--stable",
        "3",
    )
    assert got.error["code"] == "CRASH_LOOP"
    assert "plain-test.service is crash-looping" in got.error["message"]
    assert got.out["elapsed"] < 120


def test_log_line_of_this_run(call: Any, systemd: Any) -> None:
    systemd.set("invocation", "abc123")
    systemd.set("journal", "starting plain-bot 1.0.0\njoined channel test-plain as PlainBot\n")
    got = health(call, "30", "--kind", "log", "--log-pattern=joined channel \\S+", *UNIT)
    assert got.out["ok"] is True, got.out
    assert got.out["checks"]["log"] == "joined channel test-plain as PlainBot"
    # only this run's lines: the journal is read by the unit's InvocationID
    assert (systemd.dir / "journalctl.log").read_text().splitlines()[
        0
    ] == "_SYSTEMD_INVOCATION_ID=abc123 -o cat --no-pager"


def test_log_never_seen_has_its_own_code(call: Any, systemd: Any) -> None:
    systemd.set("journal", "starting plain-bot 1.0.0\nlogin refused\n")
    got = health(call, "0.3", "--kind", "log", "--log-pattern=joined channel", *UNIT)
    assert got.error["code"] == "HEALTH_LOG_NOT_SEEN"
    assert got.error["message"].startswith(
        "no line of plain-test.service's journal since this restart matches 'joined channel' "
        "(still failing after"
    )


def test_log_unreadable_has_its_own_code(call: Any, systemd: Any) -> None:
    systemd.set("journal-denied", "No journal files were opened due to insufficient permissions.\n")
    got = health(call, "0.2", "--kind", "log", "--log-pattern=joined", *UNIT)
    assert got.error["code"] == "HEALTH_LOG_UNREADABLE"
    assert "insufficient permissions" in got.error["message"]


def test_combined_kinds_must_all_hold_and_every_failing_one_is_named(
    call: Any, systemd: Any, http: Any
) -> None:
    systemd.set("journal", "joined channel test-plain\n")
    server = http({"/api/health": [healthy(connected=False)]})
    got = health(
        call,
        "0.4",
        "--kind",
        "contract",
        "--kind",
        "log",
        "--kind",
        "systemd",
        "--url",
        server.url(),
        "--log-pattern=joined",
        *UNIT,
        "--stable",
        "9",
    )
    assert got.error["code"] == "HEALTH_NOT_CONNECTED"
    message = got.error["message"]
    assert message.startswith("contract: the bot answers but is not connected")
    assert "; systemd: unit plain-test.service has been active without a restart for" in message
    assert "log:" not in message  # the line was seen
    assert got.out["failing"] == ["contract", "systemd"]


def test_combined_kinds_pass_together(call: Any, systemd: Any, http: Any) -> None:
    systemd.set("journal", "joined channel test-plain\n")
    server = http({"/api/health": [healthy("2.0.0")]})
    got = health(
        call,
        "30",
        "--kind",
        "contract",
        "--kind",
        "log",
        "--kind",
        "systemd",
        "--url",
        server.url(),
        "--log-pattern=joined",
        *UNIT,
        "--stable",
        "0.2",
    )
    assert got.out["ok"] is True
    assert got.out["kinds"] == ["contract", "log", "systemd"]
    assert got.out["health"] == healthy("2.0.0")
    assert set(got.out["checks"]) == {"contract", "log", "systemd"}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (("--kind", "http"), "health kinds contract and http need --url"),
        (("--kind", "log", "--log-pattern=x"), "health kinds systemd and log need --unit"),
        (("--kind", "log", *UNIT), "health kind log needs --log-pattern"),
        (
            ("--kind", "log", *UNIT, "--log-pattern=joined ("),
            "--log-pattern 'joined (' is not a regular expression",
        ),
    ],
)
def test_bad_health_arguments(
    call: Any, systemd: Any, argv: tuple[str, ...], fragment: str
) -> None:
    got = health(call, "1", *argv)
    assert got.error["code"] == "BAD_ARGUMENTS"
    assert fragment in got.error["message"]
