"""Secret masking: the mask registry, the masked stream, and events out of the worker pipeline."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import textwrap
from typing import Any

import pytest

from noetl.dsl.load import load_playbook
from noetl.engine.commands import Command
from noetl.engine.events import Event
from noetl.tools.base import Resources
from noetl.tools.credentials import MaskingCredentials
from noetl.tools.masking import (
    MASK,
    MaskedStream,
    SecretMasks,
    masked_output,
    masking_execution,
)
from noetl.worker.pipeline import run_command

SECRET = "tok-3f9a-SECRET"


def masks_with(*values: Any, execution: str = "e1") -> SecretMasks:
    masks = SecretMasks()
    for value in values:
        masks.add(execution, value)
    return masks


# -- the registry ---------------------------------------------------------------------------


def test_every_string_holding_a_secret_is_masked_at_any_depth_keys_included():
    masks = masks_with(SECRET)
    payload = {
        "result": {"rows": [["a", f"x{SECRET}y"], ("t", SECRET)], SECRET: 1},
        "error": {"message": f"ValueError: bad {SECRET} (line 2)"},
    }
    masked = masks.mask("e1", payload)
    assert SECRET not in json.dumps(masked)
    assert masked["result"]["rows"] == [["a", "x***y"], ("t", "***")]
    assert masked["result"][MASK] == 1
    assert masked["error"]["message"] == "ValueError: bad *** (line 2)"


def test_untouched_values_keep_their_identity_and_the_input_is_not_changed():
    masks = masks_with(SECRET)
    clean = {"rows": list(range(1000)), "name": "report"}
    payload = {"result": clean, "leak": SECRET}
    masked = masks.mask("e1", payload)
    assert masked["result"] is clean  # a large clean result is not copied
    assert payload["leak"] == SECRET  # copy on write: the caller's data is left alone
    assert masks.mask("e1", clean) is clean


def test_values_shorter_than_four_characters_are_not_masked():
    masks = masks_with("abc", "1", "wxyz")
    assert masks.mask("e1", "abc 1 wxyz") == "abc 1 ***"


def test_a_longer_secret_is_masked_whole_when_it_contains_a_shorter_one():
    masks = masks_with("pass", "password-1234")
    assert masks.mask("e1", "password-1234 / pass") == "*** / ***"


def test_masks_belong_to_their_execution():
    masks = masks_with(SECRET, execution="e1")
    assert masks.mask("e2", SECRET) == SECRET
    assert masks.mask("e1", SECRET) == MASK
    masks.forget("e1")
    assert masks.mask("e1", SECRET) == SECRET


def test_url_encoded_and_json_escaped_forms_are_masked():
    secret = 'p@ss w/"quote"'
    masks = masks_with(secret)
    url = "https://h/?t=p%40ss%20w%2F%22quote%22"
    body = json.dumps({"t": secret})
    assert masks.mask("e1", url) == "https://h/?t=***"
    assert secret not in masks.mask("e1", body)
    assert "quote" not in masks.mask("e1", body)


def test_numbers_registered_as_secrets_are_masked():
    masks = masks_with({"pin": 482913})
    assert masks.mask("e1", {"n": 482913, "text": "pin 482913", "ok": True}) == {
        "n": MASK,
        "text": "pin ***",
        "ok": True,
    }


def test_credential_data_registers_secrets_but_not_connection_coordinates():
    masks = SecretMasks()
    masks.add_credential(
        "e1",
        {
            "type": "basic",
            "host": "localhost",
            "user": "postgres",
            "port": 5432,
            "password": "hunter2-hunter2",
            "dsn": "postgresql://app:dsn-pass-99@db:5432/app",
        },
    )
    text = "postgres@localhost:5432 hunter2-hunter2 dsn-pass-99 basic"
    assert masks.mask("e1", text) == "postgres@localhost:5432 *** *** basic"


def test_the_basic_auth_header_value_of_an_http_credential_is_registered():
    masks = SecretMasks()
    masks.add_credential("e1", {"type": "basic", "username": "ann", "password": "pw-12345"})
    header = "Basic " + base64.b64encode(b"ann:pw-12345").decode()
    assert masks.mask("e1", {"authorization": header}) == {"authorization": "Basic ***"}


def test_password_inside_a_key_value_conninfo_is_registered():
    masks = SecretMasks()
    masks.add_credential("e1", {"dsn": "host=db user=app password='s3cr et!' dbname=app"})
    assert masks.mask("e1", "auth failed for s3cr et!") == "auth failed for ***"


def test_oldest_executions_are_dropped_past_the_limit():
    masks = SecretMasks(limit=2)
    for execution in ("e1", "e2", "e3"):
        masks.add(execution, f"secret-of-{execution}")
    assert masks.values("e1") == frozenset()
    assert masks.mask("e3", "secret-of-e3") == MASK


def test_masked_stream_masks_every_execution_secret_in_written_text():
    masks = masks_with(SECRET, execution="e1")
    masks.add("e2", "other-secret")
    out = io.StringIO()
    stream = MaskedStream(out, masks)  # type: ignore[arg-type]
    stream.write(f"{SECRET} and other-secret\n")
    stream.flush()
    assert out.getvalue() == "*** and ***\n"


def test_masked_output_replaces_and_restores_stdout(capsys):
    masks = masks_with(SECRET)
    with masked_output(masks):
        print("token:", SECRET)
    print("after", SECRET)
    assert capsys.readouterr().out == f"token: ***\nafter {SECRET}\n"


def test_masked_output_can_send_stdout_to_stderr(capsys):
    masks = masks_with(SECRET)
    with masked_output(masks, stdout_to_stderr=True):
        print("printed", SECRET)
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "printed ***\n")


class FakeResolver:
    async def get(self, name: str) -> dict[str, Any]:
        return {"token": f"{name}-value-123"}


def test_masking_credentials_register_with_the_running_execution_only():
    masks = SecretMasks()
    creds = MaskingCredentials(FakeResolver(), masks)

    async def fetch() -> None:
        await creds.get("outside")
        with masking_execution("e7"):
            await creds.get("inside")

    asyncio.run(fetch())
    assert masks.values("e7") == frozenset({"inside-value-123"})
    assert masks.mask("e7", "outside-value-123") == "outside-value-123"


# -- events out of the pipeline ----------------------------------------------------------------


def run_playbook(body: str, resources: Resources | None = None) -> list[Event]:
    """Run step `start` of a playbook (HEAD + `body`) as one command of execution e1."""
    playbook = load_playbook(HEAD + textwrap.dedent(body))
    command = Command(command_id="c1", execution_id="e1", step="start", token=1)
    scope = {"workload": {}, "ctx": {}, "args": {}, "iter": {}, "execution_id": "e1"}
    seen: list[Event] = []
    events = asyncio.run(
        run_command(playbook, command, scope, resources or Resources(), on_event=seen.append)
    )
    assert seen == events  # what on_event saw is masked as well
    assert events[0].type == "command.started"
    return events[1:]


HEAD = "apiVersion: noetl.io/v2\nkind: Playbook\nmetadata: {name: t}\n"


def test_a_secret_read_from_the_environment_never_leaves_the_pipeline(monkeypatch):
    monkeypatch.setenv("NOETL_TEST_MASKED_TOKEN", SECRET)
    events = run_playbook(
        """
        workflow:
          - step: start
            tool:
              - read: {kind: secrets, provider: env, name: NOETL_TEST_MASKED_TOKEN}
              - use:
                  kind: python
                  args: {token: "{{ _prev.value }}"}
                  code: |
                    result = {"header": "Bearer " + token, "length": len(token)}
              - boom:
                  kind: python
                  args: {token: "{{ results.read.value }}"}
                  code: |
                    raise RuntimeError("rejected " + token)
        """
    )
    log = json.dumps([event.to_dict() for event in events])
    assert SECRET not in log
    done = [e.payload for e in events if e.type == "task.done"]
    assert done[0]["result"] == {"value": MASK}
    # The clear value reached the next task: it computed from it, only the output is masked.
    assert done[1]["result"] == {"header": "Bearer ***", "length": len(SECRET)}
    failed = events[-1]
    assert failed.type == "step.failed"
    assert failed.payload["error"]["message"] == "RuntimeError: rejected *** (line 1)"


def test_credential_data_fetched_by_a_tool_is_masked(tmp_path):
    resources = Resources()
    resources.credentials = MaskingCredentials(FakeResolver(), resources.masks)
    events = run_playbook(
        """
        workflow:
          - step: start
            tool:
              - read: {kind: secrets, name: api, key: token}
              - echo:
                  kind: python
                  args: {got: "{{ _prev.value }}"}
                  code: result = got
        """,
        resources,
    )
    assert [e.payload.get("result") for e in events] == [{"value": MASK}, MASK, MASK]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("{kind: secrets, provider: vault, name: x}", "field 'provider': unknown provider 'vault'"),
        ("{kind: secrets, provider: env, name: X, key: k}", "field 'key': only the store"),
        ("{kind: secrets, provider: env, name: NOETL_TEST_UNSET_VAR}", "is not set"),
        ("{kind: secrets, provider: file, name: /nonexistent/x}", "does not exist"),
        ("{kind: secrets, name: api}", "no credential store is configured"),
    ],
)
def test_bad_secrets_configs_fail_naming_step_task_and_field(config, message, monkeypatch):
    monkeypatch.delenv("NOETL_TEST_UNSET_VAR", raising=False)
    events = run_playbook(
        f"""
        workflow:
          - step: start
            tool:
              - read: {config}
        """
    )
    error = events[-1].payload["error"]
    assert error["message"].startswith("step 'start' task 'read' field ")
    assert message in error["message"]


def test_file_provider_reads_the_stripped_content(tmp_path):
    secret_file = tmp_path / "token.txt"
    secret_file.write_text(f"  {SECRET}\n")
    events = run_playbook(
        f"""
        workflow:
          - step: start
            tool:
              - read: {{kind: secrets, provider: file, name: "{secret_file}"}}
              - check:
                  kind: python
                  args: {{v: "{{{{ _prev.value }}}}"}}
                  code: result = v == "{SECRET}"
        """
    )
    assert [e.payload.get("result") for e in events] == [{"value": MASK}, True, True]
