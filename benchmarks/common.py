"""The harness: workload base class, correctness check, interleaved timing, targets."""
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback

import numpy as np

from . import peers
from .peers import Unavailable

__all__ = ["Unavailable", "Workload", "Context", "to_numpy", "compare", "fmt_time", "fmt_bytes"]

_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OWN_PROCESS_MARK = "OWNPROCESS "  # benchmarks/own_process.py prints its row after this


class Context:
    """What the command line asked for, handed to every workload."""

    def __init__(self, impls, rounds, min_time, smoke=False, options=None, log=print):
        self.impls = list(impls)
        self.rounds = int(rounds)
        self.min_time = float(min_time)
        self.smoke = bool(smoke)
        self.options = dict(options or {})
        self.log = log


# ---------------------------------------------------------------- conversion / comparison
def to_numpy(obj):
    """Any framework's result (tensor, array, scalar, or nested list/tuple/dict of them) -> list of ndarrays."""
    if isinstance(obj, dict):
        return [a for k in sorted(obj) for a in to_numpy(obj[k])]
    if isinstance(obj, (list, tuple)):
        return [a for item in obj for a in to_numpy(item)]
    if obj is None:
        raise AssertionError("got None where a gradient was expected")
    if hasattr(obj, "detach") and hasattr(obj, "requires_grad"):  # torch
        obj = obj.detach().cpu()
    if hasattr(obj, "numpy") and not isinstance(obj, np.ndarray) and not isinstance(obj, np.generic):
        obj = obj.numpy()
    return [np.asarray(obj)]


def compare(got, ref, rtol, atol):
    """allclose with ``atol`` relative to the reference's largest magnitude.

    Returns (ok, max_abs_err, max_rel_err, message).
    """
    g, r = to_numpy(got), to_numpy(ref)
    if len(g) != len(r):
        return False, math.inf, math.inf, f"got {len(g)} arrays, expected {len(r)}"
    worst_abs = worst_rel = 0.0
    for i, (a, b) in enumerate(zip(g, r)):
        if a.shape != b.shape:
            return False, math.inf, math.inf, f"output {i}: shape {a.shape} != expected {b.shape}"
        a64 = a.astype(np.float64)
        b64 = b.astype(np.float64)
        scale = float(np.max(np.abs(b64))) if b64.size else 0.0
        err = np.abs(a64 - b64)
        max_abs = float(np.max(err)) if err.size else 0.0
        max_rel = max_abs / scale if scale > 0 else max_abs
        worst_abs = max(worst_abs, max_abs)
        worst_rel = max(worst_rel, max_rel)
        if not np.all(np.isfinite(a64)) or not np.allclose(a64, b64, rtol=rtol, atol=atol * max(scale, 1e-300)):
            return False, worst_abs, worst_rel, (
                f"output {i} (shape {a.shape}) differs from the floor: max abs err {max_abs:.3g}, "
                f"max err / max|floor| {max_rel:.3g} (rtol={rtol}, atol={atol}*max|floor|)"
            )
    return True, worst_abs, worst_rel, ""


# ---------------------------------------------------------------- formatting
def fmt_time(seconds):
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "-"
    s = abs(seconds)
    if s >= 1:
        return f"{seconds:.3g} s"
    if s >= 1e-3:
        return f"{seconds * 1e3:.3g} ms"
    if s >= 1e-6:
        return f"{seconds * 1e6:.3g} µs"
    return f"{seconds * 1e9:.3g} ns"


def fmt_bytes(n):
    if n is None:
        return "-"
    for unit, div in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g} {unit}"
    return f"{n:.0f} B"


def judge_le(value, limit, what, fmt=lambda v: f"{v:.3g}"):
    """A '<= limit' target: returns dict(text, passed, detail)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return {"target": f"{what} ≤ {fmt(limit)}", "passed": None, "detail": "not measured"}
    passed = value <= limit
    if passed:
        detail = f"PASS ({fmt(value)} ≤ {fmt(limit)})"
    else:
        detail = f"MISS by {value / limit:.2f}× ({fmt(value)} > {fmt(limit)})"
    return {"target": f"{what} ≤ {fmt(limit)}", "passed": passed, "detail": detail}


# ---------------------------------------------------------------- workloads
class Workload:
    """One benchmark.  Subclasses set the attributes and write ``make_<impl>(cfg)`` factories, and
    one ``make_tf_api(tf, cfg)`` for every implementation in ``peers.TF_API`` (tapegrad and
    TensorFlow share their API, so one adapter takes the module as ``tf``).

    A factory returns a dict of callables.  Keys listed in ``variants`` are timed; every key is
    called once and its result compared with the floor's result for the same key before any
    timing (a mismatch aborts that implementation's row).  A factory raises ``Unavailable`` when
    the implementation cannot run this workload.
    """

    id = "W?"
    title = ""
    variants = ("run",)
    impls = peers.ALL_IMPLS
    rtol = 1e-9
    atol = 1e-12
    ratio_target = None  # tapegrad's target as a ratio to the floor's time, or None
    # A workload with a closed-form floor (``make_closed``: what a person writes after simplifying the
    # derivative) times it as one more row, "closed", always run, checked against the floor like any
    # implementation; every row then also gets ``ratio_closed``, and tapegrad's target is to it.
    closed_ratio_target = None
    show_ratio = True  # print/store value / floor value
    # tapegrad.torch's target as a ratio to tapegrad's (GradientTape's) time on the same workload, or
    # None (issue 14: the PyTorch-style code within 1.3x of the GradientTape code).
    torch_style_target = None
    unit_ops = None  # number of ops the time is divided by for "per op", or None
    # Time every implementation (the floor too) alone, in a fresh process of its own
    # (benchmarks/own_process.py), unless the runner is given --shared-process.
    own_process = False

    def __init__(self, smoke=False):
        self.smoke = smoke
        self.cfg = self.config(smoke)

    # --- to override
    def config(self, smoke):
        return {}

    def description(self):
        return self.title

    def verify_floor(self):
        """Check the floor against an independent derivation (closed form / finite differences)."""

    def ops(self):
        return self.unit_ops

    def metrics(self, medians, times=None):
        """medians: variant -> median seconds (times: the full timing records).  Returns the row's
        metrics; 'value' is the primary one."""
        t = medians["run"]
        m = {"value": t, "unit": "s"}
        n = self.ops()
        if n:
            m["per_op_s"] = t / n
        return m

    def targets(self, row, floor_row):
        """tapegrad's targets for this row (list of judge_le dicts)."""
        out = []
        if self.ratio_target is not None:
            out.append(judge_le(row.get("ratio"), self.ratio_target, "time / floor", lambda v: f"{v:.2f}×"))
        if self.closed_ratio_target is not None:
            out.append(judge_le(row.get("ratio_closed"), self.closed_ratio_target, "time / closed form",
                                lambda v: f"{v:.2f}×"))
        return out

    def target_line(self, rows):
        """Where tapegrad's target sits on the chart's axis (same unit as metrics['value'])."""
        floor = next((r for r in rows if r["impl"] == "floor" and "metrics" in r), None)
        if floor is None or self.ratio_target is None:
            return None
        return floor["metrics"]["value"] * self.ratio_target

    def columns(self, rows=None):
        """(header, function(row) -> str) pairs for the printed table."""
        cols = [("median", lambda r: fmt_time(r["metrics"].get("value"))),
                ("min", lambda r: fmt_time(r["times"]["run"]["min_s"]) if "times" in r else "-")]
        if self.ops():
            cols.append((f"per op ({self.ops():,} ops)", lambda r: fmt_time(r["metrics"].get("per_op_s"))))
        if self.show_ratio:
            cols.append(("× floor", lambda r: "-" if r.get("ratio") is None else f"{r['ratio']:.2f}×"))
            if hasattr(self, "make_closed"):
                cols.append(("× closed form",
                             lambda r: "-" if r.get("ratio_closed") is None else f"{r['ratio_closed']:.2f}×"))
        if rows and any(r.get("ratio_tapegrad") is not None for r in rows):
            cols.append(("× tapegrad",
                         lambda r: "" if r.get("ratio_tapegrad") is None else f"{r['ratio_tapegrad']:.2f}×"))
        return cols

    def factory(self, impl):
        fn = getattr(self, "make_" + impl, None)
        if impl == "closed":
            return fn(self.cfg)
        shared = fn is None and impl in peers.TF_API and hasattr(self, "make_tf_api")
        if fn is None and not shared:
            raise Unavailable(f"{impl} has no implementation of {self.id}")
        ok, why = peers.available(impl)
        if not ok:
            raise Unavailable(why)
        if shared:
            return self.make_tf_api(peers.get(peers.IMPL_MODULE[impl]), self.cfg)
        return fn(self.cfg)

    # --- the harness
    def run(self, ctx):
        """Build, check, then time the implementations round-robin; return result rows."""
        if self.own_process and "own_process" not in ctx.options and not ctx.options.get("shared_process"):
            return self._run_own_processes(ctx)
        rows, built = [], {}
        floor_out = None
        impls = ["floor"] + [i for i in ctx.impls if i != "floor" and i in self.impls]
        if hasattr(self, "make_closed"):
            impls.insert(1, "closed")
        for impl in impls:
            row = {"impl": impl, "label": peers.LABELS.get(impl, impl), "status": "ok", "message": ""}
            rows.append(row)
            try:
                fns = self.factory(impl)
                outs = {k: fn() for k, fn in fns.items()}  # first call: also warms up / compiles
            except Unavailable as exc:
                row.update(status="skipped", message=str(exc))
                continue
            except Exception as exc:  # noqa: BLE001 - one implementation's failure is its row's
                row.update(status="error", message=f"{type(exc).__name__}: {exc}",
                           traceback=traceback.format_exc())
                ctx.log(f"  {self.id} {impl}: ERROR {type(exc).__name__}: {exc}")
                continue
            if impl == "floor":
                floor_out = outs
                row["check"] = {"passed": True, "against": "closed form (verify_floor)"}
            else:
                if floor_out is None:
                    row.update(status="skipped", message="floor failed; nothing to check against")
                    continue
                check = {"passed": True, "max_abs_err": 0.0, "max_rel_err": 0.0}
                for key, out in outs.items():
                    try:
                        ok, ea, er, msg = compare(out, floor_out[key], self.rtol, self.atol)
                    except Exception as exc:  # noqa: BLE001
                        ok, ea, er, msg = False, math.inf, math.inf, f"{type(exc).__name__}: {exc}"
                    check["max_abs_err"] = max(check["max_abs_err"], ea)
                    check["max_rel_err"] = max(check["max_rel_err"], er)
                    if not ok:
                        check.update(passed=False, message=f"[{key}] {msg}")
                        break
                row["check"] = check
                if not check["passed"]:
                    row.update(status="mismatch", message="gradient check FAILED, row aborted: " + check["message"])
                    ctx.log(f"  {self.id} {impl}: {row['message']}")
                    continue
            built[impl] = {v: fns[v] for v in self.variants}
        alone = ctx.options.get("own_process")
        if alone is not None:  # a child of _run_own_processes: the floor only checks, it is not timed
            built = {impl: fns for impl, fns in built.items() if impl == alone}
        self._time(ctx, built, rows)
        self._finish(rows)
        return rows

    def _run_own_processes(self, ctx):
        # A fresh process's figure moves by +-15% from process to process (its memory layout;
        # benchmarks/README.md), so each implementation gets ctx.options["processes"] of them,
        # started in a rotated order, and its row is the one with the median figure.
        impls = ["floor"] + [i for i in ctx.impls if i != "floor" and i in self.impls]
        if hasattr(self, "make_closed"):
            impls.insert(1, "closed")
        n = max(1, int(ctx.options.get("processes") or 1))
        runs = {impl: [] for impl in impls}
        for k in range(n):
            for impl in impls[k % len(impls):] + impls[:k % len(impls)]:
                runs[impl].append(self._own_process_row(ctx, impl))
        rows = [self._median_row(runs[impl]) for impl in impls]
        self._finish(rows)
        return rows

    @staticmethod
    def _median_row(rows):
        ok = sorted((r for r in rows if r["status"] == "ok"), key=lambda r: r["metrics"]["value"])
        if not ok:
            return rows[0]
        row = ok[(len(ok) - 1) // 2]
        row["processes"] = [{"value": r["metrics"]["value"], "pid": r["process"]["pid"]} for r in ok]
        return row

    def _own_process_row(self, ctx, impl):
        cmd = [sys.executable, "-m", "benchmarks.own_process", self.id, impl, "--rounds", str(ctx.rounds),
               "--min-time", str(ctx.min_time)] + (["--smoke"] if ctx.smoke else [])
        env = dict(os.environ)
        env["PYTHONPATH"] = _REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        row = {"impl": impl, "label": peers.LABELS.get(impl, impl), "status": "error", "message": ""}
        try:
            p = subprocess.run(cmd, cwd=_REPO, env=env, capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            row["message"] = "its own process timed out"
            ctx.log(f"  {self.id} {impl}: ERROR {row['message']}")
            return row
        for line in p.stdout.splitlines():
            if line.startswith(OWN_PROCESS_MARK):
                return json.loads(line[len(OWN_PROCESS_MARK):])["row"]
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        row["message"] = f"its own process exited with {p.returncode}: " + " | ".join(tail)
        ctx.log(f"  {self.id} {impl}: ERROR {row['message']}")
        return row

    def _time(self, ctx, built, rows):
        entries = [(impl, v) for impl in built for v in self.variants]
        if not entries:
            return
        number = {}
        for impl, v in entries:  # calibrate: enough calls per sample to last min_time
            fn = built[impl][v]
            t0 = time.perf_counter()
            fn()
            dt = max(time.perf_counter() - t0, 1e-9)
            number[(impl, v)] = max(1, min(100000, int(math.ceil(ctx.min_time / dt))))
        samples = {e: [] for e in entries}
        failed = {}
        for r in range(ctx.rounds):
            k = r % len(entries)
            for impl, v in entries[k:] + entries[:k]:  # rotate who goes first each round
                if impl in failed:
                    continue
                fn, n = built[impl][v], number[(impl, v)]
                gc.collect()
                try:
                    t0 = time.perf_counter()
                    for _ in range(n):
                        fn()
                    samples[(impl, v)].append((time.perf_counter() - t0) / n)
                except Exception as exc:  # noqa: BLE001
                    failed[impl] = f"{type(exc).__name__} while timing: {exc}"
        for row in rows:
            impl = row["impl"]
            if impl not in built:
                continue
            if impl in failed:
                row.update(status="error", message=failed[impl])
                continue
            row["times"] = {
                v: {
                    "median_s": statistics.median(samples[(impl, v)]),
                    "min_s": min(samples[(impl, v)]),
                    "samples_s": samples[(impl, v)],
                    "calls_per_sample": number[(impl, v)],
                }
                for v in self.variants
            }

    def _finish(self, rows):
        floor_row = next((r for r in rows if r["impl"] == "floor" and r["status"] == "ok"), None)
        closed_row = next((r for r in rows if r["impl"] == "closed" and r["status"] == "ok" and "times" in r), None)
        cv = closed_row and self.metrics({v: t["median_s"] for v, t in closed_row["times"].items()})["value"]
        for row in rows:
            if row["status"] != "ok" or "times" not in row and "metrics" not in row:
                continue
            if "metrics" not in row:
                row["metrics"] = self.metrics({v: t["median_s"] for v, t in row["times"].items()}, row["times"])
            fv = floor_row and floor_row.get("metrics", {}).get("value")
            if fv and row["metrics"].get("value") is not None and self.show_ratio:
                row["ratio"] = row["metrics"]["value"] / fv
            if cv and row["metrics"].get("value") is not None:
                row["ratio_closed"] = row["metrics"]["value"] / cv
            if row["impl"] == "tapegrad":
                row["targets"] = self.targets(row, floor_row)
        tapegrad_row = next((r for r in rows if r["impl"] == "tapegrad" and "metrics" in r), None)
        tv = tapegrad_row and tapegrad_row["metrics"].get("value")
        for row in rows:
            # PyTorch's API on tapegrad's engine (and PyTorch itself) against the GradientTape version
            if row["impl"] in ("tapegrad_torch", "torch") and tv and row.get("metrics", {}).get("value") is not None:
                row["ratio_tapegrad"] = row["metrics"]["value"] / tv
                if row["impl"] == "tapegrad_torch" and self.torch_style_target is not None:
                    row["targets"] = [judge_le(row["ratio_tapegrad"], self.torch_style_target,
                                               "tapegrad.torch time / tapegrad", lambda v: f"{v:.2f}×")]
