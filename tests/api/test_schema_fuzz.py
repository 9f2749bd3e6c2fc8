"""Every route the OpenAPI schema lists, fuzzed from its own parameter schemas: no 5xx, and every 4xx is
``{"detail", "param"}`` naming one of that route's parameters (or none), never a CLI flag.

The routes are read from ``app.openapi()``, not listed by hand, so a new route is fuzzed the day it is
added; a test checks the schema holds every route the app serves. Values mix what the schema allows
(enums, numbers within the bounds, words from the description, the default) with what breaks parsers:
subnormal and huge floats, ``-0``, NaN and infinity spelled several ways, 40-digit integers, times with
nanoseconds or outside pandas' range, unicode.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from api.data import BARE, SYN
from liqheat.alerts.state import AlertStore
from liqheat.api.app import create_app
from liqheat.api.markets import Registry
from liqheat.store.parquet_store import Series, Store

MARKETS = ("syn", "bare")
NASTY = [
    "", " ", "0", "-0", "-1", "1", "5e-324", "-5e-324", "2.2250738585072014e-308", "1e-320", "1e308", "-1e308",
    "1.7976931348623157e308", "1e309", "NaN", "nan", "-nan", "inf", "-inf", "Infinity", "9" * 40, "-" + "9" * 40,
    "0x1p-1074", "1_000", "１２", "\u2603", "\u202e\u0627", "\U0001f4a5", "%00", "null", "None", "[]", "{}",
    "'; DROP TABLE x; --", "../../etc/passwd",
]  # fmt: skip
TIMES = [
    "2026-01-10T00:00:00.123456789Z", "2026-01-18T23:59:59.999999999+00:00", "2026-01-19T00:00:00.000000001Z",
    "2026-01-05T00:59:59.999999999Z", "1677-09-21T00:12:43.145224191Z", "2262-04-11T23:47:16.854775807Z",
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999999Z", "-1", "1e400", "2026-01-10T12:00:00+14:00", "now",
]  # fmt: skip
DURATIONS = ["4h", "7d", "1y", "3650d", "3651d", "0h", "-1d", "1e3d", "99999999999999999999d", "1.5h", "7D"]
NUMBER_TEXT = [v for v in NASTY if v.lstrip("-").replace(".", "").replace("e", "")[:1].isdigit() or v.lower().lstrip("-+") in
               ("nan", "inf", "infinity")]  # fmt: skip


def build_app(store_root: Path) -> FastAPI:
    store = Store(store_root)
    with store.writer():
        liq = pd.DataFrame({"ts": [pd.Timestamp("2026-01-10T00:00:00Z")], "side": ["long"], "usd": [5e5], "price": [100.0]})
        store.write(Series("liquidations", "binance", "BTC/USDT:USDT"), liq.astype({"ts": "datetime64[us, UTC]"}))
    registry = Registry()
    registry.add(SYN, market_id="syn")
    registry.add(BARE, market_id="bare")
    registry.store = store
    registry.alerts = AlertStore(store_root / "alerts.sqlite")  # /api/alerts answers, as under liqheat run
    return create_app(registry)


def operations(app: FastAPI) -> list[tuple[str, str, dict[str, Any]]]:
    """(method, path, operation) for every operation in the app's OpenAPI schema."""
    return [(method, path, op) for path, ops in app.openapi()["paths"].items() for method, op in ops.items()]


def served_routes(routes: list[Any]) -> list[tuple[str, str]]:
    """(method, path) of every schema-visible API route the app would answer, walking included routers."""
    found: list[tuple[str, str]] = []
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            prefix = getattr(getattr(route, "include_context", None), "prefix", "") or ""
            found += [(m, prefix + p) for m, p in served_routes(list(inner.routes))]
        elif isinstance(route, APIRoute) and route.include_in_schema:
            found += [(m.lower(), route.path) for m in route.methods]
    return found


# The schema is read at collection time, so each route is its own test case.
SCHEMA_APP = create_app(Registry())
OPERATIONS = operations(SCHEMA_APP)


def words(description: str) -> list[str]:
    """The values a parameter's description lists (``one of 1m, 5m``, ``binance, bybit``, ``long or short``,
    ``(BTCUSDT …)``): the words beside a comma, a parenthesis or an ``or``; every word if none is."""
    token = r"[A-Za-z0-9][A-Za-z0-9/:_%.\-]*[A-Za-z0-9%]|[A-Za-z0-9]"
    listed = re.findall(rf"(?:^|, |\(| or |: |of )({token})(?=,|\)| or | …|$)", description)
    return sorted(set(listed or re.findall(token, description)))


def schemas_of(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in schema.get("anyOf", [schema]) if s.get("type") != "null"]


def number_strategy(schema: dict[str, Any], plausible: bool) -> st.SearchStrategy[str]:
    """Within the schema's bounds (near the lower one when ``plausible``, where most domains are), or anything."""
    lo = schema.get("minimum", schema.get("exclusiveMinimum"))
    hi = schema.get("maximum", schema.get("exclusiveMaximum"))
    exclusive = {"exclude_min": "exclusiveMinimum" in schema, "exclude_max": "exclusiveMaximum" in schema}
    if plausible:
        near = max(lo or 0, 0) + 100
        top = near if hi is None else min(hi, near)
        if schema["type"] == "integer":
            return st.integers(lo, top).map(str)
        capped = {**exclusive, "exclude_max": exclusive["exclude_max"] and top == hi}
        return st.floats(lo, top, allow_nan=False, **capped).map(repr)
    if schema["type"] == "integer":
        return st.one_of(st.integers(lo, hi).map(str), st.integers().map(str), st.sampled_from(NUMBER_TEXT))
    inside = st.floats(lo, hi, allow_nan=False, **exclusive).map(repr)
    return st.one_of(inside, st.floats().map(repr), st.sampled_from(NUMBER_TEXT))


def plausible_value(schema: dict[str, Any], description: str) -> st.SearchStrategy[Any]:
    """What the schema and its description allow: an enum member, a number within the bounds, a word the
    description names or the default, a time when it says ISO 8601, a duration when it says so."""
    first = (schemas_of(schema) or [{}])[0]
    if first.get("type") == "array":
        return st.lists(plausible_value(first["items"], description), max_size=3)
    if "enum" in first:
        return st.sampled_from(first["enum"])
    if first.get("type") in ("number", "integer"):
        return number_strategy(first, plausible=True)
    known = TIMES if "ISO 8601" in description else words(description)
    known = known + (DURATIONS if "duration" in description else []) + ([str(schema["default"])] if "default" in schema else [])
    return st.sampled_from(known) if known else st.text(max_size=8)


def hostile_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Mostly what breaks parsers, typed or not."""
    first = (schemas_of(schema) or [{}])[0]
    if first.get("type") == "array":
        return st.lists(hostile_value(first["items"]), max_size=3)
    anything = st.one_of(st.sampled_from(NASTY), st.sampled_from(TIMES), st.sampled_from(DURATIONS),
                         st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))  # fmt: skip
    if first.get("type") in ("number", "integer"):
        return st.one_of(number_strategy(first, plausible=False), anything)
    return anything


def request_strategy(op: dict[str, Any]) -> st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]:
    """(path parameters, query parameters): required ones always, optional ones sometimes; at most one
    hostile value (none in some requests), so that it gets past the others to the route's own checks."""
    params = op.get("parameters", [])

    def with_hostile(bad: str | None) -> st.SearchStrategy[tuple[dict[str, Any], dict[str, Any]]]:
        path: dict[str, st.SearchStrategy[Any]] = {}
        required: dict[str, st.SearchStrategy[Any]] = {}
        optional: dict[str, st.SearchStrategy[Any]] = {}
        for p in params:
            description = p.get("description") or p["schema"].get("description", "")
            if p["name"] == bad:
                values = hostile_value(p["schema"])
            else:
                values = st.sampled_from(MARKETS) if p["in"] == "path" else plausible_value(p["schema"], description)
            if p["in"] == "path":
                path[p["name"]] = values
            elif p.get("required") or p["name"] == bad:
                required[p["name"]] = values
            else:
                optional[p["name"]] = values
        return st.tuples(st.fixed_dictionaries(path), st.fixed_dictionaries(required, optional=optional))

    return st.sampled_from([None, None, *(p["name"] for p in params)]).flatmap(with_hostile)


@pytest.fixture(scope="module")
def fuzz_client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    return TestClient(build_app(tmp_path_factory.mktemp("store")), raise_server_exceptions=False)


def test_the_schema_lists_every_route_the_app_serves(fuzz_client: TestClient) -> None:
    app = fuzz_client.app
    assert isinstance(app, FastAPI)
    in_schema = sorted((method, path) for method, path, _ in operations(app))
    assert in_schema == sorted(served_routes(list(app.routes)))
    assert len(in_schema) == len(OPERATIONS) == 24


FUZZ = settings(max_examples=60, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])  # fmt: skip


@pytest.mark.parametrize(("method", "path", "op"), OPERATIONS, ids=[f"{m} {p}" for m, p, _ in OPERATIONS])
def test_no_route_answers_5xx_and_every_4xx_names_a_parameter(
    fuzz_client: TestClient, method: str, path: str, op: dict[str, Any]
) -> None:
    names = {p["name"] for p in op.get("parameters", [])}
    statuses: list[int] = []

    @FUZZ
    @given(request_strategy(op))
    def run(request: tuple[dict[str, Any], dict[str, Any]]) -> None:
        path_params, query = request
        url = path.format(**{k: quote(str(v), safe="") for k, v in path_params.items()})
        with fuzz_client.stream(method.upper(), url, params=query) as response:
            status = response.status_code
            streaming = response.headers.get("content-type", "").startswith("text/event-stream")
            body = None if streaming else response.read()
        statuses.append(status)
        assert status < 500, (url, query, body[:400] if body else None)
        if status >= 400:
            assert body is not None
            error = response.json()
            assert list(error) == ["detail", "param"], (url, query, error)
            assert isinstance(error["detail"], str), (url, query, error)
            assert error["detail"], (url, query, error)
            assert error["param"] is None or error["param"] in names, (url, query, error)
            assert not re.search(r"(?<![\w-])--[a-z]", error["detail"]), (url, query, error)  # a query parameter, no CLI flag

    run()
    assert 200 in statuses, (path, sorted(set(statuses)))
