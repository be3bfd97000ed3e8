"""One implementation's row of a workload, measured in a process of its own.

    python -m benchmarks.own_process W3 tapegrad --rounds 7 --min-time 0.05 [--smoke]

A workload with ``own_process = True`` (W3) runs this once per implementation, the floor
included, so no implementation's row is timed in a process where another implementation was
imported or ran: their heaps, caches and pools are not its own (benchmarks/README.md, "One process
per implementation").  The child builds the implementation, checks it against the floor computed
here, times only that implementation, and prints its row as one ``OWNPROCESS <json>`` line.
"""
import benchmarks  # noqa: F401  (pins threads before numpy is imported)

# isort: split
import argparse
import json
import os
import sys

from benchmarks import peers
from benchmarks.common import OWN_PROCESS_MARK, Context
from benchmarks.run import WORKLOAD_CLASSES


def loaded_modules():
    """The implementations' modules imported into this process (sys.modules), sorted."""
    names = {m for m in peers.IMPL_MODULE.values() if m}
    names.add("tapegrad.torch")
    return sorted(n for n in names if n in sys.modules)


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m benchmarks.own_process")
    ap.add_argument("workload")
    ap.add_argument("impl")
    ap.add_argument("--rounds", type=int, required=True)
    ap.add_argument("--min-time", type=float, required=True)
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args(argv)
    cls = next(c for c in WORKLOAD_CLASSES if c.id == args.workload)
    wl = cls(smoke=args.smoke)
    ctx = Context(["floor", args.impl], args.rounds, args.min_time, smoke=args.smoke,
                  options={"own_process": args.impl}, log=lambda msg: print(msg, file=sys.stderr))
    rows = wl.run(ctx)
    row = next(r for r in rows if r["impl"] == args.impl)
    row["process"] = {"pid": os.getpid(), "modules": loaded_modules()}
    print(OWN_PROCESS_MARK + json.dumps({"row": row, "description": wl.description(), "config": wl.cfg}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
