"""configure: secrets reach the host only as 0600 files; the canary shows up nowhere else."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

CANARY = "canary-7f3a9c2e-do-not-print"
CONFIG = {
    "channel": "test-rosey",
    "bot_name": "RoseyTest",
    "server": "cytu.be",
    "log_level": "DEBUG",
    "db_path": "data/test.db",
}


def payload(config: Any = None, secrets: Any = None) -> bytes:
    body: dict[str, Any] = {"config": CONFIG if config is None else config}
    if secrets is not None:
        body["secrets"] = secrets
    return json.dumps(body).encode()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_configure_writes_0600_secrets_and_the_config(call: Any, base: Path, hold: Any) -> None:
    hold("r1")
    got = call(
        "configure",
        "--base",
        base,
        "--run",
        "r1",
        stdin=payload(secrets={"bot_password": CANARY, "smoke_token": "t0k"}),
    )
    assert got.out == {
        "ok": True,
        "config": str(base / "shared" / "config.json"),
        "secrets": ["bot_password", "smoke_token"],
    }
    secret = base / "shared" / "secrets" / "bot_password"
    assert secret.read_text() == CANARY
    assert mode(secret) == 0o600
    assert mode(base / "shared" / "secrets") == 0o700
    config_file = base / "shared" / "config.json"
    assert mode(config_file) == 0o600
    config = json.loads(config_file.read_text())
    assert config == {**CONFIG, "password_file": str(secret)}
    # Atomic writes leave no temp files behind.
    assert sorted(p.name for p in secret.parent.iterdir()) == ["bot_password", "smoke_token"]
    assert sorted(p.name for p in config_file.parent.iterdir()) == [
        "config.json",
        "data",
        "secrets",
    ]


def test_configure_without_a_password_has_no_password_file(
    call: Any, base: Path, hold: Any
) -> None:
    hold("r1")
    got = call("configure", "--base", base, "--run", "r1", stdin=payload())
    assert got.out["secrets"] == []
    assert "password_file" not in json.loads((base / "shared" / "config.json").read_text())


def test_a_loose_secrets_folder_is_tightened(call: Any, base: Path, hold: Any) -> None:
    hold("r1")
    (base / "shared" / "secrets").chmod(0o755)
    call("configure", "--base", base, "--run", "r1", stdin=payload())
    assert mode(base / "shared" / "secrets") == 0o700


@pytest.mark.parametrize(
    ("stdin", "fragment"),
    [
        (b"{not json " + CANARY.encode(), "is not valid JSON"),
        (b"\xff\xfe", "not UTF-8"),
        (b'["config"]', 'stdin must be a JSON object {"config"'),
        (payload(secrets=["bot_password"]), '"secrets" must be an object'),
        (payload(secrets={"../escape": CANARY}), "secret '../escape' needs a name"),
        (payload(secrets={"bot_password": ""}), "non-empty string value"),
        (payload(secrets={"bot_password": 42}), "non-empty string value"),
        (payload(config={**CONFIG, "password": CANARY}), "holds a secret value under password"),
        (payload(config={"irc": {"api_token": CANARY}}), "under irc.api_token"),
        pytest.param(b" " * (1 << 20) + b"{}", "larger than", id="too-large"),
    ],
)
def test_bad_configuration_input(
    call: Any, base: Path, hold: Any, transcript: Any, stdin: bytes, fragment: str
) -> None:
    hold("r1")
    got = call("configure", "--base", base, "--run", "r1", stdin=stdin)
    assert got.error["code"] == "BAD_CONFIG_INPUT"
    assert fragment in got.error["message"]
    assert all(CANARY not in text for text in transcript.texts)
    assert not (base / "shared" / "config.json").exists()
    assert list((base / "shared" / "secrets").iterdir()) == []


def every_file(root: Path) -> list[Path]:
    return [Path(d) / n for d, _, names in os.walk(root) for n in names]


def test_canary_secret_appears_only_in_its_0600_file(
    proc: Any,
    base: Path,
    hold: Any,
    make_artifact: Any,
    fast_python: Path,
    transcript: Any,
    http: Any,
) -> None:
    """A whole deploy's host side, as real processes; the canary must not leak anywhere."""
    hold("run-77")
    art = make_artifact(version="3.1.0")
    steps = [
        proc("receive", "--base", base, "--run", "run-77", "--sha256", art.sha, stdin=art.bytes()),
        proc(
            "configure",
            "--base",
            base,
            "--run",
            "run-77",
            stdin=payload(secrets={"bot_password": CANARY}),
        ),
        proc(
            "install",
            "--base",
            base,
            "--run",
            "run-77",
            "--sha256",
            art.sha,
            "--python",
            fast_python,
        ),
    ]
    release = steps[-1].out["release"]
    server = http(
        {
            "/api/health": [
                {
                    "status": "running",
                    "connected": True,
                    "channel": "test-rosey",
                    "version": "3.1.0",
                    "uptime": 1,
                }
            ]
        }
    )
    steps += [
        proc("switch", "--base", base, "--run", "run-77", "--release", release),
        proc("health", "--url", server.url(), "--timeout", "30", "--expect-version", "3.1.0"),
        proc(
            "ledger-append",
            "--base",
            base,
            stdin=json.dumps(
                {
                    "kind": "deploy",
                    "env": "test",
                    "version": "3.1.0",
                    "release": release,
                    "outcome": "succeeded",
                    "started": "2026-11-26T21:00:00Z",
                    "ended": "2026-11-26T21:00:09Z",
                    "sha256": art.sha,
                    "trigger": "push",
                }
            ).encode(),
        ),
        proc("history", "--base", base),
        proc("status", "--base", base, "--url", server.url()),
        proc("rollback-target", "--base", base, "--to", "3.1.0"),
    ]
    # The ledger refuses an entry that carries the secret, and does not echo it.
    leaked = proc(
        "ledger-append",
        "--base",
        base,
        stdin=json.dumps(
            {
                "kind": "deploy",
                "env": "test",
                "version": "3.1.0",
                "outcome": "succeeded",
                "started": "2026-11-26T21:00:00Z",
                "ended": "2026-11-26T21:00:09Z",
                "bot_password": CANARY,
            }
        ).encode(),
    )
    assert leaked.error["code"] == "BAD_LEDGER_ENTRY"
    assert [s.code for s in steps[:-1]] == [0] * (len(steps) - 1), [s.out for s in steps]
    assert transcript.texts and all(CANARY not in text for text in transcript.texts)
    holders = [p for p in every_file(base) if CANARY.encode() in p.read_bytes()]
    secret = base / "shared" / "secrets" / "bot_password"
    assert holders == [secret]
    assert mode(secret) == 0o600
    assert CANARY not in (base / "ledger.jsonl").read_text()
    assert CANARY not in (base / "deploy.lock.json").read_text()


def test_configure_with_release_writes_the_config_into_that_release(
    call: Any, base: Path, hold: Any
) -> None:
    from conftest import fake_release

    release = fake_release(base, "1.0.0-20260101T000000Z")
    os.symlink("../../shared/config.json", release / "config.json")
    hold("r1")
    got = call(
        "configure",
        "--base",
        base,
        "--run",
        "r1",
        "--release",
        release.name,
        stdin=payload(secrets={"bot_password": CANARY}),
    )
    target = release / "config.json"
    assert got.out == {"ok": True, "config": str(target), "secrets": ["bot_password"]}
    assert not target.is_symlink()
    assert mode(target) == 0o600
    config = json.loads(target.read_text())
    assert config["channel"] == "test-rosey"
    assert CANARY not in target.read_text()
    # The password belongs to the release too: a rollback brings back the one it ran with.
    secret = release / "secrets" / "bot_password"
    assert config["password_file"] == str(secret)
    assert secret.read_text() == CANARY
    assert mode(secret) == 0o600
    assert mode(release / "secrets") == 0o700
    assert not (base / "shared" / "secrets" / "bot_password").exists()


def test_each_release_keeps_its_own_password(call: Any, base: Path, hold: Any) -> None:
    from conftest import fake_release

    old = fake_release(base, "1.0.0-20260101T000000Z")
    new = fake_release(base, "1.1.0-20260102T000000Z")
    hold("r1")
    passwords = {old: "old-password", new: "new-password"}  # pragma: allowlist secret
    for release, password in passwords.items():
        got = call(
            "configure",
            "--base",
            base,
            "--run",
            "r1",
            "--release",
            release.name,
            stdin=payload(secrets={"bot_password": password}),
        )
        assert got.code == 0, got.out
    assert (old / "secrets" / "bot_password").read_text() == "old-password"
    assert (new / "secrets" / "bot_password").read_text() == "new-password"
    old_config = json.loads((old / "config.json").read_text())
    assert old_config["password_file"] == str(old / "secrets" / "bot_password")


def test_configure_with_a_missing_release_is_refused(call: Any, base: Path, hold: Any) -> None:
    hold("r1")
    got = call(
        "configure",
        "--base",
        base,
        "--run",
        "r1",
        "--release",
        "9.9.9-20260101T000000Z",
        stdin=payload(),
    )
    assert got.out["error"]["code"] == "NO_SUCH_RELEASE"
    assert "9.9.9-20260101T000000Z is not on the host" in got.out["error"]["message"]


# --------------------------------------------------------------------------- the bot's own format

TEMPLATE = {
    "domain": "https://cytu.be",
    "channel": "CHANNEL",
    "user": ["NAME", "PASSWORD"],
    "db": "bot.db",
    "llm": {"enabled": False},
}


def own_format(values: Any = None, secrets: Any = None, **over: Any) -> dict[str, Any]:
    spec = {
        "template": "bot/plain/config.json.dist",
        "path": "bot/plain/config.json",
        "values": {"channel": "test-plain", "user[0]": "PlainBot", "llm.enabled": True}
        if values is None
        else values,
        "secrets": {"user[1]": "bot_password"} if secrets is None else secrets,
    }
    spec.update(over)
    return spec


def release_with_template(base: Path) -> Path:
    from conftest import fake_release

    release = fake_release(base, "1.0.0-20260101T000000Z")
    (release / "bot" / "plain").mkdir(parents=True)
    (release / "bot" / "plain" / "config.json.dist").write_text(json.dumps(TEMPLATE))
    return release


def test_configure_renders_the_bots_own_file_into_the_release(
    call: Any, base: Path, hold: Any
) -> None:
    release = release_with_template(base)
    hold("r1")
    got = call(
        "configure",
        "--base",
        base,
        "--run",
        "r1",
        "--release",
        release.name,
        stdin=json.dumps({"file": own_format(), "secrets": {"bot_password": CANARY}}).encode(),
    )
    target = release / "bot" / "plain" / "config.json"
    assert got.out == {"ok": True, "config": str(target), "secrets": ["bot_password"]}
    assert CANARY not in got.stdout + got.stderr
    assert json.loads(target.read_text()) == {
        **TEMPLATE,
        "channel": "test-plain",
        "user": ["PlainBot", CANARY],
        "llm": {"enabled": True},
    }
    assert mode(target) == 0o600
    # the release holds it (a rollback brings back the password it ran with); no shipit config.json
    assert not (release / "config.json").exists()
    assert (release / "secrets" / "bot_password").read_text() == CANARY
    assert json.loads((release / "bot" / "plain" / "config.json.dist").read_text()) == TEMPLATE


@pytest.mark.parametrize(
    ("spec", "code", "fragment"),
    [
        (
            own_format(values={"chanel": "x"}),
            "TEMPLATE_PATH_MISSING",
            "bot/plain/config.json.dist in the release has no chanel",
        ),
        (
            own_format(secrets={"user[2]": "bot_password"}),
            "TEMPLATE_PATH_MISSING",
            "has no user[2]",
        ),
        (
            own_format(secrets={"user[1]": "other"}),
            "BAD_CONFIG_INPUT",
            "names 'other', which was not sent",
        ),
        (
            own_format(template="bot/missing.json"),
            "TEMPLATE_MISSING",
            "the release has no bot/missing.json",
        ),
        (
            own_format(path="../../escape.json"),
            "BAD_CONFIG_INPUT",
            "runtimeConfig.path '../../escape.json' leaves the release",
        ),
        (
            own_format(template="/etc/passwd"),
            "BAD_CONFIG_INPUT",
            "runtimeConfig.template '/etc/passwd' leaves the release",
        ),
        ({"template": 1}, "BAD_CONFIG_INPUT", '"file" needs "template" and "path"'),
    ],
)
def test_a_bad_own_format_file_is_refused(
    call: Any, base: Path, hold: Any, spec: Any, code: str, fragment: str
) -> None:
    release = release_with_template(base)
    hold("r1")
    got = call(
        "configure",
        "--base",
        base,
        "--run",
        "r1",
        "--release",
        release.name,
        stdin=json.dumps({"file": spec, "secrets": {"bot_password": CANARY}}).encode(),
    )
    assert got.error["code"] == code
    assert fragment in got.error["message"]
    assert CANARY not in got.stdout + got.stderr
    assert not (release / "bot" / "plain" / "config.json").exists()


def test_a_template_that_is_not_json(call: Any, base: Path, hold: Any) -> None:
    release = release_with_template(base)
    (release / "bot" / "plain" / "config.json.dist").write_text("channel: x\n")
    hold("r1")
    got = call(
        "configure",
        "--base",
        base,
        "--run",
        "r1",
        "--release",
        release.name,
        stdin=json.dumps({"file": own_format()}).encode(),
    )
    assert got.error["code"] == "TEMPLATE_NOT_JSON"
    assert got.error["message"].startswith(
        "bot/plain/config.json.dist in the release is not JSON ("
    )
