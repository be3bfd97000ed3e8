"""autograd's differential operators (``grad``, ``elementwise_grad``,
``jacobian``, ``make_vjp``, ...) with autograd's signatures, on tapegrad's
tape and forward accumulator.

The conventions are autograd's, not those of ``tg.grad``:

* ``argnum`` is an int (negative allowed) or a tuple/list of ints; a tuple
  differentiates the chosen arguments together and gives a tuple.
* A differentiated argument is a float, complex, NumPy floating scalar, an
  ndarray of any dtype (integer arrays are differentiated as float64), or a
  list, tuple or dict of those.  A Python int, bool, None, str or namedtuple
  raises ``TypeError: Can't differentiate w.r.t. type ...``.
* Results are NumPy values: a scalar argument gives a NumPy scalar, an array
  argument an array, a container argument (or a tuple argnum) the same
  container of arrays (scalars as 0-d arrays).  Inside another transform the
  results stay tapegrad tensors, which is how ``grad(grad(f))`` works.
* A function whose output does not depend on the differentiated arguments
  warns ``UserWarning: Output seems independent of input.`` and its
  derivative is zeros.
"""
from __future__ import annotations

import collections
import functools
import inspect
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad import _callsite, _core, _nest
from tapegrad._core import Tensor, Variable
from tapegrad.custom import recompute_grad
from tapegrad.forward import ForwardAccumulator
from tapegrad.functional import _Args
from tapegrad.tape import GradientTape

__all__ = ["grad", "elementwise_grad", "value_and_grad", "grad_and_aux", "jacobian", "hessian", "make_vjp",
           "make_jvp", "make_hvp", "deriv", "hessian_tensor_product", "hessian_vector_product",
           "tensor_jacobian_product", "vector_jacobian_product", "make_ggnvp", "multigrad_dict", "checkpoint",
           "grad_named"]

_NOT_SCALAR = "only applies to real scalar-output functions. Try jacobian, elementwise_grad or holomorphic_grad."


# ---- arguments in, results out ---------------------------------------------------------------

def _cant(x):
    return TypeError(f"Can't differentiate w.r.t. type {type(x)}")


def _leaf(x, where=None):
    """A differentiated leaf as a Tensor, by autograd's rules of what can be
    differentiated (see the module docstring)."""
    if isinstance(x, (Tensor, Variable)):              # traced by an outer transform
        return x
    if isinstance(x, (bool, int, np.integer, np.bool_)):
        raise _cant(x)
    if isinstance(x, float):
        return _core.wrap(np.float64(x))
    if isinstance(x, complex):
        return _core.wrap(np.complex128(x))
    if isinstance(x, (np.floating, np.complexfloating)):
        return _core.as_tensor(x)
    if isinstance(x, np.ndarray):
        if x.dtype.kind in "fc":
            return _core.as_tensor(x)
        if x.dtype.kind in "iub":
            return _core.as_tensor(x.astype(np.float64))
    raise _cant(x)


def _validate(x):
    """Reject what autograd cannot differentiate inside a container (None,
    namedtuples) before it is flattened."""
    stack = [x]
    while stack:
        s = stack.pop()
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            raise _cant(s)
        if isinstance(s, dict):
            stack.extend(s.values())
        elif isinstance(s, (list, tuple)):
            stack.extend(s)
        elif s is None:
            raise _cant(s)


def _args(args, argnum):
    nums = (argnum,) if isinstance(argnum, int) else argnum
    for i in nums:
        if -len(args) <= i < len(args):
            _validate(args[i])
    return _Args(args, argnum, convert=_leaf)


def _value(v, as_array):
    if isinstance(v, Variable):
        v = v.value()
    if isinstance(v, Tensor):
        r = v._value
        return np.array(r) if (as_array or isinstance(r, np.ndarray)) else r
    return np.asarray(v) if as_array else v


def _out(x, container=False):
    """A result for the caller: NumPy values (writable copies), unless another
    transform is tracing, which needs the tensors."""
    if _core.any_recording():
        return x
    if _nest.is_nested(x):
        return _nest.pack_sequence_as(x, [_value(v, True) for v in _nest.flatten(x)])
    return _value(x, container)


def _is_container(a):
    return not a.single or _nest.is_nested(a.trees[0])


def _leaves(out):
    return _nest.flatten(out) if _nest.is_nested(out) else [out]


def _raw(v):
    if isinstance(v, Variable):
        v = v.value()
    return v._value if isinstance(v, Tensor) else np.asarray(v)


def _zeros(x):
    v = _raw(x)
    return np.zeros(np.shape(v), np.result_type(v))


def _independent():
    warnings.warn("Output seems independent of input.", UserWarning, stacklevel=_callsite.stacklevel())


def _on_tape(tape, leaves):
    w = tape._wengert
    return w is not None and any(isinstance(t, Tensor) and w.slot_of(t) >= 0 for t in leaves)


# ---- the n-ary operator convention ------------------------------------------------------------

def _check_argnum(argnum):
    ok = (isinstance(argnum, int) and not isinstance(argnum, bool)) or (
        isinstance(argnum, (tuple, list)) and all(isinstance(i, int) for i in argnum))
    if not ok:
        raise AssertionError(repr(argnum))
    return argnum if isinstance(argnum, int) else tuple(argnum)


def _named(op_name, fun, argnum, f):
    name = getattr(fun, "__name__", "[unknown name]")
    f.__name__ = f"{op_name}_of_{name}_wrt_argnum_{argnum}"
    f.__qualname__ = f.__name__
    f.__doc__ = (f"    {op_name} of function {name} with respect to argument number {argnum}. Takes the\n"
                 f"    same arguments as {name} but returns the {op_name}.\n    ")
    return f


# ---- reverse mode ----------------------------------------------------------------------------

def _make_vjp(fun, args, kwargs, argnum, persistent=True, has_aux=False):
    """(vjp, out, aux, a): vjp(g) -> the cotangent for the arguments at
    argnum (structured, NumPy out); warns if out is independent of them."""
    a = _args(args, argnum)
    tape = GradientTape(persistent=persistent)
    with tape:
        tape.watch(a.sources)
        out = fun(*a.args, **kwargs)
        aux = None
        if has_aux:
            out, aux = out
    leaves = _leaves(out)
    connected = _on_tape(tape, leaves)
    if not connected:
        _independent()
    container = _is_container(a)

    def vjp(g):
        if not connected:
            return _out(a.pack([_zeros(x) for x in a.sources]), container)
        gs = _leaves(g) if _nest.is_nested(out) else [g]
        pairs = [(t, gl) for t, gl in zip(leaves, gs) if isinstance(t, Tensor)]
        grads = tape.gradient([t for t, _ in pairs], a.sources, output_gradients=[gl for _, gl in pairs])
        grads = [_core.wrap(_zeros(x)) if gr is None else gr for gr, x in zip(grads, a.sources)]
        return _out(a.pack(grads), container)
    return vjp, out, aux, a


def _ones_for(out, what):
    """The all-ones cotangent of a real output of size 1 (grad's check)."""
    v = None if _nest.is_nested(out) else _raw(out)
    if v is None or np.size(v) != 1 or np.iscomplexobj(v):
        raise TypeError(f"{what} {_NOT_SCALAR}")
    return np.ones(np.shape(v), np.result_type(v))


def grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """The gradient of a real function with a size-1 output, with respect to
    the positional argument(s) at `argnum`, in their structure."""
    argnum = _check_argnum(argnum)

    def gradfun(*args, **kwargs):
        vjp, out, _, _ = _make_vjp(fun, args, kwargs, argnum, persistent=False)
        return vjp(_ones_for(out, "Grad"))
    return _named("grad", fun, argnum, gradfun)


def value_and_grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """(fun(*args), its gradient): one forward and one backward pass."""
    argnum = _check_argnum(argnum)

    def value_and_grad_fun(*args, **kwargs):
        vjp, out, _, _ = _make_vjp(fun, args, kwargs, argnum, persistent=False)
        g = vjp(_ones_for(out, "value_and_grad"))
        return _out(out), g
    return _named("value_and_grad", fun, argnum, value_and_grad_fun)


def elementwise_grad(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """The VJP with a cotangent of ones: the column sums of the Jacobian (its
    diagonal when the Jacobian is diagonal, as for elementwise functions)."""
    argnum = _check_argnum(argnum)

    def elementwise_gradfun(*args, **kwargs):
        vjp, out, _, _ = _make_vjp(fun, args, kwargs, argnum, persistent=False)
        v = _raw(out) if not _nest.is_nested(out) else None
        if v is not None and np.iscomplexobj(v):
            raise TypeError("Elementwise_grad only applies to real-output functions.")
        ones = (_nest.pack_sequence_as(out, [np.ones_like(_raw(t)) for t in _leaves(out)])
                if v is None else np.ones(np.shape(v), np.result_type(v)))
        return vjp(ones)
    return _named("elementwise_grad", fun, argnum, elementwise_gradfun)


def grad_and_aux(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """fun returns (output, aux): gives (gradient of output, aux).  Like
    autograd, the output is not checked to be scalar (a non-scalar output
    gives the sum of the Jacobian's rows)."""
    argnum = _check_argnum(argnum)

    def grad_and_aux_fun(*args, **kwargs):
        vjp, out, aux, _ = _make_vjp(fun, args, kwargs, argnum, persistent=False, has_aux=True)
        v = _raw(out)
        return vjp(np.ones(np.shape(v), np.result_type(v))), _out(aux)
    return _named("grad_and_aux", fun, argnum, grad_and_aux_fun)


def make_vjp(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """A function returning (vjp, fun(*args)) (the function first, as in
    autograd): vjp(g) is g times the Jacobian; it may be called many times."""
    argnum = _check_argnum(argnum)

    def make_vjp_fun(*args, **kwargs):
        vjp, out, _, _ = _make_vjp(fun, args, kwargs, argnum)
        return vjp, _out(out)
    return _named("make_vjp", fun, argnum, make_vjp_fun)


def jacobian(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """The Jacobian, shape out.shape + in.shape (one batched reverse sweep)."""
    argnum = _check_argnum(argnum)

    def jacobian_fun(*args, **kwargs):
        a = _args(args, argnum)
        with GradientTape(persistent=True) as tape:
            tape.watch(a.sources)
            out = fun(*a.args, **kwargs)
        y = out if isinstance(out, Tensor) else _core.as_tensor(out)
        if not _on_tape(tape, [y]):
            _independent()
            js = [_core.wrap(np.zeros(np.shape(y._value) + np.shape(_raw(x)))) for x in a.sources]
        else:
            js = tape.jacobian(y, a.sources, unconnected_gradients="zero")
        return _out(a.pack(js), True)
    return _named("jacobian", fun, argnum, jacobian_fun)


def hessian(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """jacobian(jacobian(fun)): shape in.shape + in.shape for a scalar fun."""
    argnum = _check_argnum(argnum)
    return _named("hessian", fun, argnum, jacobian(jacobian(fun, argnum), argnum))


def make_hvp(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """A function returning (hvp, gradient at the arguments): hvp(v) is the
    Hessian times v (reverse over reverse)."""
    argnum = _check_argnum(argnum)

    def make_hvp_fun(*args, **kwargs):
        return make_vjp(grad(fun, argnum), argnum)(*args, **kwargs)
    return _named("make_hvp", fun, argnum, make_hvp_fun)


def tensor_jacobian_product(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """``f(*args, v)``: v times the Jacobian of fun at args, contracted over
    all of v's axes (v is an extra trailing positional argument)."""
    argnum = _check_argnum(argnum)

    def vector_dot_grad(*args, **kwargs):
        args, vector = args[:-1], args[-1]
        return make_vjp(fun, argnum)(*args, **kwargs)[0](vector)
    return vector_dot_grad


vector_jacobian_product = tensor_jacobian_product


def hessian_tensor_product(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """``f(*args, v)``: the Hessian of scalar fun at args times v, contracted
    over all of v's axes."""
    return tensor_jacobian_product(grad(fun, argnum), argnum)


hessian_vector_product = hessian_tensor_product


# ---- forward mode ----------------------------------------------------------------------------

def make_jvp(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """A function of the arguments returning jvp(v) -> (fun(*args), J v): one
    forward pass (with tangents) per call of jvp."""
    argnum = _check_argnum(argnum)

    def make_jvp_fun(*args, **kwargs):
        def jvp(v):
            a = _args(args, argnum)
            vs = (v,) if a.single else tuple(v)
            flat_v = []
            for tree, flat, vi in zip(a.trees, a.flats, vs):
                tv = _nest.flatten(vi) if _nest.is_nested(tree) else [vi]
                flat_v.extend(t for t, leaf in zip(tv, flat) if leaf is not None)
            with ForwardAccumulator(a.sources, flat_v) as acc:
                out = fun(*a.args, **kwargs)
            leaves = [t if isinstance(t, (Tensor, Variable)) else _core.as_tensor(t) for t in _leaves(out)]
            ts = acc.jvp(leaves)
            if all(t is None for t in ts):
                _independent()
            ts = [_core.wrap(_zeros(y)) if t is None else t for t, y in zip(ts, leaves)]
            tangent = _nest.pack_sequence_as(out, ts) if _nest.is_nested(out) else ts[0]
            return _out(out), _out(tangent)
        return jvp
    return _named("make_jvp", fun, argnum, make_jvp_fun)


def deriv(fun: Callable[..., Any], argnum: Any = 0) -> Callable[..., Any]:
    """make_jvp with a tangent of ones: the derivative of an elementwise fun."""
    argnum = _check_argnum(argnum)

    def derivfun(*args, **kwargs):
        x = args[argnum] if isinstance(argnum, int) else tuple(args[i] for i in argnum)
        ones = _nest.pack_sequence_as(x, [np.ones_like(_raw(e)) for e in _nest.flatten(x)]) \
            if _nest.is_nested(x) else np.ones_like(_raw(x))
        return make_jvp(fun, argnum)(*args, **kwargs)(ones)[1]
    return _named("deriv", fun, argnum, derivfun)


def make_ggnvp(f: Callable[..., Any], g: Callable[..., Any] = lambda y: 0.5 * np.sum(y ** 2, axis=-1),
               f_argnum: int = 0) -> Callable[..., Any]:
    """A function of x returning ggnvp(v) = Jf(x)^T Hg(f(x)) Jf(x) v, the
    generalized Gauss-Newton product."""
    def make_ggnvp_fun(*args, **kwargs):
        f_vjp, f_x = make_vjp(f, f_argnum)(*args, **kwargs)
        f_jvp = make_jvp(f, f_argnum)(*args, **kwargs)
        g_hvp, _ = make_hvp(g)(f_x)

        def ggnvp(v):
            return f_vjp(g_hvp(f_jvp(v)[1]))
        return ggnvp
    return make_ggnvp_fun


# ---- the rest of autograd's operators ----------------------------------------------------------

def multigrad_dict(fun: Callable[..., Any]) -> Callable[..., Any]:
    """The gradient with respect to every parameter of fun (defaults
    included), as an OrderedDict by parameter name; ``*args`` maps to a
    tuple, ``**kwargs`` to a dict."""
    sig = inspect.signature(fun)

    def gradfun(*args, **kwargs):
        bound = sig.bind(*args, **kwargs)
        bound.apply_defaults()
        params = sig.parameters

        def call(d):
            pos, kw = [], {}
            for name, p in params.items():
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                    pos.append(d[name])
                elif p.kind is p.VAR_POSITIONAL:
                    pos.extend(d[name])
                elif p.kind is p.KEYWORD_ONLY:
                    kw[name] = d[name]
                else:
                    kw.update(d[name])
            return fun(*pos, **kw)
        return grad(call)(collections.OrderedDict(bound.arguments))
    return gradfun


def grad_named(fun: Callable[..., Any], argname: str) -> Callable[..., Any]:
    """grad with respect to the parameter called argname (pass it positionally)."""
    names = list(inspect.signature(fun).parameters)
    return grad(fun, names.index(argname))


def checkpoint(fun: Callable[..., Any]) -> Callable[..., Any]:
    """fun whose intermediate values are not kept: the backward pass runs it
    again (memory for compute).  Reverse mode only, as in autograd."""
    recomputed = recompute_grad(fun)

    @functools.wraps(fun)
    def checkpointed(*args, **kwargs):
        if not any(isinstance(x, (Tensor, Variable)) for a in args for x in _leaves(a)):
            return fun(*args, **kwargs)
        return recomputed(*args, **kwargs)
    return checkpointed
