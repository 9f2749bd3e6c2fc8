"""What the engine's results become as files: prediction CSVs and heatmaps (PNG, JSON, Parquet).

matplotlib lives here, not in the engine; every file is written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from liqheat import arrays
from liqheat.bundle.write import iso_micros_text
from liqheat.fsutil import atomic_write
from liqheat.model import DomainError
from liqheat.timeutil import iso, parse_duration, stamp_micros

if TYPE_CHECKING:  # `liqheat replay` writes its CSV without importing pandas or the frame builder
    from liqheat.engine.frames import HeatmapFrame

SIDES = ("both", "long", "short")
HEATMAP_SUFFIXES = (".png", ".json", ".parquet")


def check_finite(columns: dict[str, np.ndarray], path: Path, when: Callable[[int], str]) -> None:
    """Refuse to write NaN or inf: no reader of a prediction or a heatmap can use one, and a value that
    overflowed means parameters beyond what the model can add up. ``when(row)`` words a row's time."""
    for name, values in columns.items():
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            first = int(bad[0])
            row = first // (values.shape[1] if values.ndim == 2 else 1)
            raise DomainError(
                f"the model gives {values.flat[first]} for {name} at {when(row)} ({bad.size:,} values are not finite): "
                f"its parameters overflow on this market; nothing written to {path}"
            )


def write_predictions(
    ts: np.ndarray, long_usd: np.ndarray, short_usd: np.ndarray, path: Path, *, param: str | None = None
) -> None:
    """``ts,long_usd,short_usd``: ts the candle's open (µs since the epoch) written in ISO 8601 UTC.

    Never NaN or inf (:func:`check_finite`); ``param`` names the option ``path`` came from, for errors."""
    check_finite({"long_usd": long_usd, "short_usd": short_usd}, path, lambda row: stamp_micros(int(ts[row])))
    table = pa.table(
        {
            "ts": iso_micros_text(ts),
            "long_usd": arrays.float_array(long_usd),
            "short_usd": arrays.float_array(short_usd),
        }
    )
    options = pa_csv.WriteOptions(quoting_header="none", quoting_style="none")
    atomic_write(path, lambda tmp: pa_csv.write_csv(table, tmp, write_options=options), param=param)


def side_values(frame: HeatmapFrame, side: str) -> np.ndarray:
    if side == "long":
        return frame.long
    if side == "short":
        return frame.short
    if side == "both":
        return np.asarray(frame.long + frame.short)
    raise DomainError(f"side must be both, long or short, got {side!r}")


def write_heatmap(frame: HeatmapFrame, path: Path, side: str = "both", *, param: str | None = None) -> None:
    """The heatmap as ``path``'s suffix says; never NaN or inf; ``param`` names the option ``path`` came from."""
    suffix = path.suffix.lower()
    side_values(frame, side)  # refuses a side it does not know before anything is written
    check_finite({"long_usd": frame.long, "short_usd": frame.short}, path, lambda row: iso(frame.times[row]))
    if suffix == ".json":
        data = {
            "market": frame.market,
            "timeframe": frame.timeframe,
            "unit": "USD notional at risk at the candle's open",
            "side": side,
            "times": [iso(t) for t in frame.times],
            "price_edges": [round(float(p), 8) for p in frame.price_edges],
            "long": np.round(frame.long, 2).tolist() if side in ("both", "long") else None,
            "short": np.round(frame.short, 2).tolist() if side in ("both", "short") else None,
            "params": frame.params.to_dict(),
        }
        atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data), encoding="utf-8"), param=param)
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
        import pyarrow.parquet as pq

        atomic_write(path, lambda tmp: pq.write_table(table, tmp, compression="zstd"), param=param)
    elif suffix == ".png":
        atomic_write(path, lambda tmp: _png(frame, side, tmp), param=param)
    else:
        raise DomainError(f"the heatmap file must end in .png, .json or .parquet, got {path.name!r}")


SIDE_LABELS = {"both": "long + short", "long": "long", "short": "short"}


def heatmap_title(frame: HeatmapFrame, side: str) -> str:
    """What a heatmap picture shows, on it: market, side, window with its first and last time, candles.

    A PNG leaves the program that drew it; without this it cannot say which market or hours it is."""
    if side not in SIDE_LABELS:
        raise DomainError(f"side must be both, long or short, got {side!r}", param="side")
    first = frame.times[0]
    last_close = frame.candles["ts"].iloc[-1] + parse_duration(frame.timeframe, "timeframe")
    return (
        f"liqheat · {frame.market} · {SIDE_LABELS[side]} · window {frame.window}: "
        f"{first:%Y-%m-%d %H:%M} → {last_close:%Y-%m-%d %H:%M} UTC\n"
        f"{frame.timeframe} candles over the levels at risk as each opens (longs liquidate below price, shorts above)"
    )


def heatmap_figure(frame: HeatmapFrame, side: str = "both") -> Any:
    """The heatmap with its candles over it, titled by :func:`heatmap_title` (a matplotlib ``Figure``, made
    without pyplot's global state, so a server may draw two at once)."""
    import matplotlib.dates as mdates
    import matplotlib.ticker as mticker
    import pandas as pd
    from matplotlib.colors import PowerNorm
    from matplotlib.figure import Figure

    values = side_values(frame, side)
    times = frame.times.tz_convert("UTC").tz_localize(None)
    step = (times[1] - times[0]) if len(times) > 1 else pd.Timedelta(frame.timeframe)
    t_edges = mdates.date2num(np.append(times.to_numpy(), (times[-1] + step).to_datetime64()))
    fig = Figure(figsize=(13, 6.5), dpi=110, facecolor="#0d1117")
    ax = fig.subplots()
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
    ax.yaxis.set_major_formatter(mticker.StrMethodFormatter("{x:,.0f}"))
    ax.tick_params(colors="#c9d1d9")
    for spine in ax.spines.values():
        spine.set_color("#30363d")
    ax.set_title(heatmap_title(frame, side), color="#c9d1d9", fontsize=10)
    ax.set_ylabel("price", color="#c9d1d9")
    fig.tight_layout()
    return fig


def _png(frame: HeatmapFrame, side: str, path: Path) -> None:
    """The figure as PNG, its title also in the file's ``Title`` text chunk (what an image viewer lists)."""
    fig = heatmap_figure(frame, side)
    title = heatmap_title(frame, side).replace("\n", " · ")
    fig.savefig(path, format="png", facecolor=fig.get_facecolor(), metadata={"Title": title, "Software": "liqheat"})
