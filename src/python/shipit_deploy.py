#!/usr/bin/env python3
"""Run a deploy plan against a host over SSH: shipit's deploy driver.

The plan (JSON, built by shipit's pure TypeScript core) lists remote agent calls as data. This
driver only executes it: it ships the agent, holds the environment's lock for the whole run
(an SSH session whose remote `flock` dies with it), runs each phase as one SSH round trip, rolls
back when a phase after the commit point fails, and appends the ledger entry. It prints one JSON
result. Secrets come from files and travel on stdin, never in argv.

A phase with `local` runs here, not on the host: the chat smoke (shipit_smoke.py). When its chat
server listens on the host's loopback, an SSH local forward over the same connection settings
(`ssh -N -L`, ExitOnForwardFailure) reaches it, and `--via http://127.0.0.1:PORT` tells the client.

Stdlib only; runs in shipit's deploy container and on a developer's host alike.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Tuple

SSH_FAILED = 255


# A second line of defence behind the config schema (src/core/config/grammar.ts): a user or host that
# ssh could read as an option, or that holds anything but name characters, never reaches ssh.
SAFE_USER = re.compile(r"^[A-Za-z_][A-Za-z0-9._-]{0,31}$")
SAFE_HOST = re.compile(r"^(?!-)[A-Za-z0-9.:-]{1,253}$")
SAFE_TUNNEL_HOST = re.compile(r"^(?!-)[A-Za-z0-9.:-]{1,253}$")


class UnsafeConfig(Exception):
    """A plan value the driver refuses to put on a command line."""


def checked_destination(user: Any, host: Any) -> Tuple[str, str]:
    if not isinstance(user, str) or not SAFE_USER.match(user):
        raise UnsafeConfig("refusing ssh user %r: not a POSIX user name (it must not start with '-'); fix environments.<env>.user" % (user,))
    if not isinstance(host, str) or not SAFE_HOST.match(host):
        raise UnsafeConfig("refusing ssh host %r: not a host name or address (it must not start with '-'); fix environments.<env>.host" % (host,))
    return user, host


def progress(line: str, kind: str = "deploy") -> None:
    """A phase's start or end on stderr, for a person watching a host deploy, rollback or setup."""
    if os.environ.get("SHIPIT_PROGRESS") == "1":
        sys.stderr.write("%s: %s\n" % (kind, line))
        sys.stderr.flush()


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Driver:
    def __init__(self, plan: Dict[str, Any]) -> None:
        self.plan = plan
        self.ssh = plan["ssh"]
        self.agent: Dict[str, Any] = plan.get("agent") or {}
        self.outputs: Dict[str, Dict[str, Any]] = {}
        self.lock_proc: Optional[subprocess.Popen[bytes]] = None

    # -- ssh ---------------------------------------------------------------------------------
    def ssh_argv(self, remote: Optional[str], extra: Optional[List[str]] = None) -> List[str]:
        """ssh's argv: every option first, then `-l USER`, `--` and HOST, so no config value can be
        read as an option (a user such as `-oProxyCommand=...` would run a command here)."""
        s = self.ssh
        user, host = checked_destination(s["user"], s["host"])
        argv = [
            "ssh",
            "-i", s["identityFile"],
            "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes",
            "-o", "StrictHostKeyChecking=yes",
            "-o", "UserKnownHostsFile=" + s["knownHostsFile"],
            "-o", "ConnectTimeout=%d" % s.get("connectTimeoutSec", 15),
            "-o", "ServerAliveInterval=5",
            "-o", "ServerAliveCountMax=3",
            "-o", "LogLevel=ERROR",
            "-p", str(int(s["port"])),
            *(extra or []),
            "-l", user,
            "--",
            host,
        ]
        return argv + ([remote] if remote is not None else [])

    def agent_command(self, args: List[str]) -> str:
        return " ".join(shlex.quote(a) for a in [self.agent["python"], self.agent["remotePath"], *args])

    def resolve(self, args: List[str]) -> List[str]:
        def sub(m: "re.Match[str]") -> str:
            phase, field = m.group(1), m.group(2)
            value = self.outputs.get(phase, {}).get(field)
            if value is None:
                raise KeyError("%s.%s" % (phase, field))
            return str(value)

        return [re.sub(r"\{([a-z-]+)\.([A-Za-z_]+)\}", sub, a) for a in args]

    def stdin_bytes(self, spec: Optional[Dict[str, Any]]) -> Optional[bytes]:
        if not spec:
            return None
        if "file" in spec:
            with open(spec["file"], "rb") as fh:
                return fh.read()
        doc = dict(spec.get("json", {}))
        secrets = {}
        for key, path in spec.get("secretFiles", {}).items():
            with open(path, "r", encoding="utf-8") as fh:
                secrets[key] = fh.read().rstrip("\n")
        if secrets:
            doc["secrets"] = secrets
        return json.dumps(doc).encode()

    # -- local calls (the chat smoke) and the tunnel they may need -------------------------------
    def open_tunnel(self, host: str, port: int) -> Tuple[Optional["subprocess.Popen[bytes]"], str, Optional[Dict[str, str]]]:
        """Forward a free local port to host:port as seen from the bot's host; (proc, url, error)."""
        if not SAFE_TUNNEL_HOST.match(host):
            return None, "", {"code": "UNSAFE_CONFIG", "message": "refusing the tunnel target %r: not a host name or address (check runtime.server)" % host}
        target = "[%s]" % host if ":" in host else host
        problem = ""
        for _ in range(3):  # the free port we picked may be taken before ssh binds it
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                probe.bind(("127.0.0.1", 0))
                lport = probe.getsockname()[1]
            argv = self.ssh_argv(None, ["-N", "-o", "ExitOnForwardFailure=yes", "-L", "127.0.0.1:%d:%s:%d" % (lport, target, int(port))])
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            deadline = time.monotonic() + self.ssh.get("connectTimeoutSec", 15) + 10
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    err = proc.stderr.read().decode(errors="replace").strip() if proc.stderr else ""
                    problem = "ssh -L 127.0.0.1:%d:%s:%d exited %d: %s" % (lport, target, port, proc.returncode, err or "no message")
                    break
                try:
                    socket.create_connection(("127.0.0.1", lport), timeout=1).close()
                    return proc, "http://127.0.0.1:%d" % lport, None
                except OSError:
                    time.sleep(0.1)
            else:
                self.close_tunnel(proc)
                problem = "ssh -L to %s:%d did not open within %ds" % (target, port, self.ssh.get("connectTimeoutSec", 15) + 10)
        return None, "", {"code": "SSH_TUNNEL_FAILED", "message": "cannot reach the chat server on the bot's host (%s:%d) through an SSH tunnel: %s" % (target, port, problem)}

    @staticmethod
    def close_tunnel(proc: Optional["subprocess.Popen[bytes]"]) -> None:
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def call_local(self, phase: Dict[str, Any]) -> Dict[str, Any]:
        started = time.monotonic()
        record: Dict[str, Any] = {"name": phase["name"]}
        spec = phase["local"]
        argv = list(spec["argv"])
        tunnel: Optional["subprocess.Popen[bytes]"] = None
        try:
            if spec.get("tunnel"):
                tunnel, url, problem = self.open_tunnel(spec["tunnel"]["host"], int(spec["tunnel"]["port"]))
                if problem is not None:
                    record.update(ok=False, seconds=round(time.monotonic() - started, 3), error=problem)
                    return record
                argv += ["--via", url]
            try:
                proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=phase.get("timeoutSec", 900))
            except subprocess.TimeoutExpired:
                message = "%s gave no answer within %ss" % (phase["name"], phase.get("timeoutSec", 900))
                record.update(ok=False, seconds=round(time.monotonic() - started, 3), error={"code": "LOCAL_TIMEOUT", "message": message})
                return record
            except OSError as exc:
                record.update(ok=False, seconds=round(time.monotonic() - started, 3), error={"code": "LOCAL_FAILED", "message": "cannot run %s: %s" % (argv[0], exc)})
                return record
        finally:
            self.close_tunnel(tunnel)
        record["seconds"] = round(time.monotonic() - started, 3)
        record.update(self.interpret(proc.returncode, proc.stdout, proc.stderr))
        if not record["ok"] and record["error"].get("code") in ("AGENT_NO_ANSWER", "SSH_FAILED"):
            tail = "\n".join(proc.stderr.decode(errors="replace").strip().splitlines()[-8:])
            record["error"] = {"code": "LOCAL_NO_ANSWER", "message": "%s gave no JSON answer (exit %d): %s" % (phase["name"], proc.returncode, tail)}
        if record["ok"]:
            self.outputs[phase["name"]] = record.get("result", {})
        return record

    def call(self, phase: Dict[str, Any]) -> Dict[str, Any]:
        """One phase, with a progress line when it starts and when it ends (SHIPIT_PROGRESS=1)."""
        progress("… %s" % phase["name"], self.plan.get("kind", "deploy"))
        record = self._call(phase)
        err = record.get("error") or {}
        progress("%s %s %.1fs%s" % ("✓" if record.get("ok") else "✗", phase["name"], record.get("seconds", 0.0), (" " + str(err.get("code"))) if err else ""), self.plan.get("kind", "deploy"))
        return record

    def _call(self, phase: Dict[str, Any]) -> Dict[str, Any]:
        if "local" in phase:
            return self.call_local(phase)
        started = time.monotonic()
        record: Dict[str, Any] = {"name": phase["name"]}
        try:
            args = self.resolve(phase["args"])
        except KeyError as missing:
            record.update(ok=False, seconds=0.0, error={"code": "PLAN_UNRESOLVED", "message": "no value for {%s}" % missing.args[0]})
            return record
        limit = phase.get("timeoutSec", 900)
        try:
            proc = subprocess.run(
                self.ssh_argv(self.agent_command(args)),
                input=self.stdin_bytes(phase.get("stdin")),
                capture_output=True,
                timeout=limit,
            )
        except subprocess.TimeoutExpired:
            # A hung phase is a failed phase: after the switch it rolls back like any other failure.
            record.update(ok=False, seconds=round(time.monotonic() - started, 3), error={"code": "PHASE_TIMEOUT", "message": "%s gave no answer within %ss (the host or the network hung); ssh was stopped" % (phase["name"], limit)})
            return record
        record["seconds"] = round(time.monotonic() - started, 3)
        record.update(self.interpret(proc.returncode, proc.stdout, proc.stderr))
        if record["ok"]:
            self.outputs[phase["name"]] = record.get("result", {})
        return record

    @staticmethod
    def interpret(code: int, stdout: bytes, stderr: bytes) -> Dict[str, Any]:
        lines = [ln for ln in stdout.decode(errors="replace").splitlines() if ln.strip()]
        err_tail = "\n".join(stderr.decode(errors="replace").strip().splitlines()[-8:])
        if lines:
            try:
                doc = json.loads(lines[-1])
                if isinstance(doc, dict) and "ok" in doc:
                    if doc["ok"]:
                        return {"ok": True, "result": doc}
                    return {"ok": False, "error": doc.get("error", {"code": "AGENT_ERROR", "message": "agent failed"}), "result": doc}
            except ValueError:
                pass
        if code == SSH_FAILED:
            return {"ok": False, "error": {"code": "SSH_FAILED", "message": "ssh failed: %s" % (err_tail or "exit 255")}}
        return {"ok": False, "error": {"code": "AGENT_NO_ANSWER", "message": "the agent gave no JSON answer (exit %d): %s" % (code, err_tail)}}

    # -- agent upload and lock -----------------------------------------------------------------
    def upload_agent(self) -> Dict[str, Any]:
        remote = self.agent["remotePath"]
        folder = remote.rsplit("/", 1)[0]
        tmp = "%s.tmp-%s" % (remote, self.plan["run"])
        script = "mkdir -p %s && cat > %s && mv -f %s %s" % tuple(shlex.quote(x) for x in (folder, tmp, tmp, remote))
        started = time.monotonic()
        record: Dict[str, Any] = {"name": "agent"}
        with open(self.agent["localPath"], "rb") as fh:
            try:
                proc = subprocess.run(self.ssh_argv(script), input=fh.read(), capture_output=True, timeout=120)
            except subprocess.TimeoutExpired:
                record.update(ok=False, seconds=round(time.monotonic() - started, 3), error={"code": "PHASE_TIMEOUT", "message": "uploading the agent gave no answer within 120 s (the host or the network hung)"})
                return record
        record["seconds"] = round(time.monotonic() - started, 3)
        if proc.returncode == 0:
            record.update(ok=True, result={"path": remote})
        else:
            record.update(self.interpret(proc.returncode, b"", proc.stderr))
            if record.get("ok") is not False:
                record.update(ok=False, error={"code": "SSH_FAILED", "message": proc.stderr.decode(errors="replace").strip()})
        return record

    def acquire_lock(self) -> Dict[str, Any]:
        started = time.monotonic()
        self.lock_proc = subprocess.Popen(
            self.ssh_argv(self.agent_command(self.plan["lock"]["args"])),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.lock_proc.stdout is not None
        line = self.lock_proc.stdout.readline()
        record: Dict[str, Any] = {"name": "lock", "seconds": round(time.monotonic() - started, 3)}
        if line:
            record.update(self.interpret(0, line, b""))
            if record["ok"]:
                return record
        rc = self.lock_proc.wait(timeout=30)
        stderr = self.lock_proc.stderr.read() if self.lock_proc.stderr else b""
        if not line:
            record.update(self.interpret(rc, b"", stderr))
        self.lock_proc = None
        return record

    def release_lock(self) -> None:
        if self.lock_proc is None:
            return
        try:
            assert self.lock_proc.stdin is not None
            self.lock_proc.stdin.close()
            self.lock_proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            self.lock_proc.kill()
        self.lock_proc = None

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> Dict[str, Any]:
        plan = self.plan
        started_iso = now_iso()
        t0 = time.monotonic()
        result: Dict[str, Any] = {"run": plan["run"], "kind": plan["kind"], "started": started_iso, "phases": [], "rollback": []}
        agent = self.upload_agent()
        result["phases"].append(agent)
        if not agent["ok"]:
            return self.finish(result, "refused", agent, t0, ledger=False)
        if plan.get("lock"):
            lock = self.acquire_lock()
            result["phases"].append(lock)
            if not lock["ok"]:
                return self.finish(result, "refused", lock, t0, ledger=False)
        try:
            failure = self.run_phases(plan["phases"], result["phases"])
            if failure is None:
                for phase in plan.get("onSuccess", []):
                    result["phases"].append(self.call(phase))
                return self.finish(result, "succeeded", None, t0)
            committed = any(p["ok"] and p["name"] == plan.get("commitAfter") for p in result["phases"])
            if not committed:
                return self.finish(result, "failed", failure, t0)
            if not plan.get("rollback"):
                return self.finish(result, "failed", failure, t0)
            switched = self.outputs.get(plan["commitAfter"], {})
            # the agent's switch names the known-good release to go back to (rollbackTo), and why none
            if switched.get("rollbackTo", switched.get("previous")) is None:
                why = switched.get("rollbackNote") or "no previous release on the host to roll back to"
                result["rollback"].append({"name": "rollback", "ok": False, "seconds": 0.0, "error": {"code": "NO_PREVIOUS_RELEASE", "message": why}})
                return self.finish(result, "rollback_failed", failure, t0)
            rolled = self.run_phases(plan["rollback"], result["rollback"]) is None
            return self.finish(result, "rolled_back" if rolled else "rollback_failed", failure, t0)
        finally:
            self.release_lock()

    def run_phases(self, phases: List[Dict[str, Any]], records: List[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
        """Run phases in order, appending each record, up to the first that fails: its record, or None."""
        for phase in phases:
            record = self.call(phase)
            records.append(record)
            if not record["ok"]:
                return record
        return None

    def finish(self, result: Dict[str, Any], outcome: str, failure: Optional[Dict[str, Any]], t0: float, ledger: bool = True) -> Dict[str, Any]:
        result["outcome"] = outcome
        result["ended"] = now_iso()
        result["seconds"] = round(time.monotonic() - t0, 3)
        result["outputs"] = self.outputs
        if failure is not None:
            result["cause"] = {"phase": failure["name"], **failure.get("error", {})}
        spec = self.plan.get("ledger")
        if ledger and spec:
            entry = dict(spec["entry"])
            entry.update(
                outcome=outcome,
                started=result["started"],
                ended=result["ended"],
                seconds=result["seconds"],
                phases={p["name"]: p.get("seconds", 0) for p in result["phases"]},
                rollbackPhases={p["name"]: p.get("seconds", 0) for p in result["rollback"]},
                release=self.outputs.get("install", {}).get("release") or self.outputs.get("rollback-target", {}).get("release"),
                previous=self.outputs.get("switch", {}).get("previous"),
            )
            if failure is not None:
                entry["cause"] = result["cause"]
            record = self.call({"name": "ledger", "args": spec["args"], "stdin": {"json": entry}})
            result["ledger"] = {"ok": record["ok"], "entry": entry, **({"error": record["error"]} if not record["ok"] else {})}
        return result


def inspect_artifact(path: str) -> Dict[str, Any]:
    """sha256 of the artifact and its manifest.json (the first member, NAME-VERSION/manifest.json)."""
    import hashlib
    import tarfile

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    manifest: Any = None
    with tarfile.open(path, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.count("/") == 1 and member.name.endswith("/manifest.json"):
                fh2 = tar.extractfile(member)
                manifest = json.loads(fh2.read()) if fh2 else None
                break
    return {"sha256": digest.hexdigest(), "manifest": manifest}


# -- setup: a bare host's desired state, step by step ---------------------------------------------
HOST_KEY_REFUSED = ("Host key verification failed", "REMOTE HOST IDENTIFICATION HAS CHANGED", "No ED25519 host key is known", "host key is known for")


def run_setup(plan: Dict[str, Any]) -> Dict[str, Any]:
    """Each step's check; its apply only when the check fails; the check again to confirm. The
    first ssh round trip is a read-only check, so a host whose key is not the pinned one is refused
    (ssh's StrictHostKeyChecking, through the same ssh_argv as every deploy) before any change."""
    driver = Driver(plan)
    remote = " ".join(shlex.quote(a) for a in plan["remote"])
    records: List[Dict[str, Any]] = []

    def sh(script: str) -> Tuple[int, str, str]:
        proc = subprocess.run(driver.ssh_argv(remote), input=script.encode(), capture_output=True, timeout=300)
        return proc.returncode, proc.stdout.decode(errors="replace"), proc.stderr.decode(errors="replace")

    def done(outcome: str, step: Dict[str, Any], code: str, message: str) -> Dict[str, Any]:
        return {"kind": "setup", "outcome": outcome, "steps": records, "cause": {"step": step["id"], "code": code, "message": message}}

    def ssh_failure(step: Dict[str, Any], err: str) -> Dict[str, Any]:
        text = " ".join(err.strip().splitlines()[-3:]) or "exit 255"
        if any(marker in err for marker in HOST_KEY_REFUSED):
            return done("refused", step, "HOST_KEY_UNVERIFIED", "the host's key is not the one pinned in --known-hosts, so it cannot be verified: nothing was sent to it. Fix: check the host's fingerprint out of band and put its line in the known_hosts file (ssh-keyscan -p PORT HOST) (ssh: %s)" % text)
        return done("failed", step, "SSH_FAILED", "ssh failed: %s" % text)

    for step in plan["steps"]:
        started = time.monotonic()
        record: Dict[str, Any] = {"id": step["id"], "change": step["change"]}
        records.append(record)
        code, out, err = sh(step["check"])
        if code == SSH_FAILED:
            record.update(status="failed", seconds=round(time.monotonic() - started, 3))
            return ssh_failure(step, err)
        if code == 0:
            record.update(status="unchanged", seconds=round(time.monotonic() - started, 3))
            continue
        if "apply" not in step:
            missing = " ".join(out.split()) or err.strip()
            record.update(status="refused", seconds=round(time.monotonic() - started, 3), detail=missing)
            return done("refused", step, "HOST_NOT_READY", "%s: missing %s" % (step.get("refusal", "the host is not ready"), missing))
        progress("… %s" % step["id"], "setup")
        code, out, err = sh(step["apply"])
        if code != 0:
            record.update(status="failed", seconds=round(time.monotonic() - started, 3))
            if code == SSH_FAILED:
                return ssh_failure(step, err)
            return done("failed", step, "STEP_FAILED", "%s failed (exit %d): %s" % (step["id"], code, " ".join((err or out).strip().splitlines()[-5:])))
        code, _, err = sh(step["check"])
        record["seconds"] = round(time.monotonic() - started, 3)
        if code != 0:
            record["status"] = "failed"
            return done("failed", step, "STEP_UNVERIFIED", "%s ran, but its check still fails afterwards: %s" % (step["id"], err.strip() or "the host is not in the expected state"))
        record["status"] = "changed"
        progress("✓ %s" % step["change"], "setup")
    return {"kind": "setup", "outcome": "succeeded", "steps": records}


def main(argv: List[str]) -> int:
    if len(argv) == 3 and argv[1] == "--inspect":
        try:
            print(json.dumps(inspect_artifact(argv[2])))
            return 0
        except (OSError, ValueError, EOFError) as exc:  # tarfile errors derive from these
            print(json.dumps({"error": "cannot read the artifact %s: %s" % (argv[2], exc)}))
            return 1
    if len(argv) != 2:
        print("usage: shipit_deploy.py PLAN.json | --inspect ARTIFACT", file=sys.stderr)
        return 2
    with open(argv[1], "r", encoding="utf-8") as fh:
        plan = json.load(fh)
    try:  # before any process starts: nothing reaches ssh that it could read as an option
        checked_destination(plan["ssh"]["user"], plan["ssh"]["host"])
    except UnsafeConfig as exc:
        if plan.get("kind") == "setup":
            print(json.dumps({"kind": "setup", "outcome": "refused", "steps": [], "cause": {"step": "driver", "code": "UNSAFE_CONFIG", "message": str(exc)}}))
            return 0
        print(json.dumps({"run": plan.get("run"), "kind": plan.get("kind"), "outcome": "error", "cause": {"phase": "driver", "code": "UNSAFE_CONFIG", "message": str(exc)}, "phases": [], "rollback": []}))
        return 0
    if plan.get("kind") == "setup":
        try:
            result = run_setup(plan)
        except Exception as exc:  # still answer in JSON
            result = {"kind": "setup", "outcome": "failed", "steps": [], "cause": {"step": "driver", "code": "DRIVER_ERROR", "message": repr(exc)}}
        print(json.dumps(result))
        return 0
    driver = Driver(plan)
    try:
        result = driver.run()
    except Exception as exc:  # the driver itself broke: still answer in JSON
        driver.release_lock()
        result = {"run": plan.get("run"), "kind": plan.get("kind"), "outcome": "error", "cause": {"phase": "driver", "code": "DRIVER_ERROR", "message": repr(exc)}, "phases": [], "rollback": []}
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
