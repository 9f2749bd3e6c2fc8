"""The API's answers as pydantic models: the schemas /docs shows, and a check on what the routes return.

Field order is the JSON's key order and field names are the JSON's (the page reads them): change neither
without the page. Every model refuses keys it does not declare, so a route that grows a field without
its model fails its tests instead of silently dropping it. Numbers that can be missing or not finite are
``None`` (JSON null).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Error(Model):
    """Every 4xx (400 refused value, 404 unknown market or path, 422 malformed or out-of-range parameter)."""

    detail: str = Field(description="What is wrong and why; for a 422, `query.<name>: <why>` (several joined by ` | `).")
    param: str | None = Field(description="The query or path parameter at fault, or null when no single one is.")


ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Error} for code in (400, 404, 422)}


# ------------------------------------------------------------------------------------------ markets


class SideScore(Model):
    model: float | None = Field(description="The model's score on realized liquidations (see the README).")
    yardstick: float | None
    margin: float | None = Field(description="model − yardstick")


class MarketInfo(Model):
    id: str
    kind: str = Field(description="bundle, store, synthetic, …")
    symbol: str
    quote: str
    contract: str
    venues: list[str]
    timeframe: str
    first: str = Field(description="Open of the first candle (ISO 8601 UTC).")
    last: str = Field(description="Open of the last candle.")
    candles: int
    has_liquidations: bool
    source: str
    version: int = Field(description="Moves when the market grows (see /api/events).")
    score: dict[str, SideScore] | None = Field(description="Per side (long, short); null without realized liquidations.")
    venue_status: list[dict[str, Any]] = Field(description="Store markets: each venue's freshness and gaps.")
    exact: list[str] = Field(description="The on-chain sources whose exact levels are shown beside this market's estimate.")


class ServerInfo(Model):
    version: str
    store: bool = Field(description="Whether /api/liquidations answers (a store behind the server) or is a 404.")
    markets: int
    alerts: bool = Field(description="Whether /api/alerts answers (the service evaluates alert rules) or is a 404.")


class AlertDelivery(Model):
    destination: str
    status: str = Field(description="pending or delivered")
    attempts: int
    last_error: str | None
    delivered_at: float | None = Field(description="Unix seconds.")


class AlertRecord(Model):
    seq: int
    key: str = Field(description="The event's key: the same event never alerts twice.")
    rule: str
    kind: str
    market: str
    ts: str
    title: str
    text: str
    created: float = Field(description="Unix seconds the alert was recorded.")
    deliveries: list[AlertDelivery]


class AlertRule(Model):
    name: str
    kind: str
    markets: list[str] | None = Field(description="None: every market.")
    destinations: list[str] | None = Field(description="None: every destination.")


class Alerts(Model):
    rules: list[AlertRule]
    alerts: list[AlertRecord] = Field(description="Newest first.")


class Summary(MarketInfo):
    price: float
    change_24h_pct: float
    open_interest_usd: float
    open_interest_as_of: str
    funding_rate: float | None
    liquidations_24h: dict[str, float] | None = Field(
        description="Realized USD per side over the 24 h up to the last candle's close; null (unknown, not 0) when the "
        "market has no realized data there: a bar of totals without its row, or a stream of orders not yet begun or "
        "without one order in those 24 h."
    )
    params: dict[str, Any] = Field(description="The model parameters the market is replayed with.")


class VenueShares(Model):
    venues: list[str]
    ts: list[int]
    shares: dict[str, list[float | None]] = Field(description="Per venue, its share of open interest at each ts.")
    status: list[dict[str, Any]]


class Candles(Model):
    market: str
    interval: str
    time: list[int] = Field(description="Candle opens, seconds since the epoch.")
    open: list[float]
    high: list[float]
    low: list[float]
    close: list[float]
    volume: list[float] | None


class Heatmap(Model):
    """``format=json``. ``bin`` and ``q16`` send the same header (q16 adds ``encoding`` and ``scale``) as
    uint32 length + JSON + zero padding to 4 bytes, then long then short as float32 or uint16 codes."""

    market: str
    side: str
    time: list[int] = Field(description="Column times: the map as each candle opens, seconds since the epoch.")
    price_edges: list[float]
    columns: int
    rows: int
    unit: str
    max: float
    long: list[list[float]] = Field(description="columns × rows, USD")
    short: list[list[float]]


class ExactSnapshot(Model):
    as_of: str = Field(description="The snapshot's time: its levels are drawn from the first candle opening then.")
    positions: int
    coverage: float | None = Field(description="Share of the venue's open interest the positions hold; null: all of them.")
    note: str


class ExactLayerSource(Model):
    source: str
    label: str = Field(description="The source labelled exact, as the map's parts are.")
    snapshots: list[ExactSnapshot] = Field(description="The snapshots in force over the window, oldest first.")


class ExactRuns(Model):
    """Column-wise: run i is `usd[i]` of `side[i]` levels of `sources[source[i]]` in row `row[i]` (the band
    `price_edges[row]` … `price_edges[row + 1]`), from column `first[i]` to column `last[i]`, both included."""

    source: list[int]
    side: list[Literal["long", "short"]]
    row: list[int]
    first: list[int]
    last: list[int]
    usd: list[float]


class ExactHeatmap(Model):
    """Exact on-chain levels on the heatmap's own columns and rows (ask with the heatmap's window, end, bins,
    columns and leverage): each level from its snapshot until a candle crosses it or a later snapshot replaces it."""

    market: str
    side: str
    time: list[int] = Field(description="The heatmap's column times (seconds since the epoch).")
    price_edges: list[float] = Field(description="The heatmap's row edges.")
    columns: int
    rows: int
    sources: list[ExactLayerSource]
    runs: ExactRuns
    max: float = Field(description="The largest USD of one side in one cell, over every source.")
    note: str


class MapPart(Model):
    label: str = Field(description="A leverage band (\"< 10×\", \"10–25×\", …), a venue, \"all\", or an exact source.")
    kind: Literal["estimated", "exact"] = Field(description="The model's estimate, or on-chain positions' exact levels.")
    long: list[float]
    short: list[float]


class ExactSource(Model):
    source: str = Field(description="Where the exact levels come from (\"aave v3\", \"hyperliquid\").")
    as_of: str = Field(description="The snapshot's time: the map shows none of it before.")
    positions: int
    coverage: float | None = Field(description="Share of the venue's open interest the positions hold; null: all of them.")
    open_levels: int = Field(description="Levels the price has not crossed since the snapshot, at the map's time.")
    note: str


class LiquidationMap(Model):
    market: str
    at: str = Field(description="The time the map describes: the close of the last candle closed by `at`.")
    price: float
    price_edges: list[float]
    long: list[float] = Field(description="USD of longs liquidating in each band below price (0 above it).")
    short: list[float] = Field(description="USD of shorts liquidating in each band above price (0 below it).")
    cumulative_long: list[float] = Field(description="Longs from price downwards.")
    cumulative_short: list[float] = Field(description="Shorts from price upwards.")
    split_by: Literal["none", "leverage", "venue", "source"] = Field(description="What `parts` splits each band by.")
    parts: list[MapPart] = Field(
        description="The bands split: per leverage band, venue or source (adding up to long/short); exact sources are "
        "parts of their own in every split."
    )
    note: str = Field(description="How the split was made, when it is not exact.")
    exact: list[ExactSource] = Field(description="The exact sources of this market shown at the map's time.")
    onchain_share: float | None = Field(description="Exact levels' share of the notional shown; null when none is known.")


# ------------------------------------------------------------------------------------------ trader


class Cluster(Model):
    side: str
    price_low: float
    price_high: float
    peak_price: float
    notional_usd: float
    share: float = Field(description="Of all notional at risk, both sides.")
    distance_pct: float
    distance_atr: float | None = Field(
        description="distance_pct ÷ atr_pct: in ATRs of 14 hourly bars (the same on 1-minute and 1-hour candles)."
    )
    age_hours: float | None
    age_at_least: bool | None = Field(description="Older than the oldest map kept: age_hours is a lower bound.")
    side_share: float | None = Field(description="Of its own side's notional at risk.")
    hit_prob_4h: float | None = Field(None, description="Chance price touches the band's near edge within 4 h (driftless model).")
    hit_prob_24h: float | None = Field(None, description="The same within 24 h.")
    hit_prob_72h: float | None = Field(None, description="The same within 72 h.")
    expected_usd_4h: float | None = Field(None, description="Notional it would liquidate within 4 h: each bin × its chance.")
    expected_usd_24h: float | None = Field(None, description="The same within 24 h.")
    expected_usd_72h: float | None = Field(None, description="The same within 72 h.")


class DistanceBucket(Model):
    from_pct: float
    to_pct: float | None
    share: float


class RoundAffinity(Model):
    round_step: float
    within_pct: float
    observed_share: float
    chance_share: float
    ratio: float | None


class Concentration(Model):
    clusters: int
    top5pct_clusters: int
    top5pct_share: float
    distance_profile: dict[str, list[DistanceBucket]]
    round_affinity: RoundAffinity


class Clusters(Model):
    market: str
    at: str
    price: float
    atr_pct: float = Field(
        description="Average true range of the last 14 hourly bars (candles grouped into hours ending at the map's close), "
        "% of price; candles longer than an hour: theirs × √(1 h / timeframe)."
    )
    clusters: list[Cluster]
    concentration: Concentration


class Level(Model):
    price: float
    kind: str = Field(description="support or resistance")
    source: str = Field(description="pivot or volume")
    strength: float
    touches: int
    scales: list[int]


class Confluence(Model):
    cluster: Cluster
    level: Level
    score: float
    distance_pct: float


class Levels(Model):
    market: str
    at: str
    price: float
    levels: list[Level]
    confluence: list[Confluence]


class CascadeRound(Model):
    n: int
    price: float
    move_pct: float
    fired_usd: float
    forced_total_usd: float
    clusters: list[int] = Field(description="Indices into clusters_fired first reached in this round.")


class CascadeDepth(Model):
    """Which book the cascade walked and how it was scaled to the market (analytics.cascade.market_book)."""

    reference: str = Field(description="The measured book: Binance BTCUSDT's bookDepth of 2025-10-10, calm or crash.")
    rule: str = Field(description="volume (scaled by traded volume), reference (as measured, asked), "
                      "or 'no volume: reference' (the market's candles carry no volume)")  # fmt: skip
    market_usd_per_hour: float | None = Field(description="USD this market traded per hour over window_days up to the map.")
    reference_usd_per_hour: float = Field(description="Binance BTCUSDT's over the calm book's hours.")
    window_days: int
    market_scale: float = Field(description="market_usd_per_hour ÷ reference_usd_per_hour (1 unless rule is volume).")
    depth_scale: float = Field(description="The depth_scale asked for, on top.")
    scale: float = Field(description="The book walked = the reference book × this.")


class Cascade(Model):
    market: str
    at: str
    time: int
    price_before: float
    shock_pct: float
    price_after: float
    move_pct: float
    amplification: float | None
    liquidated_usd: float
    stop_reason: str
    depth_source: str
    depth: CascadeDepth
    refill: float
    rounds: list[CascadeRound]
    clusters_fired: list[Cluster]
    risk: dict[str, float]


class Plan(Model):
    market: str
    at: str
    price: float
    side: str
    entry: float
    leverage: float
    balance: float
    risk_usd: float
    size_base: float
    notional_usd: float
    margin_usd: float
    stop: float
    stop_reason: str
    liquidation_price: float
    take_profit: float | None
    reward_risk: float | None
    warnings: list[str]
    margin_to_clear: float | None
    venue: str
    symbol: str
    notes: list[str]
    reach: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description="Chance price reaches the stop, take_profit and liquidation_price within 24h and 72h (driftless model).",
    )
    clusters_below: list[Cluster]
    clusters_above: list[Cluster]
    sound_stop: bool = Field(description="false: no stop is within max_stop_atr, short of the own liquidation and outside "
                             "every cluster; the stop given is the farthest allowed")  # fmt: skip
    max_stop_atr: float


class Sentiment(Model):
    market: str
    at: str
    window_hours: float
    long_at_risk_usd: float
    short_at_risk_usd: float
    long_short_ratio: float | None
    skew: float
    open_interest_usd: float | None
    open_interest_change_pct: float | None
    price_change_pct: float | None
    funding_mean: float | None
    funding_last: float | None


class Bracket(Model):
    tier: int
    floor: float
    cap: float | None
    unit: str
    max_leverage: float
    mmr: float
    maint_amount: float


class CloseStep(Model):
    price: float
    contracts_closed: float
    contracts_left: float
    notional_closed: float
    full: bool


class Calc(Model):
    venue: str
    symbol: str
    contract: str
    contract_size: float
    side: str
    entry_price: float
    size_contracts: float
    size_base: float
    notional_quote: float
    leverage: float
    margin_mode: str
    collateral: float
    initial_margin: float
    settle_currency: str
    liquidation_price: float = Field(description="0 when the position cannot be liquidated.")
    liquidatable: bool
    bankruptcy_price: float
    distance_pct: float | None
    maintenance_margin: float
    bracket: Bracket
    fee_rate: float
    trigger: str
    steps: list[CloseStep]
    notes: list[str]
    formula_source: str
    table_source: str
    table_as_of: str


# ------------------------------------------------------------------------------------------ liquidations


class Liquidations(Model):
    market: str
    time: list[int]
    side: list[str]
    usd: list[float]
    price: list[float | None]


class Order(Model):
    ts: str
    side: str
    usd: float
    price: float


class LiquidationTotals(Model):
    market: str
    bucket: str
    venues: list[str]
    time: list[int]
    long_usd: list[float]
    short_usd: list[float]
    largest: list[Order]


class StoreLiquidations(Model):
    """Totals per bucket, venue and symbol; rows are ``{bucket or ts, venue, symbol, …, long_usd,
    short_usd, total_usd, orders}`` as ``liqheat liquidations --json`` prints them."""

    bucket: str
    since: str
    until: str
    lower_bound: list[str] = Field(description="Venues whose stream is known to miss liquidations: totals are at least.")
    total: dict[str, Any] | None
    venues: list[dict[str, Any]]
    symbols: list[dict[str, Any]]
    symbols_total: int
    series: list[dict[str, Any]]
    largest: list[dict[str, Any]]
    gaps: list[dict[str, Any]]
