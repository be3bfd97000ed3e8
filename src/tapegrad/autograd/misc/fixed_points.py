"""autograd.misc.fixed_points: ``fixed_point(f, a, x0, distance, tol)``.

The forward pass iterates ``x <- f(a)(x)`` from x0 until ``distance(x,
x_prev) <= tol`` (at least one step).  The gradient with respect to ``a``
comes from the implicit function theorem at the fixed point x*: with the
output cotangent g, iterate ``w <- (d f(a)/dx)^T(x*) w + g`` from zero to its
own fixed point (same distance and tol), then return ``(d f(a)(x*)/da)^T w``.
Both products are VJPs of f, so the rule is made of differentiable
operations and second derivatives work.  x0 gets a zero gradient; f,
distance and tol none.  Reverse mode only (as in autograd)."""
from __future__ import annotations

from tapegrad.autograd.differential_operators import make_vjp
from tapegrad.autograd.extend import defvjp, primitive

__all__ = ["fixed_point"]


@primitive
def fixed_point(f, a, x0, distance, tol):
    step = f(a)
    x, x_prev = step(x0), x0
    while distance(x, x_prev) > tol:
        x, x_prev = step(x), x
    return x


def _fixed_point_vjp(ans, f, a, x0, distance, tol):
    vjp_x, _ = make_vjp(f(a))(ans)                       # (d f(a)/dx)^T at x*
    vjp_a, _ = make_vjp(lambda p: f(p)(ans))(a)          # (d f(a)(x*)/da)^T

    def vjp(g):
        w, w_prev = g, None
        while w_prev is None or distance(w, w_prev) > tol:
            w, w_prev = vjp_x(w) + g, w
        return vjp_a(w)
    return vjp


defvjp(fixed_point, None, _fixed_point_vjp, None, None, None)
