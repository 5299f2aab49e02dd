"""The event catalogue's contract: versions, envelopes, the AsyncAPI document, and where text may go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tongpin.shared import asyncapi
from tongpin.shared.events import CATALOGUE, CONSUMES, SERVICES, TEXT_CARRYING

pytestmark = pytest.mark.contract

ROOT = Path(__file__).resolve().parents[2]


def string_leaves(schema: dict[str, Any], defs: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """Every string-typed position in a JSON schema, with its constraints."""
    if "$ref" in schema:
        return string_leaves(defs[schema["$ref"].split("/")[-1]], defs, path)
    found: list[tuple[str, dict[str, Any]]] = []
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            found += string_leaves(option, defs, path)
    if schema.get("type") == "string":
        found.append((path, schema))
    for name, sub in schema.get("properties", {}).items():
        found += string_leaves(sub, defs, f"{path}.{name}")
    if "items" in schema:
        found += string_leaves(schema["items"], defs, f"{path}[]")
    return found


def free_text_fields(model) -> list[str]:
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    return [
        path for path, leaf in string_leaves(schema, defs)
        if not ({"pattern", "enum", "const"} & leaf.keys() or leaf.get("format") == "date-time")
    ]


def test_only_the_three_text_types_carry_free_text():
    assert TEXT_CARRYING == {"concern.raised.v1", "reply.requested.v1", "broadcast.requested.v1"}
    for key, model in CATALOGUE.items():
        free = free_text_fields(model)
        if key in TEXT_CARRYING:
            assert free, f"{key} is declared text-carrying but has no free-text field"
        else:
            assert free == [], f"{key} has free-text fields {free}"


def test_no_event_oversight_consumes_has_a_free_text_field():
    for key in CONSUMES["oversight"]:
        assert free_text_fields(CATALOGUE[key]) == [], key
    assert not set(CONSUMES["oversight"]) & TEXT_CARRYING


def test_every_type_is_versioned_and_consumed_or_audited():
    for key, model in CATALOGUE.items():
        assert key == f"{model.event_type}.v{model.version}"
        assert model.publisher in SERVICES
        consumers = [s for s in SERVICES if key in CONSUMES[s]]
        assert consumers, f"nobody consumes {key}"
        assert model.publisher not in consumers or model.publisher == "oversight"


def test_asyncapi_document_is_current():
    checked_in = json.loads((ROOT / "docs" / "asyncapi.json").read_text(encoding="utf-8"))
    assert checked_in == json.loads(json.dumps(asyncapi.document())), "run `make asyncapi` and commit the result"
    assert set(checked_in["components"]["messages"]) == {k.replace(".", "_") for k in CATALOGUE}
    assert checked_in["asyncapi"].startswith("3.")


def test_outcome_decision_and_reason_codes_are_closed_lists_with_labels():
    """Every *_code field of an event is an enum from codes.py, never a pattern free words can match."""
    from typing import get_args

    from tongpin.shared.codes import CODE_LISTS, TYPED_LISTS

    listed = {c.values() for c in CODE_LISTS}
    code_fields = []
    for key, model in CATALOGUE.items():
        schema = model.model_json_schema()
        for path, leaf in string_leaves(schema, schema.get("$defs", {})):
            if path.endswith("_code"):
                code_fields.append(f"{key}{path}")
                assert "pattern" not in leaf and tuple(leaf.get("enum", ())) in listed, (key, path, leaf)
    assert sorted(code_fields) == [
        "case.reopened.v1.reason_code", "case.resolved.v1.outcome_code", "escalation.decided.v1.decision_code",
        "talk.held.v1.outcome_code",
    ]
    for code_list, literal in TYPED_LISTS:
        assert get_args(literal) == code_list.values(), code_list.name
        for label in code_list.codes:
            assert label.zh.strip() and label.en.strip() and label.zh != label.en, label
        assert len(set(code_list.values())) == len(code_list.codes), code_list.name
