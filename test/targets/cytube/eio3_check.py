#!/usr/bin/env python3
"""An Engine.IO 3 / socket.io 2 client, the protocol older CyTube bots speak (Rosey's own
lib/socket_io.py among them), written from the protocol, for the test chat server's check.

    eio3_check.py URL CHANNEL NAME [--hold SECONDS] [--say TEXT] [--websocket-only]
    (the password comes from $EIO3_PW, never argv)

It does what such a bot does: GET /socketconfig/CHANNEL.json, a polling handshake with no EIO
query, a websocket upgrade (2probe -> 3probe, 5), waits for "40", pings ("2" -> "3"),
joinChannel, login, optionally one chatMsg, then stays HOLD seconds and prints one JSON object:
{"ok", "open", "steps", "events": [[name, data], ...]}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aiohttp


async def run(args: argparse.Namespace) -> dict[str, Any]:
    steps: list[str] = []
    events: list[list[Any]] = []
    out: dict[str, Any] = {"ok": False, "steps": steps, "events": events}
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(f"{args.url}/socketconfig/{args.channel}.json") as r:
            conf = await r.json()
        server = conf["servers"][0]["url"]
        steps.append("socketconfig")
        ws_url = server.replace("http", "ws", 1) + "/socket.io/?EIO=3&transport=websocket"
        if not args.websocket_only:
            async with http.get(f"{server}/socket.io/?transport=polling") as r:
                body = await r.text()
                if r.status != 200:
                    out["error"] = f"handshake: HTTP {r.status}: {body}"
                    return out
            length, _, packet = body.partition(":")
            if not packet.startswith("0") or int(length) != len(packet):
                out["error"] = f"handshake: not one EIO3 open packet: {body!r}"
                return out
            out["open"] = json.loads(packet[1:])
            steps.append("handshake")
            ws_url += "&sid=" + out["open"]["sid"]
        async with http.ws_connect(ws_url) as ws:

            async def recv() -> str:
                msg = await asyncio.wait_for(ws.receive(), 5)
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"websocket closed: {msg.type}")
                return str(msg.data)

            if args.websocket_only:
                first = await recv()
                out["open"] = json.loads(first[1:])
                steps.append("open")
            else:
                await ws.send_str("2probe")
                if (got := await recv()) != "3probe":
                    out["error"] = f"probe: got {got!r}"
                    return out
                await ws.send_str("5")
                steps.append("upgrade")
            if (got := await recv()) != "40":
                out["error"] = f"namespace: expected 40, got {got!r}"
                return out
            steps.append("connected")
            await ws.send_str("2")
            if (got := await recv()) != "3":
                out["error"] = f"ping: expected 3, got {got!r}"
                return out
            steps.append("pong")

            async def emit(name: str, data: Any) -> None:
                await ws.send_str("42" + json.dumps([name, data]))

            async def until(name: str) -> Any:
                while True:
                    got = await recv()
                    if got.startswith("42"):
                        ev = json.loads(got[2:])
                        events.append(ev)
                        if ev[0] == name:
                            return ev[1] if len(ev) > 1 else None

            await emit("joinChannel", {"name": args.channel})
            await until("userlist")
            steps.append("joined")
            await emit("login", {"name": args.name, "pw": os.environ.get("EIO3_PW", "")})
            login = await until("login")
            if not login.get("success"):
                out["error"] = f"login: {login}"
                return out
            steps.append("login")
            if args.say:
                await emit("chatMsg", {"msg": args.say, "meta": {}})
            deadline = asyncio.get_running_loop().time() + args.hold
            while (left := deadline - asyncio.get_running_loop().time()) > 0:
                try:
                    msg = await asyncio.wait_for(ws.receive(), left)
                except asyncio.TimeoutError:
                    break
                if msg.type != aiohttp.WSMsgType.TEXT:
                    break
                if str(msg.data).startswith("42"):
                    events.append(json.loads(str(msg.data)[2:]))
    out["ok"] = True
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("channel")
    ap.add_argument("name")
    ap.add_argument("--hold", type=float, default=0)
    ap.add_argument("--say")
    ap.add_argument("--websocket-only", action="store_true")
    args = ap.parse_args()
    result = asyncio.run(run(args))
    print(json.dumps(result))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
