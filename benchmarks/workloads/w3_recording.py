"""W3 recording overhead: W2's forward under a tape minus the same forward with no tape, per op.

Both variants are timed interleaved (one sample of each per round, side by side); overhead =
median over rounds of (taped - plain) / 3,000 ops.  Each implementation runs alone in a process
of its own (``own_process``; ``--shared-process`` for the old way).
"Under a tape" is each library's recording mode: tapegrad/TensorFlow a GradientTape watching x,
PyTorch an input with requires_grad=True, JAX ``jax.vjp`` (eager), autograd ``make_vjp``; the
floor "records" by appending each sin input to a list, which is what its reverse pass needs.
Target: tapegrad <= 0.3 µs/op.
"""
from .. import peers
from ..common import fmt_time, judge_le
from .w1_scalar_chain import ChainWorkload
from .w2_vector_chain import x0_vector


class W3(ChainWorkload):
    id = "W3"
    variants = ("taped", "plain")
    reduce = True
    show_ratio = False
    impls = tuple(i for i in peers.ALL_IMPLS if i != "jax_jit")
    # Recording's cost moved with what else the process held (80 ns tapegrad alone, 99 ns beside
    # tapegrad.torch, 108 ns beside every peer: benchmarks/README.md), so each row gets a process.
    own_process = True

    def x0(self):
        return x0_vector()

    def description(self):
        n = self.cfg["iters"]
        return f"recording overhead: W2's forward ({3 * n:,} ops) under a tape minus without, per op"

    def factory(self, impl):
        c = self.chain(impl)
        return {
            "taped": lambda: c["value"](c["forward"]()),
            "plain": c["plain"],
            "check": c["grad"],  # the recorded tape must also give W2's gradient
        }

    def metrics(self, medians, times=None):
        n = self.ops()
        if times:  # median of the per-round differences: the two samples of a round sit side by side
            import statistics

            pairs = zip(times["taped"]["samples_s"], times["plain"]["samples_s"])
            over = statistics.median(t - p for t, p in pairs)
        else:
            over = medians["taped"] - medians["plain"]
        return {"value": over / n, "unit": "s/op", "taped_s": medians["taped"], "plain_s": medians["plain"],
                "taped_per_op_s": medians["taped"] / n, "plain_per_op_s": medians["plain"] / n}

    def targets(self, row, floor_row):
        return [judge_le(row["metrics"]["value"], 0.3e-6, "recording overhead per op", fmt_time)]

    def target_line(self, rows):
        return 0.3e-6

    def columns(self, rows=None):
        return [
            ("taped / op", lambda r: fmt_time(r["metrics"]["taped_per_op_s"])),
            ("plain / op", lambda r: fmt_time(r["metrics"]["plain_per_op_s"])),
            ("overhead / op", lambda r: fmt_time(r["metrics"]["value"])),
        ]


WORKLOADS = [W3]
