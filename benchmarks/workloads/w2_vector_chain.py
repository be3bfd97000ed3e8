"""W2 vector chain: W1's chain on a 16-element float64 vector, then ``reduce_sum``; gradient.

Per-op time divides by the 3,000 chain ops (the final reduce_sum is in the time, not the count).
Target: tapegrad <= 2x the floor.
"""
import numpy as np

from .w1_scalar_chain import ChainWorkload


def x0_vector():
    return np.linspace(-1.0, 1.0, 16, dtype=np.float64)


class W2(ChainWorkload):
    id = "W2"
    ratio_target = 2.0
    reduce = True

    def x0(self):
        return x0_vector()

    def description(self):
        n = self.cfg["iters"]
        return f"vector chain: 16 × float64, {n:,} × y = sin(y)*1.0001 + 0.1, reduce_sum, gradient"


WORKLOADS = [W2]
