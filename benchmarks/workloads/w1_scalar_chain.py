"""W1 scalar chain: x a float64 scalar; 1,000 x ``y = sin(y) * 1.0001 + 0.1``; dy/dx.

Time of one forward+backward (tape creation included), reported per op (3 ops per step:
sin, mul, add -> 3,000 ops).  Target: tapegrad <= 4x the floor.
"""
import numpy as np

from .. import peers
from ..common import Unavailable, Workload, compare
from . import chain


class ChainWorkload(Workload):
    """Common part of W1/W2/W3: the chain of chain.py on input ``x0()``."""

    reduce = False
    impls = peers.ALL_IMPLS

    def x0(self):
        return np.float64(0.5)

    def config(self, smoke):
        return {"iters": 10 if smoke else 1000}

    def ops(self):
        return 3 * self.cfg["iters"]

    def verify_floor(self):
        c = chain.floor(self.x0(), self.cfg["iters"], self.reduce)
        state = c["forward"]()
        y_ref, d_ref = chain.closed_form(self.x0(), self.cfg["iters"], self.reduce)
        for got, ref, what in ((c["value"](state), y_ref, "value"), (c["backward"](state), d_ref, "gradient")):
            ok, _, _, msg = compare(got, ref, 1e-12, 1e-14)
            assert ok, f"{self.id} floor {what} disagrees with the forward-mode recurrence: {msg}"

    def chain(self, impl):
        ok, why = peers.available(impl)
        if not ok:
            raise Unavailable(why)
        return chain.build(impl, self.x0(), self.cfg["iters"], self.reduce)

    def factory(self, impl):
        c = self.chain(impl)
        return {"run": c["grad"]}


class W1(ChainWorkload):
    id = "W1"
    title = "scalar chain: float64 scalar, 1,000 × y = sin(y)*1.0001 + 0.1, dy/dx"
    ratio_target = 4.0
    torch_style_target = 1.3  # issue 14: the PyTorch-style code through tapegrad.torch

    def description(self):
        n = self.cfg["iters"]
        return f"scalar chain: float64 scalar, {n:,} × y = sin(y)*1.0001 + 0.1, dy/dx (forward+backward)"


WORKLOADS = [W1]
