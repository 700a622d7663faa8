"""The JSON Schema of a playbook, for editors (`noetl schema`).

It is generated from the pydantic models, plus one conditional per built-in tool kind so an
editor also knows (and completes) each kind's own fields. The loader stays the authority: some
checks (step names, jump targets, templates) cannot be expressed in a schema.
"""

from __future__ import annotations

from typing import Any

from noetl.dsl.kinds import BUILTIN_KINDS, COMMON_TASK_FIELDS, KindSpec
from noetl.dsl.model import PlaybookModel

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def playbook_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a canonical v2 playbook document."""
    schema = PlaybookModel.model_json_schema(by_alias=True)
    schema["$schema"] = SCHEMA_DIALECT
    task = schema["$defs"]["TaskModel"]
    task["allOf"] = [_kind_rule(kind, spec) for kind, spec in sorted(BUILTIN_KINDS.items())]
    return schema


def _kind_rule(kind: str, spec: KindSpec) -> dict[str, Any]:
    """`if kind == <kind> then only its fields, its required ones present`."""
    fields = sorted(spec.allowed | COMMON_TASK_FIELDS)
    then: dict[str, Any] = {
        "properties": {name: True for name in fields},
        "additionalProperties": False,
    }
    if spec.required:
        then["required"] = sorted(spec.required)
    if spec.one_of:
        then["allOf"] = [
            {"oneOf": [{"required": [name]} for name in sorted(group)]} for group in spec.one_of
        ]
    return {
        "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
        "then": then,
    }
