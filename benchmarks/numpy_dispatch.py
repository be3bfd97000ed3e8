"""Per-call cost of NumPy's spelling against TensorFlow's spelling of one op
(issue 9: a NumPy function or ndarray method on tensors costs no more than
the TensorFlow-named op it maps to).

    python -m benchmarks.numpy_dispatch              # ~10 s
    python -m benchmarks.numpy_dispatch --smoke      # what tests/test_benchmarks_smoke.py runs

Each pair runs on a 16-element float32 tensor, untaped and under a tape that
watches it; a row's time is the median over rounds of the best per-call CPU
time (this thread's) of a timing sample (``--number`` calls per sample).
"""
import os
import sys

if __package__ in (None, ""):  # run as a script: make the repository root importable
    _here = os.path.dirname(os.path.abspath(__file__))
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _here]
    sys.path.insert(0, os.path.dirname(_here))

import benchmarks  # noqa: E402,F401  (pins threads before numpy is imported)

# isort: split
import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
import timeit  # noqa: E402

import numpy as np  # noqa: E402

import tapegrad as tg  # noqa: E402

PAIRS = [  # (NumPy spelling, TensorFlow spelling)
    ("np.sin(x)", "tg.sin(x)"),
    ("x.sum()", "tg.reduce_sum(x)"),
    ("np.sum(x)", "tg.reduce_sum(x)"),
    ("x.T", "tg.transpose(x)"),
    ("np.exp(x) * x", "tg.exp(x) * x"),
]


class _Protocol:
    """Answers NumPy's override protocols at once: timing a NumPy spelling on it gives NumPy's own
    dispatch cost, paid before any of tapegrad's code runs."""

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return self

    def __array_function__(self, func, types, args, kwargs):
        return self

    def __mul__(self, other):
        return self

    __rmul__ = __mul__


def per_call(stmt, env, number, rounds):
    # CPU time of this thread, not wall time: on a shared machine the wall clock also counts the
    # time other processes hold the CPU, which is most of it when the load exceeds the cores.
    timer = timeit.Timer(stmt, globals=env, timer=time.thread_time)
    return statistics.median(min(timer.repeat(repeat=3, number=number)) / number for _ in range(rounds)) * 1e6


def measure(number=20000, rounds=5):
    """Rows (numpy spelling, tf spelling, taped, numpy us/call, tf us/call, NumPy's protocol us/call)."""
    rows = []
    for taped in (False, True):
        x = tg.constant(np.linspace(-1, 1, 16, dtype=np.float32))
        env = {"np": np, "tg": tg, "x": x}
        tape = tg.GradientTape(persistent=True)
        if taped:
            tape.__enter__()
            tape.watch(x)
        try:
            for a, b in PAIRS:
                same = np.array_equal(eval(a, env).numpy(), eval(b, env).numpy())   # .numpy(): no lost-gradient warning
                if not same:
                    raise AssertionError(f"{a} and {b} disagree")
                protocol = (per_call(a, {"np": np, "x": _Protocol()}, number, rounds) if a.startswith("np.")
                            else 0.0)
                rows.append((a, b, taped, per_call(a, env, number, rounds), per_call(b, env, number, rounds),
                             protocol))
        finally:
            if taped:
                tape.__exit__(None, None, None)
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="a few calls per pair, one round")
    p.add_argument("--number", type=int, default=20000, help="calls per timing sample")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args(argv)
    number, rounds = (50, 1) if args.smoke else (args.number, args.rounds)
    print(f"tapegrad {tg.__version__}, numpy {np.__version__}; 16-element float32 tensor, us per call")
    # "protocol": NumPy's __array_ufunc__ / __array_function__ dispatch alone (an object that answers
    # at once); "ours": the NumPy spelling minus that, i.e. what tapegrad's own code costs.
    print(f"{'NumPy spelling':<16} {'TensorFlow spelling':<20} {'tape':<5} {'NumPy':>8} {'TF':>8} {'ratio':>6} "
          f"{'protocol':>8} {'ours/TF':>7}")
    for a, b, taped, ta, tb, tp in measure(number, rounds):
        print(f"{a:<16} {b:<20} {'yes' if taped else 'no':<5} {ta:8.3f} {tb:8.3f} {ta / tb:6.2f} "
              f"{tp:8.3f} {(ta - tp) / tb:7.2f}")


if __name__ == "__main__":
    main()
