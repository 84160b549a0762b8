"""The agent keeps its own copy of two contracts (it is one stdlib file on the host); here that copy
is held to the one source. src/core/deploy/contracts.ts (zod) is generated into the JSON Schema
files of config/contracts/; the golden fixtures of test/fixtures/contracts/ are checked against
those files (with the small validator below) and against what the agent itself accepts.

From the shipit repository both folders are found where they live; in the folder shipit's own
gates run on (test/integration/agent.test.ts) they are copied to contracts/ and contracts/fixtures/.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import shipit_agent as agent

HERE = Path(__file__).resolve().parent


def first_dir(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    raise AssertionError(f"none of these folders exists: {', '.join(map(str, candidates))}")


SCHEMAS = first_dir(HERE.parent / "contracts", HERE.parents[1] / "config" / "contracts")
FIXTURES = first_dir(
    HERE.parent / "contracts" / "fixtures", HERE.parents[1] / "test" / "fixtures" / "contracts"
)


def load(folder: Path, name: str) -> Any:
    return json.loads((folder / name).read_text("utf-8"))


LEDGER = load(SCHEMAS, "ledger-entry.schema.json")
HEALTH = load(SCHEMAS, "health.schema.json")
LEDGER_GOLDEN = load(FIXTURES, "ledger-entry.json")
HEALTH_GOLDEN = load(FIXTURES, "health.json")


# --------------------------------------------------------------------------- a small validator

TYPES: dict[str, Any] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}
# Every keyword the generated files use. Another one fails loudly: teach it here first.
KNOWN = {
    "$schema", "description", "type", "enum", "properties", "required",
    "additionalProperties", "propertyNames", "minimum", "minLength", "pattern",
}  # fmt: skip


class Invalid(Exception):
    pass


def validate(value: Any, schema: dict[str, Any], at: str = "$") -> None:
    """The JSON Schema subset zod writes for these contracts; raises Invalid naming the place."""
    unknown = set(schema) - KNOWN
    if unknown:
        raise AssertionError(f"the validator does not know {sorted(unknown)} (at {at})")
    if "type" in schema:
        kinds = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(TYPES[k](value) for k in kinds):
            raise Invalid(f"{at} must be {' or '.join(kinds)}, got {json.dumps(value)}")
    if "enum" in schema and value not in schema["enum"]:
        raise Invalid(f"{at} must be one of {schema['enum']}, got {json.dumps(value)}")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            raise Invalid(f"{at} is shorter than {schema['minLength']}")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise Invalid(f"{at} does not match {schema['pattern']}")
    if TYPES["number"](value) and "minimum" in schema and value < schema["minimum"]:
        raise Invalid(f"{at} is below {schema['minimum']}")
    if isinstance(value, dict):
        for key in schema.get("required", []):
            if key not in value:
                raise Invalid(f"{at}.{key} is missing")
        props = schema.get("properties", {})
        for key, item in value.items():
            if key in props:
                validate(item, props[key], f"{at}.{key}")
            elif schema.get("additionalProperties") is False:
                raise Invalid(f"{at}.{key} is not allowed")
            elif isinstance(schema.get("additionalProperties"), dict):
                validate(item, schema["additionalProperties"], f"{at}.{key}")


def test_the_validator_can_fail() -> None:
    with pytest.raises(Invalid, match=r"^\$\.a must be number, got \"x\"$"):
        validate({"a": "x"}, {"type": "object", "properties": {"a": {"type": "number"}}})
    with pytest.raises(Invalid, match=r"^\$\.b is missing$"):
        validate({}, {"type": "object", "required": ["b"]})
    with pytest.raises(Invalid, match=r"^\$\.c\.d must be number"):
        numbers = {"type": "object", "additionalProperties": {"type": "number"}}
        validate({"c": {"d": True}}, {"properties": {"c": numbers}})
    with pytest.raises(AssertionError, match="does not know"):
        validate(1, {"oneOf": []})


# --------------------------------------------------------------------------- the agent's copies


def test_the_agents_ledger_constants_are_the_schemas() -> None:
    props = LEDGER["properties"]
    assert agent.LEDGER_REQUIRED == tuple(LEDGER["required"])
    assert agent.LEDGER_KINDS == tuple(props["kind"]["enum"])
    assert agent.LEDGER_OUTCOMES == tuple(props["outcome"]["enum"])
    assert agent.ISO_RE.pattern == props["started"]["pattern"] == props["ended"]["pattern"]
    assert "additionalProperties" not in LEDGER
    assert set(agent.LEGACY_OUTCOMES.values()) <= set(agent.LEDGER_OUTCOMES)
    assert not set(agent.LEGACY_OUTCOMES) & set(agent.LEDGER_OUTCOMES)


def test_the_agents_health_fields_are_the_schemas() -> None:
    words = {"str": "string", "bool": "boolean", "number": "number"}
    props = HEALTH["properties"]
    assert [f for f, _ in agent.HEALTH_FIELDS] == HEALTH["required"] == list(props)
    assert {f: words[k] for f, k in agent.HEALTH_FIELDS} == {f: p["type"] for f, p in props.items()}
    # The agent refuses a negative number in every number field; the schema says so for each.
    assert {f: props[f].get("minimum") for f, k in agent.HEALTH_FIELDS if k == "number"} == {
        "uptime": 0
    }
    for field, kind in agent.HEALTH_FIELDS:
        assert f"{field}: {kind}" in agent.HEALTH_CONTRACT


# --------------------------------------------------------------------------- golden ledger lines


@pytest.mark.parametrize(
    "entry", LEDGER_GOLDEN["valid"], ids=lambda e: f"{e['kind']}-{e['outcome']}"
)
def test_a_valid_ledger_line_passes_the_schema_and_the_agent(
    call: Any, base: Path, entry: dict[str, Any]
) -> None:
    validate(entry, LEDGER)
    assert agent.check_ledger_entry(entry) is entry
    got = call("ledger-append", "--base", base, stdin=json.dumps(entry).encode())
    assert got.out["entry"] == {**entry, "host": got.out["entry"]["host"]}
    assert call("history", "--base", base).out["entries"] == [got.out["entry"]]


@pytest.mark.parametrize("case", LEDGER_GOLDEN["invalid"], ids=lambda c: str(c["why"]))
def test_an_invalid_ledger_line_fails_the_schema_and_the_agent(case: dict[str, Any]) -> None:
    with pytest.raises(Invalid):
        validate(case["value"], LEDGER)
    with pytest.raises(agent.AgentError) as refused:
        agent.check_ledger_entry(case["value"])
    assert refused.value.code == "BAD_LEDGER_ENTRY"


def test_the_new_outcome_rule_names_the_vocabulary() -> None:
    entry = {**LEDGER_GOLDEN["valid"][0], "outcome": "success"}
    with pytest.raises(agent.AgentError) as refused:
        agent.check_ledger_entry(entry)
    assert refused.value.message == (
        "refusing the ledger entry: outcome must be one of succeeded, failed, rolled_back, "
        "rollback_failed."
    )


@pytest.mark.parametrize("case", LEDGER_GOLDEN["legacy"], ids=lambda c: str(c["readsAs"]))
def test_a_legacy_ledger_line_is_read_as_todays_word(
    call: Any, base: Path, case: dict[str, Any]
) -> None:
    with pytest.raises(Invalid):
        validate(case["value"], LEDGER)
    base.mkdir(parents=True)
    (base / "ledger.jsonl").write_text(json.dumps(case["value"]) + "\n")
    entries = call("history", "--base", base).out["entries"]
    assert entries == [{**case["value"], "outcome": case["readsAs"]}]
    validate(entries[0], LEDGER)


# --------------------------------------------------------------------------- golden health answers


@pytest.mark.parametrize("body", HEALTH_GOLDEN["valid"], ids=lambda b: f"{b['status']}")
def test_a_valid_health_answer_passes_the_schema_and_the_agent(body: dict[str, Any]) -> None:
    validate(body, HEALTH)
    assert agent.health_shape_problems(body) == []


@pytest.mark.parametrize("case", HEALTH_GOLDEN["invalid"], ids=lambda c: str(c["why"]))
def test_an_invalid_health_answer_fails_the_schema_and_the_agent(case: dict[str, Any]) -> None:
    body = case["value"]
    with pytest.raises(Invalid):
        validate(body, HEALTH)
    assert not isinstance(body, dict) or agent.health_shape_problems(body) != []
