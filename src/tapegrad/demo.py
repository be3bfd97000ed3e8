"""A tour of tapegrad on the examples of the d2l / TensorFlow autodiff
tutorials: ``python -m tapegrad.demo``."""
import numpy as np

import tapegrad as tg


def main():
    print("y = 2 x.x, dy/dx = 4x")
    x = tg.Variable(tg.range(4, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = 2 * tg.tensordot(x, x, axes=1)
    print("  ", repr(t.gradient(y, x)))

    print("non-scalar targets are summed: d(x*x)/dx = 2x")
    with tg.GradientTape() as t:
        y = x * x
    print("  ", t.gradient(y, x))

    print("stop_gradient detaches: z = u * x with u = stop_gradient(x*x) gives u")
    with tg.GradientTape() as t:
        u = tg.stop_gradient(x * x)
        z = u * x
    print("  ", t.gradient(z, x))

    print("Python control flow is just recorded: f(a) doubles until the norm passes 1000")

    def f(a):
        b = a * 2
        while tg.norm(b) < 1000:
            b = b * 2
        return b if tg.reduce_sum(b) > 0 else 100 * b

    a = tg.Variable(-1.1861123)
    with tg.GradientTape() as t:
        d = f(a)
    print("   d/da =", t.gradient(d, a).numpy(), " d/a =", (d / a).numpy())

    print("second derivative through nested tapes: d2(x^3)/dx2 at 1 = 6")
    v = tg.Variable(1.0)
    with tg.GradientTape() as t2:
        with tg.GradientTape() as t1:
            y = v * v * v
        dy = t1.gradient(y, v)
    print("   dy/dx =", dy.numpy(), " d2y/dx2 =", t2.gradient(dy, v).numpy())

    print("NumPy functions on tensors are recorded (TensorFlow would lose the gradient):")
    x = tg.Variable(tg.range(-3, 3, 1, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = np.sum(np.sin(x))
    print("   d sum(sin x)/dx =", t.gradient(y, x).numpy())
    print("   cos(x)          =", np.cos(x.numpy()))


if __name__ == "__main__":
    main()
