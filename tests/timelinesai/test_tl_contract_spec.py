"""The simulator against TimelinesAI's own public OpenAPI spec, with schemathesis.

The spec is TimelinesAI's (``openapi/public_api_spec.yaml`` of its docs repository) and
is not kept here: point ``OUTREACH_TIMELINESAI_SPEC`` at a local copy to run these tests;
without it they are skipped. ``webhook_spec.yaml`` beside it, when there, checks the
webhook bodies too. How to get both: README.md, "Contract test".

Two runs: generated requests for every operation of the spec (an operation the simulator
does not have must answer a documented status, 404, never 405 or 5xx), and each call the
simulator implements made with real ids from a filled simulator, so answers with data in
them are checked against the spec's schemas too.

One check is left out: schemathesis' ``positive_data_acceptance`` expects every
schema-valid request to be accepted, but the spec documents 400 on every call for
business rules a schema cannot state (a number WhatsApp does not know, a webhook URL
that is not http(s), a page below 1), and the simulator answers those as TimelinesAI does.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.timelinesai.contract import AUTH, LEAD, OURS, TOKEN, Seeded, seeded

SPEC_ENV = "OUTREACH_TIMELINESAI_SPEC"
GENERATED_EXAMPLES = 15


def spec_path() -> Path | None:
    """The local copy of the public spec named by ``OUTREACH_TIMELINESAI_SPEC``, if any."""
    given = os.environ.get(SPEC_ENV)
    if not given:
        return None
    path = Path(given).expanduser()
    return path / "public_api_spec.yaml" if path.is_dir() else path


@pytest.fixture(scope="module")
def spec() -> Path:
    path = spec_path()
    if path is None:
        pytest.skip(f"{SPEC_ENV} is not set: no local copy of TimelinesAI's public_api_spec.yaml")
    if not path.is_file():
        pytest.skip(f"{SPEC_ENV} names {path}, which is not a file")
    return path


@pytest.fixture(scope="module")
def sim() -> Iterator[Seeded]:
    with seeded() as filled:
        yield filled


def _schema(spec: Path) -> Any:
    import schemathesis

    return schemathesis.openapi.from_path(spec)


def _excluded() -> list[Any]:
    from schemathesis.checks import positive_data_acceptance

    return [positive_data_acceptance]


def test_generated_requests_get_documented_answers(spec: Path, sim: Seeded) -> None:
    schema = _schema(spec)
    failures: dict[str, set[str]] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the spec documents no operation"
    for operation in operations:
        label = f"{operation.method.upper()} {operation.path}"
        _fuzz(operation, sim, failures.setdefault(label, set()))
    failures = {label: found for label, found in failures.items() if found}
    assert failures == {}, _report(failures)


def _fuzz(operation: Any, sim: Seeded, found: set[str]) -> None:
    """Generated requests for one operation; what breaks the spec goes into ``found``."""
    from hypothesis import HealthCheck, given, settings

    @settings(
        max_examples=GENERATED_EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
        derandomize=True,
    )
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        try:
            case.call_and_validate(
                base_url=sim.handle.base_url, headers=AUTH, excluded_checks=_excluded()
            )
        except (Exception, BaseExceptionGroup) as error:  # all problems, not only the first
            found.add(_first_lines(error))

    check()


def test_answers_with_data_match_the_spec(spec: Path, sim: Seeded) -> None:
    schema = _schema(spec)
    calls: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/whatsapp_accounts", {}),
        ("GET", "/chats", {}),
        ("GET", "/chats", {"query": {"phone": LEAD}}),
        ("GET", "/chats/{chat_id}/messages", {"path_parameters": {"chat_id": sim.chat_id}}),
        ("GET", "/messages/{message_uid}", {"path_parameters": {"message_uid": sim.first_uid}}),
        ("GET", "/messages/{message_uid}", {"path_parameters": {"message_uid": sim.answer_uid}}),
        (
            "GET",
            "/messages/{message_uid}/status_history",
            {"path_parameters": {"message_uid": sim.followup_uid}},
        ),
        ("GET", "/files", {}),
        ("GET", "/files", {"query": {"filename": "pdf"}}),
        ("GET", "/files/{file_uid}", {"path_parameters": {"file_uid": sim.file_uid}}),
        ("POST", "/files", {"body": {"download_url": "https://example.com/b.png"}}),
        (
            "POST",
            "/files_upload",
            {"body": {"file": b"abc", "filename": "c.txt"}, "media_type": "multipart/form-data"},
        ),
        (
            "POST",
            "/messages",
            {"body": {"phone": "+40712345670", "whatsapp_account_phone": OURS, "text": "Hi"}},
        ),
        ("POST", "/messages", {"body": {"phone": "+40712345672", "text": "No account named"}}),
        (
            "POST",
            "/messages/to_jid",
            {"body": {"jid": "40712345673@s.whatsapp.net", "text": "Hi"}},
        ),
        (
            "POST",
            "/chats/{chat_id}/messages",
            {"path_parameters": {"chat_id": sim.chat_id}, "body": {"text": "Again"}},
        ),
        ("GET", "/workspace", {}),
        ("GET", "/webhooks", {}),
        ("GET", "/webhooks/{webhook_id}", {"path_parameters": {"webhook_id": sim.webhook_id}}),
        (
            "PUT",
            "/webhooks/{webhook_id}",
            {"path_parameters": {"webhook_id": sim.webhook_id}, "body": {"enabled": False}},
        ),
        (
            "POST",
            "/webhooks",
            {"body": {"event_type": "whatsapp:account:disconnected", "url": "https://e.test/h"}},
        ),
    ]
    failures: dict[str, set[str]] = {}
    for method, path, parts in calls:
        case = schema[path][method].Case(**parts)
        label = f"{method} {path} {parts}"
        try:
            response = case.call(base_url=sim.handle.base_url, headers=AUTH)
            assert response.status_code == 200, (response.status_code, response.text)
            case.validate_response(response, headers=AUTH, excluded_checks=_excluded())
        except (Exception, BaseExceptionGroup) as error:
            failures.setdefault(label, set()).add(_first_lines(error))
    assert failures == {}, _report(failures)


def test_webhook_bodies_match_the_webhook_spec(spec: Path, sim: Seeded) -> None:
    import jsonschema_rs
    import yaml

    path = spec.with_name("webhook_spec.yaml")
    if not path.is_file():
        pytest.skip(f"no webhook_spec.yaml beside {spec}")
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    which = {
        "message:sent:new": "MessageData",
        "message:received:new": "MessageData",
        "whatsapp:account:disconnected": "AccountData",
    }
    problems: list[str] = []
    for event_type, name in which.items():
        schema = {"$ref": f"#/components/schemas/{name}", "components": document["components"]}
        validator = jsonschema_rs.Draft202012Validator(schema)
        for body in sim.events[event_type]:
            problems += [
                f"{event_type} {error.instance_path}: {error.message}"
                for error in validator.iter_errors(body)
            ]
    assert problems == []


def test_the_seeded_simulator_needs_its_token(sim: Seeded) -> None:
    """Runs without the spec too: the runs above are authenticated, not open."""
    assert sim.http.get("/whatsapp_accounts").status_code == 401
    assert sim.api("GET", "/whatsapp_accounts").status_code == 200
    assert TOKEN in AUTH["Authorization"]


def _first_lines(error: BaseException, lines: int = 12) -> str:
    text = "\n".join(line for line in str(error).splitlines() if line.strip())
    return "\n".join(text.splitlines()[:lines])


def _report(failures: dict[str, set[str]]) -> str:
    parts = [f"{len(failures)} operation(s) break the spec:"]
    for label, found in sorted(failures.items()):
        parts.append(f"== {label}")
        parts.extend(sorted(found))
    return "\n".join(parts)
