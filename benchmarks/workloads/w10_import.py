"""W10 import time and installed size.

Import time: in each of many fresh ``python -c`` subprocesses (the suite's one-thread
environment, -X importtime off), time ``import numpy`` and then ``import <package>`` with
``time.perf_counter``; the row's value is the median of the second part, i.e. the time above an
already imported NumPy.  The floor row is ``import numpy`` itself.
Installed size: the sum of the files of the installed distribution (its RECORD, without the
.dist-info), or else of the package's directory tree.

Targets (tapegrad): import <= 50 ms above numpy; installed size <= 3 MB.
"""
import json
import os
import statistics
import subprocess
import sys

from .. import peers
from ..common import Workload, fmt_bytes, fmt_time, judge_le

_MODULE = {"floor": "numpy", "tapegrad": "tapegrad", "torch": "torch", "tensorflow": "tensorflow",
           "jax": "jax", "autograd": "autograd"}
_DIST = {"tapegrad": ("tapegrad",), "torch": ("torch",), "tensorflow": ("tensorflow-cpu", "tensorflow"),
         "jax": ("jax",), "autograd": ("autograd",), "floor": ("numpy",)}

_SNIPPET = (
    "import time, sys\n"
    "t0 = time.perf_counter()\n"
    "import numpy\n"
    "t1 = time.perf_counter()\n"
    "import {mod}\n"
    "t2 = time.perf_counter()\n"
    "print('W10RESULT', t1 - t0, t2 - t1)\n"
)


def installed_size(impl):
    """(bytes, how) for the installed package."""
    from importlib import metadata

    for dist_name in _DIST.get(impl, ()):
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            continue
        total, n = 0, 0
        for f in dist.files or ():
            parts = str(f).split("/")
            if any(p.endswith(".dist-info") for p in parts[:1]) or str(f).endswith(".pth"):
                continue
            p = f.locate()
            try:
                total += os.path.getsize(p)
                n += 1
            except OSError:
                pass
        if n:
            return total, f"{n} files of distribution {dist_name} (RECORD)"
    # editable install / not a distribution: size of the package directory trees
    mod = __import__(_MODULE[impl])
    paths = list(getattr(mod, "__path__", [])) or [os.path.dirname(mod.__file__)]
    total = 0
    for root in paths:
        for dirpath, _, files in os.walk(root):
            for name in files:
                try:
                    total += os.path.getsize(os.path.join(dirpath, name))
                except OSError:
                    pass
    return total, "package directory: " + os.pathsep.join(paths)


class W10(Workload):
    id = "W10"
    show_ratio = False
    # jax.jit and tapegrad.torch are the same packages as jax and tapegrad: nothing more to import.
    impls = tuple(i for i in peers.ALL_IMPLS if i not in ("jax_jit", "tapegrad_torch"))

    def config(self, smoke):
        return {"repeats": 3 if smoke else 21, "peer_repeats": 3 if smoke else 5}

    def description(self):
        return (f"import time above `import numpy` (median of {self.cfg['repeats']} fresh processes; "
                f"peers {self.cfg['peer_repeats']}) and installed size")

    def run(self, ctx):
        rows = []
        impls = ["floor"] + [i for i in ctx.impls if i != "floor" and i in self.impls]
        for impl in impls:
            row = {"impl": impl, "label": peers.LABELS.get(impl, impl) if impl != "floor" else "import numpy",
                   "status": "ok", "message": ""}
            rows.append(row)
            ok, why = peers.available(impl)
            if not ok:
                row.update(status="skipped", message=why)
        live = [r for r in rows if r["status"] == "ok"]
        samples = {r["impl"]: [] for r in live}
        for i in range(max(self.cfg["repeats"], self.cfg["peer_repeats"])):
            for r in live[i % len(live):] + live[:i % len(live)]:  # interleaved, rotated
                impl = r["impl"]
                want = self.cfg["repeats"] if impl in ("floor", "tapegrad") else self.cfg["peer_repeats"]
                if len(samples[impl]) >= want or r["status"] != "ok":
                    continue
                res = self._once(impl)
                if isinstance(res, str):
                    r.update(status="error", message=res)
                    ctx.log(f"  W10 {impl}: {res}")
                    continue
                samples[impl].append(res)
        for r in live:
            if r["status"] != "ok":
                continue
            s = samples[r["impl"]]
            numpy_t = statistics.median(x[0] for x in s)
            above = statistics.median(x[1] for x in s)
            size, how = installed_size(r["impl"])
            value = numpy_t if r["impl"] == "floor" else above
            r["metrics"] = {"value": value, "unit": "s", "import_numpy_s": numpy_t, "import_above_numpy_s": above,
                            "installed_bytes": size, "installed_how": how, "samples_s": s}
            if r["impl"] == "tapegrad":
                r["targets"] = [judge_le(above, 0.050, "import above numpy", fmt_time),
                                judge_le(size, 3e6, "installed size", fmt_bytes)]
        return rows

    def _once(self, impl):
        cmd = [sys.executable, "-c", _SNIPPET.format(mod=_MODULE[impl])]
        env = dict(os.environ)
        env.pop("PYTHONPROFILEIMPORTTIME", None)
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/", timeout=300)
        except subprocess.TimeoutExpired:
            return "import timed out"
        for line in p.stdout.splitlines():
            if line.startswith("W10RESULT"):
                _, a, b = line.split()
                return float(a), float(b)
        return f"import failed (exit {p.returncode}): " + " | ".join(p.stderr.strip().splitlines()[-2:])

    def target_line(self, rows):
        return 0.050

    def columns(self, rows=None):
        return [
            ("import (above numpy)", lambda r: fmt_time(r["metrics"]["value"])),
            ("installed size", lambda r: fmt_bytes(r["metrics"]["installed_bytes"])),
        ]


WORKLOADS = [W10]
if __name__ == "__main__":
    print(json.dumps(installed_size(sys.argv[1] if len(sys.argv) > 1 else "tapegrad")))
