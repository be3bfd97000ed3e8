"""Hands-On Machine Learning's autodiff notebook (seed 004), on tapegrad.

The notebook differentiates f(x, y) = x*x*y + y + 2 four ways: by hand, numerically, in
forward mode (dual numbers) and in reverse mode, then takes second derivatives. Here each
way is checked against tapegrad's: numeric differences against ``gradient()``, dual numbers
against ``ForwardAccumulator``, the notebook's reverse sweep against the tape's Wengert list,
and the Hessian (with its None entry). Last, the notebook's remark on memory: keeping every
intermediate value versus recomputing them (checkpointing), measured with
``tg.recompute_grad`` and plotted in hands_on_ml_checkpointing.png.

    python examples/hands_on_ml_autodiff.py [--figures DIR]
"""
from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable

import numpy as np
from _figures import figure_dir, save_figure, section

import tapegrad as tg


def f(x, y):
    return x * x * y + y + 2


# ---- numeric differentiation ------------------------------------------------------------

def numeric_gradient(func: Callable[[float, float], float], x: float, y: float, eps: float) -> tuple[float, float]:
    """Central differences: error O(eps^2) instead of the forward difference's O(eps)."""
    return ((func(x + eps, y) - func(x - eps, y)) / (2 * eps),
            (func(x, y + eps) - func(x, y - eps)) / (2 * eps))


# ---- forward mode with dual numbers -----------------------------------------------------

class Dual:
    """a + b*eps with eps**2 = 0: f(a + eps) = f(a) + f'(a) eps carries the derivative along."""

    def __init__(self, value: float, tangent: float = 0.0) -> None:
        self.value, self.tangent = value, tangent

    @staticmethod
    def lift(other: Dual | float) -> Dual:
        return other if isinstance(other, Dual) else Dual(float(other))

    def __add__(self, other: Dual | float) -> Dual:
        o = Dual.lift(other)
        return Dual(self.value + o.value, self.tangent + o.tangent)

    __radd__ = __add__

    def __mul__(self, other: Dual | float) -> Dual:
        o = Dual.lift(other)
        return Dual(self.value * o.value, self.value * o.tangent + self.tangent * o.value)

    __rmul__ = __mul__


# ---- checkpointing ----------------------------------------------------------------------

def make_network(depth: int, width: int, seed: int = 0) -> list[tg.Variable]:
    rng = np.random.default_rng(seed)
    return [tg.Variable(rng.standard_normal((width, width)) / np.sqrt(width)) for _ in range(depth)]


def run_network(x: tg.Tensor, weights: list[tg.Variable], checkpoint_every: int) -> tg.Tensor:
    """tanh layers; with checkpoint_every > 0, each group of that many layers is one
    recompute_grad call: the tape keeps only the group's input, and the backward pass runs the
    group again to get the values its rules need."""
    if checkpoint_every <= 0:
        h = x
        for w in weights:
            h = tg.tanh(h @ w)
        return h

    def group(ws: list[tg.Variable]) -> Callable[[tg.Tensor], tg.Tensor]:
        @tg.recompute_grad
        def block(h: tg.Tensor) -> tg.Tensor:
            for w in ws:
                h = tg.tanh(h @ w)
            return h
        return block

    h = x
    for i in range(0, len(weights), checkpoint_every):
        h = group(weights[i:i + checkpoint_every])(h)
    return h


def measure(depth: int, checkpoint_every: int, batch: int = 1024, width: int = 64) -> tuple[float, float, list]:
    """(peak bytes allocated during forward + backward, best CPU seconds of 3, gradients).

    A wide batch through narrow layers, so the activations the tape keeps (batch x width per
    layer) outweigh the weight gradients (width x width per layer)."""
    weights = make_network(depth, width)
    x = tg.constant(np.random.default_rng(1).standard_normal((batch, width)))

    def step() -> list:
        with tg.GradientTape() as tape:
            loss = tg.reduce_sum(run_network(x, weights, checkpoint_every) ** 2)
        return tape.gradient(loss, weights)

    step()                           # warm-up: the first call pays for BLAS and caches
    seconds = []
    for _ in range(3):
        t0 = time.process_time()        # CPU time: less disturbed by other programs than wall time
        grads = step()
        seconds.append(time.process_time() - t0)
    tracemalloc.start()              # NumPy reports its array buffers to tracemalloc
    base = tracemalloc.get_traced_memory()[0]
    grads = step()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, min(seconds), grads


def main() -> None:
    out = figure_dir(description=__doc__)

    section("By hand: df/dx = 2xy, df/dy = x^2 + 1; at (3, 4): (24, 10)")
    x, y = tg.Variable(3.0, dtype=tg.float64, name="x"), tg.Variable(4.0, dtype=tg.float64, name="y")
    with tg.GradientTape() as tape:
        z = f(x, y)
    dz_dx, dz_dy = (g.numpy() for g in tape.gradient(z, [x, y]))
    print("tapegrad (reverse mode):", dz_dx, dz_dy)
    assert (dz_dx, dz_dy) == (24.0, 10.0)

    section("Numeric differentiation, against the tape")
    for eps in (1e-1, 1e-3, 1e-5):
        nx, ny = numeric_gradient(f, 3.0, 4.0, eps)
        print(f"eps={eps:g}: ({nx:.12f}, {ny:.12f})  error {abs(nx - dz_dx) + abs(ny - dz_dy):.1e}")
    print("numeric differences approximate, need one pair of calls per input, and lose digits "
          "as eps shrinks; the tape is exact and needs one backward pass for all inputs")

    section("Forward mode: dual numbers, and ForwardAccumulator")
    dual_x = f(Dual(3.0, 1.0), Dual(4.0)).tangent
    dual_y = f(Dual(3.0), Dual(4.0, 1.0)).tangent
    fwd = []
    for tangent in ([1.0, 0.0], [0.0, 1.0]):
        with tg.autodiff.ForwardAccumulator(primals=[x, y], tangents=[tg.constant(t, dtype=tg.float64)
                                                                      for t in tangent]) as acc:
            z = f(x, y)
        fwd.append(acc.jvp(z).numpy())
    print("dual numbers:", dual_x, dual_y, " ForwardAccumulator:", *fwd)
    assert (dual_x, dual_y) == (24.0, 10.0) and fwd == [24.0, 10.0]
    print("forward mode needs one pass per input; reverse mode one pass per output")

    section("Reverse mode: the tape is the notebook's graph, swept backwards")
    with tg.GradientTape(persistent=True) as tape:
        z = f(x, y)
    print(tape.describe())
    print("sweeping it backwards from dz/dz = 1:", [g.numpy() for g in tape.gradient(z, [x, y])])

    section("Second derivatives: the Hessian, with a None")
    with tg.GradientTape(persistent=True) as hessian_tape:
        with tg.GradientTape() as grad_tape:
            z = f(x, y)
        dz_dx_t, dz_dy_t = grad_tape.gradient(z, [x, y])
    rows = [hessian_tape.gradient(g, [x, y]) for g in (dz_dx_t, dz_dy_t)]
    print([[None if h is None else h.numpy() for h in row] for row in rows])
    print("   d2f/dy2 is None:", hessian_tape.explain(dz_dy_t, y).message)
    assert rows[1][1] is None
    h = tg.hessian(lambda v: f(v[0], v[1]))(np.array([3.0, 4.0]))
    print("tg.hessian gives the full matrix (zeros where unconnected):\n", h.numpy())
    assert np.allclose(h.numpy(), [[8.0, 6.0], [6.0, 0.0]])

    section("Memory: keep every intermediate value, or recompute them (checkpointing)")
    depths = [8, 16, 32, 64]
    every = 8
    results: dict[str, list[tuple[float, float]]] = {"plain": [], "checkpointed": []}
    for depth in depths:
        peak_plain, t_plain, g_plain = measure(depth, 0)
        peak_ckpt, t_ckpt, g_ckpt = measure(depth, every)
        assert all(np.allclose(a.numpy(), b.numpy(), rtol=1e-10) for a, b in zip(g_plain, g_ckpt))
        results["plain"].append((peak_plain, t_plain))
        results["checkpointed"].append((peak_ckpt, t_ckpt))
        print(f"{depth:3d} tanh layers (1024x64 float64): peak {peak_plain / 2**20:6.1f} MiB in "
              f"{t_plain * 1e3:6.1f} ms CPU, checkpointed every {every}: peak {peak_ckpt / 2**20:6.1f} MiB in "
              f"{t_ckpt * 1e3:6.1f} ms CPU")
    plain_peak, ckpt_peak = results["plain"][-1][0], results["checkpointed"][-1][0]
    assert ckpt_peak < plain_peak / 2, (ckpt_peak, plain_peak)

    def draw(plt):
        fig = plt.gcf()
        fig.set_size_inches(9, 3.6)
        left, right = fig.subplots(1, 2)
        for name, marker in (("plain", "o"), ("checkpointed", "s")):
            label = name if name == "plain" else f"recompute_grad every {every} layers"
            left.plot(depths, [p / 2**20 for p, _ in results[name]], marker=marker, label=label)
            right.plot(depths, [t * 1e3 for _, t in results[name]], marker=marker, label=label)
        left.set(xlabel="tanh layers", ylabel="peak memory (MiB)", title="memory kept for the backward pass")
        right.set(xlabel="tanh layers", ylabel="forward + backward, CPU (ms)", title="time")
        left.legend()
        fig.tight_layout()

    save_figure(out, "hands_on_ml_checkpointing.png", draw)


if __name__ == "__main__":
    main()
