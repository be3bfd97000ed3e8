"""Printing the tables, writing the JSON, drawing the chart."""
import json
import math
import os

import numpy as np


def _status_text(row):
    st = row["status"]
    if st == "skipped":
        return "skipped: " + row["message"]
    if st == "mismatch":
        return "MISMATCH — " + row["message"]
    if st == "error":
        return "ERROR — " + row["message"]
    return None


def _target_text(row):
    ts = row.get("targets")
    if not ts:
        return ""
    return "; ".join(f"{t['target']}: {t['detail']}" for t in ts)


def format_table(wl, rows):
    cols = wl.columns(rows)
    headers = ["implementation"] + [h for h, _ in cols] + ["tapegrad target"]
    body = []
    for row in rows:
        st = _status_text(row)
        if st is not None and "metrics" not in row:
            body.append([row["label"], st])
            continue
        cells = [row["label"]]
        for _, fn in cols:
            try:
                cells.append(fn(row))
            except (KeyError, TypeError, ValueError):
                cells.append("-")
        cells.append(_target_text(row))
        if st is not None:
            cells[-1] = (cells[-1] + "  " + st).strip()
        elif row.get("message"):
            cells[-1] = (cells[-1] + "  " + row["message"]).strip()
        body.append(cells)
    widths = [len(h) for h in headers]
    for cells in body:
        if len(cells) == len(headers):
            for i, c in enumerate(cells[:-1]):
                widths[i] = max(widths[i], len(c))
    lines = [f"{wl.id}  {wl.description()}"]

    def fmt(cells):
        if len(cells) != len(headers):  # status line spanning the row
            return "  " + cells[0].ljust(widths[0]) + "  " + cells[1]
        return "  " + "  ".join(c.ljust(widths[i]) if i < len(cells) - 1 else c for i, c in enumerate(cells))

    lines.append(fmt(headers))
    lines.append("  " + "  ".join("-" * w for w in widths[:-1]) + "  " + "-" * len(headers[-1]))
    lines.extend(fmt(c) for c in body)
    return "\n".join(lines)


def _jsonable(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


def write_json(result, out_dir, stamp):
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"results-{stamp}.json")
    text = json.dumps(result, indent=1, default=_jsonable, allow_nan=True)
    with open(path, "w") as fh:
        fh.write(text)
    with open(os.path.join(out_dir, "latest.json"), "w") as fh:
        fh.write(text)
    return path


def write_chart(result, path):
    """One panel per workload.  Returns the path, or a message saying why there is no chart."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except Exception as exc:  # noqa: BLE001
        return None, f"no chart: matplotlib is not importable ({type(exc).__name__}: {exc})"
    wls = [w for w in result["workloads"] if any("metrics" in r for r in w["rows"])]
    if not wls:
        return None, "no chart: nothing was measured"
    panels = []
    for w in wls:
        if w["id"] == "W6":
            panels += [(w, "w6_time"), (w, "w6_mem")]
        else:
            panels.append((w, "bars"))
    ncol = 3
    nrow = math.ceil(len(panels) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(6 * ncol, 3.4 * nrow), squeeze=False)
    colors = {"floor": "#555555", "closed": "#999999", "tapegrad": "#d62728", "torch": "#ff7f0e",
              "tensorflow": "#1f77b4", "jax": "#2ca02c", "jax_jit": "#98df8a", "autograd": "#9467bd"}
    for ax, (w, kind) in zip(axes.flat, panels):
        rows = [r for r in w["rows"] if "metrics" in r]
        if kind == "bars":
            labels = [r["label"] for r in rows][::-1]
            vals = [r["metrics"]["value"] for r in rows][::-1]
            unit = rows[0]["metrics"].get("unit", "s")
            scale, uname = _scale([abs(v) for v in vals], unit)
            pos = [v * scale for v in vals if v > 0] or [1.0]
            if w.get("tapegrad_target_line"):
                pos.append(w["tapegrad_target_line"] * scale)
            low = min(pos) / 3  # a bar for a value <= 0 (a noisy difference, W3's floor) stays at the axis
            vals_s = [v * scale if v > 0 else low for v in vals]
            ax.barh(labels, vals_s, color=[colors.get(r["impl"], "#999999") for r in rows][::-1])
            ax.set_xscale("log")
            ax.set_xlim(left=low)
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
            ax.set_xlabel(uname)
            for y, r in enumerate(rows[::-1]):
                v = r["metrics"]["value"]
                txt = f" {r['ratio']:.2f}×" if r.get("ratio") is not None else ("" if v > 0 else " ≤ 0")
                ax.text(max(v * scale, low), y, txt, va="center", fontsize=7)
            tgt = w.get("tapegrad_target_line")
            if tgt:
                ax.axvline(tgt * scale, color="#d62728", ls="--", lw=1)
                ax.text(tgt * scale, len(rows) - 0.5, " tapegrad target", color="#d62728", fontsize=7, va="top")
        else:
            for r in rows:
                pts = sorted((int(k), v) for k, v in r.get("sizes", {}).items() if v.get("status") == "ok")
                if not pts:
                    continue
                xs = [p[0] for p in pts]
                ys = [p[1]["ns_per_op"] if kind == "w6_time" else max(p[1]["bytes_per_op"], 0.1) for p in pts]
                ax.plot(xs, ys, "o-", label=r["label"], color=colors.get(r["impl"], "#999999"))
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("ops in the chain")
            ax.set_ylabel("ns per op" if kind == "w6_time" else "RSS bytes per recorded op")
            if kind == "w6_mem":
                ax.axhline(250, color="#d62728", ls="--", lw=1)
            ax.legend(fontsize=6)
        title = w["id"] + ("" if kind == "bars" else (" time" if kind == "w6_time" else " memory"))
        ax.set_title(f"{title}: {w['description']}"[:90], fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle("tapegrad benchmarks (one thread, medians; bars: lower is better; ×: ratio to the NumPy floor)",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path, f"chart: {path}"


def _scale(vals, unit):
    if unit in ("s", "s/op"):
        m = max(vals) if vals else 1.0
        for f, name in ((1.0, "s"), (1e3, "ms"), (1e6, "µs"), (1e9, "ns")):
            if m * f >= 1:
                return f, name + ("/op" if unit == "s/op" else "")
        return 1e9, "ns" + ("/op" if unit == "s/op" else "")
    return 1.0, unit
