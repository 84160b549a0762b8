"""Run several shipit steps side by side in one container, each as the host runner would run it.

The Dagger runner folds the checks of a run (lint, typecheck, test, the security tools, the build)
into one container with this script, instead of one container per step: on a small machine, each
container start costs seconds the tools themselves do not (see the README's performance section).

The spec (a JSON file, the only argument) lists steps; for each, its ``dirs`` are created, then the commands run in order in the
step's folder with the step's environment on top of the container's, and the first command that
fails ends the step (the last command may exit with any of ``okExitCodes``). Output goes to files,
never through this process:

* ``<out>/stdout`` and ``<out>/stderr``: every command's output, in order;
* ``<out>/result.json``: ``exitCode``, ``durationMs``, ``argv`` (the command that ended the step)
  and ``timedOut`` (the step ran past ``timeoutSec`` and was killed, with everything it started).

A step may list ``services`` (test.services), each ``{name, host, port, timeoutSec, tcp,
readyCommand, line, broken}``: before its commands run, each service must accept a TCP connection
on ``host:port`` (the Dagger service bound under that host name) within ``timeoutSec`` of the
step's start, and its ``readyCommand`` must exit 0; then 127.0.0.1:``port`` is forwarded to it, so
the tests reach it on localhost as on the host runner. A service that is not ready (or ``broken``:
its container could not be built) ends the step with exit code 125 and its ``line`` on stderr,
``{why}`` and ``{fix}`` filled in; the commands never run.

Exits 0 once every step has ended, whatever the steps did: the steps' verdicts are theirs. Exits 2
only when the spec itself is unusable. Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path


SERVICE_EXIT_CODE = 125
_forwarded: set[int] = set()
_forward_lock = threading.Lock()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(65536):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def forward(port: int, host: str) -> None:
    """127.0.0.1:port -> host:port, for as long as this process runs (daemon threads)."""
    with _forward_lock:
        if port in _forwarded:
            return
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", port))
        server.listen(64)
        _forwarded.add(port)

    def accept() -> None:
        while True:
            client, _ = server.accept()
            try:
                upstream = socket.create_connection((host, port), timeout=10)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(a, b), daemon=True).start()

    threading.Thread(target=accept, daemon=True, name=f"forward-{port}").start()


def wait_services(step: dict, started: float) -> str | None:
    """None once every service is ready (and forwarded), else the failure line of the first that is not."""
    for svc in step.get("services", []):
        line: str = svc["line"]
        if svc.get("broken"):
            return line.replace("{why}", svc["broken"]).replace("{fix}", svc["brokenFix"])
        host, port, limit = svc["host"], int(svc["port"]), float(svc["timeoutSec"])
        deadline = started + limit
        last = "no attempt"
        ready = not svc.get("tcp", True)
        while not ready and time.monotonic() < deadline:
            try:
                socket.create_connection((host, port), timeout=1).close()
                ready = True
            except OSError as exc:
                last = exc.strerror or str(exc)
                time.sleep(0.2)
        if not ready:
            why = f"nothing answered on {host}:{port} within {limit:g} s (last attempt: {last})"
            fix = f"check the service's command and port in test.services ({svc['name']} must listen on 0.0.0.0:{port}), or raise its timeoutSec"
            return line.replace("{why}", why).replace("{fix}", fix)
        forward(port, host)
        command = svc.get("readyCommand")
        while command:
            try:
                done = subprocess.run(command, check=False, stdin=subprocess.DEVNULL, capture_output=True, timeout=max(0.1, deadline - time.monotonic()))
                if done.returncode == 0:
                    break
                said = (done.stdout + done.stderr).decode(errors="replace").strip().splitlines()[-1:] or [f"exit {done.returncode}"]
            except (OSError, subprocess.TimeoutExpired) as exc:
                said = [str(exc)]
            if time.monotonic() >= deadline:
                why = f"the port answered but the ready command `{' '.join(command)}` did not succeed within {limit:g} s; it last said: {said[0]}"
                return line.replace("{why}", why).replace("{fix}", f"check the ready command of test.services ({svc['name']}), or raise its timeoutSec")
            time.sleep(0.2)
    return None


def run_step(step: dict) -> None:
    out = Path(step["out"])
    out.mkdir(parents=True, exist_ok=True)
    for folder in step.get("dirs", []):
        Path(folder).mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **step.get("env", {})}
    commands: list[list[str]] = step["commands"]
    ok_last = set(step.get("okExitCodes", [0]))
    deadline = time.monotonic() + float(step["timeoutSec"])
    started = time.monotonic()
    exit_code, argv, timed_out = 0, [], False
    with open(out / "stdout", "wb") as stdout, open(out / "stderr", "wb") as stderr:
        failure = wait_services(step, started)
        if failure:
            stderr.write(f"{failure}\n".encode())
            exit_code, commands = SERVICE_EXIT_CODE, []
        for i, cmd in enumerate(commands):
            argv = cmd
            last = i == len(commands) - 1
            try:
                proc = subprocess.Popen(cmd, cwd=step["cwd"], env=env, stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, start_new_session=True)
            except OSError as exc:
                stderr.write(f"\nshipit: cannot start {cmd[0]}: {exc.strerror}\n".encode())
                exit_code = 127
                break
            try:
                exit_code = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # the whole process group: pytest's workers and a hung child go with it
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                exit_code, timed_out = 124, True
                break
            if exit_code < 0:  # killed by a signal: report it as a shell would
                exit_code = 128 - exit_code
            ok = exit_code in ok_last if last else exit_code == 0
            if not ok or exit_code != 0:
                break
    result = {"exitCode": exit_code, "durationMs": round((time.monotonic() - started) * 1000), "argv": argv, "timedOut": timed_out}
    (out / "result.json").write_text(json.dumps(result), encoding="utf-8")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: run_steps.py SPEC.json", file=sys.stderr)
        return 2
    try:
        steps = json.loads(Path(argv[1]).read_text(encoding="utf-8"))["steps"]
        for s in steps:
            for key in ("id", "commands", "cwd", "out", "timeoutSec"):
                if key not in s:
                    raise KeyError(f"step {s.get('id', '?')} has no {key!r}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"run_steps.py: unusable spec {argv[1]}: {exc}", file=sys.stderr)
        return 2
    threads = [threading.Thread(target=run_step, args=(s,), name=s["id"]) for s in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
