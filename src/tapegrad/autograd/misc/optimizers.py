"""autograd.misc.optimizers: ``sgd``, ``rmsprop`` and ``adam`` with
autograd's signature ``(grad, x0, callback=None, num_iters=..., step_size=...,
...)``.

``grad`` is called as ``grad(x, i)`` (i = 0 .. num_iters-1) and ``x0`` may be
any pytree ``flatten`` accepts: the update runs in float64 on the flattened
vector and the result has x0's structure.  ``callback(x, i, g)`` runs before
the update of iteration i.  These are plain NumPy loops: the update itself is
not differentiated (for training with tapegrad's own optimizers see
``tapegrad.optimizers``)."""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad.autograd.misc.flatten import flatten

__all__ = ["sgd", "rmsprop", "adam"]


def _unflatten_optimizer(optimize):
    """Run `optimize` (written for a flat vector) on a pytree x0."""
    @functools.wraps(optimize)
    def _optimize(grad, x0, callback=None, *args, **kwargs):
        flat_x0, unflatten = flatten(x0)

        def flat_grad(x, i):
            return flatten(grad(unflatten(x), i))[0]
        flat_callback = None if callback is None else (lambda x, i, g: callback(unflatten(x), i, unflatten(g)))
        return unflatten(optimize(flat_grad, np.asarray(flat_x0, dtype=np.float64), flat_callback, *args,
                                  **kwargs))
    return _optimize


@_unflatten_optimizer
def sgd(grad: Callable[..., Any], x: Any, callback: Any = None, num_iters: int = 200, step_size: float = 0.1,
        mass: float = 0.9) -> Any:
    """Stochastic gradient descent with momentum (velocity starts at zero)."""
    velocity = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        velocity = mass * velocity - (1.0 - mass) * g
        x = x + step_size * velocity
    return x


@_unflatten_optimizer
def rmsprop(grad: Callable[..., Any], x: Any, callback: Any = None, num_iters: int = 100,
            step_size: float = 0.1, gamma: float = 0.9, eps: float = 10**-8) -> Any:
    """RMSProp; the running mean of squared gradients starts at ones, as in autograd."""
    avg_sq_grad = np.ones(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        avg_sq_grad = avg_sq_grad * gamma + g**2 * (1 - gamma)
        x = x - step_size * g / (np.sqrt(avg_sq_grad) + eps)
    return x


@_unflatten_optimizer
def adam(grad: Callable[..., Any], x: Any, callback: Any = None, num_iters: int = 100, step_size: float = 0.001,
         b1: float = 0.9, b2: float = 0.999, eps: float = 10**-8) -> Any:
    """Adam (Kingma and Ba, 2015), with bias-corrected moment estimates."""
    m = np.zeros(len(x))
    v = np.zeros(len(x))
    for i in range(num_iters):
        g = grad(x, i)
        if callback:
            callback(x, i, g)
        m = (1 - b1) * g + b1 * m
        v = (1 - b2) * (g**2) + b2 * v
        mhat = m / (1 - b1 ** (i + 1))
        vhat = v / (1 - b2 ** (i + 1))
        x = x - step_size * mhat / (np.sqrt(vhat) + eps)
    return x
