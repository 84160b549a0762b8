"""Property (issue #20, part 4): the host agent's ledger reader, on generated ledgers.

Any mix of entries, lines from a newer shipit (unknown fields), garbage (not UTF-8, not JSON, not
an object, nested thousands deep, huge), blank lines, CRLF ends and a last line cut off where the
host lost power mid-append: history answers, keeps every entry and counts every other line as
skipped; rollback-target answers too. Seeded (SHIPIT_PROP_SEED), a fixed number of examples.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

import shipit_agent as agent

SEED = int(os.environ.get("SHIPIT_PROP_SEED", "202026"))
RUNS = int(200 * float(os.environ.get("SHIPIT_PROP_RUNS", "1")))

times = st.integers(min_value=0, max_value=40 * 86400).map(
    lambda s: (
        f"2026-11-{1 + s // 86400:02d}T{s // 3600 % 24:02d}:{s // 60 % 60:02d}:00Z"
        if s < 30 * 86400
        else "2026-12-01T00:00:00Z"
    )
)
entries = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["deploy", "rollback"]),
        "env": st.just("test"),
        "version": st.sampled_from(["1.0.0", "1.2.3", "previous"]),
        "outcome": st.sampled_from(["succeeded", "failed", "rolled_back", "success"]),
        "started": times,
        "ended": times,
    },
    optional={
        "release": st.sampled_from(["1.0.0-20261101T000000Z", "1.2.3-20261102T000000Z"]),
        "seconds": st.floats(min_value=0, max_value=1e308),
        "phases": st.dictionaries(st.sampled_from(["upload", "health"]), st.floats(0, 600)),
    },
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=6,
)
newer = st.tuples(entries, st.dictionaries(st.text(min_size=1, max_size=6), json_values)).map(
    lambda pair: {**{f"x_{k}": v for k, v in pair[1].items()}, **pair[0], "schema": 2}
)
garbage = st.one_of(
    st.binary(min_size=1, max_size=40).filter(
        lambda b: b"\n" not in b and b.strip() != b"" and not b.strip().startswith(b"{")
    ),
    st.sampled_from([b"{", b"null", b"[]", b"42", b'"deploy"', b"\xff\xfe{}", b"x" * 100_000]),
    st.integers(min_value=30, max_value=5000).map(lambda n: b"[" * n + b"]" * n),
)


@st.composite
def ledgers(draw: Any) -> tuple[bytes, int, int]:
    """A ledger's bytes, how many entries it holds and how many lines a reader must skip."""
    lines: list[bytes] = []
    good = bad = 0
    kinds = st.lists(st.sampled_from(["entry", "newer", "garbage", "blank"]), max_size=25)
    for kind in draw(kinds):
        if kind == "entry":
            lines.append(json.dumps(draw(entries)).encode())
            good += 1
        elif kind == "newer":
            lines.append(json.dumps(draw(newer)).encode())
            good += 1
        elif kind == "garbage":
            lines.append(draw(garbage))
            bad += 1
        else:
            lines.append(draw(st.sampled_from([b"", b"   ", b"\r"])))
    end = b"\r\n" if draw(st.booleans()) else b"\n"
    data = b"".join(line + end for line in lines)
    if draw(st.booleans()):  # the host lost power mid-append: the last line is cut, no newline
        whole = json.dumps(draw(entries)).encode()
        data += whole[: draw(st.integers(min_value=1, max_value=len(whole) - 1))]
        bad += 1
    return data, good, bad


@seed(SEED)
@settings(
    max_examples=RUNS,
    deadline=None,
    derandomize=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.large_base_example],
    database=None,
)
@given(ledger=ledgers())
def test_history_keeps_every_entry_and_counts_every_other_line(
    tmp_path_factory: Any, ledger: tuple[bytes, int, int]
) -> None:
    data, good, bad = ledger
    base: Path = tmp_path_factory.mktemp("ledger")
    (base / "ledger.jsonl").write_bytes(data)
    layout = agent.Layout(base)
    kept, total, corrupt = agent.read_ledger_tail(layout, 5)
    assert (total, corrupt) == (good, bad)
    assert len(kept) == min(5, good)
    everything, corrupt_all = agent.read_ledger(layout)
    assert (len(everything), corrupt_all) == (good, bad)
    assert all(e["outcome"] != "success" for e in everything)  # a legacy word read as today's
    answer = json.loads(json.dumps(agent.cmd_history(_args(base, limit=1_000_000))))
    assert (answer["total"], answer["corrupt"], len(answer["entries"])) == (good, bad, good)
    try:
        agent.rollback_target(layout)
    except agent.AgentError as exc:  # no release on this host: a coded refusal, not a crash
        assert exc.code == "NO_PREVIOUS_RELEASE"


def _args(base: Path, **values: Any) -> Any:
    class Args:
        pass

    args = Args()
    args.base = base  # type: ignore[attr-defined]
    for key, value in values.items():
        setattr(args, key, value)
    return args


# --------------------------------------------------------------------------- shrunk cases


def test_a_line_nested_thousands_deep_is_skipped_not_a_crash(call: Any, base: Path) -> None:
    """Found by the property: json.loads raised RecursionError, and history (so metrics and the
    dashboard) and rollback-target (so a manual rollback) failed with INTERNAL_ERROR."""
    entry = {"kind": "deploy", "env": "test", "version": "1.0.0", "outcome": "succeeded"}
    entry.update(started="2026-11-01T00:00:00Z", ended="2026-11-01T00:00:09Z")
    base.mkdir(parents=True, exist_ok=True)
    (base / "ledger.jsonl").write_bytes(
        json.dumps(entry).encode() + b"\n" + b"[" * 3000 + b"]" * 3000 + b"\n"
    )
    got = call("history", "--base", base)
    assert (got.out["total"], got.out["corrupt"]) == (1, 1)
    refused = call("rollback-target", "--base", base)
    assert refused.error["code"] == "NO_PREVIOUS_RELEASE"


def test_an_entry_nested_deeper_than_32_levels_is_skipped(call: Any, base: Path) -> None:
    """Deep enough to parse on the host but not to travel back: the driver's own json.loads of the
    answer (three levels more) would fail."""
    base.mkdir(parents=True, exist_ok=True)
    line = b'{"kind":"deploy","x":' + b"[" * 990 + b"]" * 990 + b"}\n"
    (base / "ledger.jsonl").write_bytes(line)
    got = call("history", "--base", base)
    assert (got.out["total"], got.out["corrupt"]) == (0, 1)


def test_history_with_a_limit_keeps_only_that_many_in_memory(call: Any, base: Path) -> None:
    lines = [
        json.dumps({"kind": "deploy", "env": "test", "version": f"1.0.{i}", "outcome": "failed"})
        for i in range(50)
    ]
    base.mkdir(parents=True, exist_ok=True)
    (base / "ledger.jsonl").write_text("\n".join(lines) + '\n{"kind": "dep')
    got = call("history", "--base", base, "--limit", "3")
    assert [e["version"] for e in got.out["entries"]] == ["1.0.49", "1.0.48", "1.0.47"]
    assert (got.out["total"], got.out["corrupt"]) == (50, 1)
