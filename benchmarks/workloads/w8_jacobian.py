"""W8 Jacobian of ``f(x) = sin(tanh(W @ x) * 2 + x)``, x of n = 64 and 256 float64 (an n × n
Jacobian), forward included.

The floor is reverse mode by hand with every cotangent row at once (what a person vectorising
backprop writes): the forward saves what each op's rule needs, then the identity cotangent
matrix G goes back through the ops one rule at a time: sin (``G * cos(u)``), the add (G to both
operands), the mul by 2, tanh (``G * (1 - t*t)``), the matmul (``G @ W``), accumulating into x's
rows.  Checked against the closed form diag(cos u) (2 diag(1 - t²) W + I) and finite differences.
The closed-form floor (``make_closed``) is what a person writes after simplifying:
``cos(u)[:, None] * (2 * (1 - t*t)[:, None] * W + I)``, O(n^2), after the same forward.
Targets: tapegrad <= 3x (n = 64) and <= 5x (n = 256) the closed form, and <= 10x the mechanical floor.
"""
import numpy as np

from .. import peers
from ..common import Workload, compare


def _data(n):
    rng = np.random.default_rng(8)
    return rng.standard_normal((n, n)) / np.sqrt(n), rng.standard_normal(n)


class _W8(Workload):
    ratio_target = 10.0
    closed_ratio_target = None  # per size, below
    rtol = 1e-10
    atol = 1e-12
    n = None

    def config(self, smoke):
        return {"n": self.n // 16 if smoke else self.n}

    def description(self):
        n = self.cfg["n"]
        return f"Jacobian of sin(tanh(W @ x) * 2 + x), n = {n} ({n}×{n}), forward included"

    # ------------------------------------------------------------ floor
    def make_floor(self, cfg):
        W, x = _data(cfg["n"])
        n = cfg["n"]
        sin, cos, tanh, eye = np.sin, np.cos, np.tanh, np.eye

        def step():
            z = W @ x
            t = tanh(z)
            s = t * 2.0
            u = s + x
            y = sin(u)  # noqa: F841 - the forward's value, computed as a user's code would
            G = eye(n)  # one cotangent row per output element
            G = G * cos(u)  # sin
            Gx = G  # add: to x ...
            Gs = G  # ... and to s
            Gt = Gs * 2.0  # mul by 2
            Gz = Gt * (1.0 - t * t)  # tanh, from its saved output
            return Gx + Gz @ W  # matmul: z = W @ x, rows of dz/dx

        return {"run": step}

    def make_closed(self, cfg):
        W, x = _data(cfg["n"])
        n = cfg["n"]
        sin, cos, tanh, eye = np.sin, np.cos, np.tanh, np.eye

        def step():
            t = tanh(W @ x)
            u = t * 2.0 + x
            y = sin(u)  # noqa: F841 - the forward's value
            return cos(u)[:, None] * (2.0 * (1.0 - t * t)[:, None] * W + eye(n))

        return {"run": step}

    def verify_floor(self):
        n = self.cfg["n"]
        W, x = _data(n)
        got = self.make_floor(self.cfg)["run"]()
        closed = self.make_closed(self.cfg)["run"]()
        ok, _, _, msg = compare(got, closed, 1e-13, 1e-15)
        assert ok, f"W8 floor disagrees with the closed form: {msg}"
        h = 1e-6
        f = lambda v: np.sin(np.tanh(W @ v) * 2 + v)  # noqa: E731
        num = np.stack([(f(x + h * e) - f(x - h * e)) / (2 * h) for e in np.eye(n)], axis=1)
        ok, _, _, msg = compare(got, num, 1e-6, 1e-8)
        assert ok, f"W8 floor disagrees with finite differences: {msg}"
        ok, _, _, msg = compare(closed, num, 1e-6, 1e-8)
        assert ok, f"W8 closed form disagrees with finite differences: {msg}"

    # ------------------------------------------------------------ tapegrad and TensorFlow
    def make_tf_api(self, tf, cfg):
        W, x0 = _data(cfg["n"])
        W, x = tf.constant(W), tf.constant(x0)
        sin, tanh, matvec, Tape = tf.sin, tf.tanh, peers.matvec(tf), tf.GradientTape

        def step():
            with Tape() as tape:
                tape.watch(x)
                y = sin(tanh(matvec(W, x)) * 2.0 + x)
            return tape.jacobian(y, x)

        return {"run": step}

    def make_torch(self, cfg):
        th = peers.get("torch")
        W, x0 = _data(cfg["n"])
        W, x = th.from_numpy(W), th.from_numpy(x0)
        jac = th.autograd.functional.jacobian

        def f(v):
            return th.sin(th.tanh(W @ v) * 2.0 + v)

        return {"run": lambda: jac(f, x, vectorize=True)}

    def _jax(self):
        jax = peers.get("jax")
        jnp = jax.numpy
        W, x0 = _data(self.cfg["n"])
        W = jnp.asarray(W)
        return jax, jax.jacrev(lambda v: jnp.sin(jnp.tanh(W @ v) * 2.0 + v)), jnp.asarray(x0)

    def make_jax(self, cfg):
        jax, j, x = self._jax()
        return {"run": lambda: jax.block_until_ready(j(x))}

    def make_jax_jit(self, cfg):
        jax, j, x = self._jax()
        jj = jax.jit(j)
        return {"run": lambda: jax.block_until_ready(jj(x))}

    def make_autograd(self, cfg):
        ag = peers.get("autograd")
        anp = ag.numpy
        W, x = _data(cfg["n"])
        j = ag.jacobian(lambda v: anp.sin(anp.tanh(anp.dot(W, v)) * 2.0 + v))
        return {"run": lambda: j(x)}


class W8_64(_W8):
    id = "W8-64"
    n = 64
    closed_ratio_target = 3.0


class W8_256(_W8):
    id = "W8-256"
    n = 256
    closed_ratio_target = 5.0


WORKLOADS = [W8_64, W8_256]
