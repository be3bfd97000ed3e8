"""W11 sparse embedding step: a 100,000 x 64 float32 embedding table, 128 looked-up rows (some
repeated), loss = sum(e * e * w) over the looked-up rows e, gradient, and one plain SGD step.

TensorFlow's gradient of a lookup is an IndexedSlices (128 rows, not the table) and its SGD
applies it with a scatter, so the step costs O(rows).  The same step on a 10,000-row table
(variant "small") shows it: time(100,000 rows) / time(10,000 rows) stays near 1, where a dense
gradient or a copied table would make it ~10.

Floor: the forward as NumPy ops (``table[ids]``, square, times w, sum), the reverse pass op by op
(``de = w * 2e``), and the update scattered into the table in place with ``np.subtract.at``.
Targets: tapegrad <= 3x the floor; time(100k) / time(10k) <= 1.5.
"""
import numpy as np

from ..common import Workload, fmt_time, judge_le

LR = 0.01


def make_data(rows, dim, batch, seed=0):
    rng = np.random.default_rng(seed)
    table = (0.1 * rng.standard_normal((rows, dim))).astype(np.float32)
    ids = rng.integers(0, min(rows, 10_000), size=batch).astype(np.int32)
    ids[-3:] = ids[:3]                                   # repeated rows: their gradients add
    w = rng.uniform(0.0, 1.0, (batch, dim)).astype(np.float32)
    return table, ids, w


def floor_step(table, ids, w):
    """One step, updating `table` in place; returns the loss."""
    lr = np.float32(LR)

    def step():
        e = table[ids]                                   # forward, op by op
        sq = e * e
        loss = np.sum(sq * w)
        dsq = w                                          # reverse: sum, times w, square
        de = dsq * (2 * e)
        np.subtract.at(table, ids, lr * de)              # the sparse SGD update, rows only
        return loss

    return step


class W11(Workload):
    id = "W11"
    variants = ("run", "small")
    rtol = 1e-5
    atol = 1e-6
    ratio_target = 3.0

    def config(self, smoke):
        if smoke:
            return {"rows": 1000, "small_rows": 200, "dim": 8, "batch": 16}
        return {"rows": 100_000, "small_rows": 10_000, "dim": 64, "batch": 128}

    def description(self):
        c = self.cfg
        return (f"sparse embedding step: {c['rows']:,} x {c['dim']} float32 table, {c['batch']} looked-up rows, "
                f"gradient + SGD (variant: {c['small_rows']:,}-row table)")

    def data(self, rows):
        c = self.cfg
        return make_data(rows, c["dim"], c["batch"])

    def verify_floor(self):
        """The floor's update against the closed form: table[i] -= lr * sum over its lookups of 2 e w."""
        table, ids, w = make_data(50, 4, 12, seed=3)
        want = table.astype(np.float64).copy()
        for k, i in enumerate(ids):
            want[i] -= LR * 2 * table[i].astype(np.float64) * w[k]
        got = table.copy()
        loss = floor_step(got, ids, w)()
        assert np.allclose(got, want, rtol=1e-5, atol=1e-7), "W11 floor update differs from the closed form"
        assert np.isclose(loss, np.sum(table[ids].astype(np.float64) ** 2 * w), rtol=1e-5)

    def _check_rows(self, make_step):
        """One step on a fresh small table; the rows it touched afterwards (and the loss)."""
        table, ids, w = self.data(self.cfg["small_rows"])
        step, read = make_step(table, ids, w)
        loss = step()
        return [np.asarray(loss, dtype=np.float64).reshape(1), read()[np.unique(ids)]]

    # ------------------------------------------------------------ floor
    def make_floor(self, cfg):
        def make(table, ids, w):
            table = table.copy()
            return floor_step(table, ids, w), lambda: table
        return {"run": make(*self.data(cfg["rows"]))[0], "small": make(*self.data(cfg["small_rows"]))[0],
                "check": lambda: self._check_rows(make)}

    # ------------------------------------------------------------ tapegrad and TensorFlow
    def make_tf_api(self, tf, cfg):
        optimizers = tf.keras.optimizers if hasattr(tf, "keras") else tf.optimizers

        def make(table_np, ids_np, w_np):
            table = tf.Variable(table_np)
            ids, w = tf.constant(ids_np), tf.constant(w_np)
            opt = optimizers.SGD(learning_rate=LR)
            lookup, reduce_sum, Tape = tf.nn.embedding_lookup, tf.reduce_sum, tf.GradientTape

            def step():
                with Tape() as tape:
                    e = lookup(table, ids)
                    loss = reduce_sum(e * e * w)
                g = tape.gradient(loss, table)
                opt.apply_gradients([(g, table)])
                return loss

            return step, lambda: table.numpy()

        return {"run": make(*self.data(cfg["rows"]))[0], "small": make(*self.data(cfg["small_rows"]))[0],
                "check": lambda: self._check_rows(make)}

    # ------------------------------------------------------------ reporting
    def metrics(self, medians, times=None):
        return {"value": medians["run"], "unit": "s", "small_s": medians["small"],
                "table_scaling": medians["run"] / medians["small"]}

    def targets(self, row, floor_row):
        out = super().targets(row, floor_row)
        out.append(judge_le(row["metrics"]["table_scaling"], 1.5,
                            f"time({self.cfg['rows']:,} rows) / time({self.cfg['small_rows']:,} rows)",
                            lambda v: f"{v:.2f}"))
        return out

    def columns(self, rows=None):
        c = self.cfg
        return [(f"{c['rows']:,} rows", lambda r: fmt_time(r["metrics"]["value"])),
                (f"{c['small_rows']:,} rows", lambda r: fmt_time(r["metrics"]["small_s"])),
                ("scaling", lambda r: f"{r['metrics']['table_scaling']:.2f}"),
                ("× floor", lambda r: "-" if r.get("ratio") is None else f"{r['ratio']:.2f}×")]


WORKLOADS = [W11]
