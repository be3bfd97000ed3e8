"""W4 MLP training step: batch 64, 784-256-256-10, tanh then relu, log-softmax cross-entropy
(mean over the batch), gradients of all six parameters; float32 and float64.

One "step" = forward + backward (no parameter update).  Target: tapegrad <= 1.1x the floor.

Each library is written the way its users write it: tapegrad/TensorFlow (one adapter, same API)
``sparse_softmax_cross_entropy_with_logits``, PyTorch ``F.cross_entropy``, JAX/autograd a
log-softmax then picking the label's entry.  The floor computes ``log_softmax`` as one op and
then the negative log-likelihood, and runs each op's derivative in reverse.
"""
import numpy as np

from .. import peers
from ..common import Workload


def make_data(batch, sizes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch, sizes[0])).astype(dtype)
    labels = rng.integers(0, sizes[-1], size=batch)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)).astype(dtype))
        params.append((0.1 * rng.standard_normal(fan_out)).astype(dtype))
    return x, labels, params


def floor_loss(x, labels, params):
    """Forward only (used by the finite-difference check of the floor)."""
    W1, b1, W2, b2, W3, b3 = params
    a1 = np.tanh(x @ W1 + b1)
    a2 = np.maximum(a1 @ W2 + b2, 0)
    logits = a2 @ W3 + b3
    m = logits.max(axis=1, keepdims=True)
    logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
    return -np.mean(logp[np.arange(len(labels)), labels])


def floor_step(x, labels, params):
    """The hand-written floor: forward op by op, then each op's derivative in reverse."""
    B = x.shape[0]
    rows = np.arange(B)
    W1, b1, W2, b2, W3, b3 = params
    dt = x.dtype

    def step():
        # forward, op by op
        z1 = x @ W1
        h1 = z1 + b1
        a1 = np.tanh(h1)
        z2 = a1 @ W2
        h2 = z2 + b2
        a2 = np.maximum(h2, 0)
        z3 = a2 @ W3
        logits = z3 + b3
        m = logits.max(axis=1, keepdims=True)  # log_softmax (one op)
        logp = logits - m - np.log(np.sum(np.exp(logits - m), axis=1, keepdims=True))
        nll = -logp[rows, labels]  # pick + negate
        loss = np.mean(nll)  # noqa: F841 - computed, as every library computes it
        # reverse, op by op
        dnll = np.full(B, 1.0 / B, dtype=dt)  # mean
        dlogp = np.zeros_like(logp)  # pick + negate
        dlogp[rows, labels] = -dnll
        dlogits = dlogp - np.exp(logp) * np.sum(dlogp, axis=1, keepdims=True)  # log_softmax
        db3 = np.sum(dlogits, axis=0)  # bias add
        dW3 = a2.T @ dlogits  # matmul
        da2 = dlogits @ W3.T
        dh2 = da2 * (h2 > 0)  # relu
        db2 = np.sum(dh2, axis=0)
        dW2 = a1.T @ dh2
        da1 = dh2 @ W2.T
        dh1 = da1 * (1 - a1 * a1)  # tanh
        db1 = np.sum(dh1, axis=0)
        dW1 = x.T @ dh1  # (no gradient for x: it is not a source)
        return [dW1, db1, dW2, db2, dW3, db3]

    return step


class _MLP(Workload):
    dtype = np.float64
    ratio_target = 1.1
    torch_style_target = 1.3  # issue 14: the PyTorch-style code through tapegrad.torch

    def config(self, smoke):
        if smoke:
            return {"batch": 8, "sizes": (32, 16, 16, 10)}
        return {"batch": 64, "sizes": (784, 256, 256, 10)}

    def description(self):
        b, s = self.cfg["batch"], self.cfg["sizes"]
        return (f"MLP step {np.dtype(self.dtype).name}: batch {b}, {'-'.join(map(str, s))}, "
                "tanh, relu, log-softmax cross-entropy, 6 gradients")

    def data(self):
        return make_data(self.cfg["batch"], self.cfg["sizes"], self.dtype)

    # ------------------------------------------------------------ floor
    def make_floor(self, cfg):
        return {"run": floor_step(*self.data())}

    def verify_floor(self):
        """Central differences in float64 on a few entries of every parameter."""
        x, labels, params = make_data(4, (6, 5, 4, 3), np.float64, seed=1)
        grads = floor_step(x, labels, params)()
        eps = 1e-6
        for p, g in zip(params, grads):
            for idx in list(np.ndindex(p.shape))[:5]:
                old = p[idx]
                p[idx] = old + eps
                up = floor_loss(x, labels, params)
                p[idx] = old - eps
                down = floor_loss(x, labels, params)
                p[idx] = old
                fd = (up - down) / (2 * eps)
                assert abs(fd - g[idx]) <= 1e-6 * max(1.0, abs(fd)), (
                    f"{self.id} floor gradient {g[idx]} != finite difference {fd} at {idx}")

    # ------------------------------------------------------------ tapegrad and TensorFlow
    def make_tf_api(self, tf, cfg):
        x_np, labels_np, params_np = self.data()
        x = tf.constant(x_np)
        labels = tf.constant(labels_np.astype(np.int32))
        params = [tf.Variable(p) for p in params_np]
        W1, b1, W2, b2, W3, b3 = params
        tanh, relu, mean, Tape = tf.tanh, tf.nn.relu, tf.reduce_mean, tf.GradientTape
        xent = tf.nn.sparse_softmax_cross_entropy_with_logits

        def step():
            with Tape() as tape:
                a1 = tanh(x @ W1 + b1)
                a2 = relu(a1 @ W2 + b2)
                logits = a2 @ W3 + b3
                loss = mean(xent(labels=labels, logits=logits))
            return tape.gradient(loss, params)

        return {"run": step}

    # ------------------------------------------------------------ PyTorch
    def make_tapegrad_torch(self, cfg):
        """The PyTorch code below, run by tapegrad.torch."""
        return self.make_torch(cfg, "tapegrad_torch")

    def make_torch(self, cfg, module="torch"):
        th = peers.get(module)
        F = th.nn.functional
        x_np, labels_np, params_np = self.data()
        x = th.from_numpy(x_np)
        labels = th.from_numpy(labels_np.astype(np.int64))
        params = [th.from_numpy(p.copy()).requires_grad_(True) for p in params_np]
        W1, b1, W2, b2, W3, b3 = params
        grad = th.autograd.grad

        def step():
            a1 = th.tanh(x @ W1 + b1)
            a2 = th.relu(a1 @ W2 + b2)
            logits = a2 @ W3 + b3
            loss = F.cross_entropy(logits, labels)
            return grad(loss, params)

        return {"run": step}

    # ------------------------------------------------------------ JAX
    def _jax_grad(self):
        jax = peers.get("jax")
        jnp = jax.numpy
        x_np, labels_np, params_np = self.data()
        x = jnp.asarray(x_np)
        labels = jnp.asarray(labels_np.astype(np.int32))
        params = [jnp.asarray(p) for p in params_np]

        def loss(params):
            W1, b1, W2, b2, W3, b3 = params
            a1 = jnp.tanh(x @ W1 + b1)
            a2 = jax.nn.relu(a1 @ W2 + b2)
            logits = a2 @ W3 + b3
            logp = jax.nn.log_softmax(logits, axis=1)
            return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))

        return jax, jax.grad(loss), params

    def make_jax(self, cfg):
        jax, g, params = self._jax_grad()
        return {"run": lambda: jax.block_until_ready(g(params))}

    def make_jax_jit(self, cfg):
        jax, g, params = self._jax_grad()
        gj = jax.jit(g)
        return {"run": lambda: jax.block_until_ready(gj(params))}

    # ------------------------------------------------------------ autograd
    def make_autograd(self, cfg):
        ag = peers.get("autograd")
        anp = ag.numpy
        logsumexp = ag.scipy.special.logsumexp
        x, labels, params = self.data()
        rows = np.arange(x.shape[0])

        def loss(params):
            W1, b1, W2, b2, W3, b3 = params
            a1 = anp.tanh(anp.dot(x, W1) + b1)
            a2 = anp.maximum(anp.dot(a1, W2) + b2, 0)
            logits = anp.dot(a2, W3) + b3
            logp = logits - logsumexp(logits, axis=1, keepdims=True)
            return -anp.mean(logp[rows, labels])

        g = ag.grad(loss)
        return {"run": lambda: g(params)}


class W4f32(_MLP):
    id = "W4-f32"
    dtype = np.float32
    rtol = 2e-3
    atol = 2e-4


class W4f64(_MLP):
    id = "W4-f64"
    dtype = np.float64
    rtol = 1e-7
    atol = 1e-9


WORKLOADS = [W4f32, W4f64]
