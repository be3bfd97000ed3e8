"""W7 second derivative of a 99-op scalar chain (33 × ``y = sin(y)*1.0001 + 0.1``) through
nested tapes: the inner tape's gradient is computed inside the outer tape, whose gradient of
that is d²y/dx².

The floor does by hand what nested tapes do (reverse over reverse): a forward that saves each
sin input; a first reverse pass (dy/dx) that saves what its own ops need; then the adjoint of
that first reverse pass, op by op, followed by the adjoint of the forward pass.
Target: tapegrad <= 15x the floor.
"""
import numpy as np

from .. import peers
from ..common import Workload, compare
from .chain import A, B

X0 = 0.5


def closed_form(iters):
    """Forward-mode second-order recurrence: y' = A cos(y) y', y'' = A (cos(y) y'' - sin(y) y'^2)."""
    y, d1, d2 = X0, 1.0, 0.0
    for _ in range(iters):
        d1, d2 = A * np.cos(y) * d1, A * (np.cos(y) * d2 - np.sin(y) * d1 * d1)
        y = A * np.sin(y) + B
    return y, d1, d2


class W7(Workload):
    id = "W7"
    ratio_target = 15.0
    rtol = 1e-10
    atol = 1e-12

    def config(self, smoke):
        return {"iters": 33}  # 99 ops; already tiny

    def ops(self):
        return 3 * self.cfg["iters"]

    def description(self):
        return f"second derivative: {self.ops()}-op scalar chain, nested tapes, d²y/dx²"

    # ------------------------------------------------------------ floor
    def make_floor(self, cfg):
        iters = cfg["iters"]
        sin, cos = np.sin, np.cos
        x = np.float64(X0)

        def step():
            # forward: y_{i+1} = sin(y_i)*A + B, saving y_i
            ys = []
            y = x
            for _ in range(iters):
                ys.append(y)
                y = sin(y) * A + B
            # first reverse pass (what the inner tape's gradient() computes), saving its op inputs
            g = np.float64(1.0)
            gs_saved, c_saved = [], []
            for yi in reversed(ys):
                gs = g * A  # mul by A
                c = cos(yi)  # sin's derivative...
                gs_saved.append(gs)
                c_saved.append(c)
                g = gs * c  # ...applied
            # g is dy/dx.  Adjoint of the first reverse pass (outer tape, reverse order of it):
            gbar = np.float64(1.0)
            ybar = [np.float64(0.0)] * iters
            for k in range(iters - 1, -1, -1):  # k-th op of the first pass touched ys[iters-1-k]
                i = iters - 1 - k
                gsbar = gbar * c_saved[k]  # g = gs * c
                cbar = gbar * gs_saved[k]
                ybar[i] = ybar[i] - sin(ys[i]) * cbar  # c = cos(y_i)
                gbar = gsbar * A  # gs = g_prev * A
            # adjoint of the forward pass: y_{i+1} = sin(y_i)*A + B
            acc = np.float64(0.0)  # adjoint of y_iters (the output itself is not a target)
            for i in range(iters - 1, -1, -1):
                acc = ybar[i] + (acc * A) * cos(ys[i])
            return acc

        return {"run": step}

    def verify_floor(self):
        got = self.make_floor(self.cfg)["run"]()
        _, _, d2 = closed_form(self.cfg["iters"])
        ok, _, _, msg = compare(got, np.float64(d2), 1e-11, 1e-13)
        assert ok, f"W7 floor disagrees with the forward-mode recurrence: {msg}"

    # ------------------------------------------------------------ tapegrad and TensorFlow
    def make_tf_api(self, tf, cfg):
        iters = cfg["iters"]
        x = tf.constant(np.float64(X0))
        sin, Tape = tf.sin, tf.GradientTape

        def step():
            with Tape() as outer:
                outer.watch(x)
                with Tape() as inner:
                    inner.watch(x)
                    y = x
                    for _ in range(iters):
                        y = sin(y) * A + B
                g = inner.gradient(y, x)
            return outer.gradient(g, x)

        return {"run": step}

    def make_torch(self, cfg):
        th = peers.get("torch")
        iters = cfg["iters"]
        x = th.tensor(X0, dtype=th.float64, requires_grad=True)
        grad = th.autograd.grad

        def step():
            y = x
            for _ in range(iters):
                y = th.sin(y) * A + B
            (g,) = grad(y, x, create_graph=True)
            return grad(g, x)[0]

        return {"run": step}

    def _jax(self):
        jax = peers.get("jax")
        jnp = jax.numpy
        iters = self.cfg["iters"]

        def f(y):
            for _ in range(iters):
                y = jnp.sin(y) * A + B
            return y

        return jax, jax.grad(jax.grad(f)), jnp.asarray(X0, dtype=jnp.float64)

    def make_jax(self, cfg):
        jax, h, x = self._jax()
        return {"run": lambda: jax.block_until_ready(h(x))}

    def make_jax_jit(self, cfg):
        jax, h, x = self._jax()
        hj = jax.jit(h)
        return {"run": lambda: jax.block_until_ready(hj(x))}

    def make_autograd(self, cfg):
        ag = peers.get("autograd")
        anp = ag.numpy
        iters = cfg["iters"]

        def f(y):
            for _ in range(iters):
                y = anp.sin(y) * A + B
            return y

        h = ag.grad(ag.grad(f))
        x = np.float64(X0)
        return {"run": lambda: h(x)}


WORKLOADS = [W7]
