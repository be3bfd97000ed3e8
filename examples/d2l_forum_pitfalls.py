"""The questions of d2l's forum thread on the autograd chapter (seed 003), answered on tapegrad.

The thread's pitfalls: NumPy functions on a variable, plotting a gradient, assigning elements
of a variable in a loop (gradient None), and why the gradient of a vector function has the
input's shape. Saves d2l_forum_sin_grad.png (the plot the thread was after).

    python examples/d2l_forum_pitfalls.py [--figures DIR]
"""
import math

import numpy as np
from _figures import figure_dir, save_figure, section

import tapegrad as tg


def main() -> None:
    out = figure_dir(description=__doc__)

    section("np.sin(x) on a tapegrad variable is recorded")
    # In TensorFlow np.sin(variable) returns an ndarray and the gradient is lost. tapegrad
    # records NumPy functions applied to its tensors, so the thread's first attempt works.
    x = tg.Variable(tg.range(-10, 10, 1, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = np.sin(x)
    x_grad = t.gradient(y, x)
    print(type(y).__name__, "- gradient equals cos(x):", np.allclose(x_grad.numpy(), np.cos(x.numpy())))
    assert np.allclose(x_grad.numpy(), np.cos(x.numpy()), atol=1e-6)

    section("A value that really leaves tapegrad has no gradient")
    with tg.GradientTape(persistent=True) as t:
        y_np = np.sin(x.numpy())              # .numpy() is a plain array: nothing is recorded
    try:
        t.gradient(y_np, x)
    except AttributeError as e:
        print("AttributeError:", e)
    print(t.explain(y_np, x))

    section("Plot x_grad directly (matplotlib takes tensors through np.asarray)")
    x = tg.Variable(tg.range(-10, 10, 0.1))
    with tg.GradientTape() as t:
        y = tg.math.sin(x)
    x_grad = t.gradient(y, x)

    def draw(plt):
        plt.plot(x, np.sin(x.numpy()), color="r", label="sin(x)")
        plt.plot(x, x_grad, color="g", label="x_grad")
        plt.legend()
        plt.title("d2l forum: the gradient of sin, plotted from the tensor")

    save_figure(out, "d2l_forum_sin_grad.png", draw)

    section("Assigning elements of a variable in a loop gives None")
    x = tg.Variable(tg.range(-2, 2, 1, dtype=tg.float32))
    y = tg.Variable(tg.zeros_like(x))
    with tg.GradientTape(persistent=True) as t:
        for i in range(tg.size(y)):
            y[i].assign(math.sin(x[i]))       # math.sin leaves tapegrad, and assign is not recorded
    print("gradient:", t.gradient(y, x))
    print(t.explain(y, x))
    assert t.gradient(y, x) is None
    with tg.GradientTape() as t:               # the answer: compute y as a tensor
        y = tg.math.sin(x)
    print("computed as a tensor instead:", t.gradient(y, x).numpy())

    section("Why is the gradient of y = 2 x.x equal to 4x?")
    x = tg.Variable(tg.range(4, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = 2 * tg.tensordot(x, x, axes=1)
    print("x.x = sum of x_i^2, so d/dx_i (2 sum x_j^2) = 4 x_i:", t.gradient(y, x).numpy())

    section("The gradient of a vector function has the input's shape")
    # gradient(y, x) differentiates sum(y): each entry is a column sum of the Jacobian.
    x = tg.Variable([1.0, 2.0, 3.0])
    with tg.GradientTape(persistent=True) as t:
        y = x * x * tg.reduce_sum(x)           # every y_i depends on every x_j
    g = t.gradient(y, x)
    j = t.jacobian(y, x)
    print("gradient:", g.numpy(), " Jacobian:\n", j.numpy())
    print("column sums of the Jacobian:", tg.reduce_sum(j, axis=0).numpy())
    assert np.allclose(tg.reduce_sum(j, axis=0).numpy(), g.numpy())

    section("d_grad == d / a, with the chapter's control-flow function")
    a = tg.Variable(0.7092207)
    with tg.GradientTape() as t:
        b = a * 2
        while tg.norm(b) < 1000:
            b = b * 2
        d = b if tg.reduce_sum(b) > 0 else 100 * b
    d_grad = t.gradient(d, a)
    print("d_grad =", d_grad.numpy(), " d / a =", (d / a).numpy(), " equal:", bool(d_grad == d / a))


if __name__ == "__main__":
    main()
