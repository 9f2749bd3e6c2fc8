"""/docs shows each JSON route's real answer: its OpenAPI schema is the pydantic model in
``liqheat.api.models``, and what the route sends is that model, key for key in order. Candles and the
heatmap are sent without a check at run time (they are large), so this is where they are held to it."""

from __future__ import annotations

import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel

from liqheat.api import models

M = "/api/markets/syn"
ROUTES: list[tuple[str, dict[str, Any], type[BaseModel]]] = [
    (f"{M}", {}, models.MarketInfo),
    (f"{M}/summary", {}, models.Summary),
    (f"{M}/venues", {}, models.VenueShares),
    (f"{M}/candles", {}, models.Candles),
    (f"{M}/candles", {"interval": "1d", "window": "3d"}, models.Candles),
    ("/api/markets/bare/candles", {}, models.Candles),
    (f"{M}/heatmap", {"window": "3d", "bins": 40}, models.Heatmap),
    (f"{M}/map", {}, models.LiquidationMap),
    (f"{M}/clusters", {}, models.Clusters),
    (f"{M}/levels", {}, models.Levels),
    # syn trades ~$2k an hour against $1B of open interest: a book scaled to that volume is too thin for any cascade
    (f"{M}/cascade", {"shock": "-5%", "depth": "reference"}, models.Cascade),
    (f"{M}/plan", {"side": "short", "entry": 70, "leverage": 5, "balance": 1000}, models.Plan),
    (f"{M}/sentiment", {}, models.Sentiment),
    (f"{M}/liquidations", {}, models.Liquidations),
    (f"{M}/liquidations/totals", {}, models.LiquidationTotals),
    ("/api/calc", {"venue": "okx", "symbol": "BTC/USDT:USDT", "side": "short", "entry": 6e4, "leverage": 50, "size": 1},
     models.Calc),
    (f"{M}/calc", {"side": "long", "entry": 100, "leverage": 10, "size": 3}, models.Calc),
    ("/api/server", {}, models.ServerInfo),
]  # fmt: skip


@pytest.mark.parametrize(("url", "query", "model"), ROUTES, ids=[f"{u} {q}"[:80] for u, q, _ in ROUTES])
def test_each_route_sends_its_model_key_for_key(
    client: TestClient, url: str, query: dict[str, Any], model: type[BaseModel]
) -> None:
    response = client.get(url, params=query)
    assert response.status_code == 200, response.text[:300]
    data = response.json()
    model.model_validate(data)
    assert list(data) == list(model.model_fields)


def test_the_market_list_is_a_list_of_market_infos(client: TestClient) -> None:
    for entry in client.get("/api/markets").json():
        models.MarketInfo.model_validate(entry)


def test_the_docs_show_each_model(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for url, _, model in ROUTES:
        path = re.sub(r"^/api/markets/(syn|bare)", "/api/markets/{market_id}", url)
        answer = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert answer == {"$ref": f"#/components/schemas/{model.__name__}"}, path
        assert list(schemas[model.__name__]["properties"]) == list(model.model_fields), path
