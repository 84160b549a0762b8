#!/usr/bin/env python3
"""A small CyTube-compatible chat server for shipit's tests.

It covers what a CyTube bot and a chat-level smoke test use, with CyTube's
event names and payload shapes:

HTTP
  GET /socketconfig/<channel>.json  {"servers": [{"url": "http://HOST:PORT", "secure": false}]}
                                    (404 JSON for a channel not in --channels, when given)
  GET /api/channels/<channel>       debug view: users and recent chat (not part of CyTube)
  GET /healthz                      {"ok": true}

socket.io (path /socket.io, the default namespace)
  client -> joinChannel {name}      server -> userlist [user...], usercount N, then the
                                    channel's recent chat replayed as chatMsg (like CyTube)
  client -> login {name, pw}        server -> login {success: true, name, guest: false}
                                              and addUser {user} to the channel;
                                    or login {success: false, error: "Invalid username/password"}
  client -> chatMsg {msg, meta}     server -> chatMsg {username, msg, meta, time} to the channel
                                    (msg HTML-escaped as CyTube does; time in ms since the epoch)
  (disconnect)                      server -> userLeave {name}, usercount N

Both protocol generations CyTube serves: socket.io 4 clients (EIO=4, python-socketio here) and,
as CyTube's server does with allowEIO3, Engine.IO 3 / socket.io 2 clients (no EIO or EIO=3):
a polling handshake then a websocket upgrade (2probe/3probe/5), or a websocket alone; "40" is
sent unasked; the client pings ("2" -> "3"). Older bots, Rosey's own lib/socket_io.py among
them, speak only that one.

Accounts come from a JSON file (--accounts) mapping user name to password,
e.g. {"RoseyTest": "secret", "ShipitSmoke": "other"}. It is re-read on every
login, so tests can change it while the server runs. Names match
case-insensitively, as on CyTube. A second login under the same name kicks the
first connection ("Duplicate login"), as on CyTube.

On start it prints one JSON line to stdout: {"event": "listening", "url": ..., "port": ...}.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import json
import logging
import re
import secrets
import signal
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import socketio
from aiohttp import WSMsgType, web

log = logging.getLogger("cytube-test")

NAME_RE = re.compile(r"^[\w-]{1,20}$")
CHANNEL_RE = re.compile(r"^[\w-]{1,30}$")
INVALID_LOGIN = "Invalid username/password"
MAX_MSG_LENGTH = 320  # CyTube's default chat message limit


@dataclass
class Session:
    sid: str
    channel: str | None = None
    name: str | None = None
    guest: bool = False


@dataclass
class Channel:
    name: str
    history: deque[dict[str, Any]]
    users: dict[str, str] = field(default_factory=dict)  # lower-case name -> sid


@dataclass
class Eio3Client:
    """A client speaking Engine.IO 3 (socket.io 2.x framing), as older CyTube bots do.

    CyTube's socket.io 4 server runs with allowEIO3, so such clients (Rosey's own lib/socket_io.py
    among them: no EIO query, or EIO=3) get a handshake by long-polling, upgrade to a websocket
    with 2probe/3probe/5, receive "40" (connected to the default namespace) without asking, and
    send the pings themselves ("2" -> "3").
    """

    sid: str
    ws: web.WebSocketResponse | None = None
    closed: bool = False

    async def send(self, packet: str) -> None:
        if self.ws is not None and not self.ws.closed and not self.closed:
            try:
                await self.ws.send_str(packet)
            except (ConnectionError, RuntimeError) as exc:  # the peer went away mid-send
                log.info("eio3 %s: send failed: %s", self.sid, exc)


def user_entry(name: str, guest: bool) -> dict[str, Any]:
    return {
        "name": name,
        "rank": 0 if guest else 1,
        "profile": {"image": "", "text": ""},
        "meta": {"afk": False, "muted": False, "smuted": False},
    }


class ChatServer:
    def __init__(
        self,
        accounts_path: Path | None,
        channels: list[str] | None,
        history: int = 15,
        allow_guests: bool = False,
        public_url: str | None = None,
    ) -> None:
        self.accounts_path = accounts_path
        self.allowed_channels = {c.lower() for c in channels} if channels else None
        self.history_size = history
        self.allow_guests = allow_guests
        self.public_url = public_url.rstrip("/") if public_url else None
        self.sio = socketio.AsyncServer(
            async_mode="aiohttp",
            cors_allowed_origins="*",
            async_handlers=False,  # one event at a time per server, in order, like CyTube
            ping_interval=10,
            ping_timeout=10,
            logger=False,
            engineio_logger=False,
        )
        self.sessions: dict[str, Session] = {}
        self.channels: dict[str, Channel] = {}
        self.eio3: dict[str, Eio3Client] = {}  # sid -> an Engine.IO 3 client (socket.io v2 framing)
        self.app = web.Application(middlewares=[self.eio3_middleware])
        self.sio.attach(self.app)
        self.app.router.add_get("/socketconfig/{channel}.json", self.socketconfig)
        self.app.router.add_get("/api/channels/{channel}", self.channel_state)
        self.app.router.add_get("/healthz", self.healthz)
        self.sio.on("connect", self.on_connect)
        self.sio.on("disconnect", self.on_disconnect)
        self.sio.on("joinChannel", self.on_join)
        self.sio.on("login", self.on_login)
        self.sio.on("chatMsg", self.on_chat)

    # -- one way to reach a client, whichever protocol it speaks ---------------------

    async def emit(self, event: str, data: Any, to: str | None = None, room: str | None = None) -> None:
        if to is not None:
            client = self.eio3.get(to)
            if client is not None:
                await client.send("42" + json.dumps([event, data]))
            else:
                await self.sio.emit(event, data, to=to)
            return
        await self.sio.emit(event, data, room=room)
        for sid, client in list(self.eio3.items()):
            sess = self.sessions.get(sid)
            if sess is not None and sess.channel is not None and sess.channel.lower() == room:
                await client.send("42" + json.dumps([event, data]))

    async def enter_room(self, sid: str, room: str) -> None:
        if sid not in self.eio3:  # an EIO3 client's room is its session's channel
            await self.sio.enter_room(sid, room)

    async def disconnect(self, sid: str) -> None:
        client = self.eio3.get(sid)
        if client is None:
            await self.sio.disconnect(sid)
            return
        await client.send("41")
        client.closed = True
        if client.ws is not None:
            await client.ws.close()
        else:  # handshaken but never upgraded
            self.eio3.pop(sid, None)
            await self.on_disconnect(sid, "server disconnect")

    # -- Engine.IO 3 (socket.io v2) clients ------------------------------------------

    @web.middleware
    async def eio3_middleware(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.rstrip("/") == "/socket.io" and request.query.get("EIO", "3") != "4":
            return await self.eio3_request(request)
        return await handler(request)

    def eio3_open(self, sid: str) -> str:
        return "0" + json.dumps(
            {"sid": sid, "upgrades": ["websocket"], "pingInterval": 25000, "pingTimeout": 60000}
        )

    async def eio3_request(self, request: web.Request) -> web.StreamResponse:
        transport = request.query.get("transport")
        sid = request.query.get("sid")
        if transport == "polling" and request.method == "GET":
            if sid is None:  # the handshake
                sid = secrets.token_urlsafe(15)
                self.eio3[sid] = Eio3Client(sid)
                await self.on_connect(sid, {"REMOTE_ADDR": request.remote})
                packet = self.eio3_open(sid)
            elif sid in self.eio3:
                packet = "6"  # noop: this server pushes everything after the upgrade
            else:
                return self.eio3_error(1, "Session ID unknown")
            return web.Response(text=f"{len(packet)}:{packet}", content_type="text/plain")
        if transport == "websocket" and request.method == "GET":
            if sid is not None and (sid not in self.eio3 or self.eio3[sid].ws is not None):
                return self.eio3_error(1, "Session ID unknown")
            return await self.eio3_websocket(request, sid)
        return self.eio3_error(
            3, "Bad request: this test server takes Engine.IO 3 clients by a polling handshake"
            " and a websocket upgrade, or by a websocket alone"
        )

    @staticmethod
    def eio3_error(code: int, message: str) -> web.Response:
        return web.json_response({"code": code, "message": message}, status=400)

    async def eio3_websocket(self, request: web.Request, sid: str | None) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        upgraded = sid is not None
        if sid is None:  # a websocket from the start: open it here
            sid = secrets.token_urlsafe(15)
            self.eio3[sid] = Eio3Client(sid)
            await self.on_connect(sid, {"REMOTE_ADDR": request.remote})
            await ws.send_str(self.eio3_open(sid))
        client = self.eio3[sid]
        client.ws = ws
        if not upgraded:
            await client.send("40")
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                data: str = msg.data
                if data == "2probe":
                    await ws.send_str("3probe")
                elif data == "5":  # upgraded: now connect the default namespace, as socket.io v2 does
                    await client.send("40")
                elif data.startswith("2"):
                    await client.send("3" + data[1:])
                elif data.startswith("41") or data == "1":
                    break
                elif data.startswith("42"):
                    await self.eio3_event(sid, data[2:])
        finally:
            client.closed = True
            self.eio3.pop(sid, None)
            await self.on_disconnect(sid, "transport close")
        return ws

    async def eio3_event(self, sid: str, payload: str) -> None:
        try:
            packet = json.loads(payload)
        except ValueError:
            log.info("eio3 %s: event packet is not JSON: %.80r", sid, payload)
            return
        if not isinstance(packet, list) or not packet or not isinstance(packet[0], str):
            log.info("eio3 %s: event packet is not [name, data]: %.80r", sid, payload)
            return
        handler = {"joinChannel": self.on_join, "login": self.on_login, "chatMsg": self.on_chat}.get(packet[0])
        if handler is not None:
            await handler(sid, packet[1] if len(packet) > 1 else None)

    # -- accounts / channels ---------------------------------------------------

    def load_accounts(self) -> dict[str, tuple[str, str]]:
        """lower-case name -> (canonical name, password)."""
        if self.accounts_path is None:
            return {}
        try:
            data = json.loads(self.accounts_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.error("cannot read accounts file %s: %s", self.accounts_path, exc)
            return {}
        if not isinstance(data, dict):
            log.error("accounts file %s must hold a JSON object {name: password}", self.accounts_path)
            return {}
        return {
            str(name).lower(): (str(name), pw)
            for name, pw in data.items()
            if isinstance(pw, str)
        }

    def channel_known(self, name: str) -> bool:
        if not CHANNEL_RE.match(name):
            return False
        return self.allowed_channels is None or name.lower() in self.allowed_channels

    def channel(self, name: str) -> Channel:
        key = name.lower()
        if key not in self.channels:
            self.channels[key] = Channel(name=name, history=deque(maxlen=self.history_size))
        return self.channels[key]

    # -- HTTP ----------------------------------------------------------------------

    async def socketconfig(self, request: web.Request) -> web.Response:
        name = request.match_info["channel"]
        if not self.channel_known(name):
            return web.json_response({"error": f"channel {name!r} not found"}, status=404)
        url = self.public_url or f"{request.scheme}://{request.host}"
        return web.json_response({"servers": [{"url": url, "secure": url.startswith("https:")}]})

    async def channel_state(self, request: web.Request) -> web.Response:
        name = request.match_info["channel"]
        chan = self.channels.get(name.lower())
        if chan is None:
            return web.json_response({"error": f"no one joined {name!r}"}, status=404)
        users = [self.sessions[sid].name for sid in chan.users.values() if sid in self.sessions]
        return web.json_response(
            {"channel": chan.name, "users": users, "history": list(chan.history)}
        )

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # -- socket.io -----------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        self.sessions[sid] = Session(sid)
        log.info("connect %s from %s", sid, environ.get("REMOTE_ADDR"))

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        sess = self.sessions.pop(sid, None)
        log.info("disconnect %s (%s)", sid, reason)
        if sess is None or sess.channel is None:
            return
        chan = self.channel(sess.channel)
        if sess.name and chan.users.get(sess.name.lower()) == sid:
            del chan.users[sess.name.lower()]
            await self.emit("userLeave", {"name": sess.name}, room=chan.name.lower())
            await self.emit_usercount(chan)

    async def emit_usercount(self, chan: Channel) -> None:
        await self.emit("usercount", len(chan.users), room=chan.name.lower())

    async def on_join(self, sid: str, data: Any) -> None:
        sess = self.sessions.get(sid)
        if sess is None:
            return
        name = data.get("name") if isinstance(data, dict) else None
        if not isinstance(name, str) or not self.channel_known(name):
            await self.emit("errorMsg", {"msg": f"Channel {name!r} does not exist"}, to=sid)
            return
        if sess.channel is not None:
            return  # CyTube ignores a second joinChannel on the same socket
        chan = self.channel(name)
        sess.channel = chan.name
        await self.enter_room(sid, chan.name.lower())
        log.info("%s joined %s", sid, chan.name)
        await self.emit("setPermissions", {}, to=sid)
        await self.emit("channelOpts", {"allow_voteskip": True}, to=sid)
        if sess.name:  # logged in before joining
            await self.add_user(chan, sess)
        users = [
            user_entry(self.sessions[s].name or "", self.sessions[s].guest)
            for s in chan.users.values()
            if s in self.sessions
        ]
        await self.emit("userlist", users, to=sid)
        await self.emit("usercount", len(chan.users), to=sid)
        for msg in list(chan.history):  # CyTube replays recent chat on join
            await self.emit("chatMsg", msg, to=sid)

    async def add_user(self, chan: Channel, sess: Session) -> None:
        assert sess.name is not None
        key = sess.name.lower()
        old = chan.users.get(key)
        if old is not None and old != sess.sid:
            log.info("duplicate login for %s: kicking %s", sess.name, old)
            await self.emit("kick", {"reason": "Duplicate login"}, to=old)
            old_sess = self.sessions.get(old)
            if old_sess is not None:
                old_sess.name = None
            await self.disconnect(old)
        chan.users[key] = sess.sid
        await self.emit("addUser", user_entry(sess.name, sess.guest), room=chan.name.lower())
        await self.emit_usercount(chan)

    async def on_login(self, sid: str, data: Any) -> None:
        sess = self.sessions.get(sid)
        if sess is None:
            return
        if sess.name is not None:
            await self.emit("login", {"success": False, "error": "Already logged in"}, to=sid)
            return
        name = data.get("name") if isinstance(data, dict) else None
        pw = data.get("pw") if isinstance(data, dict) else None
        if not isinstance(name, str) or not NAME_RE.match(name):
            await self.emit(
                "login", {"success": False, "error": "Invalid username"}, to=sid
            )
            return
        accounts = self.load_accounts()
        account = accounts.get(name.lower())
        guest = False
        if isinstance(pw, str) and pw:
            if account is None or account[1] != pw:
                log.info("login refused for %s (%s)", name, sid)
                await self.emit("login", {"success": False, "error": INVALID_LOGIN}, to=sid)
                return
            name = account[0]
        elif self.allow_guests and account is None:
            guest = True
        else:
            log.info("guest login refused for %s (%s)", name, sid)
            await self.emit("login", {"success": False, "error": INVALID_LOGIN}, to=sid)
            return
        sess.name, sess.guest = name, guest
        log.info("%s logged in as %s%s", sid, name, " (guest)" if guest else "")
        await self.emit("login", {"success": True, "name": name, "guest": guest}, to=sid)
        if sess.channel is not None:
            await self.add_user(self.channel(sess.channel), sess)

    async def on_chat(self, sid: str, data: Any) -> None:
        sess = self.sessions.get(sid)
        if sess is None or sess.channel is None or sess.name is None:
            log.info("chatMsg from %s ignored: not in a channel or not logged in", sid)
            return
        msg = data.get("msg") if isinstance(data, dict) else None
        if not isinstance(msg, str) or not msg.strip():
            return
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        payload = {
            "username": sess.name,
            "msg": html.escape(msg[:MAX_MSG_LENGTH]),
            "meta": meta,
            "time": int(time.time() * 1000),
        }
        chan = self.channel(sess.channel)
        chan.history.append(payload)
        log.info("chat %s <%s> %s", chan.name, sess.name, msg[:MAX_MSG_LENGTH])
        await self.emit("chatMsg", payload, room=chan.name.lower())


async def serve(args: argparse.Namespace) -> None:
    server = ChatServer(
        accounts_path=Path(args.accounts) if args.accounts else None,
        channels=[c.strip() for c in args.channels.split(",") if c.strip()] if args.channels else None,
        history=args.history,
        allow_guests=args.allow_guests,
        public_url=args.public_url,
    )
    runner = web.AppRunner(server.app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    sockets = getattr(site._server, "sockets", None) or []  # noqa: SLF001
    port = sockets[0].getsockname()[1] if sockets else args.port
    print(
        json.dumps({"event": "listening", "url": f"http://{args.host}:{port}", "port": port}),
        flush=True,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    # Close every socket.io connection first (clients see the server go away at once, as
    # when a real server restarts), then the web server, without waiting for open handlers.
    log.info("shutting down: disconnecting %d client(s)", len(server.sessions))
    for sid in list(server.sessions):
        await server.sio.disconnect(sid)
    await server.sio.shutdown()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="CyTube-compatible test chat server")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    ap.add_argument("--accounts", help="JSON file {name: password}; re-read on every login")
    ap.add_argument("--channels", help="comma-separated channel names; others get 404 / errorMsg")
    ap.add_argument("--history", type=int, default=15, help="chat messages replayed on join")
    ap.add_argument("--allow-guests", action="store_true", help="accept a login without pw for unregistered names")
    ap.add_argument("--public-url", help="URL that socketconfig advertises (default: from the request's Host)")
    ap.add_argument("--log-level", default="INFO")
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
