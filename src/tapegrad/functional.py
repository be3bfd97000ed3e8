"""Functional transforms, as JAX and autograd users know them, built on the
tape and the forward accumulator:

    tg.grad(f)(x)                  df/dx of a scalar f
    tg.value_and_grad(f)(x)        (f(x), df/dx)
    tg.jacobian(f)(x)              shape f(x).shape + x.shape; forward or reverse mode by shape
    tg.hessian(f)(x)               shape x.shape + x.shape (reverse over reverse, one batched sweep)
    tg.hvp(f, x, v)                H(x) @ v (forward over reverse)
    tg.jvp(f, primals, tangents)   (f(*primals), J @ tangents)
    tg.vjp(f, *primals)            (f(*primals), vjp_fn) with vjp_fn(cotangent) -> cotangent @ J
    tg.hessians(ys, xs)            tf.hessians: Hessians of sum(ys) with respect to each x

Transforms nest (``grad(grad(f))``) because each one records on the tapes and
accumulators that are active around it.  Unconnected inputs get zeros.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tapegrad import _core, _nest
from tapegrad._core import Tensor, Variable
from tapegrad.forward import ForwardAccumulator
from tapegrad.ops.array_ops import stack
from tapegrad.ops.reduction_ops import reduce_sum
from tapegrad.tape import GradientTape, _broadcast, _identity_rows, _reshape, jacobian_rows

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp", "vjp", "hessians"]

if TYPE_CHECKING:
    from tapegrad._types import Function, Nest, TensorLike


def _argnums(argnums, n):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    for i in nums:
        if not -n <= i < n:
            raise ValueError(f"argnums={argnums!r} is out of range for a function called with {n} "
                             f"positional arguments")
    return tuple(i % n for i in nums)


def _as_input(x):
    """A differentiated argument: Tensors and Variables as they are, other
    values converted like tapegrad.constant; it must be floating."""
    if not isinstance(x, (Tensor, Variable)):
        x = _core.as_tensor(x)
    dt = np.result_type(x._value)
    if dt.kind not in "fc":
        raise TypeError(f"differentiation requires floating-point inputs, got dtype {dt.name}; "
                        f"cast integer inputs to a float dtype first")
    return x


def _inputs(args, argnums):
    """(args with the differentiated ones converted, their positions)."""
    args = list(args)
    nums = _argnums(argnums, len(args))
    for i in nums:
        args[i] = _as_input(args[i])
    return args, nums


def _scalar(y, what):
    if not isinstance(y, (Tensor, Variable)):
        y = _core.as_tensor(y)
    if np.ndim(y._value) != 0:
        raise TypeError(f"{what} is only defined for scalar-output functions; the output had shape "
                        f"{np.shape(y._value)} (use jacobian() for non-scalar outputs)")
    return y


def _one_or_tuple(argnums, values):
    return values[0] if isinstance(argnums, int) else tuple(values)


def value_and_grad(f: Function, argnums: int | Sequence[int] = 0) -> Callable[..., tuple[Any, Any]]:
    """A function returning (f(*args), gradient of f with respect to the
    arguments at `argnums`); f must return a scalar."""
    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        args, nums = _inputs(args, argnums)
        with GradientTape() as tape:
            tape.watch([args[i] for i in nums])
            y = _scalar(f(*args, **kwargs), "grad")
        gs = tape.gradient(y, [args[i] for i in nums], unconnected_gradients="zero")
        return y, _one_or_tuple(argnums, gs)
    return value_and_grad_f


def grad(f: Function, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """A function returning the gradient of scalar f with respect to the
    arguments at `argnums` (an int: one gradient; a tuple: a tuple of them)."""
    vg = value_and_grad(f, argnums)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        return vg(*args, **kwargs)[1]
    return grad_f


def jacobian(f: Function, argnums: int | Sequence[int] = 0, mode: str = "auto") -> Callable[..., Any]:
    """A function returning the Jacobian of f (shape f(x).shape + x.shape)
    with respect to the arguments at `argnums`.

    mode: 'reverse' (one batched reverse sweep over all output rows),
    'forward' (one forward pass per input element) or 'auto': forward when the
    inputs have fewer elements than the output, else reverse."""
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"jacobian: mode must be 'auto', 'forward' or 'reverse', got {mode!r}")

    @functools.wraps(f)
    def jacobian_f(*args, **kwargs):
        args, nums = _inputs(args, argnums)
        xs = [args[i] for i in nums]
        with GradientTape() as tape:
            tape.watch(xs)
            y = _core.as_tensor(f(*args, **kwargs))
        n_in = sum(int(np.size(x._value)) for x in xs)
        if mode == "forward" or (mode == "auto" and n_in < np.size(y._value)):
            js = [_forward_jacobian(f, args, kwargs, i, y) for i in nums]
        else:
            js = tape.jacobian(y, xs, unconnected_gradients="zero")
        return _one_or_tuple(argnums, js)
    return jacobian_f


def _forward_jacobian(f, args, kwargs, i, y):
    """One forward pass per element of args[i], each with a unit tangent."""
    x = args[i]
    shape, dt = np.shape(x._value), np.result_type(x._value)
    cols = []
    for e in _identity_rows(int(np.size(x._value)), shape, dt):
        with ForwardAccumulator(x, _core.wrap(e)) as acc:
            out = _core.as_tensor(f(*args, **kwargs))
        cols.append(acc.jvp(out, unconnected_gradients="zero"))
    y_shape = np.shape(y._value)
    if not cols:
        return _core.wrap(np.zeros(y_shape + shape, dtype=np.result_type(y._value)))
    if any(_core.any_recording() and isinstance(c, Tensor) for c in cols):
        return _reshape(stack(cols, axis=-1), y_shape + shape)
    j = np.stack([np.asarray(c._value) for c in cols], axis=-1)
    return _core.wrap(np.reshape(j, y_shape + shape))


def hessian(f: Function, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """A function returning the Hessian of scalar f with respect to the
    argument at `argnums` (shape x.shape + x.shape): the Jacobian of the
    gradient, reverse over reverse, in one batched sweep."""
    if not isinstance(argnums, int):
        raise TypeError("hessian: argnums must be one int (the Hessian of one argument)")

    @functools.wraps(f)
    def hessian_f(*args, **kwargs):
        args, (i,) = _inputs(args, argnums)
        x = args[i]
        with GradientTape() as outer:
            outer.watch(x)
            with GradientTape() as inner:
                inner.watch(x)
                y = _scalar(f(*args, **kwargs), "hessian")
            g = inner.gradient(y, x, unconnected_gradients="zero")
        return outer.jacobian(g, x, unconnected_gradients="zero")
    return hessian_f


def hvp(f: Function, x: Nest, v: Nest) -> Any:
    """H(x) @ v for scalar f of one argument x (or a nest of arguments, with v
    the same nest): forward mode over the reverse-mode gradient, so the
    Hessian is never formed."""
    flat_x = [_as_input(a) for a in _nest.flatten(x)]
    packed = _nest.pack_sequence_as(x, flat_x)
    with ForwardAccumulator(flat_x, _nest.flatten(v)) as acc:
        with GradientTape() as tape:
            tape.watch(flat_x)
            y = _scalar(f(packed), "hvp")
        gs = tape.gradient(y, flat_x, unconnected_gradients="zero")
    return _nest.pack_sequence_as(x, acc.jvp(gs, unconnected_gradients="zero"))


def jvp(f: Function, primals: Sequence[TensorLike], tangents: Sequence[TensorLike]) -> tuple[Any, Any]:
    """(f(*primals), J @ tangents): forward mode.  primals and tangents are
    sequences of the same length (one entry per argument of f)."""
    primals = [_as_input(p) for p in primals]
    tangents = list(tangents)
    if len(tangents) != len(primals):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    with ForwardAccumulator(primals, tangents) as acc:
        out = f(*primals)
    return out, acc.jvp(out, unconnected_gradients="zero")


def vjp(f: Function, *primals: TensorLike) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """(f(*primals), vjp_fn): vjp_fn(cotangent) returns a tuple with
    cotangent @ J for each primal.  vjp_fn may be called many times (the
    recording is kept until vjp_fn is dropped)."""
    primals = [_as_input(p) for p in primals]
    with GradientTape(persistent=True) as tape:
        tape.watch(primals)
        out = f(*primals)

    def vjp_fn(cotangent):
        return tuple(tape.gradient(out, primals, output_gradients=cotangent, unconnected_gradients="zero"))
    return out, vjp_fn


def hessians(ys: Nest | Function, xs: Nest, gate_gradients: bool = False, aggregation_method: Any = None,
             name: str = "hessians") -> list[Tensor]:
    """tf.hessians: for each x in xs, the Hessian of sum(ys) with respect to x
    (shape x.shape + x.shape), as a list.

    TensorFlow 1 builds it from the graph.  tapegrad needs the computation of
    ys recorded: either pass a function, ``hessians(f, xs)`` (ys = f(*xs)), or
    call it inside ``with GradientTape() as t:`` where ys was computed from
    watched xs (the tape's recording is kept: it can still be used)."""
    xs_list = list(xs) if isinstance(xs, (list, tuple)) else [xs]
    if callable(ys):
        f = ys
        return [hessian(lambda x, i=i: _sum(f(*_replace(xs_list, i, x))))(xs_list[i])
                for i in range(len(xs_list))]
    flat_ys = [_core.as_tensor(y) for y in _nest.flatten(ys)]
    srcs = [x.value() if isinstance(x, Variable) else x for x in xs_list]
    wengert = _recording_tape(flat_ys, srcs)
    out = []
    for x in srcs:
        # The gradient is recorded on the tape itself (it is active), so it can be differentiated again.
        seeds = [_core.wrap(np.ones(np.shape(y._value), dtype=np.result_type(y._value))) for y in flat_ys]
        (g,) = wengert.backward(flat_ys, seeds, [x], True, None, True)
        if g is not None:
            g = _core.as_tensor(g)                  # a sparse gradient densified (recorded)
        shape = np.shape(x._value) * 2
        size = int(np.size(x._value))
        if g is None:
            out.append(_core.wrap(np.zeros(shape, dtype=np.result_type(x._value))))
            continue
        old = _core.replace_stack([])                # the Hessian itself is not recorded
        try:
            (h,) = jacobian_rows(wengert, g, _identity_rows(size, np.shape(x._value), np.result_type(x._value)),
                                 [x], True, True)
        finally:
            _core.replace_stack(old)
        out.append(_core.wrap(np.zeros(shape, dtype=np.result_type(x._value))) if h is None
                   else _reshape(_broadcast(h, (size,) + np.shape(x._value)), shape))
    return out


def _sum(y):
    return reduce_sum(_core.as_tensor(y)) if not isinstance(y, (list, tuple, dict)) else \
        functools.reduce(lambda a, b: a + b, [reduce_sum(_core.as_tensor(t)) for t in _nest.flatten(y)])


def _replace(seq, i, x):
    seq = list(seq)
    seq[i] = x
    return seq


def _recording_tape(ys, xs):
    """The innermost active tape that recorded every y and watches every x."""
    for r in reversed(_core.active_recorders()):
        if isinstance(r, _core.WengertList) and all(r.slot_of(t) >= 0 for t in ys + xs):
            return r
    raise RuntimeError("tapegrad.hessians(ys, xs) needs the computation of ys recorded: call it inside the "
                       "`with tapegrad.GradientTape() as tape:` block that computed ys from watched xs, or "
                       "pass a function: tapegrad.hessians(f, xs)")
