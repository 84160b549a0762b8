"""Property (issue #20, part 3): generated chat-server frames against the smoke client.

shipit_smoke.py's whole exchange (joinChannel, login, chatMsg, the bot's answer) runs against a
stand-in for python-socketio's Client that answers each emit with generated frames: user lists,
login answers, chat messages, errors, kicks and disconnects, in any order, with payloads of any
JSON type. Each run ends within the smoke's own timeout with one strict JSON line and a SMOKE_*
code (or ok with the expected reply, from the bot, after our own message), never a traceback or
a hang. What this leaves out: socket.io's framing itself (python-socketio parses it; its
malformed frames are its own to refuse), and socketconfig, which is fetched with urllib as
health is (stubbed here). Seeded (SHIPIT_PROP_SEED), a fixed number of examples.
"""

from __future__ import annotations

import importlib.util
import io
import os
import sys
import threading
import types
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event, given, seed, settings
from hypothesis import strategies as st

from conftest import strict_loads

HERE = Path(__file__).resolve().parent
SMOKE = next(
    (
        p
        for p in (
            HERE.parent / "support" / "shipit_smoke.py",
            HERE.parents[1] / "src/python/shipit_smoke.py",
        )
        if p.is_file()
    ),
    None,
)
SEED = int(os.environ.get("SHIPIT_PROP_SEED", "202026"))
RUNS = int(60 * float(os.environ.get("SHIPIT_PROP_RUNS", "1")))
CODES = {
    "SMOKE_SERVER_DOWN",
    "SMOKE_CHANNEL_NOT_FOUND",
    "SMOKE_BAD_SOCKETCONFIG",
    "SMOKE_LOGIN_REFUSED",
    "SMOKE_NOT_RELAYED",
    "SMOKE_BOT_SILENT",
    "SMOKE_WRONG_ANSWER",
    "SMOKE_DISCONNECTED",
    "SMOKE_BOT_ABSENT",
}


def load_smoke() -> Any:
    assert SMOKE is not None, "shipit_smoke.py not found beside the tests (support/ or src/python/)"
    spec = importlib.util.spec_from_file_location("shipit_smoke", SMOKE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeClient:
    """python-socketio's Client as the smoke uses it; `script` maps an emit to the frames it
    brings, each (event, payload)."""

    script: ClassVar[dict[str, list[tuple[str, Any]]]] = {}
    refuse: ClassVar[bool] = False

    def __init__(self, reconnection: bool = False) -> None:
        self.handlers: dict[str, Any] = {}

    def on(self, name: str, handler: Any) -> None:
        self.handlers[name] = handler

    def connect(self, url: str, transports: Any = None, wait_timeout: float = 0) -> None:
        if FakeClient.refuse:
            raise FakeConnectionError("connection refused")

    def emit(self, name: str, payload: Any) -> None:
        for kind, frame in FakeClient.script.get(name, []):
            handler = self.handlers.get(kind)
            if handler is not None:
                handler(frame)

    def disconnect(self) -> None:
        pass


class FakeConnectionError(Exception):
    pass


@pytest.fixture(scope="module")
def smoke_module() -> Any:
    fake = types.ModuleType("socketio")
    fake.Client = FakeClient  # type: ignore[attr-defined]
    fake.exceptions = types.SimpleNamespace(ConnectionError=FakeConnectionError)  # type: ignore[attr-defined]
    saved = sys.modules.get("socketio")
    sys.modules["socketio"] = fake
    module = load_smoke()
    module.fetch_socketconfig = lambda *a: "http://127.0.0.1:1/socket.io"
    yield module
    if saved is None:
        sys.modules.pop("socketio", None)
    else:
        sys.modules["socketio"] = saved


anything = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)
names = (
    st.sampled_from(["RoseyTest", "rosEYtest", "ShipitSmoke", "someone", "", "<b>x</b>"]) | anything
)
texts = st.sampled_from(["pong", "!ping", "PONG", "&lt;pong&gt;", "p o n g", "x" * 5000]) | anything
user = st.fixed_dictionaries({"name": names}) | anything
frames = st.one_of(
    st.tuples(st.just("userlist"), st.lists(user, max_size=4) | anything),
    st.tuples(st.just("addUser"), user),
    st.tuples(
        st.just("login"),
        st.fixed_dictionaries({"success": anything | st.booleans(), "name": names, "error": texts})
        | anything,
    ),
    st.tuples(
        st.just("chatMsg"), st.fixed_dictionaries({"username": names, "msg": texts}) | anything
    ),
    st.tuples(st.sampled_from(["errorMsg", "kick", "userLeave", "unknownEvent"]), anything),
    st.tuples(st.just("disconnect"), st.sampled_from(["io server disconnect", "transport close"])),
)


def usually(first: tuple[str, Any]) -> Any:
    """Mostly the frame a healthy server sends first, then anything; sometimes only anything."""
    noise = st.lists(frames, max_size=4)
    return st.one_of(
        noise.map(lambda rest: [first, *rest]), noise.map(lambda rest: [first, *rest]), noise
    )


scripts = st.fixed_dictionaries(
    {
        "joinChannel": usually(("userlist", [{"name": "ShipitSmoke"}])),
        "login": usually(("login", {"success": True, "name": "ShipitSmoke"})),
        "chatMsg": usually(("chatMsg", {"username": "ShipitSmoke", "msg": "!ping"})),
    }
)


def run(smoke_module: Any, argv: list[str], tmp: Path) -> tuple[int, dict[str, Any]]:
    password = tmp / "pw"
    password.write_text("1" * 8)
    out = io.StringIO()
    result: list[int] = []
    failure: list[BaseException] = []

    def go() -> None:
        try:
            with redirect_stdout(out):
                result.append(smoke_module.main([*argv, "--password-file", str(password)]))
        except BaseException as exc:  # noqa: BLE001 - reported below as the failure it is
            failure.append(exc)

    worker = threading.Thread(target=go, daemon=True)
    worker.start()
    worker.join(30)  # a liveness bound for a 0.1 s smoke, not a timing measurement
    assert not worker.is_alive(), "the smoke hung"
    assert not failure, repr(failure[0])
    lines = out.getvalue().strip().splitlines()
    assert len(lines) == 1, lines
    return result[0], strict_loads(lines[0])


BASE_ARGV = ["--server", "http://127.0.0.1:8880", "--channel", "test-rosey", "--account"]


@seed(SEED)
@settings(
    max_examples=RUNS,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(script=scripts, presence=st.booleans(), refuse=st.sampled_from([False, False, False, True]))
def test_any_chat_frames_end_in_one_smoke_code_or_the_expected_reply(
    smoke_module: Any, tmp_path_factory: Any, script: dict[str, Any], presence: bool, refuse: bool
) -> None:
    FakeClient.script = script
    FakeClient.refuse = refuse
    what = ["--presence"] if presence else ["--command", "!ping", "--expect", "pong"]
    argv = [*BASE_ARGV, "ShipitSmoke", "--bot", "RoseyTest", *what, "--timeout", "0.1"]
    code, out = run(smoke_module, argv, tmp_path_factory.mktemp("smoke"))
    assert code == (0 if out["ok"] else 1)
    event(out["error"]["code"] if not out["ok"] else "ok")
    if out["ok"]:
        assert presence or "pong" in out["reply"]
    else:
        assert out["error"]["code"] in CODES, out
        assert out["error"]["message"]
