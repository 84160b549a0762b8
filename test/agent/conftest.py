"""Fixtures for the host agent's tests: real files, real flock, real tar artifacts, real HTTP.

The agent is imported as a module. From the shipit repository (``python3 -m pytest test/agent``)
it lives in ``src/python``; in the folder that shipit's own gates run on, it sits at the root
(``pytest.ini`` has ``pythonpath = .``). Both are looked for here.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tarfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
for candidate in (HERE.parent, HERE.parents[1] / "src" / "python"):
    if (candidate / "shipit_agent.py").is_file() and str(candidate) not in sys.path:
        sys.path.insert(0, str(candidate))

import shipit_agent as agent  # noqa: E402

AGENT = Path(agent.__file__).resolve()
PACK_CANDIDATES = (
    HERE.parent / "support" / "pack_artifact.py",
    HERE.parents[1] / "src" / "python" / "pack_artifact.py",
)
PACK = next((p for p in PACK_CANDIDATES if p.is_file()), None)
# Generous limits only: the machines are small and busy. Nothing asserts a duration.
PROC_TIMEOUT = 120.0


@dataclass
class Result:
    code: int
    out: dict[str, Any]
    stdout: str
    stderr: str

    @property
    def error(self) -> dict[str, Any]:
        err = self.out.get("error")
        assert isinstance(err, dict), self.out
        return err


def parse(code: int, stdout: str, stderr: str) -> Result:
    lines = stdout.strip().splitlines()
    assert len(lines) == 1, f"expected exactly one JSON line on stdout, got {stdout!r}"
    out = json.loads(lines[0])
    assert isinstance(out, dict)
    assert out["ok"] is (code == 0), (code, out)
    return Result(code, out, stdout, stderr)


class Transcript:
    """Everything the agent printed in a test, for the canary checks."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def add(self, *texts: str) -> None:
        self.texts.extend(texts)


@pytest.fixture
def transcript() -> Transcript:
    return Transcript()


@pytest.fixture
def call(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, transcript: Transcript
) -> Any:
    """Run the agent in this process (so coverage sees it): call("status", "--base", b)."""

    def run(*argv: Any, stdin: bytes = b"") -> Result:
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
        code = agent.main([str(a) for a in argv])
        captured = capsys.readouterr()
        transcript.add(captured.out, captured.err)
        return parse(code, captured.out, captured.err)

    return run


@pytest.fixture
def proc(transcript: Transcript) -> Any:
    """Run the agent as a real process, as the SSH side does."""

    def run(*argv: Any, stdin: bytes = b"", env: dict[str, str] | None = None) -> Result:
        done = subprocess.run(
            [sys.executable, str(AGENT), *[str(a) for a in argv]],
            input=stdin,
            capture_output=True,
            timeout=PROC_TIMEOUT,
            env=env,
            check=False,
        )
        out, err = done.stdout.decode(), done.stderr.decode()
        transcript.add(out, err)
        return parse(done.returncode, out, err)

    return run


def spawn(*argv: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(AGENT), *[str(a) for a in argv]],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def first_line(p: subprocess.Popen[bytes]) -> dict[str, Any]:
    assert p.stdout is not None
    line = p.stdout.readline()
    assert line, f"no output; stderr: {p.stderr.read() if p.stderr else b''!r}"
    out = json.loads(line)
    assert isinstance(out, dict)
    return out


class LockHolder:
    """A real `lock` process holding the flock, as an open SSH session would."""

    def __init__(self, base: Path, run: str, version: str = "1.0.0", trigger: str = "push"):
        self.run = run
        self.process = spawn(
            "lock", "--base", base, "--run", run, "--version", version, "--trigger", trigger
        )
        self.answer = first_line(self.process)

    def release(self) -> int:
        """Close its stdin, as the SSH session ending does."""
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
        code = self.process.wait(timeout=PROC_TIMEOUT)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        return code

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=PROC_TIMEOUT)
        self.release()


@pytest.fixture
def base(tmp_path: Path) -> Path:
    return tmp_path / "srv" / "rosey-test"


@pytest.fixture
def hold(base: Path) -> Iterator[Any]:
    """hold("run-1") takes the real lock for a run until the test ends."""
    holders: list[LockHolder] = []

    def take(run: str = "run-1", **kw: str) -> LockHolder:
        holder = LockHolder(base, run, **kw)
        assert holder.answer == {"ok": True, "locked": True, "run": run}
        holders.append(holder)
        return holder

    yield take
    for holder in holders:
        holder.release()


# --------------------------------------------------------------------------- artifacts


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Artifact:
    path: Path
    sha: str
    name: str
    version: str

    def bytes(self) -> bytes:
        return self.path.read_bytes()


APP_FILES = {
    "bot/__init__.py": "",
    "bot/main.py": 'VERSION = "x"\n\n\ndef main() -> None:\n    print("hello")\n',
    "web/status.py": "PORT = 8080\n",
}


@pytest.fixture
def make_artifact(tmp_path: Path) -> Any:
    """Build a real artifact with shipit's own pack_artifact.py (the format install reads)."""
    assert PACK is not None, f"pack_artifact.py not found in {PACK_CANDIDATES}"
    counter = iter(range(1000))

    def build(
        version: str = "1.0.0",
        name: str = "bot",
        files: dict[str, str] | None = None,
        requirements: str = "",
        wheels: list[Path] | None = None,
    ) -> Artifact:
        work = tmp_path / f"build-{next(counter)}"
        src = work / "src"
        for rel, text in {**APP_FILES, **(files or {}), "requirements.txt": requirements}.items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(text)
        wheel_dir = work / "wheels"
        wheel_dir.mkdir()
        for wheel in wheels or []:
            (wheel_dir / wheel.name).write_bytes(wheel.read_bytes())
        out = work / "dist" / f"{name}-{version}.tar.gz"
        includes = sorted({rel.split("/")[0] for rel in {**APP_FILES, **(files or {})}})
        argv = [sys.executable, str(PACK), "--src", str(src), "--out", str(out)]
        argv += ["--wheels", str(wheel_dir), "--name", name, "--version", version]
        argv += ["--commit", "abc1234", "--requirements", "requirements.txt"]
        for inc in includes:
            argv += ["--include", inc]
        subprocess.run(argv, check=True, capture_output=True, timeout=PROC_TIMEOUT)
        return Artifact(out, sha256(out), name, version)

    return build


def retar(
    artifact: Artifact,
    dest: Path,
    edit: Any = None,
    extra: list[tuple[tarfile.TarInfo, bytes | None]] | None = None,
) -> Artifact:
    """Rewrite an artifact: edit(name, data) returns new data or None to drop the entry."""
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []
    with tarfile.open(artifact.path, "r:gz") as tar:
        for m in tar.getmembers():
            handle = tar.extractfile(m) if m.isfile() else None
            data = handle.read() if handle else None
            if edit is not None and data is not None:
                data = edit(m.name, data)
                if data is None:
                    continue
                m.size = len(data)
            members.append((m, data))
    for info, data in extra or []:
        if data is not None:
            info.size = len(data)
        members.append((info, data))
    with tarfile.open(dest, "w:gz") as tar:
        for m, data in members:
            tar.addfile(m, io.BytesIO(data) if data is not None else None)
    return Artifact(dest, sha256(dest), artifact.name, artifact.version)


def tar_of(dest: Path, entries: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    with tarfile.open(dest, "w:gz") as tar:
        for info, data in entries:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return dest


def entry(
    name: str, data: bytes | None = None, **attrs: Any
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    for key, value in attrs.items():
        setattr(info, key, value)
    if data is None and "type" not in attrs:
        info.type = tarfile.DIRTYPE
    return info, data


@pytest.fixture
def fast_python(tmp_path: Path) -> Path:
    """Stands in for python3: makes the virtualenv without pip, in a fraction of the time.

    Used where a test needs a release but not pip (the requirement file is empty). One test
    installs a real wheel with the real interpreter and pip.
    """
    script = tmp_path / "fast-python"
    script.write_text(
        textwrap.dedent(
            f"""\
            #!/bin/sh
            if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
              exec "{sys.executable}" -m venv --without-pip "$3"
            fi
            exec "{sys.executable}" "$@"
            """
        )
    )
    script.chmod(0o755)
    return script


@pytest.fixture
def install(call: Any, base: Path, fast_python: Path) -> Any:
    """receive + install an artifact under a held lock; returns the install answer."""

    def run(artifact: Artifact, run_id: str = "run-1") -> Result:
        got = call(
            "receive",
            "--base",
            base,
            "--run",
            run_id,
            "--sha256",
            artifact.sha,
            stdin=artifact.bytes(),
        )
        assert got.code == 0, got.out
        return call(
            "install",
            "--base",
            base,
            "--run",
            run_id,
            "--sha256",
            artifact.sha,
            "--python",
            fast_python,
        )

    return run


def fake_release(base: Path, name: str) -> Path:
    """A complete-looking release folder, for tests about choosing and pruning releases."""
    folder = base / "releases" / name
    folder.mkdir(parents=True)
    version = agent.RELEASE_RE.match(name)
    assert version is not None
    (folder / "manifest.json").write_text(json.dumps({"version": version["version"]}))
    return folder


def point_current(base: Path, name: str) -> None:
    link = base / "current"
    if link.is_symlink():
        link.unlink()
    link.symlink_to(f"releases/{name}")


# --------------------------------------------------------------------------- property tests
# Shared by the hypothesis suites (test_props_*.py): the agent in this process with its streams
# swapped (pytest's function-scoped fixtures cannot serve hypothesis examples), a bound on each
# call, and a snapshot of a sandbox folder to prove that a refused call changed nothing.


class Hang(BaseException):
    """A call ran past its bound. BaseException: the agent's catch-all must not swallow it."""


HANG_SECONDS = 30.0


PARSER = agent.build_parser()


def run_agent(argv: list[Any], stdin: bytes = b"") -> Result:
    """agent.main(argv) in this process, stdin fed from bytes, stdout and stderr captured.

    The argument parser is built once (main builds it per call, as each call is a new process
    on the host): a hypothesis run makes hundreds of calls.
    """

    def alarm(signum: int, frame: Any) -> None:
        raise Hang(f"{argv[:1]} ran past {HANG_SECONDS} s")

    saved = sys.stdin, sys.stdout, sys.stderr, agent.build_parser
    out, err = io.StringIO(), io.StringIO()
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    sys.stdout, sys.stderr = out, err
    agent.build_parser = lambda: PARSER  # type: ignore[assignment]
    previous = signal.signal(signal.SIGALRM, alarm)
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS)
    try:
        code = agent.main([str(a) for a in argv])
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.stdin, sys.stdout, sys.stderr, agent.build_parser = saved
    return parse_strict(code, out.getvalue(), err.getvalue())


def _no_constant(name: str) -> Any:
    raise AssertionError(f"{name} is not JSON (JSON.parse refuses it)")


def props(examples: int) -> Any:
    """The agent properties' settings: a fixed set of cases (derandomized, no example database),
    no deadline (the machine is shared), and room for the large artifacts they generate."""
    from hypothesis import HealthCheck, settings

    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def strict_loads(text: str) -> Any:
    """JSON as the TypeScript side's JSON.parse takes it: NaN and Infinity fail the test."""
    return json.loads(text, parse_constant=_no_constant)


def parse_strict(code: int, stdout: str, stderr: str) -> Result:
    """parse(), and the line must be strict JSON: what the TypeScript side's JSON.parse takes."""
    result = parse(code, stdout, stderr)
    strict_loads(stdout.strip())
    assert "Traceback" not in stderr, stderr
    if code != 0:
        assert result.error["code"] != "INTERNAL_ERROR", result.error
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", result.error["code"]), result.error
        assert code == (agent.EXIT_LOCKED if result.error["code"] == "LOCKED" else 1), result.out
    return result


def snapshot(root: Path) -> dict[str, tuple[str, ...]]:
    """Every path under root (links not followed): its kind, mode and bytes or link target."""
    seen: dict[str, tuple[str, ...]] = {}
    todo = [(str(root), "")]
    while todo:
        folder, prefix = todo.pop()
        with os.scandir(folder) as entries:
            for e in entries:
                rel = prefix + e.name
                st = e.stat(follow_symlinks=False)
                mode = oct(st.st_mode)
                if e.is_symlink():
                    seen[rel] = ("link", mode, os.readlink(e.path))
                elif e.is_dir(follow_symlinks=False):
                    seen[rel] = ("dir", mode)
                    todo.append((e.path, rel + "/"))
                elif e.is_file(follow_symlinks=False):
                    with open(e.path, "rb") as fh:
                        seen[rel] = ("file", mode, hashlib.sha256(fh.read()).hexdigest())
                else:
                    seen[rel] = ("special", mode)
    return seen


def report(target: str, cases: int, examples: int) -> None:
    """Print how many cases a property ran (pytest -s shows it), and hold it to its budget:
    hypothesis may stop early only when the strategy has no more distinct cases."""
    print(f"\nproperty {target}: {cases} cases generated (max_examples={examples})")
    assert cases >= min(examples, 10), f"{target}: only {cases} cases ran"


def changes(before: dict[str, tuple[str, ...]], after: dict[str, tuple[str, ...]]) -> list[str]:
    """Paths added, removed or changed between two snapshots, sorted."""
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))


# --------------------------------------------------------------------------- a tiny HTTP server


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    hang: float = 0.0
    close: bool = False


def as_reply(value: Any) -> Reply:
    if isinstance(value, Reply):
        return value
    return Reply(body=json.dumps(value).encode())


@dataclass
class Routes:
    """Path -> replies, served in order; the last one repeats."""

    replies: dict[str, list[Any]] = field(default_factory=dict)
    requests: list[tuple[str, str, bytes]] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)

    def next(self, path: str) -> Reply | None:
        queue = self.replies.get(path)
        if not queue:
            return None
        return as_reply(queue.pop(0) if len(queue) > 1 else queue[0])


class Handler(BaseHTTPRequestHandler):
    server: Any

    def answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        routes: Routes = self.server.routes
        routes.requests.append((self.command, self.path, body))
        reply = routes.next(self.path)
        if reply is None:
            reply = Reply(404, json.dumps({"error": "not found"}).encode())
        if reply.hang:
            routes.released.wait(reply.hang)
        if reply.close or reply.hang:
            self.close_connection = True
            return
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    do_GET = answer
    do_POST = answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Server:
    routes: Routes
    port: int

    def url(self, path: str = "/api/health") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def http() -> Iterator[Any]:
    """http({"/api/health": [reply, ...]}) starts a server on loopback for this test."""
    servers: list[tuple[ThreadingHTTPServer, Routes]] = []

    def start(replies: dict[str, list[Any]]) -> Server:
        routes = Routes(replies={k: list(v) for k, v in replies.items()})
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        server.routes = routes  # type: ignore[attr-defined]
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        servers.append((server, routes))
        return Server(routes, server.server_address[1])

    yield start
    for server, routes in servers:
        routes.released.set()
        server.shutdown()
        server.server_close()


def free_port() -> int:
    """A loopback port nothing listens on (connection refused)."""
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def healthy(version: str = "1.0.0", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "running",
        "connected": True,
        "channel": "test-rosey",
        "version": version,
        "uptime": 1.5,
    }
    body.update(changes)
    return body


# --------------------------------------------------------------------------- fake systemd


FAKE_SYSTEMCTL = """\
#!{python}
# A stand-in for systemctl: state lives in files beside it (real systemd is tested elsewhere).
import pathlib, sys
state = pathlib.Path(__file__).resolve().parent
args = sys.argv[1:]
with open(state / "calls.log", "a") as log:
    log.write(" ".join(args) + "\\n")
if args[:1] == ["restart"]:
    fail = state / "restart-fails"
    if fail.exists():
        sys.stderr.write(fail.read_text())
        sys.exit(1)
    sys.exit(0)
if args[:1] == ["show"] and "InvocationID" in args:
    inv = state / "invocation"
    print(inv.read_text().strip() if inv.exists() else "1" * 32)
    sys.exit(0)
if args[:1] == ["show"]:
    count = state / "nrestarts"
    n = int(count.read_text()) if count.exists() else 0
    if (state / "crashing").exists():
        n += 1
        count.write_text(str(n))
    active = state / "active-state"
    print("ActiveState=" + (active.read_text().strip() if active.exists() else "active"))
    print("NRestarts=%d" % n)
    sys.exit(0)
sys.exit(2)
"""

FAKE_JOURNALCTL = """\
#!{python}
import pathlib, sys
state = pathlib.Path(__file__).resolve().parent
with open(state / "journalctl.log", "a") as log:
    log.write(" ".join(sys.argv[1:]) + "\\n")
denied = state / "journal-denied"
if denied.exists():
    sys.stderr.write(denied.read_text())
journal = state / "journal"
print(journal.read_text() if journal.exists() else "-- No entries --")
"""


@dataclass
class FakeSystemd:
    dir: Path

    def calls(self) -> list[str]:
        log = self.dir / "calls.log"
        return log.read_text().splitlines() if log.exists() else []

    def set(self, name: str, text: str) -> None:
        (self.dir / name).write_text(text)


@pytest.fixture
def systemd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeSystemd:
    """Fake systemctl and journalctl first on PATH."""
    folder = tmp_path / "fake-systemd"
    folder.mkdir()
    for name, text in (("systemctl", FAKE_SYSTEMCTL), ("journalctl", FAKE_JOURNALCTL)):
        script = folder / name
        script.write_text(text.format(python=sys.executable))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ.get('PATH', '')}")
    return FakeSystemd(folder)


def wait_for(predicate: Any, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not predicate():
        assert time.monotonic() < deadline, "condition not met within the limit"
        time.sleep(0.05)
