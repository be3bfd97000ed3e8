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
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tapegrad import _callsite, _core, _nest
from tapegrad._core import Tensor, Variable
from tapegrad.forward import ForwardAccumulator
from tapegrad.ops.array_ops import concat, stack
from tapegrad.ops.reduction_ops import reduce_sum
from tapegrad.tape import GradientTape, _broadcast, _identity_rows, _reshape, jacobian_rows

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp", "jvp", "vjp", "hessians", "ravel_pytree"]

if TYPE_CHECKING:
    from tapegrad._types import Function, Nest


def _argnums(argnums, n):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums) if isinstance(argnums, (tuple, list)) \
        else (argnums,)
    for i in nums:
        if not isinstance(i, int) or isinstance(i, bool):
            raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -n <= i < n:
            raise ValueError(f"argnums={argnums!r} is out of range for a function called with {n} "
                             f"positional arguments")
    return tuple(i % n for i in nums)


def _as_input(x, where="the differentiated argument"):
    """A differentiated leaf: Tensors and Variables as they are; Python numbers
    and NumPy values keep NumPy's dtype (1.0 is float64, as in NumPy); it must
    be floating (or complex)."""
    if not isinstance(x, (Tensor, Variable)):
        if isinstance(x, (np.ndarray, np.generic)):
            x = _core.as_tensor(x)
        else:
            raw = np.asarray(x)
            if raw.dtype.kind not in "fc":
                raise TypeError(f"can't differentiate with respect to {where}: {x!r} is a "
                                f"{type(x).__name__}; differentiation requires floating-point inputs "
                                f"(write 2.0 for 2, or np.asarray(x, dtype=float))")
            x = _core.as_tensor(raw)
    dt = np.result_type(x._value)
    if dt.kind not in "fc":
        raise TypeError(f"can't differentiate with respect to {where}: its dtype is {dt.name}; "
                        f"differentiation requires floating-point inputs (cast integer inputs to a "
                        f"float dtype first)")
    return x


class _Args:
    """The arguments of one transform call, with the differentiated ones
    (pytrees: nested lists, tuples, dicts and namedtuples of arrays, numbers
    and None) flattened once and their leaves made Tensors.  Nothing here runs
    per op: the function sees the rebuilt pytrees."""
    __slots__ = ("args", "nums", "single", "trees", "flats", "sources")

    def __init__(self, args, argnums, convert=None):
        convert = _as_input if convert is None else convert     # tapegrad.autograd passes its own rules
        self.args = list(args)
        self.nums = _argnums(argnums, len(self.args))
        self.single = isinstance(argnums, int)
        self.trees = []
        self.flats = []
        self.sources = []
        for i in self.nums:
            a = self.args[i]
            if not _nest.is_nested(a):                  # the common case: one array or number
                t = None if a is None else convert(a, f"argument {i}")
                self.args[i] = t
                flat = [t]
            else:
                flat = [None if leaf is None else convert(leaf, f"a leaf of argument {i}")
                        for leaf in _nest.flatten(a)]
                self.args[i] = _nest.pack_sequence_as(a, flat)
            self.trees.append(a)
            self.flats.append(flat)
            self.sources.extend(t for t in flat if t is not None)

    def pack(self, values):
        """One value per source, back in the arguments' structure (None where
        a leaf was None): one tree for an int argnums, else a tuple of trees."""
        it = iter(values)
        trees = []
        for tree, flat in zip(self.trees, self.flats):
            leaves = [None if t is None else next(it) for t in flat]
            trees.append(_nest.pack_sequence_as(tree, leaves) if _nest.is_nested(tree) else leaves[0])
        return trees[0] if self.single else tuple(trees)


def _zeros_like(x):
    v = x._value if isinstance(x, Tensor) else x.value()._value
    return _core.wrap(np.zeros(np.shape(v), dtype=np.result_type(v)))


def _warn_independent():
    warnings.warn("Output seems independent of input.", UserWarning, stacklevel=_callsite.stacklevel())


def _scalar(y, what):
    if not isinstance(y, (Tensor, Variable)):
        y = _core.as_tensor(y)
    if np.ndim(y._value) != 0:
        raise TypeError(f"{what} is only defined for scalar-output functions; the output had shape "
                        f"{np.shape(y._value)} (use jacobian() for non-scalar outputs)")
    return y


def _split_aux(out, has_aux):
    if not has_aux:
        return out, None
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise TypeError("has_aux=True requires the function to return a pair (output, auxiliary data), got "
                        f"{type(out).__name__}")
    return out[0], out[1]


def _grads(tape, y, a, output_gradients=None, warn=True):
    """The gradients of y with respect to a's sources, zeros where unconnected;
    warns (as autograd does) when y depends on none of them."""
    gs = tape.gradient(y, a.sources, output_gradients=output_gradients) if a.sources else []
    if warn and gs and all(g is None for g in gs):
        _warn_independent()
    return [_zeros_like(x) if g is None else g for g, x in zip(gs, a.sources)]


def value_and_grad(f: Function, argnums: int | Sequence[int] = 0,
                   has_aux: bool = False) -> Callable[..., tuple[Any, Any]]:
    """A function returning (f(*args), gradient of f with respect to the
    arguments at `argnums`); f must return a scalar.

    Differentiated arguments may be pytrees (nested lists, tuples, dicts and
    namedtuples of arrays and numbers; None leaves get None): the gradient has
    the same structure.  An int `argnums` gives one gradient, a tuple a tuple
    of them.  has_aux=True: f returns (output, aux) and the value is
    (output, aux)."""
    @functools.wraps(f)
    def value_and_grad_f(*args, **kwargs):
        a = _Args(args, argnums)
        with GradientTape() as tape:
            tape.watch(a.sources)
            out, aux = _split_aux(f(*a.args, **kwargs), has_aux)
            y = _scalar(out, "grad")
        gs = _grads(tape, y, a)
        return ((y, aux) if has_aux else y), a.pack(gs)
    return value_and_grad_f


def grad(f: Function, argnums: int | Sequence[int] = 0, has_aux: bool = False) -> Callable[..., Any]:
    """A function returning the gradient of scalar f with respect to the
    arguments at `argnums` (an int: one gradient; a tuple: a tuple of them),
    in the structure of those arguments (pytrees, as in value_and_grad).
    has_aux=True: f returns (output, aux) and the result is (gradient, aux)."""
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def grad_f(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        return (g, value[1]) if has_aux else g
    return grad_f


def jacobian(f: Function, argnums: int | Sequence[int] = 0, mode: str = "auto",
             has_aux: bool = False) -> Callable[..., Any]:
    """A function returning the Jacobian of f (shape f(x).shape + x.shape)
    with respect to the arguments at `argnums`.  Arguments may be pytrees
    (the result has their structure, one block per leaf) and so may the
    output (the result has its structure, each entry the input structure).

    mode: 'reverse' (one batched reverse sweep over all output rows),
    'forward' (one forward pass per input element) or 'auto': forward when the
    inputs have fewer elements than the output, else reverse.
    has_aux=True: f returns (output, aux); the result is (jacobian, aux)."""
    if mode not in ("auto", "forward", "reverse"):
        raise ValueError(f"jacobian: mode must be 'auto', 'forward' or 'reverse', got {mode!r}")

    @functools.wraps(f)
    def jacobian_f(*args, **kwargs):
        a = _Args(args, argnums)
        xs = a.sources
        with GradientTape() as tape:
            tape.watch(xs)
            out, aux = _split_aux(f(*a.args, **kwargs), has_aux)
            ys = [_core.as_tensor(y) for y in _nest.flatten(out)]
            n_in = sum(int(np.size(x._value)) for x in xs)
            n_out = sum(int(np.size(y._value)) for y in ys)
            forward = mode == "forward" or (mode == "auto" and n_in < n_out)
            if not forward and len(ys) > 1:       # several outputs: one sweep over all their rows
                y_all = concat([_reshape(y, (-1,)) for y in ys], 0)
        if forward:
            per_x = [_forward_jacobian(f, a, kwargs, x, ys, has_aux) for x in xs]
            blocks = [[per_x[k][j] for k in range(len(xs))] for j in range(len(ys))]
        elif len(ys) == 1:
            blocks = [tape.jacobian(ys[0], xs, unconnected_gradients="zero")]
        else:
            js = tape.jacobian(y_all, xs, unconnected_gradients="zero")
            ends = np.cumsum([int(np.size(y._value)) for y in ys]).tolist()
            blocks = [[_reshape(j[e - int(np.size(y._value)):e], np.shape(y._value) + np.shape(x._value))
                       for j, x in zip(js, xs)] for y, e in zip(ys, ends)]
        packed = [a.pack(row) for row in blocks]
        result = _nest.pack_sequence_as(out, packed) if _nest.is_nested(out) else packed[0]
        return (result, aux) if has_aux else result
    return jacobian_f


def _forward_jacobian(f, a, kwargs, x, ys, has_aux):
    """The Jacobian blocks of every output leaf with respect to the source x:
    one forward pass per element of x, each with a unit tangent."""
    shape, dt = np.shape(x._value), np.result_type(x._value)
    cols = []
    for e in _identity_rows(int(np.size(x._value)), shape, dt):
        with ForwardAccumulator(x, _core.wrap(e)) as acc:
            out, _ = _split_aux(f(*a.args, **kwargs), has_aux)
            outs = [_core.as_tensor(o) for o in _nest.flatten(out)]
        cols.append(acc.jvp(outs, unconnected_gradients="zero"))
    blocks = []
    for j, y in enumerate(ys):
        y_shape = np.shape(y._value)
        col_j = [c[j] for c in cols]
        if not col_j:
            blocks.append(_core.wrap(np.zeros(y_shape + shape, dtype=np.result_type(y._value))))
        elif any(_core.any_recording() and isinstance(c, Tensor) for c in col_j):
            blocks.append(_reshape(stack(col_j, axis=-1), y_shape + shape))
        else:
            jm = np.stack([np.asarray(c._value) for c in col_j], axis=-1)
            blocks.append(_core.wrap(np.reshape(jm, y_shape + shape)))
    return blocks


def hessian(f: Function, argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """A function returning the Hessian of scalar f with respect to the
    arguments at `argnums` (shape x.shape + x.shape): the Jacobian of the
    gradient, reverse over reverse, in one batched sweep per leaf.  For pytree
    arguments (or a tuple `argnums`) the result is nested twice: the block
    for leaves (p, q) is at the position of p, then of q."""
    @functools.wraps(f)
    def hessian_f(*args, **kwargs):
        a = _Args(args, argnums)
        xs = a.sources
        with GradientTape(persistent=len(xs) > 1) as outer:
            outer.watch(xs)
            with GradientTape() as inner:
                inner.watch(xs)
                y = _scalar(f(*a.args, **kwargs), "hessian")
            gs = _grads(inner, y, a, warn=False)
        rows = [outer.jacobian(g, xs, unconnected_gradients="zero") for g in gs]
        del outer
        if len(xs) == 1 and a.single and not _nest.is_nested(a.trees[0]):
            return rows[0][0]
        return a.pack([a.pack(row) for row in rows])
    return hessian_f


def hvp(f: Function, x: Nest, v: Nest) -> Any:
    """H(x) @ v for scalar f of one argument x (or a nest of arguments, with v
    the same nest): forward mode over the reverse-mode gradient, so the
    Hessian is never formed."""
    a = _Args((x,), 0)
    flat_v = [t for t, leaf in zip(_nest.flatten(v), a.flats[0]) if leaf is not None]
    with ForwardAccumulator(a.sources, flat_v) as acc:
        with GradientTape() as tape:
            tape.watch(a.sources)
            y = _scalar(f(a.args[0]), "hvp")
        gs = _grads(tape, y, a, warn=False)
    return a.pack(acc.jvp(gs, unconnected_gradients="zero"))


def jvp(f: Function, primals: Sequence[Any], tangents: Sequence[Any]) -> tuple[Any, Any]:
    """(f(*primals), J @ tangents): forward mode.  primals and tangents are
    sequences of the same length (one entry per argument of f); an entry may be
    a pytree, its tangent the same pytree.  The output may be a pytree: its
    tangent has its structure."""
    primals, tangents = list(primals), list(tangents)
    if len(tangents) != len(primals):
        raise ValueError(f"jvp: {len(primals)} primals but {len(tangents)} tangents")
    a = _Args(primals, tuple(range(len(primals))))
    flat_t = []
    for i, (flat, t) in enumerate(zip(a.flats, tangents)):
        ts = _nest.flatten(t) if _nest.is_nested(a.trees[i]) else [t]
        if len(ts) != len(flat):
            raise ValueError(f"jvp: the tangent of argument {i} has {len(ts)} leaves, its primal {len(flat)}")
        flat_t.extend(tt for tt, leaf in zip(ts, flat) if leaf is not None)
    with ForwardAccumulator(a.sources, flat_t) as acc:
        out = f(*a.args)
        outs = [_core.as_tensor(o) for o in _nest.flatten(out)]
    ts = acc.jvp(outs, unconnected_gradients="zero")
    return out, (_nest.pack_sequence_as(out, ts) if _nest.is_nested(out) else ts[0])


def vjp(f: Function, *primals: Any, has_aux: bool = False) -> tuple[Any, ...]:
    """(f(*primals), vjp_fn): vjp_fn(cotangent) returns a tuple with
    cotangent @ J for each primal (each in its primal's pytree structure; the
    cotangent has the output's structure).  vjp_fn may be called many times
    (the recording is kept until vjp_fn is dropped).  has_aux=True: f returns
    (output, aux) and the result is (output, vjp_fn, aux)."""
    a = _Args(primals, tuple(range(len(primals))))
    with GradientTape(persistent=True) as tape:
        tape.watch(a.sources)
        out, aux = _split_aux(f(*a.args), has_aux)
    flat_out = [_core.as_tensor(o) for o in _nest.flatten(out)]

    def vjp_fn(cotangent):
        cts = _nest.flatten(cotangent) if _nest.is_nested(out) else [cotangent]
        if len(cts) != len(flat_out):
            raise ValueError(f"vjp: the cotangent has {len(cts)} leaves, the output {len(flat_out)}")
        return a.pack(_grads(tape, flat_out, a, output_gradients=cts, warn=False))
    return (out, vjp_fn, aux) if has_aux else (out, vjp_fn)


def ravel_pytree(tree: Nest) -> tuple[Any, Callable[[Any], Any]]:
    """(flat, unravel): every leaf of a pytree (nested lists, tuples, dicts
    in sorted-key order, namedtuples; None leaves are skipped) raveled and
    concatenated into one vector, and the function that rebuilds the pytree
    from such a vector (leaves in their shapes and dtypes).  Both work on
    NumPy values and on Tensors (recorded), so an optimizer that wants one
    vector can drive a function of a pytree:
    ``minimize(tg.value_and_grad(lambda v: loss(unravel(v))), flat, jac=True)``."""
    leaves = _nest.flatten(tree)
    kept = [leaf for leaf in leaves if leaf is not None]
    shapes = [np.shape(leaf.value()._value if isinstance(leaf, Variable) else
                       leaf._value if isinstance(leaf, Tensor) else leaf) for leaf in kept]
    sizes = [int(np.prod(s)) for s in shapes]
    if kept:
        flat = np.concatenate([np.reshape(leaf, (-1,)) for leaf in kept])
    else:
        flat = np.zeros(0)
    ends = np.cumsum(sizes).tolist()

    def unravel(vector):
        if np.shape(vector) != (sum(sizes),):
            raise ValueError(f"unravel: expected a vector of {sum(sizes)} elements, got shape {np.shape(vector)}")
        parts = iter([np.reshape(vector[e - n:e], s) for e, n, s in zip(ends, sizes, shapes)])
        built = [None if leaf is None else next(parts) for leaf in leaves]
        return _nest.pack_sequence_as(tree, built) if _nest.is_nested(tree) else built[0]
    return flat, unravel


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
                                 [x], True)
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
