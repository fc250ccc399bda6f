"""An OpenAPI-driven fuzz of the receiver: no request, valid or not, gets a 5xx.

Beside the schemathesis test (``test_wh_schemathesis.py``), this mutates harder: every
operation of the app's own ``app.openapi()`` gets requests generated from its schema
(parameters and JSON bodies, the ``examples`` mixed in) and from mutations of those
(required keys dropped, values of the wrong type, arbitrary bytes), sent over HTTP
to the running app on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.webhook.conftest import LEAD, SECRET, Receiver

_ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
# The documented answers; 503 only for an outage or a busy phone, neither happens here.
EXPECTED = {200, 400, 401, 405, 413, 422}


def from_schema(schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values valid for a JSON schema (the subset OpenAPI 3.1 documents here use)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return from_schema(spec["components"]["schemas"][name], spec)
    for combinator in ("oneOf", "anyOf"):
        if combinator in schema:
            return st.one_of([from_schema(part, spec) for part in schema[combinator]])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    base = _typed(schema, spec)
    examples = schema.get("examples") or ([schema["example"]] if "example" in schema else [])
    return st.sampled_from(examples) | base if examples else base


def _typed(schema: dict[str, Any], spec: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind = schema.get("type")
    if kind == "object":
        properties = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, spec) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, spec) for k, v in properties.items() if k not in required},
        )
    if kind == "array":
        return st.lists(from_schema(schema.get("items", {}), spec), max_size=3)
    if kind == "string" and schema.get("format") == "uuid":
        return st.uuids().map(str)
    if kind == "string":
        return st.text(min_size=schema.get("minLength", 0), max_size=schema.get("maxLength", 40))
    if kind == "integer":
        return st.integers(min_value=schema.get("minimum"), max_value=schema.get("maximum"))
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    return _ANY_JSON


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """A valid value with one node dropped or replaced by a value of any type."""
    value = draw(valid)
    if not isinstance(value, dict) or not value:
        return draw(_ANY_JSON)
    node: dict[str, Any] = value
    while True:  # walk down into a random nested object
        children = [k for k, v in node.items() if isinstance(v, dict) and v]
        if not children or draw(st.booleans()):
            break
        node = node[draw(st.sampled_from(sorted(children)))]
    key = draw(st.sampled_from(sorted(node)))
    if draw(st.booleans()):
        del node[key]
    else:
        node[key] = draw(_ANY_JSON)
    return value


def requests_for(spec: dict[str, Any]) -> st.SearchStrategy[tuple[str, str, dict[str, Any], Any]]:
    """(method, path, query, body) for every operation of ``spec``."""
    operations = []
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            query: dict[str, st.SearchStrategy[Any]] = {}
            required: dict[str, st.SearchStrategy[Any]] = {}
            for parameter in operation.get("parameters", []):
                if parameter["in"] != "query":
                    continue
                strategy = from_schema(parameter.get("schema", {}), spec)
                if parameter["name"] == "secret":  # mostly right, to reach the handlers
                    required["secret"] = st.integers(0, 9).flatmap(
                        lambda i, wrong=strategy: wrong if i == 0 else st.just(SECRET)
                    )
                else:
                    query[parameter["name"]] = strategy
            body_schema = (
                operation.get("requestBody", {}).get("content", {})
                .get("application/json", {}).get("schema")
            )  # fmt: skip
            body: st.SearchStrategy[Any] = st.none()
            if body_schema is not None:
                valid = from_schema(body_schema, spec)
                body = valid | mutated(valid) | st.binary(max_size=64)
            operations.append(
                st.tuples(
                    st.just(method.upper()),
                    st.just(path),
                    st.fixed_dictionaries(required, optional=query),
                    body,
                )
            )
    return st.one_of(operations)


def test_every_operation_of_the_schema_is_fuzzed(receiver: Receiver) -> None:
    assert receiver.app is not None
    spec = receiver.app.openapi()
    assert set(spec["paths"]) == {"/webhooks/timelinesai", "/healthz", "/metrics"}
    receiver.enroll(LEAD)
    receiver.enroll("+447700900001", phone_id="02")  # a lead with one of our numbers' shape
    seen: dict[tuple[str, str], set[int]] = {}

    @settings(
        max_examples=250,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(requests_for(spec))  # fmt: skip
    def fuzz(request: tuple[str, str, dict[str, Any], Any]) -> None:
        method, path, query, body = request
        content = body if isinstance(body, bytes) else None if body is None else json.dumps(body)
        response = receiver.client.request(method, path, params=query, content=content)
        assert response.status_code < 500, (response.status_code, response.text, body)
        assert response.status_code in EXPECTED, (response.status_code, response.text)
        seen.setdefault((method, path), set()).add(response.status_code)

    fuzz()
    assert set(seen) == {
        ("POST", "/webhooks/timelinesai"), ("GET", "/healthz"), ("GET", "/metrics"),
    }  # fmt: skip
    # The fuzz reached past the secret into the parser and the handlers.
    assert {200, 401, 422} <= seen[("POST", "/webhooks/timelinesai")]
    assert len(receiver.events()) >= 20
