#!/usr/bin/env python3
"""Drive the test chat server with several clients and print what each saw, as JSON.

  protocol_check.py URL CHANNEL NAME_A PW_A NAME_B PW_B

A joins and logs in; B joins (its userlist shows A), logs in (A sees addUser B), says
"hello from B" (A sees chatMsg); C joins anonymously (gets the chat replayed); B
disconnects (A sees userLeave B); A2 logs in as A (A is kicked: "Duplicate login").
Used by test/integration/target.test.ts; passwords come as arguments only because
these are throwaway test accounts.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

import socketio


class Recorder:
    def __init__(self, url: str) -> None:
        self.events: list[list[Any]] = []
        self.client = socketio.Client(reconnection=False)
        for name in ("login", "userlist", "addUser", "userLeave", "chatMsg", "kick", "errorMsg"):
            self.client.on(name, lambda payload=None, _n=name: self.events.append([_n, payload]))
        self.client.on("disconnect", lambda reason=None: self.events.append(["disconnect", str(reason)]))
        self.client.connect(url, transports=["websocket"], wait_timeout=10)

    def wait_for(self, event: str, timeout: float = 10.0, **match: Any) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for ev, payload in self.events:
                if ev == event and all(isinstance(payload, dict) and payload.get(k) == v for k, v in match.items()):
                    return payload
            time.sleep(0.02)
        raise SystemExit(f"timed out waiting for {event} {match}; saw {self.events}")


def main() -> int:
    url, channel, name_a, pw_a, name_b, pw_b = sys.argv[1:7]
    a = Recorder(url)
    a.client.emit("joinChannel", {"name": channel})
    a.wait_for("userlist")
    a.client.emit("login", {"name": name_a, "pw": pw_a})
    a.wait_for("login", success=True)

    b = Recorder(url)
    b.client.emit("joinChannel", {"name": channel})
    b.wait_for("userlist")
    b.client.emit("login", {"name": name_b, "pw": pw_b})
    b.wait_for("login", success=True)
    a.wait_for("addUser", name=name_b)
    b.client.emit("chatMsg", {"msg": "hello from B <3", "meta": {}})
    a.wait_for("chatMsg", username=name_b)

    c = Recorder(url)
    c.client.emit("joinChannel", {"name": channel})
    c.wait_for("chatMsg", username=name_b)  # replayed history
    c.client.emit("chatMsg", {"msg": "anonymous cannot chat", "meta": {}})

    b.client.disconnect()
    a.wait_for("userLeave", name=name_b)

    a2 = Recorder(url)
    a2.client.emit("joinChannel", {"name": channel})
    a2.wait_for("userlist")
    a2.client.emit("login", {"name": name_a, "pw": pw_a})
    a2.wait_for("login", success=True)
    a.wait_for("kick")
    a.wait_for("disconnect")
    time.sleep(0.3)
    for r in (a2, c):
        r.client.disconnect()
    print(json.dumps({"a": a.events, "b": b.events, "c": c.events, "a2": a2.events}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
