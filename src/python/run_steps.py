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

Exits 0 once every step has ended, whatever the steps did: the steps' verdicts are theirs. Exits 2
only when the spec itself is unusable. Standard library only.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


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
