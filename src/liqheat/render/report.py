"""``liqheat report`` as one self-contained HTML file: inline styles, charts as embedded PNG, no script and
no network, so it opens from a mail attachment or a disk and prints as it shows."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from liqheat.fsutil import atomic_write

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#1b1f24;background:#fff}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{margin-top:2.2rem;border-bottom:1px solid #d0d7de;padding-bottom:.3rem}
table{border-collapse:collapse;margin:.6rem 0 1rem;font-variant-numeric:tabular-nums}
th,td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:right}th{background:#f6f8fa}td.l,th.l{text-align:left}
.good{color:#116329;font-weight:600}.bad{color:#a40e26;font-weight:600}.muted{color:#57606a}
img{max-width:100%;border:1px solid #d0d7de}code{background:#f6f8fa;padding:0 .25rem}
"""


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _f(value: float | None, digits: int = 3, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _margin(value: float | None) -> str:
    if value is None:
        return "—"
    return f'<span class="{"good" if value > 0 else "bad"}">{value:+.3f}</span>'


def _interval(stat: dict[str, Any] | None, scale: float = 1.0, digits: int = 3) -> str:
    if not stat or stat.get("estimate") is None:
        return "—"
    est, low, high = (stat.get(k) for k in ("estimate", "low", "high"))
    assert est is not None
    text = f"{est * scale:+.{digits}f}"
    if low is not None and high is not None:
        text += f" [{low * scale:+.{digits}f}, {high * scale:+.{digits}f}]"
    return _e(text)


def _table(head: list[str], rows: list[list[str]], left: int = 1) -> str:
    cells = "".join(f'<th class="{"l" if i < left else ""}">{_e(h)}</th>' for i, h in enumerate(head))
    body = "".join(
        "<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>' for i, c in enumerate(r)) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="chart" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode("ascii")}">'


def _ratio_chart(bundles: list[dict[str, Any]]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.6), sharey=True)
    for ax, side in zip(axes, ("long", "short"), strict=True):
        for b in bundles:
            xs = [m["month"] for m in b["months"]]
            ys = [m[side]["predicted_to_realized"] or float("nan") for m in b["months"]]
            ax.plot(xs, ys, marker="o", label=b["name"])
        ax.axhspan(0.5, 2.0, color="#2da44e", alpha=0.08, label="target [0.5, 2]")
        ax.axhline(1.0, color="#57606a", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(f"{side}s: predicted ÷ realized per month")
        ax.tick_params(axis="x", rotation=45, labelsize=8)
    axes[0].legend(fontsize=7)
    return _png(fig)


def _reliability_chart(reach: dict[str, Any]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.2, 4.6))
    ax.plot([0, 1], [0, 1], color="#57606a", lw=0.8, label="perfect")
    for horizon, r in reach.items():
        bins = r.get("reliability") or []
        if bins:
            ax.plot([b["predicted"] for b in bins], [b["observed"] for b in bins], marker="o", label=horizon)
    ax.set_xlabel("predicted chance of reaching the cluster")
    ax.set_ylabel("share reached")
    ax.set_title("reliability of the driftless model (out of sample)")
    ax.legend(fontsize=8)
    return _png(fig)


def _pair(engine: dict[str, Any], calibrated: dict[str, Any]) -> tuple[str, str]:
    """``engine → calibrated`` for the Spearman and the predicted ÷ realized of one side."""
    ratio = "predicted_to_realized"
    return (f"{_f(engine['model'])} → {_f(calibrated['model'])}",
            f"{_f(engine[ratio], 2)} → {_f(calibrated[ratio], 2)}")  # fmt: skip


def render(data: dict[str, Any]) -> str:
    """The report page for :func:`liqheat.evaluation.report.build`'s data."""
    bundles = data["bundles"]
    head = f"<!doctype html><html lang=en><head><meta charset=utf-8><title>liqheat report</title><style>{STYLE}</style>"
    parts = [head + "</head><body>", "<h1>liqheat: how good the map is</h1>",
             f'<p class="muted">liqheat {_e(data["version"])} · {len(bundles)} bundle(s) · every figure out of sample '
             "where a model was fitted; Spearman rank correlation of the per-bucket predicted and realized "
             "liquidations.</p>"]  # fmt: skip
    parts.append("<h2>Score on realized liquidations</h2>")
    rows = []
    for b in bundles:
        for side in ("long", "short"):
            s = b[side]
            rows.append([_e(b["name"]), side, _f(s["model"]), _f(s["yardstick"]), _margin(s["margin"]), str(s["buckets"]),
                         _f(s["predicted_to_realized"], 2)])  # fmt: skip
    parts.append(_table(["bundle", "side", "liqheat", "yardstick", "margin", "buckets", "predicted ÷ realized"], rows, left=2))
    parts.append("<h2>Per calendar month</h2>")
    parts.append(_ratio_chart(bundles))
    for b in bundles:
        rows = [[m["month"], *[x for side in ("long", "short") for x in (_f(m[side]["model"]), _margin(m[side]["margin"]),
                 str(m[side]["buckets"]), _f(m[side]["predicted_to_realized"], 2))]] for m in b["months"]]  # fmt: skip
        parts.append(f"<h3>{_e(b['name'])} <span class=muted>({_e(b['scored']['from'])} … {_e(b['scored']['until'])}, "
                     f"{_e(b['scored']['interval'])} buckets)</span></h3>")  # fmt: skip
        head_row = ["month", "long", "margin", "buckets", "pred ÷ real", "short", "margin", "buckets", "pred ÷ real"]
        parts.append(_table(head_row, rows))
    if data.get("calibrated"):
        parts.append("<h2>Calibrated map, walk-forward</h2>")
        parts.append("<p>The engine's map with a level-free background and a scale fitted on realized liquidations "
                     "that had ended before each refit (settings: " + _e(", ".join(f"{k} {v:g}" for k, v in
                     data["calibration_settings"].items())) + "). Spearman and predicted ÷ realized, engine → calibrated."
                     "</p>")  # fmt: skip
        for b in data["calibrated"]:
            periods = [{"month": "whole", **b["whole"]}, *b["months"]]
            rows = [[p["month"], *[x for side in ("long", "short") for x in _pair(p["engine"][side], p["calibrated"][side])]]
                    for p in periods if p["engine"]["long"]["buckets"] or p["engine"]["short"]["buckets"]]  # fmt: skip
            parts.append(f"<h3>{_e(b['name'])}</h3>")
            parts.append(_table(["period", "long ρ", "long ÷", "short ρ", "short ÷"], rows))
    parts.append("<h2>How likely a cluster is reached</h2>")
    parts.append("<p>The driftless model (reflection principle, Parkinson volatility over 72 h) against learned models "
                 "fitted walk-forward; skill = 1 − Brier ÷ Brier of the driftless model, with a 95 % block-bootstrap "
                 "interval. All bundles pooled.</p>")  # fmt: skip
    rows = []
    for horizon, r in data["reach"].items():
        if not r.get("samples"):
            rows.append([horizon, "0", "—", "—", "—", "—", "—"])
            continue
        skill = {s["model"]: s for s in r["skill"]}
        rows.append([horizon, f"{r['samples']:,}", f"{r['observed']:.2%}", f"{r['baseline_mean']:.2%}",
                     *[_interval({"estimate": skill[m]["skill"], "low": skill[m]["low"], "high": skill[m]["high"]})
                       for m in ("base_rate", "isotonic", "boosted")]])  # fmt: skip
    parts.append(_table(["horizon", "samples", "reached", "driftless says", "base rate", "isotonic", "boosted"], rows))
    parts.append(_reliability_chart(data["reach"]))
    sw = data["sweeps"]["pooled"]
    parts.append("<h2>After a sweep</h2>")
    parts.append(f"<p>{sw.get('events', 0):,} sweeps against {sw.get('null_events', 0):,} random levels at the same "
                 "distance. Continuation: price keeps going the way of the sweep.</p>")  # fmt: skip
    rows = [[_e(g["group"]), f"{g['after_hours']} h", _interval(g["continuation"]["cluster"], 100, 1),
             _interval(g["continuation"]["null"], 100, 1), _interval(g["continuation"]["diff"], 100, 1)]
            for g in sw.get("groups", []) if g["group"] == "all"]  # fmt: skip
    parts.append(_table(["group", "after", "continuation %", "random levels %", "difference, points"], rows))
    rows = [[_e(c["claim"]), _e(c["verdict"]), _e(c["detail"])] for c in sw.get("claims", [])]
    parts.append(_table(["claim", "verdict", "what the data say"], rows, left=3))
    parts.append("<h2>Parameters and data</h2>")
    parts.append(_table(["parameter", "value"], [[_e(k), _e(v)] for k, v in data["params"].items()]))
    rows = [[_e(b["name"]), _e(b["symbol"]), _e(", ".join(b["venues"])), _e(b["timeframe"]), _e(b["data"]["from"]),
             _e(b["data"]["until"])] for b in bundles]  # fmt: skip
    parts.append(_table(["bundle", "symbol", "venues", "timeframe", "data from", "until"], rows, left=4))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(data: dict[str, Any], path: Path) -> None:
    text = render(data)
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))
