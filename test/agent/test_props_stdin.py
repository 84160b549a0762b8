"""Property tests (hypothesis) for what the agent reads on stdin: configure and ledger-append.

Generated requests: wrong types, missing fields, unknown kinds, huge strings, bytes that are not
UTF-8, text that is not JSON, NaN and Infinity, lone surrogates, deep nesting. Each is answered
with one line of strict JSON (what JSON.parse on the TypeScript side takes), a refusal with a
stable code and exit 1, never a traceback; a refusal changes nothing under the environment,
and nothing ever touches the live release or `current`.

Seeded and reproducible: `derandomize=True`, no example database. A failure prints the shrunk
case.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import shipit_agent as agent
from conftest import (
    AGENT,
    PROC_TIMEOUT,
    LockHolder,
    Result,
    changes,
    fake_release,
    parse_strict,
    point_current,
    props,
    report,
    run_agent,
    snapshot,
    strict_loads,
)

LIVE = "0.9.0-20260101T000000Z"
NEW = "1.0.0-20260102T000000Z"
TEMPLATE = {"channel": "x", "server": {"host": "h", "ports": [1, 2]}, "bot_password": ""}


# --------------------------------------------------------------------------- generated input

LEAF = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "1" * 32, "\ud800", "x" * 300]),
)
VALUE = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=10), inner, max_size=3)
    ),
    max_leaves=10,
)


VALID_ENTRY = {
    "kind": "deploy",
    "env": "test",
    "version": "1.0.0",
    "outcome": "failed",
    "started": "2026-11-26T21:00:00Z",
    "ended": "2026-11-26T21:00:00.5Z",
}
WRONG = {
    "kind": ["promote", "", "Deploy"],
    "env": [""],
    "version": [""],
    "outcome": ["success", "meh", ""],
    "started": ["2026-11-26", "now", "2026-11-26 21:00:00Z"],
    "ended": ["2026-11-26T21:00:00+01:00"],
}


def ledger_entries() -> st.SearchStrategy[Any]:
    """A valid entry with none, one or two fields broken (dropped, a wrong word, any value),
    and extra fields (secret-like, nested, NaN and Infinity)."""
    field = st.sampled_from(sorted(VALID_ENTRY))
    breaks = st.lists(
        st.tuples(field, st.sampled_from(["drop", "word", "value"]), VALUE, st.integers(0, 9)),
        max_size=2,
    )
    extras = st.fixed_dictionaries(
        {},
        optional={
            "run": VALUE,
            "api_token": st.one_of(st.just("1" * 32), VALUE),
            "detail": VALUE,
            "figure": st.one_of(
                st.sampled_from([float("nan"), float("inf"), -float("inf"), 0.5]), st.floats()
            ),
            "deep": st.one_of(st.sampled_from([31, 32, 33, 63, 64, 65]), st.integers(1, 70)).map(
                lambda d: json.loads("[" * d + "]" * d)
            ),
        },
    )

    def build(parts: tuple[list[tuple[str, str, Any, int]], dict[str, Any]]) -> dict[str, Any]:
        entry: dict[str, Any] = {**VALID_ENTRY, **parts[1]}
        for key, how, value, pick in parts[0]:
            if how == "drop":
                entry.pop(key, None)
            elif how == "word":
                entry[key] = WRONG[key][pick % len(WRONG[key])]
            else:
                entry[key] = value
        return entry

    return st.tuples(breaks, extras).map(build)


def configure_payloads() -> st.SearchStrategy[Any]:
    paths = st.sampled_from(
        [
            "tmpl.json",
            "out/bot.json",
            "../x.json",
            "/etc/x.json",
            "a\x00b",
            "",
            ".",
            "missing",
            "tmpl.json/x.json",
            "secrets",
        ]
    )
    keys = st.sampled_from(["channel", "server.host", "server.ports[1]", "server.ports[9]", "x"])
    file = st.one_of(
        st.fixed_dictionaries(
            {"template": paths, "path": paths},
            optional={
                "values": st.one_of(st.dictionaries(keys, VALUE, max_size=3), VALUE),
                "secrets": st.one_of(
                    st.dictionaries(keys, st.sampled_from(["bot_password", "nope"]), max_size=2),
                    VALUE,
                ),
            },
        ),
        VALUE,
    )
    secret_names = st.sampled_from(["bot_password", "smoke_token", "bad name", "", "-x", "a/b"])
    secrets = st.one_of(
        st.dictionaries(secret_names, st.one_of(st.just("1" * 16), VALUE), max_size=3), VALUE
    )
    config = st.one_of(
        st.dictionaries(st.sampled_from(["channel", "password", "db_path", "x"]), VALUE), VALUE
    )
    return st.fixed_dictionaries(
        {}, optional={"config": config, "file": file, "secrets": secrets, "extra": VALUE}
    )


def encoded(values: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    """JSON of generated values, and every kind of input that is not one JSON object."""
    depth = st.integers(1, 200_000)
    return st.one_of(
        values.map(lambda v: json.dumps(v).encode()),
        values.map(lambda v: json.dumps(v).encode()),
        values.map(lambda v: json.dumps(v, ensure_ascii=False).encode("utf-8", "surrogatepass")),
        st.binary(max_size=64),
        depth.map(lambda d: b"[" * d + b"]" * d),
        depth.map(lambda d: b'{"config": ' * d + b"{}" + b"}" * d),
        depth.map(lambda d: b'{"kind": ' + b"[" * d + b"]" * d + b"}"),
        st.integers(agent.MAX_JSON_INPUT - 16, agent.MAX_JSON_INPUT + 16).map(
            lambda n: b'{"env": "' + b"x" * n + b'"}'
        ),
        st.integers(4000, 5000).map(lambda n: b'{"detail": ' + b"1" * n + b"}"),
        st.sampled_from([b"", b"null", b"NaN", b"\xef\xbb\xbf{}", b"{} {}", b'{"a": 1}\n{']),
    )


# --------------------------------------------------------------------------- the environment


@dataclass
class Env:
    root: Path
    base: Path
    tree: dict[str, tuple[str, ...]]  # the whole sandbox between cases
    cases: int = 0

    def call(
        self, argv: list[Any], data: bytes, allowed: tuple[str, ...], then: Any = None
    ) -> Result:
        """Run one call; a refusal must change nothing, an answer only what `allowed` starts.
        Then the sandbox is put back as it was, so that every case meets the same host."""
        self.cases += 1
        changed: list[str] = []
        try:
            got = run_agent(argv, data)
            changed = changes(self.tree, snapshot(self.root))
            assert os.readlink(self.base / "current") == f"releases/{LIVE}"
            live = f"srv/bot/releases/{LIVE}"
            assert [c for c in changed if c == live or c.startswith(live + "/")] == []
            if got.code != 0:
                assert changed == [], f"a refused {argv[0]} changed {changed}"
            else:
                stray = [c for c in changed if not c.startswith(allowed)]
                assert stray == [], f"{argv[0]} changed {stray}"
                if then is not None:
                    then()
        finally:
            # also when an assertion failed: the next case must meet the same host
            if changed or changes(self.tree, snapshot(self.root)):
                self.reset()
        return got

    def reset(self) -> None:
        shutil.rmtree(self.base / "releases" / NEW)
        make_release(self.base, NEW)
        for path in (self.base / "shared" / "config.json", self.base / "ledger.jsonl"):
            if path.exists():
                path.unlink()
        for path in (self.base / "shared" / "secrets").iterdir():
            path.unlink()
        assert changes(self.tree, snapshot(self.root)) == []


def make_release(base: Path, name: str) -> None:
    folder = fake_release(base, name)
    (folder / "tmpl.json").write_text(json.dumps(TEMPLATE))


@pytest.fixture
def env(tmp_path: Path) -> Any:
    """An environment with a live release, a new one (with a config template) and the lock."""
    root = tmp_path / "sandbox"
    base = root / "srv" / "bot"
    for name in (LIVE, NEW):
        make_release(base, name)
    point_current(base, LIVE)
    (root / "outside").mkdir()
    holder = LockHolder(base, "r1")
    try:
        yield Env(root, base, snapshot(root))
    finally:
        holder.release()


# --------------------------------------------------------------------------- the properties

EXAMPLES = {"ledger": 200, "configure": 400, "process": 30}


def test_ledger_append_takes_a_valid_entry_and_refuses_anything_else(env: Any) -> None:
    e: Env = env
    ledger = e.base / "ledger.jsonl"

    @props(EXAMPLES["ledger"])
    @given(data=encoded(ledger_entries()))
    def check(data: bytes) -> None:
        seen: list[Any] = []

        def read_back() -> None:
            raw = ledger.read_bytes().splitlines()
            assert len(raw) == 1
            seen.append(strict_loads(raw[0]))
            history = run_agent(["history", "--base", e.base, "--limit", "1"])
            assert history.out["entries"] == seen

        got = e.call(
            ["ledger-append", "--base", e.base], data, ("srv/bot/ledger.jsonl",), read_back
        )
        if got.code != 0:
            assert got.error["code"] == "BAD_LEDGER_ENTRY", got.error
        else:
            assert seen == [got.out["entry"]]

    check()
    report("ledger-append (stdin)", e.cases, EXAMPLES["ledger"])


def test_configure_takes_a_valid_request_and_refuses_anything_else(env: Any) -> None:
    e: Env = env
    codes = {"BAD_CONFIG_INPUT", "TEMPLATE_MISSING", "TEMPLATE_NOT_JSON", "TEMPLATE_PATH_MISSING"}

    @props(EXAMPLES["configure"])
    @given(data=encoded(configure_payloads()), release=st.booleans())
    def check(data: bytes, release: bool) -> None:
        argv: list[Any] = ["configure", "--base", e.base, "--run", "r1"]
        allowed: tuple[str, ...] = ("srv/bot/shared/config.json", "srv/bot/shared/secrets/")
        if release:
            argv += ["--release", NEW]
            allowed = (f"srv/bot/releases/{NEW}/",)
        got = e.call(argv, data, allowed)
        if got.code != 0:
            assert got.error["code"] in codes, got.error

    check()
    report("configure (stdin)", e.cases, EXAMPLES["configure"])


def test_a_real_process_refuses_with_exit_1_and_no_traceback(env: Any) -> None:
    """The same inputs through a real process: its exit code, stderr and stdout as the SSH side
    sees them (the in-process runs above cannot show a traceback or a crash of the interpreter).
    """
    e: Env = env

    @props(EXAMPLES["process"])
    @given(
        data=st.one_of(encoded(ledger_entries()), encoded(configure_payloads())),
        command=st.sampled_from(["ledger-append", "configure"]),
    )
    def check(data: bytes, command: str) -> None:
        argv = [sys.executable, str(AGENT), command, "--base", str(e.base)]
        if command == "configure":
            argv += ["--run", "r1", "--release", NEW]
        done = subprocess.run(
            argv, input=data, capture_output=True, timeout=PROC_TIMEOUT, check=False
        )
        e.cases += 1
        changed = changes(e.tree, snapshot(e.root))
        if changed:
            e.reset()
        got = parse_strict(done.returncode, done.stdout.decode(), done.stderr.decode())
        assert done.stderr.decode() == "", done.stderr
        assert os.readlink(e.base / "current") == f"releases/{LIVE}"
        live = f"srv/bot/releases/{LIVE}"
        assert [c for c in changed if c == live or c.startswith(live + "/")] == []
        if got.code != 0:
            assert changed == [], f"a refused {command} changed {changed}"

    check()
    report("configure and ledger-append (real process)", e.cases, EXAMPLES["process"])


# --------------------------------------------------------------------------- regressions
# Shrunk cases the properties found (and three more seen while fixing them), each fixed in
# shipit_agent.py. Before the fix: INTERNAL_ERROR, a refusal that had already written files,
# or an answer and a ledger line that were not JSON.

REQUEST = b'{"file": {"template": "tmpl.json", "path": "../x.json"}, "secrets": {"s": "1"}}'


@pytest.mark.parametrize(
    ("command", "data", "code", "fragment"),
    [
        # RecursionError from json.loads
        ("ledger-append", b"[" * 100_000 + b"]" * 100_000, "BAD_LEDGER_ENTRY", "nested deeper"),
        ("configure", b'{"config": ' * 5_000 + b"{}" + b"}" * 5_000, "BAD_CONFIG_INPUT", "nested"),
        # NaN and Infinity were taken into the ledger and printed back: not JSON
        (
            "ledger-append",
            json.dumps({**VALID_ENTRY, "figure": float("nan")}).encode(),
            "BAD_LEDGER_ENTRY",
            "(NaN is not JSON)",
        ),
        # ValueError: embedded null byte
        (
            "configure",
            b'{"file": {"template": "tmpl.json", "path": "a\\u0000b"}}',
            "BAD_CONFIG_INPUT",
            "runtimeConfig.path holds a NUL byte",
        ),
        # refused after the secrets were written
        ("configure", REQUEST, "BAD_CONFIG_INPUT", "runtimeConfig.path '../x.json' leaves"),
        # appended, then read back by history as a corrupt line (deeper than it reads)
        (
            "ledger-append",
            json.dumps({**VALID_ENTRY, "deep": json.loads("[" * 32 + "]" * 32)}).encode(),
            "BAD_LEDGER_ENTRY",
            "it is nested deeper than 32 levels",
        ),
        # seen while fixing: UnicodeEncodeError writing the secret; TypeError from dict(5)
        (
            "configure",
            b'{"config": {}, "secrets": {"bot_password": "\\ud800"}}',
            "BAD_CONFIG_INPUT",
            "lone UTF-16 surrogate",
        ),
        (
            "configure",
            b'{"config": 5, "file": {"template": "tmpl.json", "path": "out.json"}}',
            "BAD_CONFIG_INPUT",
            '"config" must be an object',
        ),
        # seen while fixing: FileExistsError making a folder where the template file is
        (
            "configure",
            b'{"file": {"template": "tmpl.json", "path": "tmpl.json/x.json"}}',
            "BAD_CONFIG_INPUT",
            "names a folder, or a path under a file",
        ),
        # seen while fixing: an integer past Python's digit limit was reported as "not UTF-8"
        ("ledger-append", b"1" * 5000, "BAD_LEDGER_ENTRY", "integer string conversion"),
    ],
    ids=[
        "deep-ledger",
        "deep-config",
        "nan",
        "too-deep-to-read-back",
        "nul-path",
        "written-then-refused",
        "surrogate",
        "config-not-object",
        "path-under-file",
        "long-int",
    ],
)
def test_regressions_found_by_the_properties(
    env: Any, command: str, data: bytes, code: str, fragment: str
) -> None:
    e: Env = env
    argv: list[Any] = [command, "--base", e.base]
    if command == "configure":
        argv += ["--run", "r1", "--release", NEW]
    got = e.call(argv, data, ())
    assert got.code == 1, got.out
    assert got.error["code"] == code
    assert fragment in got.error["message"]


def test_a_file_without_release_writes_no_secret(env: Any) -> None:
    e: Env = env
    got = e.call(["configure", "--base", e.base, "--run", "r1"], REQUEST, ())
    assert got.error["code"] == "BAD_CONFIG_INPUT"
    assert "pass --release" in got.error["message"]
