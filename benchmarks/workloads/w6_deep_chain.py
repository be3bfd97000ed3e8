"""W6 deep chains: 1e3 … 1e6 scalar ops (1e7 with --w6-1e7), time per op and memory per
recorded op, each (size, implementation) in a fresh subprocess so its RSS starts clean.

Chain: ``y = sin(y) * a + b`` (3 ops per step) from x = 0.5 with a = b-offset constants
a = 1 + 2**-40, b = 2**-40 (instead of W1's 1.0001 / 0.1): W1's constants contract so hard that
dy/dx underflows to exactly 0 after ~1,700 steps, which would make the gradient check vacuous
at depth; with these, dy/dx stays a normal nonzero float64 at every size.

In the subprocess: build the inputs, warm up on a 100-step chain, gc.collect(), read RSS;
run the forward while recording; read RSS again with the tape alive; run the backward.
bytes/op = (RSS with tape alive - RSS before) / ops.  The gradient is checked against the floor
(and the floor against the forward-mode recurrence) in the same subprocess.  Timing repeats
(median) run after the memory measurement, as many as fit the per-subprocess time budget.

Targets (tapegrad): <= 250 bytes/op at the largest size, and linear: total time ∝ N^k with
k <= 1.15, k the least-squares slope of log(time) on log(ops) over the sizes >= 1e4 (smaller
ones are dominated by fixed costs).  A quadratic step anywhere gives k near 2; cache effects
alone (the floor's ns/op also rises from 1e4 to 1e6, as saved values leave the caches: k about
1.05-1.10 on a busy 2-core machine) stay under 1.15.  Every row's k is printed, the floor's too.
"""
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time

from .. import peers
from ..common import Workload, fmt_bytes, fmt_time, judge_le

A6 = 1.0 + 2.0**-40
B6 = 2.0**-40
X0 = 0.5
DEFAULT_SIZES = (1_000, 10_000, 100_000, 1_000_000)
SMOKE_SIZES = (300, 3_000)
_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def rss_bytes():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def peak_rss_bytes():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return None


def child(impl, ops, reps, budget):
    """Runs in the fresh subprocess; returns the result dict."""
    import numpy as np

    from ..common import compare
    from . import chain

    iters = max(1, ops // 3)
    x0 = np.float64(X0)
    out = {"impl": impl, "ops": 3 * iters, "iters": iters}
    warm = chain.build(impl, x0, 100, False, A6, B6)
    for _ in range(2):
        warm["backward"](warm["forward"]())
    c = chain.build(impl, x0, iters, False, A6, B6)
    del warm
    gc.collect()
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    state = c["forward"]()
    t1 = time.perf_counter()
    rss1 = rss_bytes()
    g = c["backward"](state)
    t2 = time.perf_counter()
    del state
    out.update(rss_before=rss0, rss_tape_alive=rss1, bytes_per_op=(rss1 - rss0) / out["ops"])
    fwd, bwd = [t1 - t0], [t2 - t1]
    # correctness: floor against the recurrence, impl against the floor
    fl = chain.floor(x0, iters, False, A6, B6)
    g_floor = fl["backward"](fl["forward"]())
    _, d_ref = chain.closed_form(x0, iters, False, A6, B6)
    ok, _, _, msg = compare(g_floor, d_ref, 1e-9, 1e-12)
    if not ok:
        raise AssertionError(f"W6 floor disagrees with the forward-mode recurrence: {msg}")
    ok, ea, er, msg = compare(g, g_floor, 1e-9, 1e-12)
    out["check"] = {"passed": ok, "max_abs_err": ea, "max_rel_err": er, "message": msg,
                    "gradient": float(np.asarray(to_float(g)))}
    if ok:
        one = t2 - t0
        extra = max(0, min(reps - 1, int(budget / max(one, 1e-9)) - 1))
        for _ in range(extra):
            gc.collect()
            t0 = time.perf_counter()
            state = c["forward"]()
            t1 = time.perf_counter()
            c["backward"](state)
            t2 = time.perf_counter()
            del state
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
    tot = [f + b for f, b in zip(fwd, bwd)]
    out.update(forward_s=statistics.median(fwd), backward_s=statistics.median(bwd),
               total_s=statistics.median(tot), samples_s=tot, peak_rss=peak_rss_bytes())
    out["ns_per_op"] = out["total_s"] / out["ops"] * 1e9
    return out


def to_float(g):
    from ..common import to_numpy

    return to_numpy(g)[0]


def _fmt_size(n):
    e = round(math.log10(n)) if n > 0 else 0
    return f"1e{e}" if 10**e == n else f"{n:,}"


class W6(Workload):
    id = "W6"
    show_ratio = False
    impls = tuple(i for i in peers.ALL_IMPLS if i != "jax_jit")

    def config(self, smoke):
        return {"sizes": SMOKE_SIZES if smoke else DEFAULT_SIZES}

    def description(self):
        s = ", ".join(_fmt_size(n) for n in self.cfg["sizes"])
        return f"deep scalar chains ({s} ops): time per op and RSS bytes per recorded op, fresh subprocess each"

    def verify_floor(self):
        pass  # done inside every subprocess

    def run(self, ctx):
        sizes = list(self.cfg["sizes"])
        opt = ctx.options
        if opt.get("w6_max"):
            sizes = [n for n in sizes if n <= opt["w6_max"]]
        if opt.get("w6_1e7") and 10_000_000 not in sizes:
            sizes.append(10_000_000)
        budget = float(opt.get("w6_budget", 20.0))
        self.cfg = dict(self.cfg, sizes=tuple(sizes))
        impls = ["floor"] + [i for i in ctx.impls if i != "floor" and i in self.impls]
        rows = []
        last = {}
        for impl in impls:
            row = {"impl": impl, "label": peers.LABELS.get(impl, impl), "status": "ok", "message": "",
                   "sizes": {}}
            rows.append(row)
            ok, why = peers.available(impl)
            if not ok:
                row.update(status="skipped", message=why)
        for n in sizes:  # size-major, so all implementations see the same machine state per size
            for row in rows:
                impl = row["impl"]
                if row["status"] != "ok":
                    continue
                if impl in last:  # estimate from the previous size; skip what would not fit
                    prev_n, prev_s = last[impl]
                    est = prev_s * n / prev_n
                    if est > budget and impl not in ("floor", "tapegrad"):
                        row["sizes"][str(n)] = {"ops": n, "status": "skipped",
                                                "message": f"est. {est:.0f} s > budget {budget:.0f} s (--w6-budget)"}
                        continue
                if n >= 10_000_000 and not _memory_allows(row, n):
                    row["sizes"][str(n)] = {"ops": n, "status": "skipped", "message": "not enough free memory"}
                    continue
                res = self._spawn(ctx, impl, n, budget)
                row["sizes"][str(n)] = res
                if res.get("status") == "ok":
                    last[impl] = (n, res["total_s"])
                    if not res["check"]["passed"]:
                        row.update(status="mismatch",
                                   message=f"gradient check FAILED at {n} ops, row aborted: {res['check']['message']}")
                        ctx.log(f"  W6 {impl}: {row['message']}")
                elif res.get("status") == "error":
                    ctx.log(f"  W6 {impl} at {n} ops: {res['message']}")
        self._finish_w6(rows)
        return rows

    def _spawn(self, ctx, impl, n, budget):
        reps = max(1, ctx.rounds)
        cmd = [sys.executable, "-m", "benchmarks.workloads.w6_deep_chain", "--impl", impl, "--ops", str(n),
               "--reps", str(reps), "--budget", str(budget)]
        env = dict(os.environ)
        env["PYTHONPATH"] = _REPO + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, cwd=_REPO, env=env, capture_output=True, text=True,
                               timeout=max(120.0, 20 * budget))
        except subprocess.TimeoutExpired:
            return {"ops": n, "status": "error", "message": "subprocess timed out"}
        wall = time.perf_counter() - t0
        for line in p.stdout.splitlines():
            if line.startswith("W6RESULT "):
                res = json.loads(line[len("W6RESULT "):])
                res["status"] = "ok"
                res["subprocess_wall_s"] = wall
                return res
        tail = (p.stderr or p.stdout).strip().splitlines()[-3:]
        return {"ops": n, "status": "error", "message": f"exit {p.returncode}: " + " | ".join(tail)}

    def _finish_w6(self, rows):
        floor = next((r for r in rows if r["impl"] == "floor"), None)
        for row in rows:
            ok_sizes = {int(k): v for k, v in row["sizes"].items() if v.get("status") == "ok"}
            if not ok_sizes:
                if row["status"] == "ok":
                    row.update(status="error" if row["sizes"] else "skipped",
                               message=row.get("message") or "no size completed")
                continue
            errs = [f"{k}: {v['message']}" for k, v in row["sizes"].items() if v.get("status") == "error"]
            if errs and row["status"] == "ok":
                row["message"] = "crashed at " + "; ".join(errs)
            big = max(ok_sizes)
            fit = [n for n in ok_sizes if n >= 10_000]
            if len(fit) < 2:
                fit = sorted(ok_sizes)
            base = min(fit)
            lin = ok_sizes[big]["ns_per_op"] / ok_sizes[base]["ns_per_op"]
            expo = _growth_exponent([(n, ok_sizes[n]["total_s"]) for n in fit]) if len(fit) >= 2 else None
            row["metrics"] = {"value": ok_sizes[big]["ns_per_op"] * 1e-9, "unit": "s/op", "largest_ops": big,
                              "bytes_per_op": ok_sizes[big]["bytes_per_op"], "growth_exponent": expo,
                              "growth_fit_sizes": fit, "ns_per_op_ratio_largest_to_smallest_fit": lin}
            if floor is not None and floor is not row:
                for k, v in ok_sizes.items():
                    f = floor["sizes"].get(str(k))
                    if f and f.get("status") == "ok":
                        v["ratio"] = v["ns_per_op"] / f["ns_per_op"]
            if row["impl"] == "tapegrad":
                t = [judge_le(row["metrics"]["bytes_per_op"], 250, f"bytes/op at {_fmt_size(big)}",
                              lambda v: f"{v:.0f} B"),
                     judge_le(expo, 1.15, f"time ∝ N^k over {_fmt_size(base)}…{_fmt_size(big)} (linear): k",
                              lambda v: f"{v:.3f}")]
                if errs:
                    t.append({"target": "no crash at any size", "passed": False, "detail": "MISS: " + "; ".join(errs)})
                row["targets"] = t

    def columns(self, rows=None):
        seen = sorted({int(k) for r in (rows or []) for k in r.get("sizes", {})} or self.cfg["sizes"])
        cols = [(f"{_fmt_size(n)} ops: per op, ×floor, B/op", self._cell(n)) for n in seen]
        cols.append(("k (time ∝ N^k)", lambda r: "-" if r.get("metrics", {}).get("growth_exponent") is None
                     else f"{r['metrics']['growth_exponent']:.3f}"))
        return cols

    @staticmethod
    def _cell(n):
        def cell(row):
            v = row.get("sizes", {}).get(str(n))
            if not v:
                return "-"
            if v.get("status") != "ok":
                return "skip" if v.get("status") == "skipped" else "ERROR"
            r = v.get("ratio")
            rs = f" {r:.1f}×" if r is not None else ""
            return f"{fmt_time(v['ns_per_op'] * 1e-9)}{rs} {fmt_bytes(v['bytes_per_op'])}"
        return cell


def _growth_exponent(points):
    """Least-squares slope of log(time) against log(ops): 1 for a linear cost, 2 for quadratic."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(max(t, 1e-12)) for _, t in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else None


def _memory_allows(row, n):
    """1e7 runs only if the 1e6 run's RSS growth, times 10, fits twice over in available memory."""
    prev = row["sizes"].get(str(n // 10))
    try:
        with open("/proc/meminfo") as fh:
            avail = next(int(ln.split()[1]) * 1024 for ln in fh if ln.startswith("MemAvailable:"))
    except (OSError, StopIteration):
        return False
    if not prev or prev.get("status") != "ok":
        return False
    need = max(prev["rss_tape_alive"] - prev["rss_before"], 0) * 10 * 2
    return need < avail


WORKLOADS = [W6]


def _main(argv=None):
    import argparse

    ap = argparse.ArgumentParser(description="one W6 measurement (run by benchmarks.run in a fresh process)")
    ap.add_argument("--impl", required=True)
    ap.add_argument("--ops", type=int, required=True)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--budget", type=float, default=20.0)
    a = ap.parse_args(argv)
    res = child(a.impl, a.ops, a.reps, a.budget)
    print("W6RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    _main()
