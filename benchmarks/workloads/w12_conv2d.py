"""W12 conv2d forward + backward: a batch of 64 28x28x32 float32 images, 64 filters of 3x3,
stride 1, 'SAME' padding; the output and the gradients for the images and the filters, given
the output's cotangent.

Floor: hand-written im2col + matmul, the textbook way: pad, copy each window into a row of the
patch matrix (9 strided copies), one matmul forward; backward ``dW = patches^T @ dY``,
``dpatches = dY @ W^T`` and col2im (9 strided adds).  tapegrad and TensorFlow:
``tf.nn.conv2d`` under a GradientTape, ``tape.gradient(y, [x, w], output_gradients=dY)``.
Target: tapegrad <= 1.5x the floor.
"""
import numpy as np

from ..common import Workload


def make_data(n, hw, c, co, k, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, hw, hw, c)).astype(np.float32)
    w = (rng.standard_normal((k, k, c, co)) / np.sqrt(k * k * c)).astype(np.float32)
    g = rng.standard_normal((n, hw, hw, co)).astype(np.float32)
    return x, w, g


def floor_step(x, w, g):
    """The hand-written im2col + matmul floor for a stride-1 'SAME' convolution (odd kernel)."""
    n, h, wd, c = x.shape
    kh, kw, _, co = w.shape
    ph, pw = kh // 2, kw // 2
    k = kh * kw * c
    w_mat = w.reshape(k, co)

    def step():
        xp = np.zeros((n, h + 2 * ph, wd + 2 * pw, c), dtype=x.dtype)      # forward: pad, im2col, matmul
        xp[:, ph:ph + h, pw:pw + wd, :] = x
        patches = np.empty((n, h, wd, kh, kw, c), dtype=x.dtype)
        for i in range(kh):
            for j in range(kw):
                patches[:, :, :, i, j, :] = xp[:, i:i + h, j:j + wd, :]
        cols = patches.reshape(n * h * wd, k)
        y = (cols @ w_mat).reshape(n, h, wd, co)
        gm = g.reshape(n * h * wd, co)                                    # backward: the matmul's two rules
        dw = (cols.T @ gm).reshape(w.shape)
        dcols = (gm @ w_mat.T).reshape(n, h, wd, kh, kw, c)
        dxp = np.zeros_like(xp)                                            # col2im
        for i in range(kh):
            for j in range(kw):
                dxp[:, i:i + h, j:j + wd, :] += dcols[:, :, :, i, j, :]
        dx = dxp[:, ph:ph + h, pw:pw + wd, :]
        return [y, dx, dw]

    return step


def _direct(x, w):
    """The convolution one output entry at a time (float64), for the floor's own check."""
    n, h, wd, c = x.shape
    kh, kw, _, co = w.shape
    xp = np.pad(x.astype(np.float64), ((0, 0), (kh // 2, kh // 2), (kw // 2, kw // 2), (0, 0)))
    y = np.zeros((n, h, wd, co))
    for b in range(n):
        for i in range(h):
            for j in range(wd):
                y[b, i, j] = np.tensordot(xp[b, i:i + kh, j:j + kw, :], w.astype(np.float64), axes=3)
    return y


class W12(Workload):
    id = "W12"
    rtol = 2e-4
    atol = 2e-5
    ratio_target = 1.5

    def config(self, smoke):
        if smoke:
            return {"n": 2, "hw": 6, "c": 3, "co": 4, "k": 3}
        return {"n": 64, "hw": 28, "c": 32, "co": 64, "k": 3}

    def description(self):
        c = self.cfg
        return (f"conv2d forward + backward: {c['n']}x{c['hw']}x{c['hw']}x{c['c']} float32 -> {c['co']} channels, "
                f"{c['k']}x{c['k']}, stride 1, SAME; output, d(input), d(filters)")

    def data(self):
        c = self.cfg
        return make_data(c["n"], c["hw"], c["c"], c["co"], c["k"])

    def verify_floor(self):
        """Forward against the direct loops; both gradients against central differences of <y, dY>."""
        x, w, g = (a.astype(np.float64) for a in make_data(1, 5, 2, 3, 3, seed=4))
        y, dx, dw = floor_step(x, w, g)()
        assert np.allclose(y, _direct(x, w), rtol=1e-12, atol=1e-12), "W12 floor forward differs from the loops"
        eps = 1e-6
        for arr, grad in ((x, dx), (w, dw)):
            for idx in list(np.ndindex(arr.shape))[::7]:
                old = arr[idx]
                arr[idx] = old + eps
                up = np.sum(_direct(x, w) * g)
                arr[idx] = old - eps
                down = np.sum(_direct(x, w) * g)
                arr[idx] = old
                fd = (up - down) / (2 * eps)
                assert abs(fd - grad[idx]) <= 1e-6 * max(1.0, abs(fd)), f"W12 floor gradient {grad[idx]} != {fd}"

    def make_floor(self, cfg):
        return {"run": floor_step(*self.data())}

    def make_tf_api(self, tf, cfg):
        x_np, w_np, g_np = self.data()
        x, w, g = tf.constant(x_np), tf.Variable(w_np), tf.constant(g_np)
        conv2d, Tape = tf.nn.conv2d, tf.GradientTape

        def step():
            with Tape() as tape:
                tape.watch(x)
                y = conv2d(x, w, 1, "SAME")
            dx, dw = tape.gradient(y, [x, w], output_gradients=g)
            return [y, dx, dw]

        return {"run": step}


WORKLOADS = [W12]
