"""d2l.ai's "Automatic Differentiation" chapter and its exercises (seed 000), on tapegrad.

Each section runs the chapter's TensorFlow code with ``tg`` in place of ``tf`` and checks the
result it prints. The last exercise plots sin(x) beside the derivative the tape computes
(without using cos) and saves it as d2l_sin_and_derivative.png.

    python examples/d2l_autograd.py [--figures DIR]
"""
import numpy as np
from _figures import figure_dir, save_figure, section

import tapegrad as tg


def f(a):
    """The chapter's control-flow function: the number of doublings depends on a."""
    b = a * 2
    while tg.norm(b) < 1000:
        b = b * 2
    if tg.reduce_sum(b) > 0:
        c = b
    else:
        c = 100 * b
    return c


def main() -> None:
    out = figure_dir(description=__doc__)
    rng = np.random.default_rng(0)

    section("A simple function: y = 2 x.x, so dy/dx = 4x")
    x = tg.Variable(tg.range(4, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = 2 * tg.tensordot(x, x, axes=1)
    x_grad = t.gradient(y, x)
    print("y =", y.numpy(), " dy/dx =", x_grad.numpy())
    assert np.array_equal(x_grad.numpy(), 4 * x.numpy())

    section("Another function of x: y = sum(x)")
    with tg.GradientTape() as t:
        y = tg.reduce_sum(x)
    print("dy/dx =", t.gradient(y, x).numpy())

    section("Backward for non-scalar variables: the target is summed first")
    with tg.GradientTape() as t:
        y = x * x
    g = t.gradient(y, x)
    print("d(sum of x*x)/dx =", g.numpy())
    assert np.array_equal(g.numpy(), 2 * x.numpy())

    section("Detaching computation: u = stop_gradient(y) is a constant")
    with tg.GradientTape(persistent=True) as t:
        y = x * x
        u = tg.stop_gradient(y)
        z = u * x
    print("dz/dx == u:", t.gradient(z, x).numpy() == u.numpy())
    print("dy/dx == 2x:", t.gradient(y, x).numpy() == 2 * x.numpy())
    print("why is d u/dx None?", t.explain(u, x).reason)

    section("Gradients of Python control flow: f(a) = k * a, so df/da = f(a) / a")
    a = tg.Variable(tg.constant(rng.standard_normal(), dtype=tg.float32))
    with tg.GradientTape() as t:
        d = f(a)
    d_grad = t.gradient(d, a)
    print("a =", a.numpy(), " df/da =", d_grad.numpy(), " f(a)/a =", (d / a).numpy())
    assert np.isclose(d_grad.numpy(), (d / a).numpy(), rtol=1e-6)

    section("Exercise 1: a second derivative needs the first one recorded")
    v = tg.Variable(1.5)
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            y = tg.sin(v) * v
        print("the inner tape recorded the forward pass:")
        print(inner.describe())
        dy = inner.gradient(y, v)
    print("the outer tape recorded the forward pass and the first derivative's own ops:")
    print(outer.describe())
    d2y = outer.gradient(dy, v)
    expected = 2 * np.cos(1.5) - 1.5 * np.sin(1.5)
    print("d2y/dv2 =", d2y.numpy(), " by hand: 2cos(v) - v sin(v) =", expected)
    assert np.isclose(d2y.numpy(), expected, rtol=1e-5)

    section("Exercise 2: running the backward pass twice")
    with tg.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    try:
        t.gradient(y, x)
    except RuntimeError as e:
        print("RuntimeError:", e)
    with tg.GradientTape(persistent=True) as t:
        y = x * x
    print("a persistent tape answers twice:", t.gradient(y, x).numpy(), t.gradient(y, x).numpy())

    section("Exercise 3: a in f(a) is a vector or a matrix")
    for shape in [(1, 2), (5, 3, 2)]:
        a = tg.Variable(tg.constant(rng.standard_normal(shape), dtype=tg.float32))
        with tg.GradientTape() as t:
            d = f(a)
        g = t.gradient(d, a)
        # The gradient of sum(f(a)) has a's shape; every element gets the same factor because
        # the number of doublings depends on the norm of the whole tensor.
        print(f"shape {shape}: gradient shape {tuple(g.shape)}, factors {np.unique(g.numpy())}")
        assert g.shape == a.shape and len(np.unique(g.numpy())) == 1
    print("its second derivative is None: f is linear in a")
    a = tg.Variable(-1.1861123)
    with tg.GradientTape() as t2:
        with tg.GradientTape() as t1:
            d1 = f(a)
        diff_1 = t1.gradient(d1, a)
    print("   ", t2.explain(diff_1, a))
    diff_2 = t2.gradient(diff_1, a)
    print("    diff_1 =", diff_1.numpy(), " diff_2 =", diff_2)
    assert diff_2 is None

    section("Exercise 4: a control-flow example of our own")

    def branch(x):
        if tg.reduce_sum(x) > 0.5:
            return tg.sin(x)
        return 2 * tg.cos(x)

    x20 = tg.Variable(tg.constant(rng.standard_normal((20, 1)), dtype=tg.float32))
    with tg.GradientTape() as t:
        y = branch(x20)
    dy_dx = t.gradient(y, x20)
    expected = np.cos(x20.numpy()) if np.sum(x20.numpy()) > 0.5 else -2 * np.sin(x20.numpy())
    print("the branch taken is the branch differentiated:", np.allclose(dy_dx.numpy(), expected, atol=1e-6))
    assert np.allclose(dy_dx.numpy(), expected, atol=1e-6)

    section("Exercise 5: plot sin(x) and its derivative, without using cos")
    xs = tg.Variable(tg.range(-10, 10, 0.1))
    with tg.GradientTape() as t:
        y = tg.sin(xs)
    dy_dx = t.gradient(y, xs)
    print("max |dy/dx - cos(x)| =", float(np.max(np.abs(dy_dx.numpy() - np.cos(xs.numpy())))))
    assert np.allclose(dy_dx.numpy(), np.cos(xs.numpy()), atol=1e-6)

    def draw(plt):
        plt.plot(xs.numpy(), y.numpy(), color="tab:red", label="f(x) = sin(x)")
        plt.plot(xs.numpy(), dy_dx.numpy(), color="tab:green", label="df/dx from the tape")
        plt.xlabel("x")
        plt.legend(loc="lower right")
        plt.title("sin(x) and its derivative, computed by tapegrad")

    save_figure(out, "d2l_sin_and_derivative.png", draw)


if __name__ == "__main__":
    main()
