"""Property (issue #20, part 3): generated /api/health answers against the agent's probe.

A raw socket server on loopback answers each probe as the case says: bodies of every JSON type
(wrong field types, NaN and Infinity, nested thousands deep, larger than the agent reads), not
JSON, not UTF-8, any status; or it trickles its headers or its body a byte at a time, sends
chunks forever, says nothing, closes at once or sends less than it announced. Each gives the
right HEALTH_* code within the probe's own timeout (a trickle is a TIMEOUT, not a wait for as
long as bytes keep coming), never an exception, and an answer strict JSON readers take. Seeded
(SHIPIT_PROP_SEED), a fixed number of examples; the hanging cases stop on their own after 3 s,
so a regression fails on the code instead of hanging the suite.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import shipit_agent as agent
from conftest import healthy, strict_loads

SEED = int(os.environ.get("SHIPIT_PROP_SEED", "202026"))
RUNS = int(120 * float(os.environ.get("SHIPIT_PROP_RUNS", "1")))
REQUEST_TIMEOUT = 0.25
GIVE_UP = 3.0  # a hanging case's server stops after this long

CODES = {
    None,
    "HEALTH_UNREACHABLE",
    "HEALTH_NOT_JSON",
    "HEALTH_BAD_SHAPE",
    "HEALTH_NOT_CONNECTED",
    "HEALTH_WRONG_VERSION",
    "HEALTH_TIMEOUT",
}


@dataclass
class Case:
    """What the server does with the next request."""

    how: str  # answer, trickle-body, trickle-headers, chunked-fast, chunked-slow, silent, close,
    # short
    status: int = 200
    body: bytes = b""


class RawServer:
    """One behaviour for every connection, set per example; each connection in its own thread."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.case = Case("close")
        self.stop = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/api/health"

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.handle, args=(conn, self.case), daemon=True).start()

    def handle(self, conn: socket.socket, case: Case) -> None:
        with contextlib.suppress(OSError), conn:
            conn.settimeout(GIVE_UP)
            seen = b""
            while b"\r\n\r\n" not in seen:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                seen += chunk
            until = time.monotonic() + GIVE_UP
            head = f"HTTP/1.1 {case.status} X\r\nContent-Type: application/json\r\n"
            if case.how == "answer":
                length = f"Content-Length: {len(case.body)}\r\n"
                conn.sendall((head + length + "Connection: close\r\n\r\n").encode() + case.body)
            elif case.how == "short":
                conn.sendall((head + "Content-Length: 100\r\n\r\n").encode() + b'{"status"')
            elif case.how == "trickle-body":
                conn.sendall((head + f"Content-Length: {10**6}\r\n\r\n").encode())
                while time.monotonic() < until and not self.stop.is_set():
                    conn.sendall(b" ")
                    time.sleep(0.02)
            elif case.how == "trickle-headers":
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                while time.monotonic() < until and not self.stop.is_set():
                    conn.sendall(b"a")
                    time.sleep(0.02)
            elif case.how in ("chunked-fast", "chunked-slow"):
                conn.sendall((head + "Transfer-Encoding: chunked\r\n\r\n").encode())
                while time.monotonic() < until and not self.stop.is_set():
                    conn.sendall(b"400\r\n" + b"[" * 0x400 + b"\r\n")
                    if case.how == "chunked-slow":
                        time.sleep(0.02)
            elif case.how == "silent":
                self.stop.wait(GIVE_UP)
            # close: nothing at all


@pytest.fixture(scope="module")
def server() -> Iterator[RawServer]:
    s = RawServer()
    yield s
    s.stop.set()
    s.sock.close()


field_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# a health answer with any field changed, dropped or added
shapes = st.fixed_dictionaries(
    {},
    optional={
        "status": st.one_of(st.just("running"), field_values),
        "connected": st.one_of(st.just(True), field_values),
        "channel": st.one_of(st.just("test-rosey"), field_values),
        "version": st.one_of(st.just("1.0.0"), st.just("0.9.0"), field_values),
        "uptime": st.one_of(st.just(1.5), field_values),
        "extra": field_values,
    },
)
bodies = st.one_of(
    shapes.map(lambda b: json.dumps(b).encode()),
    st.builds(lambda b: json.dumps({**healthy(), **b}).encode(), shapes),
    st.recursive(
        st.none() | st.booleans() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3),
        max_leaves=5,
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(
        [
            (
                b'{"status": "running", "connected": true, "channel": "c", "version": "1.0.0", '
                b'"uptime": NaN}'
            ),
            (
                b'{"status": "running", "connected": true, "channel": "c", "version": "1.0.0", '
                b'"uptime": Infinity}'
            ),
            (
                b'{"status": "running", "connected": true, "channel": "c", "version": "1.0.0", '
                b'"uptime": 1e999}'
            ),
            b"[" * 5000 + b"]" * 5000,
            b"<html>OK</html>",
            b"",
            b"\xff\xfe{}",
            b'"' + b"x" * (2 << 20) + b'"',
            b'{"uptime": ' + b"9" * 5000 + b"}",
        ]
    ),
    st.binary(max_size=30),
)
cases = st.one_of(
    st.builds(
        Case, st.just("answer"), st.sampled_from([200, 200, 200, 204, 301, 404, 500]), bodies
    ),
    st.builds(
        Case,
        st.sampled_from(
            [
                "trickle-body",
                "trickle-headers",
                "chunked-fast",
                "chunked-slow",
                "silent",
                "close",
                "short",
            ]
        ),
    ),
)
HANGING = {"trickle-body", "trickle-headers", "chunked-slow", "silent"}


@seed(SEED)
@settings(
    max_examples=RUNS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(case=cases)
def test_every_answer_is_a_health_code_within_the_probe_timeout(
    server: RawServer, case: Case
) -> None:
    server.case = case
    probe = agent.probe_health(server.url, REQUEST_TIMEOUT, "1.0.0")
    assert probe.code in CODES, probe
    assert isinstance(probe.message, str) and probe.message
    # crosses to TypeScript
    strict_loads(json.dumps({"body": probe.body, "message": probe.message}))
    if case.how in HANGING:
        assert probe.code == "HEALTH_TIMEOUT", probe
    elif case.how in ("close", "short"):
        assert probe.code == "HEALTH_UNREACHABLE", probe
    elif case.how == "chunked-fast":
        assert probe.code == "HEALTH_NOT_JSON", probe  # cut at the 1 MB the agent reads
    if probe.code is None:
        body = strict_loads(case.body.decode())
        assert body["status"] == "running" and body["connected"] is True
        assert body["version"] == "1.0.0" and math.isfinite(body["uptime"])


@pytest.mark.parametrize("how", sorted(HANGING))
def test_a_hanging_endpoint_fails_health_with_timeout_at_its_deadline(
    server: RawServer, call: Any, how: str
) -> None:
    """Shrunk cases: a trickling body or headers used to be waited on for as long as bytes came
    (urllib's timeout is per read), past the deploy's healthTimeoutSec; the driver then stopped
    ssh with PHASE_TIMEOUT, 60 s later, instead of HEALTH_TIMEOUT."""
    server.case = Case(how)
    got = call("health", "--url", server.url, "--timeout", "0.5", "--request-timeout", "0.2")
    assert got.error["code"] == "HEALTH_TIMEOUT"
    strict_loads(got.stdout)


@pytest.mark.parametrize("value", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
def test_an_uptime_that_is_not_a_json_number_is_not_json(
    server: RawServer, call: Any, value: bytes
) -> None:
    """Shrunk case: Python's json read NaN as a healthy uptime, and the agent's answer then held
    NaN, which the TypeScript side cannot parse (REPORT_INVALID after a deploy that went live)."""
    body = b'{"status": "running", "connected": true, "channel": "c", "version": "1.0.0", '
    server.case = Case("answer", 200, body + b'"uptime": ' + value + b"}")
    got = call("health", "--url", server.url, "--timeout", "0.3", "--request-timeout", "0.2")
    assert got.error["code"] == "HEALTH_NOT_JSON"
    strict_loads(got.stdout)


def test_an_answer_nested_thousands_deep_is_not_json_not_a_crash(
    server: RawServer, call: Any
) -> None:
    """Shrunk case: json.loads raised RecursionError, and health ended in INTERNAL_ERROR."""
    server.case = Case("answer", 200, b"[" * 5000 + b"]" * 5000)
    got = call("health", "--url", server.url, "--timeout", "0.3", "--request-timeout", "0.2")
    assert got.error["code"] == "HEALTH_NOT_JSON"
    status = call("status", "--base", "/nonexistent-base", "--url", server.url)
    assert status.out["health"]["code"] == "HEALTH_NOT_JSON"
