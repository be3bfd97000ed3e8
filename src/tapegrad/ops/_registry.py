"""The op registry: every op family declares its ops here, one entry each.

An entry is a `tapegrad._core.Op` (NumPy forward, one VJP and one JVP rule per
input, what the rules need saved) plus the public function users call and the
NumPy names that reach it through ``__array_ufunc__`` / ``__array_function__``.
Nothing outside this registry is differentiable: a NumPy function that is not
registered raises a TypeError naming it (see numpy_dispatch).

Rule conventions (the engines rely on them; tests/test_ops_rules.py checks them):

* VJP ``vjp_i(g, ans, *inputs, *params)`` returns the gradient for input i
  (None: no gradient).  Inputs and ``ans`` the op does not save arrive as None.
  Multi-output ops get ``g`` as a tuple with None for outputs without gradient.
* JVP ``jvp_i(t_i, ans, *inputs, *params)`` returns the output tangent that
  input i's tangent contributes (a tuple for multi-output ops, None: none).
  JVPs get every input and ``ans``.  For elementwise ops the Jacobian is
  diagonal, so the JVP *is* the VJP (the default for `unary` and `binary`);
  binary JVPs return a tangent that broadcasts to ``ans``'s shape.
* Variadic ops (concat) have one rule of each kind:
  ``rule(g_or_t, ans, i, inputs, *params)``.
* These layouts are fixed per op when it is declared (``Op.calling``); every
  engine and test calls a rule through ``Op.vjp(i, ...)`` / ``Op.jvp(i, ...)``,
  never by unpacking the layout itself.
* Linear ops (reshape, transpose, indexing, sums) declare ``linear=True`` and
  write no JVP: it is the op applied to the tangent.
* Complex values (docs/complex.md): a gradient is dL/dRe + i dL/dIm,
  TensorFlow's convention, so a holomorphic op's VJP is ``g * conj(f'(x))``
  and its JVP ``t * f'(x)``.  An op declared ``holomorphic=True`` writes its
  rules once with real coefficients; its complex VJP is the same rule called
  on conjugated inputs and output (``conjugated``), and its JVP needs no
  change.  Other ops give ``cvjps=`` / ``cjvps=`` (complex rules, chosen by
  the core when the cotangent / tangent is complex) or handle complex values
  in their rules.
* Operands: a public function that takes several tensors converts them with
  ``_core.operands(values, op_name)`` (TensorFlow's one-dtype rule), the same
  conversion the core applies to binary operators.
* Batching: with ``batching=True`` (the default) every VJP rule accepts a
  cotangent with extra *leading* axes and returns gradients with the same
  leading axes, so a Jacobian is one batched sweep.  Rules get this by
  broadcasting (elementwise rules), by negative axes (softmax, cumsum,
  reverse), or by counting the extra axes as ``ndim(g) - <output rank>``
  (reshape, transpose, reductions, indexing, un-broadcasting via
  ``_shapes.sum_to_shape(g, shape, batch_ndim)``).  An op whose rules cannot
  do this declares ``batching=False`` and is swept one row at a time.
* Rules are written once, in NumPy idiom (``np.cos``, ``np.sum``, ``@``), so
  they run on raw arrays (first order, fast) and on Tensors (higher order:
  NumPy's protocols dispatch to registered ops).  Every NumPy function a rule
  uses is therefore itself a registered differentiable op; `call` runs ops
  NumPy lacks.  Rules follow TensorFlow's formulas (which tensors they read),
  so a second derivative is None exactly where TensorFlow's is.
"""
import sys

import numpy as np

from tapegrad import _core
from tapegrad._core import BINARY, GENERAL, SAVE_ANS, SAVE_INPUTS, UNARY, Op, Tensor, Variable
from tapegrad.ops._docs import document_op

OPS = {}          # name -> Op (differentiable or not)
UFUNCS = {}       # numpy ufunc -> callable taking the ufunc's positional inputs
FUNCTIONS = {}    # numpy function -> callable with the numpy signature
SCIPY_UFUNCS = {}  # name of a scipy.special ufunc -> callable taking its positional inputs (ops/scipy_ops.py)

_SAVE = {"": 0, "x": SAVE_INPUTS, "ans": SAVE_ANS, "x,ans": SAVE_INPUTS | SAVE_ANS}


def _register(op, ufunc=None):
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is declared twice")
    if op.differentiable and len(op.jvps) != len(op.vjps):
        raise ValueError(f"op {op.name!r}: {len(op.jvps)} JVP rules for {len(op.vjps)} VJP rules")
    if op.differentiable and any((v is None) != (j is None) for v, j in zip(op.vjps, op.jvps)):
        raise ValueError(f"op {op.name!r}: an input has a VJP rule without a JVP rule or vice versa")
    OPS[op.name] = op
    if ufunc is not None:
        UFUNCS[ufunc] = op
    return op


def _documented(op, ufunc, doc):
    """A public op's docstring and signature (ops/_docs.py), from the `doc`
    fields of its declaration; internal ops (relu_grad, ...) have none."""
    if doc:
        module = sys._getframe(2).f_globals["__name__"]       # the family module declaring the op
        document_op(op, module, numpy=doc.pop("numpy", f"numpy.{ufunc.__name__}" if ufunc else None), **doc)
    return op


def _conj(v):
    return None if v is None else np.conjugate(v)


def conjugated(rule, n_lead=2):
    """A holomorphic op's complex VJP: `rule` (written for real values) called
    with its inputs and output conjugated (TensorFlow's gradients conjugate
    what they read the same way).  The first `n_lead - 1` arguments after g
    are ans and the inputs ... all but g and static params are conjugated."""
    def complex_rule(g, ans, *args):
        return rule(g, _conj(ans), *[_conj(a) for a in args[:n_lead]], *args[n_lead:])
    return complex_rule


def _complex_rules(rules, holomorphic, given, n_in):
    if given is not None:
        return tuple(given)
    if holomorphic:
        return tuple(None if r is None else conjugated(r, n_in) for r in rules)
    return None


def unary(name, forward, vjp, save="", ufunc=None, scalar=None, jvp=None, holomorphic=False, cvjp=None, cjvp=None,
          factor=None, form=None, **doc):
    """An elementwise op of one tensor: ``vjp(g, ans, x)``, ``jvp(t, ans, x)``
    (default: the VJP, the Jacobian being diagonal).  `scalar` is the same
    function from the math module, a fast path for float64 scalars.
    `holomorphic`: complex inputs are differentiated with the same rules
    (conjugated for the VJP); `cvjp` / `cjvp`: explicit complex rules.
    `factor(ans, x)`: where the VJP is exactly ``g * f``, the rule's own f (the
    sweep then skips multiplying by a cotangent of ones and keeps a Jacobian's
    diagonal seed diagonal; real values only).  f must be elementwise, as the
    op is: the sweep may compute it on blocks of ans and x.  A factor that
    does not depend on the values is given as that float (negative's -1.0):
    the sweep reads it without a call.  `form`: the VJP
    once more as a form the core runs without a Python frame, e.g.
    ``(np.multiply, "g", (np.cos, "x"))`` for ``g * np.cos(x)`` (the rule's own
    expression, step for step; see the core's Op.vjp_forms).  `doc`: the public op's
    docstring fields (doc=, grad=, at=, gives=, dtypes=, ...; see
    ops/_docs.document_op)."""
    return _documented(_register(Op(name, forward, (vjp,), kind=UNARY, save=_SAVE[save], scalar=scalar,
                                    jvps=(vjp if jvp is None else jvp,),
                                    cvjps=_complex_rules((vjp,), holomorphic, None if cvjp is None else (cvjp,), 1),
                                    cjvps=None if cjvp is None else (cjvp,),
                                    factors=None if factor is None else (factor,),
                                    vjp_forms=None if form is None else (form,)), ufunc), ufunc, doc)


X, Y = 1, 2   # `reads` bits: the rule reads input x / input y


def binary(name, forward, vjp_x, vjp_y, save="", ufunc=None, jvp_x=None, jvp_y=None, reads=None, holomorphic=False,
           cvjps=None, factors=None, scalar_vjp=None, forms=None, **doc):
    """A broadcasting elementwise op of two tensors: ``vjp_x(g, ans, x, y)``.
    Rules return the gradient at the broadcast shape; the core sums it back.
    JVPs default to the VJPs (diagonal Jacobians).  `reads=(X|Y, X)` says
    which inputs each rule reads, so a tape keeps only those alive (for
    ``x * 1.0001`` only the constant).  `factors=(fx, fy)`: as `unary`'s
    factor, ``f(ans, x, y)`` per input (None where the rule is not ``g * f``;
    a float where f is that constant, add's 1.0).
    `scalar_vjp`: "pass" (both rules return g) or "scale" (each rule is g times
    the other input), shorthands for `forms=(form_x, form_y)`: the rules as
    forms (see `unary`'s `form`), None where a rule has none."""
    jvps = (vjp_x if jvp_x is None else jvp_x, vjp_y if jvp_y is None else jvp_y)
    return _documented(_register(Op(name, forward, (vjp_x, vjp_y), kind=BINARY, save=_SAVE[save], jvps=jvps,
                                    reads=reads, cvjps=_complex_rules((vjp_x, vjp_y), holomorphic, cvjps, 2),
                                    factors=factors, scalar_vjp=scalar_vjp, vjp_forms=forms), ufunc), ufunc, doc)


def general(name, forward, vjps, save="", n_out=1, jvps=None, batching=True, linear=False, holomorphic=False,
            cvjps=None, cjvps=None, diag_vjps=None):
    """An op of tensors plus static params: ``forward(*inputs, *params)``,
    ``vjp_i(g, ans, *inputs, *params)``, ``jvp_i(t_i, ans, *inputs, *params)``.

    linear=True: the op is linear in its one tensor input (reshape, transpose,
    indexing, sums), so its JVP is the op itself applied to the tangent and is
    not written out.  holomorphic / cvjps / cjvps: as for `unary` (a
    holomorphic op of one output; multi-output ops handle complex values in
    their rules).  diag_vjps: per input, ``rule(d, ans, *inputs, *params)``
    for a Jacobian's cotangents kept diagonal (see the core's Op)."""
    return _register(Op(name, forward, vjps, kind=GENERAL, save=_SAVE[save], n_out=n_out, jvps=jvps,
                        batching=batching, linear=linear,
                        cvjps=_complex_rules(vjps, holomorphic, cvjps, len(vjps)), cjvps=cjvps, diag_vjps=diag_vjps))


def _conjugated_variadic(rule):
    def complex_rule(g, ans, i, inputs, *params):
        return rule(g, _conj(ans), i, tuple(_conj(x) for x in inputs), *params)
    return complex_rule


def variadic(name, forward, vjp, jvp, save="", holomorphic=False):
    """An op of any number of tensors (concat): ``forward(*inputs, *params)``,
    ``vjp(g, ans, i, inputs, *params)``, ``jvp(t_i, ans, i, inputs, *params)``.
    holomorphic: as for `unary` (einsum)."""
    return _register(Op(name, forward, (vjp,), kind=GENERAL, save=_SAVE[save], jvps=(jvp,), variadic=True,
                        cvjps=(_conjugated_variadic(vjp),) if holomorphic else None))


def nondiff(name, forward, kind=GENERAL, ufunc=None, **doc):
    """An op whose outputs never carry gradients (comparisons, rounding,
    argmax, ...): TensorFlow returns None through them, and so do we."""
    return _documented(_register(Op(name, forward, None, kind=kind, differentiable=False), ufunc), ufunc,
                       dict(doc, grad=None) if doc else doc)


def numpy_function(*np_funcs):
    """Decorator: route these NumPy functions on Tensors to the decorated one."""
    def deco(f):
        for nf in np_funcs:
            FUNCTIONS[nf] = f
        return f
    return deco


def call(op, *inputs, params=None):
    """Run `op` inside a rule: recorded (a Tensor) if any input is a Tensor,
    plain NumPy on raw values otherwise.  Lets a rule use ops NumPy lacks
    (relu_grad, scatter) and still run on both paths."""
    for x in inputs:
        if isinstance(x, (Tensor, Variable)):
            return _core.apply(op, inputs, params)
    if params is None:
        return op.forward(*inputs)
    return op.forward(*inputs, *params)


def raw(x):
    """The NumPy value behind a Tensor (or the value itself): for the static
    decisions a rule makes (shapes, zero tests), never for values it returns."""
    return x._value if isinstance(x, Tensor) else x
