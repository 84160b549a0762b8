#!/usr/bin/env python3
"""A scripted CyTube chat client: the reference for a chat-level smoke test.

  probe.py --server http://127.0.0.1:8765 --channel test-rosey \
           --name ShipitSmoke --pw-env SMOKE_PW --say '!ping' --expect-from RoseyTest --expect pong

Steps, as CyTube clients do them: GET /socketconfig/<channel>.json, connect with
socket.io (websocket transport) to the first server listed, joinChannel, login,
chatMsg, then wait for a chatMsg from --expect-from sent after ours (CyTube
replays recent chat on join, so older messages are ignored). The password is
read from an environment variable or a file, never from argv.

Prints one JSON object: {"ok", "error"?, "server_url", "login", "userlist",
"reply"?, "rtt_ms"?, "events": [[name, payload]...]}; exit code 0 when ok.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import socketio


def base_url(server: str) -> str:
    server = server.rstrip("/")
    return server if server.startswith(("http://", "https://")) else f"https://{server}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--server", required=True, help="cytu.be, or http://host:port")
    ap.add_argument("--channel", required=True)
    ap.add_argument("--name", help="log in under this name (else stay anonymous)")
    ap.add_argument("--pw-env", help="environment variable holding the password")
    ap.add_argument("--pw-file", help="file holding the password")
    ap.add_argument("--say", help="chat message to send after login")
    ap.add_argument("--expect-from", help="wait for a chatMsg from this user (after ours)")
    ap.add_argument("--expect", default="", help="text the awaited message must contain")
    ap.add_argument("--timeout", type=float, default=10.0)
    args = ap.parse_args(argv)

    out: dict[str, Any] = {"ok": False, "events": []}
    events: list[list[Any]] = out["events"]
    cond = threading.Condition()

    def record(name: str, payload: Any) -> None:
        with cond:
            events.append([name, payload])
            cond.notify_all()

    def wait_for(pred: Any, deadline: float, start: int = 0) -> Any:
        with cond:
            while True:
                for ev in events[start:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                cond.wait(left)

    def finish(error: str | None) -> int:
        if error:
            out["error"] = error
        else:
            out["ok"] = True
        print(json.dumps(out))
        return 0 if out["ok"] else 1

    password = None
    if args.pw_env:
        password = os.environ.get(args.pw_env)
    elif args.pw_file:
        password = Path(args.pw_file).read_text(encoding="utf-8").strip("\r\n")

    cfg_url = f"{base_url(args.server)}/socketconfig/{urllib.parse.quote(args.channel, safe='')}.json"
    try:
        with urllib.request.urlopen(cfg_url, timeout=args.timeout) as resp:
            cfg = json.loads(resp.read())
        out["server_url"] = cfg["servers"][0]["url"]
    except urllib.error.HTTPError as exc:
        return finish(f"socketconfig {cfg_url}: HTTP {exc.code} (channel not found?)")
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        return finish(f"socketconfig {cfg_url}: {exc}")

    client = socketio.Client(reconnection=False)
    for name in ("login", "userlist", "addUser", "userLeave", "chatMsg", "errorMsg", "kick", "usercount"):
        client.on(name, lambda payload=None, _n=name: record(_n, payload))
    client.on("disconnect", lambda reason=None: record("disconnect", str(reason)))
    deadline = time.monotonic() + args.timeout
    try:
        client.connect(out["server_url"], transports=["websocket"], wait_timeout=args.timeout)
    except socketio.exceptions.ConnectionError as exc:
        return finish(f"cannot connect to {out['server_url']}: {exc}")
    try:
        client.emit("joinChannel", {"name": args.channel})
        ul = wait_for(lambda e: e[0] in ("userlist", "errorMsg"), deadline)
        if ul is None or ul[0] == "errorMsg":
            return finish(f"joinChannel {args.channel}: {ul[1] if ul else 'no userlist within timeout'}")
        out["userlist"] = [u.get("name") for u in ul[1] if isinstance(u, dict)]
        if args.name:
            login: dict[str, str] = {"name": args.name}
            if password:
                login["pw"] = password
            client.emit("login", login)
            res = wait_for(lambda e: e[0] == "login", deadline)
            out["login"] = res[1] if res else None
            if res is None:
                return finish("no login answer within timeout")
            if not res[1].get("success"):
                return finish(f"login refused: {res[1].get('error')}")
        if args.say:
            if not args.name:
                return finish("--say needs --name (anonymous users cannot chat)")
            with cond:
                seen_before = len(events)  # history replayed on join comes before this
            t0 = time.monotonic()
            client.emit("chatMsg", {"msg": args.say, "meta": {}})
            me = str(out["login"].get("name", args.name)).lower()
            echo = wait_for(
                lambda e: e[0] == "chatMsg"
                and isinstance(e[1], dict)
                and str(e[1].get("username", "")).lower() == me,
                deadline,
                start=seen_before,
            )
            if echo is None:
                return finish(f"the server did not echo our chatMsg {args.say!r} within {args.timeout}s")
            if args.expect_from:
                who = args.expect_from.lower()
                got = wait_for(
                    lambda e: e[0] == "chatMsg"
                    and isinstance(e[1], dict)
                    and str(e[1].get("username", "")).lower() == who,
                    deadline,
                    start=seen_before,
                )
                if got is None:
                    return finish(f"{args.expect_from} did not answer {args.say!r} within {args.timeout}s")
                out["reply"] = got[1]
                out["rtt_ms"] = round((time.monotonic() - t0) * 1000, 1)
                if args.expect not in str(got[1].get("msg", "")):
                    return finish(f"wrong answer from {args.expect_from}: {got[1].get('msg')!r}, expected {args.expect!r}")
        return finish(None)
    finally:
        client.disconnect()


if __name__ == "__main__":
    sys.exit(main())
