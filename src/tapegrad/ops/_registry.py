"""The op registry: every op family declares its ops here, one entry each.

An entry is a `tapegrad._core.Op` (NumPy forward, one VJP rule per input,
what the rules need saved) plus the public function users call and the NumPy
names that reach it through ``__array_ufunc__`` / ``__array_function__``.
Nothing outside this registry is differentiable: a NumPy function that is not
registered raises a TypeError naming it (see numpy_dispatch).
"""
from tapegrad import _core
from tapegrad._core import Op, UNARY, BINARY, GENERAL, SAVE_INPUTS, SAVE_ANS, Tensor, Variable

OPS = {}          # name -> Op (differentiable or not)
UFUNCS = {}       # numpy ufunc -> callable taking the ufunc's positional inputs
FUNCTIONS = {}    # numpy function -> callable with the numpy signature

_SAVE = {"": 0, "x": SAVE_INPUTS, "ans": SAVE_ANS, "x,ans": SAVE_INPUTS | SAVE_ANS}


def _register(op, ufunc=None):
    if op.name in OPS:
        raise ValueError(f"op {op.name!r} is declared twice")
    OPS[op.name] = op
    if ufunc is not None:
        UFUNCS[ufunc] = op
    return op


def unary(name, forward, vjp, save="", ufunc=None, scalar=None, jvp=None):
    """An elementwise op of one tensor: ``vjp(g, ans, x)``, ``jvp(t, ans, x)``.
    `scalar` is the same function from the math module, a fast path for
    float64 scalars."""
    return _register(Op(name, forward, (vjp,), kind=UNARY, save=_SAVE[save], scalar=scalar,
                        jvps=None if jvp is None else (jvp,)), ufunc)


def binary(name, forward, vjp_x, vjp_y, save="", ufunc=None, jvp_x=None, jvp_y=None):
    """A broadcasting elementwise op of two tensors: ``vjp_x(g, ans, x, y)``.
    Rules return the gradient at the broadcast shape; the core sums it back."""
    jvps = None if jvp_x is None and jvp_y is None else (jvp_x, jvp_y)
    return _register(Op(name, forward, (vjp_x, vjp_y), kind=BINARY, save=_SAVE[save], jvps=jvps), ufunc)


def general(name, forward, vjps, save="", n_out=1, jvps=None, batching=True):
    """An op of tensors plus static params: ``forward(*inputs, *params)``,
    ``vjp_i(g, ans, *inputs, *params)``, ``jvp_i(t_i, ans, *inputs, *params)``."""
    return _register(Op(name, forward, vjps, kind=GENERAL, save=_SAVE[save], n_out=n_out, jvps=jvps,
                        batching=batching))


def nondiff(name, forward, kind=GENERAL, ufunc=None):
    """An op whose outputs never carry gradients (comparisons, rounding,
    argmax, ...): TensorFlow returns None through them, and so do we."""
    return _register(Op(name, forward, None, kind=kind, differentiable=False), ufunc)


def numpy_function(*np_funcs):
    """Decorator: route these NumPy functions on Tensors to the decorated one."""
    def deco(f):
        for nf in np_funcs:
            FUNCTIONS[nf] = f
        return f
    return deco


def is_tensor_like(x):
    return isinstance(x, (Tensor, Variable))


def call(op, *inputs, params=None):
    """Run `op` inside a rule: recorded (a Tensor) if any input is a Tensor,
    plain NumPy on raw values otherwise.  Lets a rule use ops NumPy lacks
    (relu_grad, scatter) and still run on both paths."""
    if any(isinstance(x, (Tensor, Variable)) for x in inputs):
        return _core.apply(op, inputs, params)
    if params is None:
        return op.forward(*inputs)
    return op.forward(*inputs, *params)
