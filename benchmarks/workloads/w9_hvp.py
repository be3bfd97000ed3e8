"""W9 Hessian-vector product of ``f(x) = sum(log(cosh(W @ x))) + sum(sin(x))``, x of n = 100
float64, forward over reverse (a forward-mode derivative of the reverse-mode gradient; the
Hessian is never formed).

The floor does by hand what forward over reverse computes: the forward carries each op's
tangent along its value (dual numbers), then the reverse pass applies each op's rule to the
gradient *and* to the gradient's tangent: log (``g / c``), cosh (``g * sinh(z)``), the matmul
(``W.T @ g``), sin (``g * cos(x)``), each differentiated by the product rule.  Checked against
the closed form W.T diag(1 - tanh²(W x)) W v - sin(x) v.
The closed-form floor (``make_closed``) is the HVP as a person writes it after simplifying,
``t = tanh(W @ x); W.T @ ((1 - t*t) * (W @ v)) - sin(x) * v`` (the value f is not needed for it).
Targets: tapegrad <= 6x the closed form and <= 8x the mechanical floor.
"""
import numpy as np

from .. import peers
from ..common import Workload, compare


def _data(n):
    rng = np.random.default_rng(9)
    return rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n), rng.standard_normal(n)


class W9(Workload):
    id = "W9"
    ratio_target = 8.0
    closed_ratio_target = 6.0
    rtol = 1e-10
    atol = 1e-12

    def config(self, smoke):
        return {"n": 8 if smoke else 100}

    def description(self):
        return f"Hessian-vector product of sum(log(cosh(W @ x))) + sum(sin(x)), n = {self.cfg['n']}, " \
               f"forward over reverse"

    # ------------------------------------------------------------ floor
    def make_floor(self, cfg):
        W, x, v = _data(cfg["n"])
        sin, cosh, sinh, log, ones = np.sin, np.cosh, np.sinh, np.log, np.ones_like

        def step():
            # forward, each value with its tangent along v
            z, dz = W @ x, W @ v  # matmul
            c, dc = cosh(z), sinh(z) * dz  # cosh
            lg = log(c)  # log (its tangent dc / c is not needed below)
            f1 = np.sum(lg)  # noqa: F841 - reduce_sum
            sx = sin(x)  # sin (tangent cos(x) v not needed below)
            f = f1 + np.sum(sx)  # noqa: F841
            # reverse: gradient g and its tangent dg, op by op
            g_lg = ones(lg)  # reduce_sum: broadcast 1 (tangent 0)
            g_c = g_lg / c  # log: g / c ...
            dg_c = -g_lg * dc / (c * c)  # ... and its tangent
            sh = sinh(z)
            # cosh: g * sinh(z) ... (the HVP below never reads it: kept so that the floor's timed work stays
            # what every published ratio measured)
            g_z = g_c * sh  # noqa: F841
            dg_z = dg_c * sh + g_c * cosh(z) * dz  # ... product rule
            dg_x = W.T @ dg_z  # matmul: W.T @ g (tangent: W.T @ dg)
            g_sx = ones(sx)  # reduce_sum
            dg_x = dg_x - g_sx * sin(x) * v  # sin: g * cos(x); tangent -g sin(x) v
            return dg_x

        return {"run": step}

    def make_closed(self, cfg):
        W, x, v = _data(cfg["n"])
        sin, tanh = np.sin, np.tanh

        def step():
            t = tanh(W @ x)
            return W.T @ ((1.0 - t * t) * (W @ v)) - sin(x) * v

        return {"run": step}

    def verify_floor(self):
        W, x, v = _data(self.cfg["n"])
        got = self.make_floor(self.cfg)["run"]()
        closed = self.make_closed(self.cfg)["run"]()
        ok, _, _, msg = compare(got, closed, 1e-12, 1e-14)
        assert ok, f"W9 floor disagrees with the closed form: {msg}"
        # the gradient is W.T tanh(W x) + cos(x); its central difference along v is H v
        h = 1e-6
        grad = lambda y: W.T @ np.tanh(W @ y) + np.cos(y)  # noqa: E731
        num = (grad(x + h * v) - grad(x - h * v)) / (2 * h)
        ok, _, _, msg = compare(closed, num, 1e-6, 1e-8)
        assert ok, f"W9 closed form disagrees with finite differences: {msg}"

    # ------------------------------------------------------------ tapegrad and TensorFlow
    def make_tf_api(self, tf, cfg):
        W, x, v = (tf.constant(a) for a in _data(cfg["n"]))
        Acc, Tape = tf.autodiff.ForwardAccumulator, tf.GradientTape
        rsum, log, cosh, sin, matvec = tf.reduce_sum, tf.math.log, tf.math.cosh, tf.sin, peers.matvec(tf)

        def step():
            with Acc(x, v) as acc:
                with Tape() as tape:
                    tape.watch(x)
                    f = rsum(log(cosh(matvec(W, x)))) + rsum(sin(x))
                g = tape.gradient(f, x)
            return acc.jvp(g)

        return {"run": step}

    def make_torch(self, cfg):
        th = peers.get("torch")
        W, x, v = (th.from_numpy(a) for a in _data(cfg["n"]))
        func = th.func

        def f(y):
            return th.sum(th.log(th.cosh(W @ y))) + th.sum(th.sin(y))

        g = func.grad(f)
        return {"run": lambda: func.jvp(g, (x,), (v,))[1]}

    def _jax(self):
        jax = peers.get("jax")
        jnp = jax.numpy
        W, x, v = (jnp.asarray(a) for a in _data(self.cfg["n"]))
        g = jax.grad(lambda y: jnp.sum(jnp.log(jnp.cosh(W @ y))) + jnp.sum(jnp.sin(y)))
        return jax, (lambda a, b: jax.jvp(g, (a,), (b,))[1]), x, v

    def make_jax(self, cfg):
        jax, hvp, x, v = self._jax()
        return {"run": lambda: jax.block_until_ready(hvp(x, v))}

    def make_jax_jit(self, cfg):
        jax, hvp, x, v = self._jax()
        hj = jax.jit(hvp)
        return {"run": lambda: jax.block_until_ready(hj(x, v))}

    def make_autograd(self, cfg):
        ag = peers.get("autograd")
        anp = ag.numpy
        W, x, v = _data(cfg["n"])
        # autograd has no forward mode over its reverse mode: its own hessian_vector_product
        # (reverse over reverse) is what its users call.
        hvp = ag.hessian_vector_product(lambda y: anp.sum(anp.log(anp.cosh(anp.dot(W, y)))) + anp.sum(anp.sin(y)))
        return {"run": lambda: hvp(x, v)}


WORKLOADS = [W9]
