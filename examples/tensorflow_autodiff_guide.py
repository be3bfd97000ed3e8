"""TensorFlow's autodiff guides ("Introduction to gradients and automatic differentiation" and
"Advanced automatic differentiation"), section by section, and the TensorFlow autograd notebook
of seed 001, on tapegrad: every program is TensorFlow code with ``tg`` in place of ``tf``.

Saves tf_guide_sigmoid.png (sigmoid and its derivative from one gradient call).

    python examples/tensorflow_autodiff_guide.py [--figures DIR]
"""
import numpy as np
from _figures import figure_dir, save_figure, section

import tapegrad as tg


class Dense:
    """A dense layer with its variables (what the guide builds with tf.keras.layers.Dense)."""

    def __init__(self, n_in: int, n_out: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.w = tg.Variable(rng.standard_normal((n_in, n_out)).astype(np.float32), name="w")
        self.b = tg.Variable(tg.zeros(n_out), name="b")
        self.trainable_variables = [self.w, self.b]

    def __call__(self, x):
        return tg.nn.relu(x @ self.w + self.b)


def main() -> None:
    out = figure_dir(description=__doc__)

    section("Gradient tapes: dy/dx of y = x**2 at 3")
    x = tg.Variable(3.0)
    with tg.GradientTape() as tape:
        y = x ** 2
    dy_dx = tape.gradient(y, x)
    print(dy_dx.numpy())
    assert dy_dx.numpy() == 6.0

    section("Several sources at once: a list, or a dict")
    w = tg.Variable(tg.random.normal((3, 2)), name="w")
    b = tg.Variable(tg.zeros(2, dtype=tg.float32), name="b")
    x = [[1.0, 2.0, 3.0]]
    with tg.GradientTape(persistent=True) as tape:
        y = x @ w + b
        loss = tg.reduce_mean(y ** 2)
    dl_dw, dl_db = tape.gradient(loss, [w, b])
    print("dl/dw shape", dl_dw.shape, " dl/db", dl_db.numpy())
    grads = tape.gradient(loss, {"w": w, "b": b})
    assert np.allclose(grads["b"].numpy(), dl_db.numpy())
    assert np.allclose(dl_db.numpy(), y.numpy()[0])        # d mean(y^2)/db = 2y/2

    section("Gradients with respect to a model's variables")
    layer = Dense(3, 2)
    with tg.GradientTape() as tape:
        y = layer(tg.constant([[1.0, 2.0, 3.0]]))
        loss = tg.reduce_sum(y ** 2)
    for var, g in zip(layer.trainable_variables, tape.gradient(loss, layer.trainable_variables)):
        print(f"{var.name}, shape: {g.shape}")

    section("Controlling what the tape watches")
    x0 = tg.Variable(3.0, name="x0")                  # trainable: watched when read
    x1 = tg.Variable(3.0, name="x1", trainable=False)
    x2 = tg.Variable(2.0, name="x2") + 1.0            # a variable plus a tensor is a tensor
    x3 = tg.constant(3.0, name="x3")
    with tg.GradientTape() as tape:
        y = (x0 ** 2) + (x1 ** 2) + (x2 ** 2)
    grads = tape.gradient(y, [x0, x1, x2, x3])
    print([None if g is None else g.numpy() for g in grads])
    print("watched:", [v.name for v in tape.watched_variables()])
    assert grads[0].numpy() == 6.0 and grads[1:] == [None, None, None]
    x = tg.constant(3.0)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = x ** 2
    print("a watched constant: dy/dx =", tape.gradient(y, x).numpy())
    x0, x1 = tg.Variable(0.0), tg.Variable(10.0)
    with tg.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        y0 = tg.math.sin(x0)
        y1 = tg.nn.softplus(x1)
        ys = tg.reduce_sum(y0 + y1)
    grad = tape.gradient(ys, {"x0": x0, "x1": x1})
    print("watch_accessed_variables=False: dy/dx0:", grad["x0"], " dy/dx1:", grad["x1"].numpy())

    section("Intermediate results (seed 001's notebook): z = 3 (x + 2)^2")
    x = tg.ones(4)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = x + 2
        y2 = y ** 2
        z = 3 * y2
    print("dz/dx =", t.gradient(z, x).numpy(), " dz/dy =", t.gradient(z, y).numpy(),
          " dy/dx =", t.gradient(y, x).numpy())
    assert np.array_equal(t.gradient(z, x).numpy(), [18.0] * 4)
    print("the tape, as a Wengert list:")
    print(t.describe())
    del t                                             # a persistent tape frees its memory when dropped
    with tg.GradientTape() as t:
        t.watch(x)
        y = x + 2
    t.gradient(y, x)
    try:
        t.gradient(y, x)
    except RuntimeError as e:
        print("a used non-persistent tape:", e)

    section("Gradients of non-scalar targets: the targets are summed")
    x = tg.Variable(2.0)
    with tg.GradientTape(persistent=True) as tape:
        y0 = x ** 2
        y1 = 1 / x
    print("dy0/dx", tape.gradient(y0, x).numpy(), " dy1/dx", tape.gradient(y1, x).numpy(),
          " d(y0 + y1)/dx", tape.gradient({"y0": y0, "y1": y1}, x).numpy())
    x = tg.linspace(-10.0, 10.0, 200 + 1)
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.nn.sigmoid(x)
    dy_dx = tape.gradient(y, x)               # elementwise: the gradient of the sum is the derivative
    assert np.allclose(dy_dx.numpy(), y.numpy() * (1 - y.numpy()), atol=1e-7)

    def draw(plt):
        plt.plot(x.numpy(), y.numpy(), label="y = sigmoid(x)")
        plt.plot(x.numpy(), dy_dx.numpy(), label="dy/dx")
        plt.legend()
        plt.xlabel("x")
        plt.title("A gradient of an elementwise function is its derivative")

    save_figure(out, "tf_guide_sigmoid.png", draw)

    section("Control flow: only the branch taken is recorded")
    x = tg.constant(1.0)
    v0, v1 = tg.Variable(2.0), tg.Variable(2.0)
    with tg.GradientTape(persistent=True) as tape:
        tape.watch(x)
        if x > 0.0:
            result = v0
        else:
            result = v1 ** 2
    dv0, dv1 = tape.gradient(result, [v0, v1])
    print("dv0:", dv0.numpy(), " dv1:", dv1, " dx:", tape.gradient(result, x))
    print("   why dv1 is None:", tape.explain(result, v1).reason)

    section("Cases where gradient() returns None, and explain() says why")
    x = tg.Variable(2.0)
    for _epoch in range(2):
        with tg.GradientTape(persistent=True) as tape:
            y = x + 1
        print(type(x).__name__, tape.gradient(y, x))
        x = x + 1                              # the variable is replaced by a tensor
    print("   ", tape.explain(y, x))
    x = tg.Variable([[1.0, 2.0], [3.0, 4.0]], dtype=tg.float32)
    with tg.GradientTape(persistent=True) as tape:
        x2 = x ** 2
        y = np.mean(x2.numpy(), axis=0)        # leaves tapegrad (np.mean(x2) itself is recorded)
        y = tg.reduce_mean(y, axis=0)
    print(tape.gradient(y, x), "   ", tape.explain(y, x).reason)
    x = tg.constant(10)
    with tg.GradientTape(persistent=True) as g:
        g.watch(x)
        y = x * x
    print(g.gradient(y, x), "   ", g.explain(y, x))
    x0 = tg.Variable(3.0)
    x1 = tg.Variable(0.0)
    with tg.GradientTape(persistent=True) as tape:
        x1.assign_add(x0)                      # state stops gradients
        y = x1 ** 2
    print(tape.gradient(y, x0), "   ", tape.explain(y, x0).reason)

    section("Zeros instead of None")
    x = tg.Variable([2.0, 2.0])
    y = tg.Variable(3.0)
    with tg.GradientTape() as tape:
        z = y ** 2
    print(tape.gradient(z, x, unconnected_gradients=tg.UnconnectedGradients.ZERO).numpy())

    section("Advanced: stop_recording, reset, stop_gradient")
    x, y = tg.Variable(2.0), tg.Variable(3.0)
    with tg.GradientTape() as t:
        x_sq = x * x
        with t.stop_recording():
            y_sq = y * y
        z = x_sq + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    print("stop_recording: dz/dx:", grad["x"].numpy(), " dz/dy:", grad["y"])
    with tg.GradientTape() as t:
        y_sq = y * y
        t.reset()
        z = x * x + y_sq
    grad = t.gradient(z, {"x": x, "y": y})
    print("reset: dz/dx:", grad["x"].numpy(), " dz/dy:", grad["y"])
    with tg.GradientTape() as t:
        y_sq = y ** 2
        z = x ** 2 + tg.stop_gradient(y_sq)
    grad = t.gradient(z, {"x": x, "y": y})
    print("stop_gradient: dz/dx:", grad["x"].numpy(), " dz/dy:", grad["y"])

    section("Advanced: a custom gradient that clips the gradient's norm")

    @tg.custom_gradient
    def clip_gradients(y):
        def backward(dy):
            return tg.clip_by_norm(dy, 0.5)
        return y, backward

    v = tg.Variable(2.0)
    with tg.GradientTape() as t:
        output = clip_gradients(v * v)
    clipped = t.gradient(output, v)
    print("clipped d(v*v)/dv at 2 (4 unclipped):", clipped.numpy())
    assert clipped.numpy() == 2.0              # 1 (the upstream, clipped to 0.5) * 2v

    section("Advanced: higher-order gradients with nested tapes")
    x = tg.Variable(1.0)
    with tg.GradientTape() as t2:
        with tg.GradientTape() as t1:
            y = x * x * x
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t2.gradient(dy_dx, x)
    print("dy/dx:", dy_dx.numpy(), " d2y/dx2:", d2y_dx2.numpy())
    assert (dy_dx.numpy(), d2y_dx2.numpy()) == (3.0, 6.0)
    x = tg.ones(4)                             # seed 001: the same with two tapes on a watched tensor
    with tg.GradientTape() as t0:
        t0.watch(x)
        with tg.GradientTape() as t1:
            t1.watch(x)
            y = x * x * x
        dy_dx = t1.gradient(y, x)
    print("seed 001: d2y/dx2 =", t0.gradient(dy_dx, x).numpy())

    @tg.function                               # a pass-through in tapegrad, which always runs eagerly
    def square(v):
        return v * v

    x = tg.Variable(1.0)
    with tg.GradientTape() as t:
        y = square(x)
    print("seed 001's @tf.function square: d/dx =", t.gradient(y, x).numpy())

    section("Advanced: Jacobians")
    x = tg.linspace(-10.0, 10.0, 200 + 1)
    delta = tg.Variable(0.0)
    with tg.GradientTape() as tape:
        y = tg.nn.sigmoid(x + delta)
    dy_dx = tape.jacobian(y, delta)
    print("scalar source: Jacobian shape", dy_dx.shape)
    x = tg.random.normal([7, 5])
    layer = Dense(5, 10, seed=1)
    with tg.GradientTape(persistent=True) as tape:
        y = layer(x)
    j = tape.jacobian(y, layer.w)
    print("tensor source: y", y.shape, "w", layer.w.shape, "-> Jacobian", j.shape)
    g = tape.gradient(y, layer.w)
    assert np.allclose(tg.reduce_sum(j, axis=[0, 1]).numpy(), g.numpy(), atol=1e-5)
    print("   summing the Jacobian over the target's axes gives the gradient")
    jb = tape.batch_jacobian(y, x)
    print("batch Jacobian: per-example d y_i / d x_i, shape", jb.shape)
    del tape

    section("Advanced: a Hessian, and Newton's method (one solve per step)")
    a = tg.constant([[3.0, 1.0], [1.0, 2.0]], dtype=tg.float64)
    b = tg.constant([1.0, -1.0], dtype=tg.float64)

    def f(w):
        # A quadratic bowl plus a gentle quartic term, so the Hessian depends on w.
        return 0.5 * tg.tensordot(w, tg.linalg.matvec(a, w), axes=1) - tg.tensordot(b, w, axes=1) \
            + 0.01 * tg.reduce_sum(w ** 4)

    w = tg.Variable(tg.constant([2.0, 2.0], dtype=tg.float64))
    for step in range(4):
        with tg.GradientTape() as t2:
            with tg.GradientTape() as t1:
                loss = f(w)
            g = t1.gradient(loss, w)
        h = t2.jacobian(g, w)                  # the Hessian: the Jacobian of the gradient
        w.assign_sub(tg.linalg.solve(h, g[:, tg.newaxis])[:, 0])
        print(f"Newton step {step}: loss {loss.numpy():.10f}, |gradient| {tg.norm(g).numpy():.2e}")
    with tg.GradientTape() as t:
        final = f(w)
    assert float(tg.norm(t.gradient(final, w))) < 1e-10


if __name__ == "__main__":
    main()
