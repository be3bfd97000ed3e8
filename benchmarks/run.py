"""Run the tapegrad benchmark suite.

    python -m benchmarks.run                     # everything installed, default sizes
    python -m benchmarks.run --smoke --impls floor,tapegrad --out /tmp/bench
    python -m benchmarks.run --only W1,W4 --rounds 11
    python benchmarks/run.py ...                 # same thing

See benchmarks/README.md for what each workload measures and how the floor is defined.
"""
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

import benchmarks  # noqa: E402  (pins threads before numpy is imported)

# isort: split
import argparse  # noqa: E402
import datetime  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402

from benchmarks import peers, report  # noqa: E402
from benchmarks.common import Context  # noqa: E402
from benchmarks.workloads import (  # noqa: E402
    w1_scalar_chain,
    w2_vector_chain,
    w3_recording,
    w4_mlp,
    w5_elementwise,
    w6_deep_chain,
    w7_second_derivative,
    w8_jacobian,
    w9_hvp,
    w10_import,
    w11_embedding,
    w12_conv2d,
    w13_transform_call,
)

MODULES = (w1_scalar_chain, w2_vector_chain, w3_recording, w4_mlp, w5_elementwise, w6_deep_chain,
           w7_second_derivative, w8_jacobian, w9_hvp, w10_import, w11_embedding,
           w12_conv2d, w13_transform_call)
WORKLOAD_CLASSES = [cls for m in MODULES for cls in m.WORKLOADS]
DEFAULT_OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results")


def _select(only):
    if not only:
        return list(WORKLOAD_CLASSES)
    wanted = [w.strip().upper() for w in only.split(",") if w.strip()]
    chosen = []
    for cls in WORKLOAD_CLASSES:
        wid = cls.id.upper()
        if any(wid == w or wid.split("-")[0] == w for w in wanted):
            chosen.append(cls)
    unknown = [w for w in wanted if not any(c.id.upper() == w or c.id.upper().split("-")[0] == w
                                            for c in WORKLOAD_CLASSES)]
    if unknown:
        raise SystemExit(f"unknown workload(s): {', '.join(unknown)}; known: "
                         + ", ".join(c.id for c in WORKLOAD_CLASSES))
    return chosen


def _impls(args):
    impls = list(peers.ALL_IMPLS)
    if args.impls:
        impls = [i.strip() for i in args.impls.split(",") if i.strip()]
        bad = [i for i in impls if i not in peers.ALL_IMPLS]
        if bad:
            raise SystemExit(f"unknown implementation(s): {', '.join(bad)}; known: {', '.join(peers.ALL_IMPLS)}")
    if args.exclude:
        drop = {i.strip() for i in args.exclude.split(",")}
        impls = [i for i in impls if i not in drop]
    if args.no_jit and "jax_jit" in impls:
        impls.remove("jax_jit")
    if "floor" not in impls:
        impls.insert(0, "floor")
    return impls


def _machine():
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"cpu": cpu, "cpus": os.cpu_count(), "python": sys.version.split()[0], "platform": platform.platform(),
            "loadavg_at_start": load}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, 1 round, no minimum sample time")
    ap.add_argument("--only", help="comma-separated workloads, e.g. W1,W4 (W4 = W4-f32 and W4-f64)")
    ap.add_argument("--impls", help="comma-separated implementations (floor is always included); "
                                    f"known: {','.join(peers.ALL_IMPLS)}")
    ap.add_argument("--exclude", help="comma-separated implementations to leave out")
    ap.add_argument("--no-jit", action="store_true", help="leave out the jax.jit column")
    ap.add_argument("--rounds", type=int, help="timing rounds (median over rounds); default 5, smoke 1")
    ap.add_argument("--min-time", type=float, help="seconds each timing sample lasts at least (calls are "
                                                   "repeated within a sample); default 0.05, smoke 0")
    ap.add_argument("--out", default=DEFAULT_OUT, help="directory for results-*.json, latest.json and the "
                                                       "chart (default benchmarks/results)")
    ap.add_argument("--no-chart", action="store_true", help="do not draw the PNG chart")
    ap.add_argument("--w6-max", type=float, help="largest W6 chain (ops), e.g. 1e5")
    ap.add_argument("--w6-1e7", action="store_true", help="also run W6 at 1e7 ops (if memory allows)")
    ap.add_argument("--w6-budget", type=float, default=20.0,
                    help="W6: skip a peer's size whose estimated forward+backward exceeds this many seconds "
                         "(floor and tapegrad always run); default 20")
    ap.add_argument("--processes", type=int, default=None,
                    help="W3: fresh processes per implementation, the median's row reported (default 5; 1 "
                         "with --smoke)")
    ap.add_argument("--shared-process", action="store_true",
                    help="time W3 with every implementation in this one process, as before (default: each "
                         "implementation of W3, the floor too, alone in a fresh process of its own)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 1 if any selected implementation failed its check or errored")
    return ap.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    rounds = args.rounds if args.rounds is not None else (1 if args.smoke else 5)
    min_time = args.min_time if args.min_time is not None else (0.0 if args.smoke else 0.05)
    impls = _impls(args)
    classes = _select(args.only)
    processes = args.processes if args.processes is not None else (1 if args.smoke else 5)
    options = {"w6_max": args.w6_max, "w6_1e7": args.w6_1e7, "w6_budget": args.w6_budget, "processes": processes,
               "shared_process": args.shared_process}
    ctx = Context(impls, rounds, min_time, smoke=args.smoke, options=options)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    threads = {k: os.environ.get(k) for k in benchmarks._THREAD_VARS + ("XLA_FLAGS", "OPENBLAS_CORETYPE")}
    versions = {}
    for impl in impls:
        ok, why = peers.available(impl)
        versions[impl] = peers.version(impl) if ok else f"unavailable: {why}"
    meta = {"stamp": stamp, "argv": sys.argv[1:] if argv is None else list(argv), "smoke": args.smoke,
            "rounds": rounds, "min_time_s": min_time, "impls": impls, "versions": versions,
            "threads_env": threads, "shared_process": args.shared_process, "processes": processes,
            "own_process_workloads": [c.id for c in classes if c.own_process and not args.shared_process],
            "numpy_imported_before_pinning": benchmarks.NUMPY_IMPORTED_BEFORE_PINNING,
            "machine": _machine()}
    print(f"tapegrad benchmarks  {stamp}  rounds={rounds} min_time={min_time}s  "
          f"{'SMOKE ' if args.smoke else ''}one thread per library")
    print(f"machine: {meta['machine']['cpu']}, {meta['machine']['cpus']} cpus, python {meta['machine']['python']}, "
          f"load avg at start {meta['machine']['loadavg_at_start']}")
    for impl in impls:
        print(f"  {peers.LABELS[impl]:<20} {versions[impl]}")
    load = meta["machine"]["loadavg_at_start"]
    if load and load[0] > 1.0:
        print(f"WARNING: 1-minute load average {load[0]:.2f} at start: something else is using the CPUs, so timings "
              "will be noisy (compare the median and min columns; the JSON keeps every sample).")
    if benchmarks.NUMPY_IMPORTED_BEFORE_PINNING:
        print("WARNING: numpy was imported before the thread pinning; run via `python -m benchmarks.run`.")
    print()

    result = {"meta": meta, "workloads": []}
    failures = []
    t_start = time.perf_counter()
    for cls in classes:
        t0 = time.perf_counter()
        wl = cls(smoke=args.smoke)
        entry = {"id": wl.id, "description": wl.description(), "config": wl.cfg, "rows": []}
        result["workloads"].append(entry)
        try:
            wl.verify_floor()
        except Exception as exc:  # noqa: BLE001
            msg = f"{wl.id}: the floor failed its own check ({type(exc).__name__}: {exc}); workload skipped"
            print(msg + "\n")
            entry["error"] = msg
            entry["traceback"] = traceback.format_exc()
            failures.append(msg)
            continue
        try:
            rows = wl.run(ctx)
        except Exception as exc:  # noqa: BLE001
            msg = f"{wl.id}: harness error {type(exc).__name__}: {exc}"
            print(msg + "\n" + traceback.format_exc())
            entry["error"] = msg
            failures.append(msg)
            continue
        entry["rows"] = rows
        entry["description"] = wl.description()
        entry["config"] = wl.cfg
        entry["tapegrad_target_line"] = wl.target_line(rows)
        entry["elapsed_s"] = time.perf_counter() - t0
        print(report.format_table(wl, rows))
        print(f"  ({entry['elapsed_s']:.1f} s)\n")
        for r in rows:
            if r["status"] in ("mismatch", "error"):
                failures.append(f"{wl.id} {r['impl']}: {r['status']}: {r['message']}")
    meta["elapsed_s"] = time.perf_counter() - t_start

    # summary of tapegrad's targets
    lines = []
    for w in result["workloads"]:
        for r in w["rows"]:
            if r["impl"] == "tapegrad":
                if r["status"] != "ok" and not r.get("targets"):
                    lines.append(f"  {w['id']:<7} not measured ({r['status']}: {r['message']})")
                for t in r.get("targets", []):
                    lines.append(f"  {w['id']:<7} {t['target']:<45} {t['detail']}")
            elif r["impl"] == "tapegrad_torch":
                for t in r.get("targets", []):
                    lines.append(f"  {w['id']:<7} {t['target']:<45} {t['detail']}")
    if lines:
        print("tapegrad targets")
        print("\n".join(lines))
        print()
    result["failures"] = failures

    path = report.write_json(result, args.out, stamp)
    print(f"results: {path} (and latest.json)")
    if not args.no_chart:
        _, msg = report.write_chart(result, os.path.join(args.out, f"chart-{stamp}.png"))
        print(msg)
    print(f"total {meta['elapsed_s']:.0f} s")
    if failures:
        print("\nproblems:\n  " + "\n  ".join(failures))
    return 1 if (args.strict and failures) else 0


if __name__ == "__main__":
    sys.exit(main())
