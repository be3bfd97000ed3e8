"""Fuzzing (issue 12).

1. Random programs (hypothesis): random sequences of smooth ops over a random
   shape, run under a one-shot or persistent tape, a forward accumulator or
   nested tapes, with parts under stop_recording and failing ops in the
   middle.  Every program is also interpreted in plain NumPy, and the
   tapegrad derivative is checked against central finite differences of that
   NumPy function; every tape is checked to be released (its recording freed
   by reference counting when it is done).
2. Junk arguments: a child interpreter calls every public function and
   method with random junk and must only ever see Python exceptions (a crash
   of the child fails the test).

Both run a short budget in the suite; ``pytest tests/test_fuzz.py --long``
runs the long one (by hand).  Each test prints its counts (``-s``)."""
import json
import os
import subprocess
import sys
import textwrap
import weakref

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tapegrad as tg
from tapegrad.errors import InvalidArgumentError

# ---------------------------------------------------------------- random programs

# name: (tapegrad op, NumPy mirror, arity).  Smooth everywhere on bounded inputs.
OPS = {
    "sin": (tg.sin, np.sin, 1),
    "cos": (tg.cos, np.cos, 1),
    "tanh": (tg.tanh, np.tanh, 1),
    "sigmoid": (tg.sigmoid, lambda a: 1 / (1 + np.exp(-a)), 1),
    "softplus": (tg.math.softplus, lambda a: np.log1p(np.exp(a)), 1),
    "exp_small": (lambda a: tg.exp(a * 0.3), lambda a: np.exp(a * 0.3), 1),
    "square": (tg.square, np.square, 1),
    "np.sin": (np.sin, np.sin, 1),                       # NumPy's own function on a Tensor, recorded
    "centre": (lambda a: a - tg.reduce_mean(a), lambda a: a - np.mean(a), 1),
    "mul": (tg.multiply, np.multiply, 2),
    "add": (lambda a, b: a + b, np.add, 2),
    "sub": (lambda a, b: a - b, np.subtract, 2),
    "mix": (lambda a, b: a * 0.5 + tg.tanh(b), lambda a, b: a * 0.5 + np.tanh(b), 2),
}

SHAPES = [(), (3,), (2, 3)]


@st.composite
def programs(draw):
    shape = draw(st.sampled_from(SHAPES))
    n = draw(st.integers(1, 8))
    steps = [(draw(st.sampled_from(sorted(OPS))), draw(st.integers(0, 99)), draw(st.integers(0, 99)))
             for _ in range(n)]
    return {
        "shape": shape,
        "steps": steps,
        "mode": draw(st.sampled_from(["one-shot", "persistent", "forward", "nested"])),
        "stopped": draw(st.one_of(st.none(), st.integers(0, n - 1))),
        "fail_at": draw(st.one_of(st.none(), st.integers(0, n - 1))),
        "seed": draw(st.integers(0, 2**16)),
    }


def _run(p, x, numpy_mode, x0=None, tape=None):
    """Interpret program p on x.  The step `stopped` runs under stop_recording
    (its result is a constant to the tape): in NumPy it is computed from x0."""
    pool = [x]
    for k, (name, i, j) in enumerate(p["steps"]):
        op_t, op_np, arity = OPS[name]
        fn = op_np if numpy_mode else op_t
        if k == p["stopped"]:
            if numpy_mode:
                # the stopped step sees the values the real run had at x0
                vals = _run({**p, "steps": p["steps"][:k], "stopped": None}, x0, True, x0, None)
                args = [vals[i % len(vals)], vals[j % len(vals)]][:arity]
            else:
                args = [pool[i % len(pool)], pool[j % len(pool)]][:arity]
                with tape.stop_recording():
                    pool.append(fn(*args))
                continue
        else:
            args = [pool[i % len(pool)], pool[j % len(pool)]][:arity]
        if k == p["fail_at"] and not numpy_mode:
            with pytest.raises(InvalidArgumentError):          # a failing op in the middle
                args[0] + tg.ones((4, 5))
        pool.append(fn(*args))
    return pool


def _weights(p):
    rng = np.random.default_rng(p["seed"])
    return rng.uniform(-1, 1, p["shape"]), rng.uniform(-1, 1, p["shape"]), rng.uniform(-1, 1, p["shape"])


def _objective_np(p, xv, x0, w):
    pool = _run(p, xv, True, x0)
    return float(np.sum(pool[-1] * w))


def _fd_grad(f, xv, eps=1e-6):
    g = np.zeros_like(xv)
    flat, gf = xv.reshape(-1), g.reshape(-1)
    for k in range(flat.size):
        d = np.zeros_like(flat)
        d[k] = eps
        gf[k] = (f((flat + d).reshape(xv.shape)) - f((flat - d).reshape(xv.shape))) / (2 * eps)
    return g


def _close(got, want):
    np.testing.assert_allclose(got, want, rtol=2e-5, atol=2e-6)


COUNTS = {"programs": 0, "checks": 0}


def check_program(p):
    x0, w, v = _weights(p)
    x0 = np.asarray(x0, dtype=np.float64)
    x = tg.constant(x0)
    mode = p["mode"]
    if mode == "forward":
        if p["stopped"] is not None:
            p = {**p, "stopped": None}            # forward mode has no stop_recording
        with tg.autodiff.ForwardAccumulator(x, v) as acc:
            pool = _run(p, x, False)
            y = tg.reduce_sum(pool[-1] * w)
        jvp = acc.jvp(y)
        fd = (_objective_np(p, x0 + 1e-6 * v, x0, w) - _objective_np(p, x0 - 1e-6 * v, x0, w)) / 2e-6
        _close(0.0 if jvp is None else float(jvp), fd)
        ref = weakref.ref(acc)
        del acc
        assert ref() is None
        COUNTS["checks"] += 1
        return
    persistent = mode in ("persistent", "nested")
    outer = tg.GradientTape(persistent=True) if mode == "nested" else None
    if outer is not None:
        outer.__enter__()
        outer.watch(x)
    try:
        with tg.GradientTape(persistent=persistent) as t:
            t.watch(x)
            pool = _run(p, x, False, tape=t)
            y = tg.reduce_sum(pool[-1] * w)
        core = weakref.ref(t._wengert)
        g = t.gradient(y, x)
        if mode == "nested":
            gv = tg.reduce_sum((g if g is not None else tg.zeros_like(x)) * v)
    finally:
        if outer is not None:
            outer.__exit__(None, None, None)
    fd = _fd_grad(lambda xv: _objective_np(p, xv, x0, w), x0)
    _close(np.zeros_like(x0) if g is None else g.numpy(), fd)
    if mode == "one-shot":
        assert core() is None or core().num_nodes == 0    # released by gradient()
    if mode == "nested":
        # second order: d/dx <grad f(x), v>, against finite differences of first-order gradients
        h = outer.gradient(gv, x)

        def grad_at(xv):
            xt = tg.constant(xv)
            with tg.GradientTape() as t2:
                t2.watch(xt)
                yy = tg.reduce_sum(_run({**p, "stopped": None}, xt, False)[-1] * w)
            gg = t2.gradient(yy, xt)
            return 0.0 if gg is None else float(np.sum(gg.numpy() * v))
        if p["stopped"] is None:
            _close(np.zeros_like(x0) if h is None else h.numpy(), _fd_grad(grad_at, x0, 1e-5))
        COUNTS["checks"] += 1
        outer_core = weakref.ref(outer._wengert)
        del outer, h, gv
        assert outer_core() is None
    del t, g, y, pool
    assert core() is None                        # every tape freed by reference counting
    COUNTS["checks"] += 1


def test_random_programs_against_finite_differences(request):
    long = request.config.getoption("--long")
    COUNTS.update(programs=0, checks=0)

    @settings(max_examples=2000 if long else 40, deadline=None, derandomize=not long, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(programs())
    def run(p):
        COUNTS["programs"] += 1
        check_program(p)
    run()
    print(f"\nrandom programs: {COUNTS['programs']} run, {COUNTS['checks']} derivative checks passed")
    assert COUNTS["programs"] >= 20


# ---------------------------------------------------------------- junk arguments, in a child

_CHILD = textwrap.dedent(r'''
    import inspect, json, random, resource, sys
    import numpy as np
    # junk shapes must fail with MemoryError, not fill a shared machine's memory (under
    # AddressSanitizer, whose shadow memory needs the address space, its allocator limit does it:
    # tools/sanitize.sh sets max_allocation_size_mb)
    import os
    if "asan" not in os.environ.get("LD_PRELOAD", ""):
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = 3 * 2**30 if hard == resource.RLIM_INFINITY else min(3 * 2**30, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    import tapegrad as tg
    n_calls, seed = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    SKIP = {"render"}                       # writes files
    def targets():
        out = []
        for modname, mod in [("tg", tg), ("tg.math", tg.math), ("tg.linalg", tg.linalg), ("tg.nn", tg.nn),
                             ("tg.random", tg.random)]:
            for name in sorted(dir(mod)):
                if name.startswith("_") or name in SKIP:
                    continue
                obj = getattr(mod, name)
                if callable(obj) and not isinstance(obj, type(tg)):
                    out.append((f"{modname}.{name}", None, obj))
        return out
    def instances():
        x = tg.constant([1.0, 2.0, 3.0])
        t = tg.GradientTape(persistent=True)
        with t:
            t.watch(x)
            y = x * x
        return [("Tensor", lambda: tg.constant([[1.0, 2.0], [3.0, 4.0]])),
                ("Variable", lambda: tg.Variable([1.0, 2.0])),
                ("GradientTape", lambda: t), ("IntTensor", lambda: tg.constant([1, 2]))]
    def junk():
        pool = [None, object(), "abc", b"x", -1, 0, 3, 2**31, 2**70, -2**70, 1.5, float("nan"), float("inf"), 1e308,
                True, [], [[1.0], [1.0, 2.0]], [1, 2, 3], (2, 2), {}, {"a": 1}, set(), lambda *a: a, len, np.array([]),
                np.array([[1.0, 2.0]]), np.array(["a"]), np.array([None]), np.float32(2), np.arange(6).reshape(2, 3),
                np.zeros((0, 3)), np.array(1.0, dtype=">f8"), tg.constant(1.0), tg.constant([1, 2, 3]),
                tg.constant([[1.0, 2.0]]), tg.Variable(1.0), tg.constant([True, False]), tg.float32, tg.int32,
                "float32", slice(None), Ellipsis, range(3), 1j, tg.constant([1j])]
        return rng.choice(pool)
    def attribute(inst, name):
        # A property may raise (x.mT of a vector raises ValueError, as ndarray's does): a Python
        # exception is an allowed outcome, so such a name is simply not called.
        try:
            return getattr(inst, name)
        except Exception:
            return None
    funcs = targets()
    stats = {"calls": 0, "returned": 0, "raised": {}}
    for k in range(n_calls):
        if rng.random() < 0.3:
            label, make = rng.choice(instances())
            inst = make()
            names = [m for m in dir(inst) if not m.startswith("_") and m not in SKIP
                     and callable(attribute(inst, m))] + ["__add__", "__getitem__", "__matmul__", "__pow__",
                                                          "__array__", "__eq__", "__iter__", "__len__"]
            name = rng.choice(names)
            fn = attribute(inst, name)
            label = f"{label}.{name}"
            if fn is None:
                continue
        else:
            label, _, fn = rng.choice(funcs)
        args = [junk() for _ in range(rng.randint(0, 4))]
        kwargs = {}
        if rng.random() < 0.3:
            kwargs[rng.choice(["axis", "dtype", "name", "shape", "keepdims", "persistent"])] = junk()
        stats["calls"] += 1
        try:
            r = fn(*args, **kwargs)
            if inspect.isgenerator(r) or hasattr(r, "__next__"):
                for _ in zip(range(3), r):
                    pass
            repr(r)
            stats["returned"] += 1
        except Exception as e:          # any Python exception is fine; a crash is not
            stats["raised"][type(e).__name__] = stats["raised"].get(type(e).__name__, 0) + 1
        if tg._core.active_recorders():
            for r in list(tg._core.active_recorders()):
                tg._core.pop_recorder(r)
    print(json.dumps(stats))
''')


def test_junk_arguments_only_ever_raise_python_exceptions(request, tmp_path):
    long = request.config.getoption("--long")
    n_calls, seeds = (10000, range(4)) if long else (1500, range(1))
    total = {"calls": 0, "returned": 0, "raised": {}}
    for seed in seeds:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(n_calls), str(seed)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=3000 if long else 300,
                              env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "MPLBACKEND": "Agg"})
        assert proc.returncode == 0, f"seed {seed}: the child died ({proc.returncode}):\n{proc.stderr[-3000:]}"
        stats = json.loads(proc.stdout.strip().splitlines()[-1])
        total["calls"] += stats["calls"]
        total["returned"] += stats["returned"]
        for k, c in stats["raised"].items():
            total["raised"][k] = total["raised"].get(k, 0) + c
    print(f"\njunk calls: {total['calls']}, returned {total['returned']}, raised {sum(total['raised'].values())} "
          f"({', '.join(f'{k} {c}' for k, c in sorted(total['raised'].items(), key=lambda kv: -kv[1]))})")
    assert total["calls"] >= n_calls * len(seeds) * 0.9
