"""Programs in the style of TensorFlow's "Core APIs" guides, written for tapegrad as a
TensorFlow user writes them (tf.Module subclasses, GradientTape, optimizer.apply_gradients),
each checked against the same training steps computed by hand in NumPy (forward, the
derivatives written out, and the optimizer's published update)."""
import numpy as np
import pytest

import tapegrad as tf

RNG = np.random.default_rng(2024)


def f32(a):
    return float(np.float32(a))


# ---- 1. a tf.Module MLP trained with Adam -------------------------------------------------------

class Dense(tf.Module):
    """The guide's DenseLayer: variables made on the first call, inside the module's name scope."""

    def __init__(self, out_dim, init, activation=tf.identity, name=None):
        super().__init__(name=name)
        self.out_dim, self.init, self.activation = out_dim, init, activation
        self.built = False

    @tf.Module.with_name_scope
    def __call__(self, x):
        if not self.built:
            w0, b0 = self.init
            self.w = tf.Variable(w0, name="w")
            self.b = tf.Variable(b0, name="b")
            self.built = True
        return self.activation(tf.add(tf.matmul(x, self.w), self.b))


class MLP(tf.Module):
    def __init__(self, layers, name=None):
        super().__init__(name=name)
        self.layers = layers

    @tf.Module.with_name_scope
    def __call__(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


def adam_ref(state, g, x, lr, t, b1=0.9, b2=0.999, eps=1e-7):
    m = state.get("m", 0 * x) + (g - state.get("m", 0 * x)) * (1 - b1)
    v = state.get("v", 0 * x) + (g * g - state.get("v", 0 * x)) * (1 - b2)
    state["m"], state["v"] = m, v
    alpha = lr * np.sqrt(1 - f32(b2) ** t) / (1 - f32(b1) ** t)
    return x - m * alpha / (np.sqrt(v) + eps)


def test_module_mlp_with_adam_matches_numpy():
    x = RNG.standard_normal((16, 5))
    y = RNG.integers(0, 3, 16)
    inits = [(RNG.standard_normal((5, 8)) * 0.5, np.zeros(8)), (RNG.standard_normal((8, 3)) * 0.5, np.zeros(3))]
    model = MLP([Dense(8, inits[0], tf.nn.relu), Dense(3, inits[1])], name="mlp")
    opt = tf.optimizers.Adam(learning_rate=0.05)
    losses = []
    for _ in range(6):
        with tf.GradientTape() as tape:
            logits = model(tf.constant(x))
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(f"{loss:0.6f}")                      # the guides print f"{loss:0.3f}"
    # the layers were built outside the MLP's scope: their own scopes were fixed then
    assert [v.name for v in model.trainable_variables] == ["dense/b:0", "dense/w:0", "dense/b:0", "dense/w:0"]
    assert [m.name for m in model.submodules] == ["dense", "dense"]

    # the same six steps by hand
    W1, b1 = inits[0][0].copy(), inits[0][1].copy()
    W2, b2 = inits[1][0].copy(), inits[1][1].copy()
    states = [{} for _ in range(4)]
    ref_losses = []
    onehot = np.eye(3)[y]
    for t in range(1, 7):
        z1 = x @ W1 + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2 + b2
        p = np.exp(z2 - z2.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        ref_losses.append(f"{np.mean(-np.log(p[np.arange(16), y])):0.6f}")
        dz2 = (p - onehot) / 16
        dW2, db2 = a1.T @ dz2, dz2.sum(0)
        dz1 = (dz2 @ W2.T) * (z1 > 0)
        dW1, db1 = x.T @ dz1, dz1.sum(0)
        lr = f32(0.05)
        b1, W1, b2, W2 = (adam_ref(s, g, v, lr, t) for s, g, v in
                          zip(states, (db1, dW1, db2, dW2), (b1, W1, b2, W2)))
    assert losses == ref_losses
    got = [v.numpy() for v in model.trainable_variables]
    for a, b in zip(got, [b1, W1, b2, W2]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---- 2. logistic regression -------------------------------------------------------------------------

class LogisticRegression(tf.Module):
    def __init__(self, d):
        super().__init__()
        self.w = tf.Variable(np.zeros((d, 1)), name="w")
        self.b = tf.Variable(np.zeros(1), name="b")

    def __call__(self, x, train=True):
        z = tf.add(tf.matmul(x, self.w), self.b)
        return z if train else tf.sigmoid(z)


def test_logistic_regression_matches_numpy():
    x = RNG.standard_normal((40, 3))
    y = (x @ np.array([1.5, -2.0, 0.5]) + 0.3 > 0).astype(np.float64)[:, None]
    model = LogisticRegression(3)
    opt = tf.optimizers.SGD(learning_rate=0.5)
    for _ in range(20):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=y, logits=model(x)))
        grads = tape.gradient(loss, model.variables)
        opt.apply_gradients(zip(grads, model.variables))
    w, b = np.zeros((3, 1)), np.zeros(1)
    lr = f32(0.5)
    for _ in range(20):
        z = x @ w + b
        dz = (1 / (1 + np.exp(-z)) - y) / 40                 # d mean(xent) / d logits
        w, b = w - lr * (x.T @ dz), b - lr * dz.sum(0)
    np.testing.assert_allclose(model.w.numpy(), w, rtol=1e-12)
    np.testing.assert_allclose(model.b.numpy(), b, rtol=1e-12)
    accuracy = tf.reduce_mean(tf.cast(tf.equal(model(x, train=False) > 0.5, y > 0.5), tf.float64))
    assert float(accuracy) > 0.9


# ---- 3. a small CNN on synthetic images -----------------------------------------------------------

def images(n):
    """Bars: label 0 a horizontal bar, label 1 a vertical one, at random places, plus noise."""
    x = 0.1 * RNG.standard_normal((n, 6, 6, 1))
    labels = RNG.integers(0, 2, n)
    for i, lab in enumerate(labels):
        k = RNG.integers(1, 5)
        if lab == 0:
            x[i, k, :, 0] += 1.0
        else:
            x[i, :, k, 0] += 1.0
    return x, labels


class CNN(tf.Module):
    def __init__(self, k0, w0):
        super().__init__(name="cnn")
        self.kernel = tf.Variable(k0, name="kernel")
        self.dense = tf.Variable(w0, name="dense")

    def __call__(self, x):
        h = tf.nn.relu(tf.nn.conv2d(x, self.kernel, strides=1, padding="SAME"))
        h = tf.nn.max_pool2d(h, ksize=2, strides=2, padding="VALID")
        return tf.matmul(tf.reshape(h, [tf.shape(h)[0], -1]), self.dense)


def np_cnn_step(x, labels, k, w):
    """Loss and gradients written out: conv (SAME, 3x3) -> relu -> 2x2 max pool -> dense -> xent."""
    n = x.shape[0]
    xp = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
    conv = np.zeros((n, 6, 6, 2))
    for i in range(6):
        for j in range(6):
            conv[:, i, j] = np.tensordot(xp[:, i:i + 3, j:j + 3, :], k, axes=3)
    act = np.maximum(conv, 0)
    pooled = np.zeros((n, 3, 3, 2))
    arg = np.zeros((n, 3, 3, 2), dtype=int)
    for i in range(3):
        for j in range(3):
            win = act[:, 2 * i:2 * i + 2, 2 * j:2 * j + 2].reshape(n, 4, 2)
            arg[:, i, j] = win.argmax(1)                      # the first maximum, row-major
            pooled[:, i, j] = win.max(1)
    logits = pooled.reshape(n, -1) @ w
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = np.mean(-np.log(p[np.arange(n), labels]))
    dlogits = (p - np.eye(2)[labels]) / n
    dw = pooled.reshape(n, -1).T @ dlogits
    dpooled = (dlogits @ w.T).reshape(n, 3, 3, 2)
    dact = np.zeros_like(act)
    for i in range(3):
        for j in range(3):
            for b in range(n):
                for c in range(2):
                    r, s = divmod(arg[b, i, j, c], 2)
                    dact[b, 2 * i + r, 2 * j + s, c] += dpooled[b, i, j, c]
    dconv = dact * (conv > 0)
    dk = np.zeros_like(k)
    for i in range(6):
        for j in range(6):
            dk += np.tensordot(xp[:, i:i + 3, j:j + 3, :], dconv[:, i, j], axes=([0], [0]))
    return loss, dk, dw


def test_small_cnn_with_momentum_matches_numpy():
    x, labels = images(12)
    k0 = RNG.standard_normal((3, 3, 1, 2)) * 0.5
    w0 = RNG.standard_normal((18, 2)) * 0.5
    model = CNN(k0, w0)
    opt = tf.optimizers.SGD(learning_rate=0.2, momentum=0.9)
    losses = []
    for _ in range(4):
        with tf.GradientTape() as tape:
            logits = model(tf.constant(x))
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    assert [v.name for v in model.trainable_variables] == ["dense:0", "kernel:0"]
    k, w = k0.copy(), w0.copy()
    mk, mw = 0 * k, 0 * w
    lr, mu = f32(0.2), f32(0.9)
    ref = []
    for _ in range(4):
        loss, dk, dw = np_cnn_step(x, labels, k, w)
        ref.append(loss)
        mk, mw = mu * mk - lr * dk, mu * mw - lr * dw
        k, w = k + mk, w + mw
    np.testing.assert_allclose(losses, ref, rtol=1e-12)
    np.testing.assert_allclose(model.kernel.numpy(), k, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.dense.numpy(), w, rtol=1e-10, atol=1e-12)
    assert losses[-1] < losses[0]


# ---- 4. an embedding model with sparse updates ------------------------------------------------------

class BagOfEmbeddings(tf.Module):
    def __init__(self, table, w):
        super().__init__()
        self.embedding = tf.Variable(table, name="embedding")
        self.out = tf.Variable(w, name="out")

    def __call__(self, ids):
        e = tf.nn.embedding_lookup(self.embedding, ids)            # [batch, length, dim]
        return tf.matmul(tf.reduce_mean(e, axis=1), self.out)[:, 0]


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_embedding_model_with_sparse_updates_matches_numpy(name):
    vocab, dim, length = 30, 4, 5
    ids = RNG.integers(0, 12, (8, length))                        # rows 12..29 are never looked up
    ids[0, :2] = 3                                                # a repeated id inside one example
    labels = RNG.integers(0, 2, 8).astype(np.float64)
    table0 = RNG.standard_normal((vocab, dim)) * 0.3
    w0 = RNG.standard_normal((dim, 1))
    model = BagOfEmbeddings(table0, w0)
    opt = tf.optimizers.SGD(0.5) if name == "SGD" else tf.optimizers.Adam(0.05)
    for _ in range(3):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=model(ids)))
        g_table, g_out = tape.gradient(loss, [model.embedding, model.out])
        assert isinstance(g_table, tf.IndexedSlices) and g_table.values.shape == (8 * length, dim)
        opt.apply_gradients([(g_table, model.embedding), (g_out, model.out)])

    table, w = table0.copy(), w0.copy()
    st_t, st_w = {}, {}
    for t in range(1, 4):
        e = table[ids]
        pooled = e.mean(1)
        z = pooled @ w[:, 0]
        dz = (1 / (1 + np.exp(-z)) - labels) / 8
        dw = pooled.T @ dz[:, None]
        rows = np.repeat((dz[:, None] * w[:, 0][None, :] / length)[:, None, :], length, axis=1).reshape(-1, dim)
        if name == "SGD":
            np.subtract.at(table, ids.reshape(-1), f32(0.5) * rows)        # only the looked-up rows
            w = w - f32(0.5) * dw
        else:
            dense = np.zeros_like(table)
            squares = np.zeros_like(table)
            np.add.at(dense, ids.reshape(-1), rows)
            np.add.at(squares, ids.reshape(-1), rows * rows)              # Keras: sum of squares per row
            m = st_t.get("m", 0 * table) + (dense - st_t.get("m", 0 * table)) * 0.1
            v = st_t.get("v", 0 * table) + (squares - st_t.get("v", 0 * table)) * (1 - 0.999)
            st_t.update(m=m, v=v)
            alpha = f32(0.05) * np.sqrt(1 - f32(0.999) ** t) / (1 - f32(0.9) ** t)
            table = table - m * alpha / (np.sqrt(v) + 1e-7)
            w = adam_ref(st_w, dw, w, f32(0.05), t)
    np.testing.assert_allclose(model.embedding.numpy(), table, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(model.out.numpy(), w, rtol=1e-10, atol=1e-12)
    assert np.array_equal(model.embedding.numpy()[12:], table0[12:])        # never looked up: unchanged
