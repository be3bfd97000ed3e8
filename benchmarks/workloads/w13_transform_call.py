"""W13 the cost of a functional transform call: ``tg.grad`` of a 2-parameter function against the
bare ``GradientTape`` step computing the same gradients.

f(w, b) = sum(tanh(x @ w + b) ** 2) with x 8 x 4, w 4 x 3, b 3: small enough that the per-call
work of the transform (argument conversion, pytree flattening, the tape it opens, packing the
result) is what the ratio shows.  Here the floor is not NumPy by hand but tapegrad's own tape
step (convert, watch, forward, gradient): the target (issue 10) is that the transform costs at
most 2x that.  Variants: ``run`` differentiates two arguments (``argnums=(0, 1)``), ``pytree``
one list argument ``[w, b]``.  The floor is checked against the hand-derived gradient.
"""
import numpy as np

from .. import peers
from ..common import Workload, compare, fmt_time, judge_le

RNG = np.random.default_rng(13)
X = RNG.standard_normal((8, 4))
W0 = RNG.standard_normal((4, 3)) * 0.5
B0 = RNG.standard_normal(3) * 0.1


def closed_form():
    z = X @ W0 + B0
    t = np.tanh(z)
    dz = 2 * t * (1 - t * t)
    return [X.T @ dz, dz.sum(axis=0)]


class W13(Workload):
    id = "W13"
    ratio_target = 2.0
    variants = ("run", "pytree")
    rtol = 1e-12
    atol = 1e-14

    def description(self):
        return "tg.grad call on a 2-parameter function vs a bare GradientTape step (floor = the tape step)"

    def targets(self, row, floor_row):
        out = []
        for v in self.variants:
            floor_t = floor_row.get("metrics", {}).get(v) if floor_row else None
            t = row.get("metrics", {}).get(v)
            ratio = None if not (floor_t and t) else t / floor_t
            out.append(judge_le(ratio, self.ratio_target, f"{v}: time / tape step", lambda r: f"{r:.2f}×"))
        return out

    def metrics(self, medians, times=None):
        return {"value": medians["run"], "unit": "s", "run": medians["run"], "pytree": medians["pytree"]}

    def columns(self, rows=None):
        floor = next((r for r in rows or () if r["impl"] == "floor" and "metrics" in r), None)

        def ratio(r, v):
            if floor is None or "metrics" not in r:
                return "-"
            return f"{r['metrics'][v] / floor['metrics'][v]:.2f}×"
        return [("argnums=(0, 1)", lambda r: fmt_time(r["metrics"].get("run"))),
                ("× tape", lambda r: ratio(r, "run")),
                ("[w, b] pytree", lambda r: fmt_time(r["metrics"].get("pytree"))),
                ("× tape ", lambda r: ratio(r, "pytree"))]

    def verify_floor(self):
        got = self.make_floor(self.cfg)["run"]()
        ok, _, _, msg = compare(got, closed_form(), 1e-12, 1e-14)
        assert ok, f"W13 floor (the tape step) disagrees with the hand-derived gradient: {msg}"

    # ------------------------------------------------------------ the floor: tapegrad's tape step
    def make_floor(self, cfg):
        tg = peers.get("tapegrad")
        x = tg.constant(X)

        def step():
            w, b = tg.convert_to_tensor(W0), tg.convert_to_tensor(B0)
            with tg.GradientTape() as tape:
                tape.watch([w, b])
                y = tg.reduce_sum(tg.tanh(x @ w + b) ** 2)
            return tape.gradient(y, [w, b])
        return {"run": step, "pytree": step}

    # ------------------------------------------------------------ implementations
    def make_tapegrad(self, cfg):
        tg = peers.get("tapegrad")
        x = tg.constant(X)

        def f(w, b):
            return tg.reduce_sum(tg.tanh(x @ w + b) ** 2)
        g2 = tg.grad(f, argnums=(0, 1))
        gp = tg.grad(lambda p: f(p[0], p[1]))
        return {"run": lambda: g2(W0, B0), "pytree": lambda: gp([W0, B0])}

    def make_autograd(self, cfg):
        ag = peers.get("autograd")
        anp = ag.numpy

        def f(w, b):
            return anp.sum(anp.tanh(anp.dot(X, w) + b) ** 2)
        g2 = ag.grad(f, (0, 1))
        gp = ag.grad(lambda p: f(p[0], p[1]))
        return {"run": lambda: g2(W0, B0), "pytree": lambda: gp([W0, B0])}

    def make_jax(self, cfg):
        jax = peers.get("jax")
        jnp = jax.numpy
        x = jnp.asarray(X)

        def f(w, b):
            return jnp.sum(jnp.tanh(x @ w + b) ** 2)
        g2 = jax.grad(f, (0, 1))
        gp = jax.grad(lambda p: f(p[0], p[1]))
        w, b = jnp.asarray(W0), jnp.asarray(B0)
        return {"run": lambda: jax.block_until_ready(g2(w, b)), "pytree": lambda: jax.block_until_ready(gp([w, b]))}


WORKLOADS = [W13]
