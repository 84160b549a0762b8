#!/usr/bin/env python3
"""Chat-level smoke test of a deployed CyTube bot: shipit's `smoke` phase.

A bot can be running and connected and still deaf. This proves it end to end, as a person in
the channel would: a separate smoke account joins the channel, says the smoke command and waits
for the bot's answer.

  shipit_smoke.py --server http://127.0.0.1:8765 --channel test-rosey --account ShipitSmoke \
                  --password-file PATH --bot RoseyTest --command '!ping' --expect pong --timeout 15

Steps, in CyTube's protocol: GET /socketconfig/<channel>.json, connect with socket.io (websocket
transport) to the server it lists, joinChannel, login with the smoke account, chatMsg the command,
then wait for a chatMsg from the bot, sent after ours (CyTube replays recent chat on join, so
older messages never count), that contains the expected text.

--via http://127.0.0.1:PORT reaches a chat server that listens on the bot host's loopback through
a local forward (the deploy driver opens it over the deploy's SSH connection): every URL that
points at that loopback address (the configured server's and the ones socketconfig lists) is
rewritten to the forward.

The password is read from a file (`-` for stdin), never from argv, and is never printed.
Prints one JSON object: {"ok": true, "reply", "rtt_ms", ...} or {"ok": false, "error": {"code",
"message"}, ...}; exit code 0 when ok, 1 when the smoke failed, 2 on bad usage.

Error codes: SMOKE_SERVER_DOWN (socketconfig or socket.io unreachable), SMOKE_CHANNEL_NOT_FOUND,
SMOKE_BAD_SOCKETCONFIG, SMOKE_LOGIN_REFUSED, SMOKE_NOT_RELAYED (our message never came back),
SMOKE_BOT_SILENT, SMOKE_WRONG_ANSWER, SMOKE_DISCONNECTED (the server dropped or kicked us mid-way),
SMOKE_BOT_ABSENT (--presence: the bot is not in the channel's user list).

--presence (smoke.kind "presence") skips the chat command: after joining and logging in, the bot's
name must be in the channel's user list (or join it before the timeout).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, Callable, Dict, List, Optional, Tuple

LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# After a bot message that does not match, how long to keep waiting for one that does (a greeting
# may come before the answer); then the smoke fails as a wrong answer instead of running out the clock.
WRONG_ANSWER_GRACE = 3.0


class SmokeFailure(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def server_base_url(server: str) -> str:
    """`cytu.be` -> `https://cytu.be`; a URL stays as it is (as the bot reads its `server`)."""
    server = server.rstrip("/")
    return server if server.startswith(("http://", "https://")) else "https://" + server


def host_port(url: str) -> Tuple[str, int]:
    u = urllib.parse.urlsplit(url)
    return (u.hostname or "").lower(), u.port or (443 if u.scheme in ("https", "wss") else 80)


def is_loopback(host: str) -> bool:
    return host in LOOPBACK or host.startswith("127.")


class Rewriter:
    """Maps URLs on the bot host's loopback to the local forward (`--via`); others pass unchanged."""

    def __init__(self, server: str, via: Optional[str]) -> None:
        self.via = via.rstrip("/") if via else None
        self.target = host_port(server_base_url(server))

    def __call__(self, url: str) -> str:
        if not self.via:
            return url
        host, port = host_port(url)
        if not is_loopback(host) or (host, port) == host_port(self.via):
            return url
        if port != self.target[1]:
            raise SmokeFailure(
                "SMOKE_BAD_SOCKETCONFIG",
                "socketconfig lists %s, on the bot host's loopback but not at the forwarded port %d; "
                "set runtime.server to that address" % (url, self.target[1]),
            )
        u = urllib.parse.urlsplit(url)
        v = urllib.parse.urlsplit(self.via)
        return urllib.parse.urlunsplit((v.scheme, v.netloc, u.path, u.query, u.fragment))

    def describe(self, url: str) -> str:
        return "%s (through an SSH tunnel to the bot's host)" % url if self.via and is_loopback(host_port(url)[0]) else url


def fetch_socketconfig(server: str, channel: str, rewrite: Rewriter, timeout: float) -> str:
    """The socket.io server URL for the channel, as CyTube's web client finds it."""
    url = "%s/socketconfig/%s.json" % (server_base_url(server), urllib.parse.quote(channel, safe=""))
    shown = rewrite.describe(url)
    # The Host the bot would send, so the server advertises the address the bot sees (rewritten next).
    headers = {"User-Agent": "shipit-smoke", "Host": urllib.parse.urlsplit(url).netloc}
    request = urllib.request.Request(rewrite(url), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # nosec B310: http(s) only, from the config
            raw = resp.read()
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            raise SmokeFailure("SMOKE_CHANNEL_NOT_FOUND", "channel %r not found: GET %s answered HTTP 404. Check runtime.channel" % (channel, shown))
        raise SmokeFailure("SMOKE_SERVER_DOWN", "GET %s answered HTTP %d" % (shown, exc.code))
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise SmokeFailure("SMOKE_SERVER_DOWN", "cannot reach the chat server: GET %s failed: %s. Is the CyTube server up?" % (shown, reason))
    try:
        data = json.loads(raw)
        servers = data["servers"]
        secure = [s for s in servers if isinstance(s, dict) and s.get("secure")]
        first = (secure or servers)[0]
        found = first["url"]
        if not isinstance(found, str) or not found.startswith(("http://", "https://")):
            raise ValueError(found)
        return found
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        raise SmokeFailure("SMOKE_BAD_SOCKETCONFIG", "GET %s gave no usable server list: %s" % (shown, raw[:200].decode("utf-8", "replace")))


class Events:
    """Every socket.io event as it arrives, in order, with a wait on a predicate."""

    def __init__(self) -> None:
        self.items: List[Tuple[str, Any, float]] = []
        self.cond = threading.Condition()

    def record(self, name: str, payload: Any) -> None:
        with self.cond:
            self.items.append((name, payload, time.monotonic()))
            self.cond.notify_all()

    def mark(self) -> int:
        with self.cond:
            return len(self.items)

    def wait_for(self, pred: Callable[[str, Any], bool], deadline: Callable[[], float], start: int = 0) -> Optional[Tuple[int, str, Any, float]]:
        with self.cond:
            i = start
            while True:
                while i < len(self.items):
                    name, payload, at = self.items[i]
                    if pred(name, payload):
                        return i, name, payload, at
                    i += 1
                left = deadline() - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)


def text_of(payload: Any) -> str:
    return html.unescape(str(payload.get("msg", ""))) if isinstance(payload, dict) else ""


def sender(payload: Any) -> str:
    return str(payload.get("username", "")).lower() if isinstance(payload, dict) else ""


def smoke(args: argparse.Namespace, password: str, out: Dict[str, Any]) -> None:
    import socketio  # the pinned python-socketio client (smoke-requirements.txt)

    rewrite = Rewriter(args.server, args.via)
    t_start = time.monotonic()
    deadline_at = t_start + args.timeout
    found = fetch_socketconfig(args.server, args.channel, rewrite, args.timeout)
    out["server_url"] = found
    connect_url = rewrite(found)

    events = Events()
    client = socketio.Client(reconnection=False)
    for name in ("login", "userlist", "addUser", "userLeave", "chatMsg", "errorMsg", "kick"):
        client.on(name, lambda payload=None, _n=name: events.record(_n, payload))
    client.on("disconnect", lambda reason=None: events.record("disconnect", str(reason)))
    try:
        client.connect(connect_url, transports=["websocket"], wait_timeout=max(1.0, deadline_at - time.monotonic()))
    except socketio.exceptions.ConnectionError as exc:
        raise SmokeFailure("SMOKE_SERVER_DOWN", "cannot connect with socket.io to %s: %s" % (rewrite.describe(found), exc))
    try:
        drop = ("disconnect", "kick")

        def until(extra: float = 0.0) -> Callable[[], float]:
            return lambda: deadline_at + extra

        def dropped(what: str, ev: Tuple[int, str, Any, float]) -> SmokeFailure:
            return SmokeFailure("SMOKE_DISCONNECTED", "the chat server dropped the smoke connection %s: %s %s" % (what, ev[1], json.dumps(ev[2])))

        client.emit("joinChannel", {"name": args.channel})
        ul = events.wait_for(lambda n, p: n in ("userlist", "errorMsg") + drop, until())
        if ul is None:
            raise SmokeFailure("SMOKE_SERVER_DOWN", "joinChannel %s: no user list from %s within %ss" % (args.channel, rewrite.describe(found), args.timeout))
        if ul[1] == "errorMsg":
            raise SmokeFailure("SMOKE_CHANNEL_NOT_FOUND", "joinChannel %s refused: %s" % (args.channel, (ul[2] or {}).get("msg", ul[2]) if isinstance(ul[2], dict) else ul[2]))
        if ul[1] in drop:
            raise dropped("on joinChannel", ul)
        users = [str(u.get("name", "")) for u in ul[2] if isinstance(u, dict)] if isinstance(ul[2], list) else []

        client.emit("login", {"name": args.account, "pw": password})
        res = events.wait_for(lambda n, p: n in ("login",) + drop, until())
        if res is None:
            raise SmokeFailure("SMOKE_LOGIN_REFUSED", "no answer to the login of %s within %ss" % (args.account, args.timeout))
        if res[1] in drop:
            raise dropped("on login", res)
        if not (isinstance(res[2], dict) and res[2].get("success")):
            why = res[2].get("error") if isinstance(res[2], dict) else res[2]
            raise SmokeFailure(
                "SMOKE_LOGIN_REFUSED",
                "the chat server refused the smoke account %s: %s. Check the smoke password secret (smokePassword) and smoke.account" % (args.account, why),
            )
        me = str(res[2].get("name") or args.account).lower()
        bot = args.bot.lower()
        here = any(u.lower() == bot for u in users) or events.wait_for(
            lambda n, p: n == "addUser" and isinstance(p, dict) and str(p.get("name", "")).lower() == bot, lambda: 0.0
        ) is not None
        if args.presence:
            # The bot may join a moment after us: wait for its addUser until the deadline.
            seen = here or events.wait_for(
                lambda n, p: (n == "addUser" and isinstance(p, dict) and str(p.get("name", "")).lower() == bot) or n in drop, until()
            )
            if seen is not True and seen is not None and seen[1] in drop:
                raise dropped("while looking for %s" % args.bot, seen)
            if not seen:
                raise SmokeFailure(
                    "SMOKE_BOT_ABSENT",
                    "%s is not in %s's user list after %.1fs: the bot did not join the channel (check its log: journalctl -u UNIT, and its server, channel and password)"
                    % (args.bot, args.channel, time.monotonic() - t_start),
                )
            out.update(present=True, seen_ms=round((time.monotonic() - t_start) * 1000, 1))
            return

        mark = events.mark()  # replayed history and everything before our message come before this
        t0 = time.monotonic()
        client.emit("chatMsg", {"msg": args.command, "meta": {}})
        echo = events.wait_for(lambda n, p: (n == "chatMsg" and sender(p) == me) or n in drop, until(), start=mark)
        if echo is None:
            raise SmokeFailure(
                "SMOKE_NOT_RELAYED",
                "the chat server did not relay our %r within %ss (is %s muted or rate-limited in %s?)" % (args.command, args.timeout, args.account, args.channel),
            )
        if echo[1] in drop:
            raise dropped("after our chatMsg", echo)

        others: List[str] = []
        end = [deadline_at]
        start = echo[0] + 1
        while True:
            got = events.wait_for(lambda n, p: (n == "chatMsg" and sender(p) == bot) or n in drop, lambda: end[0], start=start)
            if got is None:
                break
            if got[1] in drop:
                raise dropped("while waiting for %s" % args.bot, got)
            reply = text_of(got[2])
            if args.expect in reply:
                out.update(reply=reply, rtt_ms=round((got[3] - t0) * 1000, 1))
                return
            others.append(reply)
            end[0] = min(end[0], time.monotonic() + WRONG_ANSWER_GRACE)
            start = got[0] + 1
        waited = round(time.monotonic() - t0, 1)
        if others:
            out["replies"] = others
            raise SmokeFailure(
                "SMOKE_WRONG_ANSWER",
                "%s answered %r with %s, which does not contain %r. The release does not handle basic commands"
                % (args.bot, args.command, " / ".join(json.dumps(o) for o in others), args.expect),
            )
        where = "" if here else " (%s is not in %s's user list: is the bot logged in to this channel?)" % (args.bot, args.channel)
        raise SmokeFailure("SMOKE_BOT_SILENT", "%s did not answer %r in %s within %ss%s" % (args.bot, args.command, args.channel, waited, where))
    finally:
        client.disconnect()


def read_password(path: str) -> str:
    if path == "-":
        return sys.stdin.read().rstrip("\r\n")
    with open(path, "r", encoding="utf-8") as fh:
        return fh.read().rstrip("\r\n")


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description="chat-level smoke test of a CyTube bot")
    ap.add_argument("--server", required=True, help="cytu.be, or http://host:port")
    ap.add_argument("--channel", required=True)
    ap.add_argument("--account", required=True, help="the smoke account's user name")
    ap.add_argument("--password-file", required=True, help="file holding the smoke account's password; - for stdin")
    ap.add_argument("--bot", required=True, help="the bot's user name")
    ap.add_argument("--command", help="chat message to send, e.g. !ping")
    ap.add_argument("--expect", help="text the bot's answer must contain")
    ap.add_argument("--presence", action="store_true", help="only check that the bot is in the channel's user list")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds for the whole exchange")
    ap.add_argument("--via", help="http://127.0.0.1:PORT forwarding to the server's loopback address on the bot host")
    args = ap.parse_args(argv)
    if not args.presence and (args.command is None or args.expect is None):
        ap.error("--command and --expect are required (or --presence)")
    out: Dict[str, Any] = {"ok": False, "server": args.server, "channel": args.channel, "account": args.account, "bot": args.bot}
    out.update({"kind": "presence"} if args.presence else {"command": args.command, "expect": args.expect})
    t0 = time.monotonic()
    try:
        password = read_password(args.password_file)
        if not password:
            raise SmokeFailure("SMOKE_LOGIN_REFUSED", "the smoke account's password is empty (smokePassword)")
        smoke(args, password, out)
        out["ok"] = True
    except SmokeFailure as exc:
        out["error"] = {"code": exc.code, "message": exc.message}
    except OSError as exc:
        out["error"] = {"code": "SMOKE_SERVER_DOWN", "message": "smoke failed: %s" % exc}
    out["seconds"] = round(time.monotonic() - t0, 3)
    print(json.dumps(out))
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
