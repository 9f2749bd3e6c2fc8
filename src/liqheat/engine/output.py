"""What the engine hands to people and files: prediction CSVs and heatmap frames (PNG, JSON, Parquet).

A heatmap column at candle t shows the levels at risk *as candle t opens*: the map built from the
data before t, the one candle t can sweep.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from liqheat.bundle import Bundle, iso_utc_text, parse_duration
from liqheat.engine.params import ModelParams
from liqheat.engine.replay import Engine, MarketView
from liqheat.engine.timeline import Timeline
from liqheat.model import DomainError


def _atomic(path: Path, write: Any) -> None:
    """Write via a temporary sibling and rename, so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_predictions(frame: pd.DataFrame, path: Path) -> None:
    """``ts,long_usd,short_usd``: ts the candle's open in ISO 8601 UTC."""
    table = pa.table(
        {
            "ts": iso_utc_text(frame["ts"]),
            "long_usd": pa.array(frame["long_usd"].to_numpy(np.float64)),
            "short_usd": pa.array(frame["short_usd"].to_numpy(np.float64)),
        }
    )
    options = pa_csv.WriteOptions(quoting_header="none", quoting_style="none")
    _atomic(path, lambda tmp: pa_csv.write_csv(table, tmp, write_options=options))


@dataclass(frozen=True)
class HeatmapFrame:
    """Notional at risk per (time column, price row), with the axes and the candles shown."""

    market: str
    timeframe: str
    times: pd.DatetimeIndex
    price_edges: np.ndarray
    long: np.ndarray
    short: np.ndarray
    candles: pd.DataFrame
    params: ModelParams

    @property
    def price_centers(self) -> np.ndarray:
        return np.asarray(np.sqrt(self.price_edges[:-1] * self.price_edges[1:]))


def heatmap_frame(
    bundle: Bundle,
    params: ModelParams,
    *,
    window: str = "7d",
    end: pd.Timestamp | None = None,
    max_bins: int = 300,
    max_columns: int = 1000,
    margin: float = 0.15,
    leverage_band: tuple[float, float] | None = None,
    timeline: Timeline | None = None,
) -> HeatmapFrame:
    """Replay ``bundle`` and take the map at each candle of the window ending at ``end``.

    ``leverage_band`` keeps only the levels of positions whose leverage lies in [low, high]. With a
    ``timeline`` of the same bundle and parameters, nothing is replayed from the start: a long window's
    columns are aligned to the timeline's snapshots (read, not replayed) and a short one replays from
    the checkpoint before it.
    """
    if not (10 <= max_bins <= 5000):
        raise DomainError(f"--bins must be 10..5000, got {max_bins}")
    if not (2 <= max_columns <= 20000):
        raise DomainError(f"--columns must be 2..20000, got {max_columns}")
    span = parse_duration(window, "--window")
    candles = bundle.candles
    ts = candles["ts"]
    last = ts.iloc[-1]
    end = last if end is None else end
    if end < ts.iloc[0]:
        raise DomainError(f"--end {end:%Y-%m-%dT%H:%M:%SZ} is before the bundle's first candle {ts.iloc[0]:%Y-%m-%dT%H:%M:%SZ}")
    if end > last:
        raise DomainError(f"--end {end:%Y-%m-%dT%H:%M:%SZ} is after the bundle's last candle {last:%Y-%m-%dT%H:%M:%SZ}")
    i1 = int(ts.searchsorted(end, side="right")) - 1
    i0 = max(1, int(ts.searchsorted(end - span, side="right")))
    if i1 < i0:
        raise DomainError(f"window {window} ending {end:%Y-%m-%dT%H:%M:%SZ} holds no candle after the first")
    stride = max(1, math.ceil((i1 - i0 + 1) / max_columns))
    cols = np.arange(i0, i1 + 1, stride, dtype=np.int64)
    if timeline is not None and stride >= timeline.stride and leverage_band is None:
        step = timeline.stride * math.ceil(stride / timeline.stride)
        first = timeline.stride * math.ceil(i0 / timeline.stride)
        if first <= i1:
            cols = np.arange(first, i1 + 1, step, dtype=np.int64)
    view = timeline.view if timeline is not None else MarketView.from_bundle(bundle)
    engine = timeline.engine() if timeline is not None else Engine.for_view(view, params)
    grid = engine.grid
    shown = candles.iloc[i0 : i1 + 1]
    lo_price = float(shown["low"].min()) * (1 - margin)
    hi_price = float(shown["high"].max()) * (1 + margin)
    b_lo = max(0, int((math.log(lo_price) - grid.lo) / grid.width))
    b_hi = min(grid.n_bins - 1, int((math.log(hi_price) - grid.lo) / grid.width))
    group = max(1, math.ceil((b_hi - b_lo + 1) / max_bins))
    while b_hi // group - b_lo // group + 1 > max_bins:  # groups are aligned to the grid: a window can straddle one
        group += 1
    mask = None
    if leverage_band is not None:
        mask = (engine.leverages >= leverage_band[0]) & (engine.leverages <= leverage_band[1])
        if not mask.any():
            raise DomainError(f"no leverage bucket lies in {leverage_band[0]:g}x … {leverage_band[1]:g}x")
    if timeline is not None:
        frames_long, frames_short = timeline.maps_at_open(cols, group, mask)
    else:
        _, frames_long, frames_short = engine.run(view, frame_at=cols - 1, group=group, lev_mask=mask)
    r0, r1 = b_lo // group, b_hi // group
    rows = np.arange(r0, r1 + 1)
    edges = np.exp(grid.lo + grid.width * group * np.append(rows, r1 + 1))
    return HeatmapFrame(
        market=f"{bundle.meta.symbol} ({', '.join(bundle.meta.venues)})",
        timeframe=bundle.meta.timeframe,
        times=pd.DatetimeIndex(ts.iloc[cols]),
        price_edges=edges,
        long=frames_long[:, r0 : r1 + 1],
        short=frames_short[:, r0 : r1 + 1],
        candles=shown,
        params=params,
    )


def _side(frame: HeatmapFrame, side: str) -> np.ndarray:
    if side == "long":
        return frame.long
    if side == "short":
        return frame.short
    if side == "both":
        return np.asarray(frame.long + frame.short)
    raise DomainError(f"--side must be both, long or short, got {side!r}")


def write_heatmap(frame: HeatmapFrame, path: Path, side: str = "both") -> None:
    suffix = path.suffix.lower()
    values = _side(frame, side)
    if suffix == ".json":
        data = {
            "market": frame.market,
            "timeframe": frame.timeframe,
            "unit": "USD notional at risk at the candle's open",
            "side": side,
            "times": [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in frame.times],
            "price_edges": [round(float(p), 8) for p in frame.price_edges],
            "long": np.round(frame.long, 2).tolist() if side in ("both", "long") else None,
            "short": np.round(frame.short, 2).tolist() if side in ("both", "short") else None,
            "params": frame.params.to_dict(),
        }
        _atomic(path, lambda tmp: tmp.write_text(json.dumps(data), encoding="utf-8"))
    elif suffix == ".parquet":
        n_t, n_p = frame.long.shape
        table = pa.table(
            {
                "ts": pa.array(np.repeat(frame.times.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[us]"), n_p)).cast(
                    pa.timestamp("us", tz="UTC")
                ),
                "price_low": np.tile(frame.price_edges[:-1], n_t),
                "price_high": np.tile(frame.price_edges[1:], n_t),
                "long_usd": frame.long.reshape(-1),
                "short_usd": frame.short.reshape(-1),
            }
        ).replace_schema_metadata({"liqheat.params": frame.params.to_json(), "liqheat.market": frame.market})
        _atomic(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"))
    elif suffix == ".png":
        _atomic(path, lambda tmp: _png(frame, values, side, tmp))
    else:
        raise DomainError(f"--out must end in .png, .json or .parquet, got {path.name!r}")


def _png(frame: HeatmapFrame, values: np.ndarray, side: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt
    from matplotlib.colors import PowerNorm

    times = frame.times.tz_convert("UTC").tz_localize(None)
    step = (times[1] - times[0]) if len(times) > 1 else pd.Timedelta(frame.timeframe)
    t_edges = mdates.date2num(np.append(times.to_numpy(), (times[-1] + step).to_datetime64()))
    fig, ax = plt.subplots(figsize=(13, 6.5), dpi=110, facecolor="#0d1117")
    ax.set_facecolor("#0d1117")
    positive = values[values > 0]
    if positive.size:
        vmax = float(np.quantile(positive, 0.995))
        norm = PowerNorm(gamma=0.5, vmin=0.0, vmax=vmax)
        mesh = ax.pcolormesh(
            t_edges, frame.price_edges, np.where(values > 0, values, np.nan).T, cmap="inferno", norm=norm, shading="flat"
        )
        bar = fig.colorbar(mesh, ax=ax, pad=0.01)
        bar.set_label("notional at risk (USD)", color="#c9d1d9")
        bar.ax.tick_params(colors="#c9d1d9")
    c = frame.candles
    x = mdates.date2num(c["ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())
    up = (c["close"] >= c["open"]).to_numpy()
    width = float(np.median(np.diff(x))) * 0.7 if len(x) > 1 else 0.02
    for mask, colour in ((up, "#3fb950"), (~up, "#f85149")):
        ax.vlines(x[mask], c["low"].to_numpy()[mask], c["high"].to_numpy()[mask], color=colour, linewidth=0.6)
        ax.bar(
            x[mask],
            (c["close"] - c["open"]).to_numpy()[mask],
            bottom=c["open"].to_numpy()[mask],
            width=width,
            color=colour,
            linewidth=0,
        )
    ax.set_ylim(frame.price_edges[0], frame.price_edges[-1])
    ax.set_xlim(t_edges[0], t_edges[-1])
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M"))
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.tick_params(colors="#c9d1d9")
    for spine in ax.spines.values():
        spine.set_color("#30363d")
    label = {"both": "long + short", "long": "long", "short": "short"}[side]
    ax.set_title(
        f"liqheat · {frame.market} · {frame.timeframe} candles · {label} liquidation levels "
        "(longs liquidate below price, shorts above)",
        color="#c9d1d9",
        fontsize=10,
    )
    ax.set_ylabel("price", color="#c9d1d9")
    fig.tight_layout()
    fig.savefig(path, format="png", facecolor=fig.get_facecolor())
    plt.close(fig)
