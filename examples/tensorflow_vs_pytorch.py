"""The TensorFlow half of seed 002, a notebook that puts PyTorch's autograd beside TensorFlow's
GradientTape, section by section, on tapegrad.

tapegrad has no PyTorch front end yet (no ``tapegrad.torch``: ``requires_grad``, ``.backward()``
and ``.grad`` do not exist), so the notebook's PyTorch cells are not run here; each section says
in a comment what the PyTorch cell does and how the tape expresses the same thing.

    python examples/tensorflow_vs_pytorch.py [--figures DIR]   (no figures)
"""
import numpy as np
from _figures import figure_dir, section

import tapegrad as tf  # the notebook's TensorFlow code, unchanged but for this import


def f(a):
    b = a * 2
    while tf.norm(b) < 1000:
        b = b * 2
    if tf.reduce_sum(b) > 0:
        c = b
    else:
        c = 100 * b
    return c


def main() -> None:
    figure_dir(description=__doc__)
    tf.random.set_seed(0)

    section("A simple example: y = 2 x.x")
    # PyTorch: x.requires_grad_(True); y = 2 * torch.dot(x, x); y.backward(); x.grad.
    # The tape: a Variable is watched when read; gradient() returns the gradient instead of
    # storing it in x.grad, so there is nothing to zero between two computations.
    x = tf.range(4, dtype=tf.float32)
    x = tf.Variable(x)
    with tf.GradientTape() as t:
        y = 2 * tf.tensordot(x, x, axes=1)
    print(repr(y))
    x_grad = t.gradient(y, x)
    print(repr(x_grad))
    assert np.array_equal(x_grad.numpy(), [0.0, 4.0, 8.0, 12.0])
    with tf.GradientTape() as t:
        y = tf.reduce_sum(x)
    print(repr(t.gradient(y, x)))

    section("Backward for non-scalar variables")
    # PyTorch: y.backward() needs a scalar: y.sum().backward() or y.backward(torch.ones(4)).
    # The tape sums a non-scalar target by itself.
    with tf.GradientTape() as t:
        y = x * x
    print(repr(t.gradient(y, x)))

    section("Detaching computation")
    # PyTorch: u = y.detach(). The tape: tf.stop_gradient(y).
    with tf.GradientTape(persistent=True) as t:
        y = x * x
        u = tf.stop_gradient(y)
        z = u * x
    x_grad = t.gradient(z, x)
    print(repr(x_grad == u))
    print(repr(t.gradient(y, x) == 2 * x))

    section("Gradients of Python control flow")
    # PyTorch: d = f(a); d.backward(); a.grad == d / a. The same with a tape:
    a = tf.Variable(tf.random.normal(shape=()))
    with tf.GradientTape(persistent=True) as t:
        d_tf = f(a)
    d_grad = t.gradient(d_tf, a)
    print(repr(d_grad), " d_grad == d / a:", bool(d_grad == d_tf / a))

    section("Exercise 2: run the backward pass again")
    # PyTorch raises "Trying to backward through the graph a second time" unless
    # retain_graph=True; a non-persistent tape raises too, a persistent one does not.
    with tf.GradientTape() as t:
        y = x * x
    t.gradient(y, x)
    try:
        t.gradient(y, x)
    except RuntimeError as e:
        print("RuntimeError:", e)

    section("Exercise 3: a is a matrix")
    # PyTorch: d.sum().backward(); a.grad equals d / a elementwise. The tape sums d itself.
    a = tf.Variable(tf.random.normal(shape=(2, 2)))
    with tf.GradientTape() as t:
        d = f(a)
    print(repr(t.gradient(d, a)))
    print(repr(d / a))


if __name__ == "__main__":
    main()
