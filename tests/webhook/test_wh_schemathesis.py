"""schemathesis against the receiver's own OpenAPI: no generated request gets a 5xx."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webhook.conftest import SECRET, Receiver


def test_schemathesis_finds_no_server_error(sqlite_receiver: Receiver) -> None:
    assert sqlite_receiver.app is not None
    schema = schemathesis.openapi.from_asgi("/openapi.json", sqlite_receiver.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations, "the schema documents no operation"
    strategy = st.one_of([operation.as_strategy() for operation in operations])
    seen: dict[tuple[str, int], int] = {}

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(case=strategy)
    def no_server_error(case: schemathesis.Case) -> None:
        if case.path.startswith("/webhooks/"):
            # Past the door: the secret is tested elsewhere; here the bodies are the point.
            case.query = {**(case.query or {}), "secret": SECRET}
        response = case.call()
        key = (f"{case.method} {case.path}", response.status_code)
        seen[key] = seen.get(key, 0) + 1
        assert response.status_code < 500, (case.method, case.path, response.status_code)

    no_server_error()
    # It really reached the receiver, past authentication too, not only the 401 door.
    assert sum(seen.values()) >= 100
    paths = {path for path, _ in seen}
    assert any("/webhooks/timelinesai" in path for path in paths), seen
    handled = sum(n for (path, code), n in seen.items() if "/webhooks/" in path and code != 401)
    assert handled >= 100, seen
