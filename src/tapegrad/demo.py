"""A tour of tapegrad on the examples of the d2l / TensorFlow autodiff
tutorials: ``python -m tapegrad.demo``.

Each step prints what it shows in one sentence, then labelled results.
"""
import numpy as np

import tapegrad as tg


def step(title, explanation):
    print()
    print(title)
    print("  " + explanation)


def show(label, value):
    print(f"    {label:<38} {value}")


def main():
    step("1. A gradient of a scalar function",
         "Operations on a Variable inside `with tg.GradientTape() as t:` are recorded; "
         "t.gradient(y, x) walks them backwards.")
    x = tg.Variable(tg.range(4, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = 2 * tg.tensordot(x, x, axes=1)
    show("x", x.numpy())
    show("y = 2 x.x", y.numpy())
    show("dy/dx (expected 4x)", t.gradient(y, x).numpy())

    step("2. Non-scalar targets are summed",
         "gradient() differentiates the sum of the target's elements, so d(x*x)/dx is 2x.")
    with tg.GradientTape() as t:
        y = x * x
    show("d sum(x*x)/dx (expected 2x)", t.gradient(y, x).numpy())

    step("3. stop_gradient treats a value as a constant",
         "u = stop_gradient(x*x) is not differentiated, so z = u * x has gradient u, not 3x^2.")
    with tg.GradientTape() as t:
        u = tg.stop_gradient(x * x)
        z = u * x
    show("dz/dx (expected u = x*x)", t.gradient(z, x).numpy())

    step("4. Python control flow is recorded as it runs",
         "f(a) doubles a until its norm passes 1000, so f(a) = k * a for some k and df/da = k = f(a) / a.")

    def f(a):
        b = a * 2
        while tg.norm(b) < 1000:
            b = b * 2
        return b if tg.reduce_sum(b) > 0 else 100 * b

    a = tg.Variable(-1.1861123)
    with tg.GradientTape() as t:
        d = f(a)
    show("gradient df/da", t.gradient(d, a).numpy())
    show("ratio f(a) / a (should be equal)", (d / a).numpy())

    step("5. Second derivatives from nested tapes",
         "The outer tape records the inner tape's gradient computation: d2(v^3)/dv2 at v = 1 is 6.")
    v = tg.Variable(1.0)
    with tg.GradientTape() as t2:
        with tg.GradientTape() as t1:
            y = v * v * v
        dy = t1.gradient(y, v)
    show("dy/dv = 3 v^2", dy.numpy())
    show("d2y/dv2 = 6 v", t2.gradient(dy, v).numpy())

    step("6. NumPy functions on tensors are recorded",
         "np.sin(x) on a tapegrad tensor runs tapegrad's sin, so the gradient survives "
         "(TensorFlow would return an ndarray and lose it).")
    x = tg.Variable(tg.range(-3, 3, 1, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = np.sum(np.sin(x))
    show("d sum(sin x)/dx", t.gradient(y, x).numpy())
    show("cos(x), for comparison", np.cos(x.numpy()))

    step("7. Pitfall: updating a Variable by rebinding it",
         "`w = w - 0.1 * g` makes w a new Tensor, which no tape watches: the next gradient is None. "
         "Update it in place with w.assign_sub(0.1 * g) (`w -= 0.1 * g` raises a RuntimeError saying so).")
    for fix in (False, True):
        w = tg.Variable(2.0)
        grads = []
        for _ in range(2):
            with tg.GradientTape() as t:
                loss = w * w
            g = t.gradient(loss, w)
            grads.append(None if g is None else round(float(g), 4))
            if g is None:
                break
            if fix:
                w.assign_sub(0.1 * g)
            else:
                w = w - 0.1 * g
        label = "with w.assign_sub(0.1 * g)" if fix else "with w = w - 0.1 * g"
        show(f"gradients, {label}", grads)


if __name__ == "__main__":
    main()
