"""W5 large elementwise: x of 1e6 float64, ``reduce_sum(exp(sin(x)) * x)``, gradient w.r.t. x.

Two floors: the mechanical one (``make_floor``: each op's rule applied by hand, as backprop is
written op by op) and the closed form (``make_closed``: what a person writes after simplifying,
``e = exp(sin(x)); g = e * (x*cos(x) + 1)``, the forward's value included: 8 passes over memory).
Target: tapegrad <= 1.0x the closed form (and <= 1.1x the mechanical floor).
"""
import numpy as np

from .. import peers
from ..common import Workload, compare


class W5(Workload):
    id = "W5"
    ratio_target = 1.1
    closed_ratio_target = 1.0
    rtol = 1e-12
    atol = 1e-14

    def config(self, smoke):
        return {"n": 1000 if smoke else 1_000_000}

    def description(self):
        return f"large elementwise: {self.cfg['n']:,} × float64, reduce_sum(exp(sin(x)) * x), gradient"

    def x(self):
        return np.random.default_rng(0).uniform(-3.0, 3.0, self.cfg["n"])

    def make_floor(self, cfg):
        x = self.x()
        sin, cos, exp = np.sin, np.cos, np.exp

        def step():
            s = sin(x)
            e = exp(s)
            p = e * x
            f = np.sum(p)  # noqa: F841
            dp = np.ones_like(p)  # reduce_sum: broadcast 1
            de = dp * x  # mul, left operand
            dx = dp * e  # mul, right operand
            ds = de * e  # exp: g * exp(s), exp(s) saved as e
            dx = dx + ds * cos(x)  # sin: g * cos(x); accumulate into x's gradient
            return dx

        return {"run": step}

    def make_closed(self, cfg):
        x = self.x()
        sin, cos, exp = np.sin, np.cos, np.exp

        def step():
            e = exp(sin(x))
            f = np.sum(e * x)  # noqa: F841 - the value, as the user's code computes it
            return e * (x * cos(x) + 1.0)

        return {"run": step}

    def verify_floor(self):
        x = self.x()
        got = self.make_floor(self.cfg)["run"]()
        closed = self.make_closed(self.cfg)["run"]()
        ok, _, _, msg = compare(got, closed, 1e-13, 1e-15)
        assert ok, f"W5 floor disagrees with the closed form: {msg}"
        # the sum is separable, so element i's central difference is d f / d x_i
        h = 1e-6
        p = lambda v: np.exp(np.sin(v)) * v  # noqa: E731
        num = (p(x + h) - p(x - h)) / (2 * h)
        ok, _, _, msg = compare(closed, num, 1e-6, 1e-8)
        assert ok, f"W5 closed form disagrees with finite differences: {msg}"

    def make_tf_api(self, tf, cfg):
        x = tf.constant(self.x())
        sin, exp, rsum, Tape = tf.sin, tf.exp, tf.reduce_sum, tf.GradientTape

        def step():
            with Tape() as tape:
                tape.watch(x)
                f = rsum(exp(sin(x)) * x)
            return tape.gradient(f, x)

        return {"run": step}

    def make_torch(self, cfg):
        th = peers.get("torch")
        x = th.from_numpy(self.x()).requires_grad_(True)

        def step():
            f = th.sum(th.exp(th.sin(x)) * x)
            return th.autograd.grad(f, x)[0]

        return {"run": step}

    def _jax(self):
        jax = peers.get("jax")
        jnp = jax.numpy
        return jax, jax.grad(lambda x: jnp.sum(jnp.exp(jnp.sin(x)) * x)), jnp.asarray(self.x())

    def make_jax(self, cfg):
        jax, g, x = self._jax()
        return {"run": lambda: jax.block_until_ready(g(x))}

    def make_jax_jit(self, cfg):
        jax, g, x = self._jax()
        gj = jax.jit(g)
        return {"run": lambda: jax.block_until_ready(gj(x))}

    def make_autograd(self, cfg):
        ag = peers.get("autograd")
        anp = ag.numpy
        g = ag.grad(lambda x: anp.sum(anp.exp(anp.sin(x)) * x))
        x = self.x()
        return {"run": lambda: g(x)}


WORKLOADS = [W5]
