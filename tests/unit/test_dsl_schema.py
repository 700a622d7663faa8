"""`noetl schema`: the JSON Schema accepts every example and rejects malformed playbooks."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from noetl.dsl.schema import playbook_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOETL = str(Path(sys.executable).with_name("noetl"))


@pytest.fixture(scope="module")
def validator():
    out = subprocess.run([NOETL, "schema"], capture_output=True, text=True, check=True)
    schema = json.loads(out.stdout)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def hello():
    return yaml.safe_load((EXAMPLES / "hello.yaml").read_text())


def test_cli_prints_the_generated_schema(validator):
    assert validator.schema == playbook_schema()


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_matches_the_schema(validator, example):
    validator.validate(yaml.safe_load(example.read_text()))


def test_both_tool_forms_match(validator, hello):
    single = copy.deepcopy(hello)
    pipeline = copy.deepcopy(hello)
    pipeline["workflow"][0]["tool"] = [{"greet": single["workflow"][0]["tool"]}]
    validator.validate(single)
    validator.validate(pipeline)


def _break_root_vars(doc):
    doc["vars"] = {"a": 1}


def _break_api_version(doc):
    doc["apiVersion"] = "noetl.io/v1"


def _break_unknown_step_field(doc):
    doc["workflow"][0]["nxt"] = "end"


def _break_python_field(doc):
    doc["workflow"][0]["tool"]["cod"] = "x"


def _break_http_without_url(doc):
    doc["workflow"][0]["tool"] = {"kind": "http", "method": "GET"}


def _break_python_without_code(doc):
    del doc["workflow"][0]["tool"]["code"]


def _break_loop_mode(doc):
    doc["workflow"][0]["loop"] = {"in": [1], "spec": {"mode": "paralel"}}


def _break_pipeline_entry(doc):
    doc["workflow"][0]["tool"] = [{"a": {"kind": "noop"}, "b": {"kind": "noop"}}]


def _break_eval_action(doc):
    doc["workflow"][0]["tool"]["eval"] = [{"expr": "x", "do": "retri"}]


def _break_timeout(doc):
    doc["workflow"][0]["spec"] = {"timeout": "5 minutes"}


@pytest.mark.parametrize(
    "breaker",
    [
        _break_root_vars,
        _break_api_version,
        _break_unknown_step_field,
        _break_python_field,
        _break_http_without_url,
        _break_python_without_code,
        _break_loop_mode,
        _break_pipeline_entry,
        _break_eval_action,
        _break_timeout,
    ],
    ids=lambda f: f.__name__.removeprefix("_break_"),
)
def test_malformed_playbooks_are_rejected(validator, hello, breaker):
    doc = copy.deepcopy(hello)
    breaker(doc)
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(doc)
