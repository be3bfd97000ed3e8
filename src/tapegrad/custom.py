"""User-defined gradients: tf.custom_gradient and tf.recompute_grad.

A call of a decorated function becomes one op on the tapes, with the call's
tensor arguments (and the variables it read) as inputs and fresh tensors as
outputs.  The op's gradient rule calls the user's grad_fn (a "joint" rule: all
inputs' gradients at once); its forward-mode rule transposes grad_fn, which
is linear in its upstream gradients, as TensorFlow does.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad import _core, _nest
from tapegrad._core import Op, Tensor, Variable
from tapegrad.ops.array_ops import identity
from tapegrad.tape import GradientTape

__all__ = ["custom_gradient", "recompute_grad"]


def custom_gradient(f: Callable[..., Any] | None = None) -> Any:
    """Decorator: ``f(*args)`` returns ``(y, grad_fn)``; ``grad_fn(*upstreams)``
    returns one gradient per flattened argument (``None``: no gradient).

    If f reads variables that are not arguments, grad_fn must accept a
    ``variables`` keyword and return ``(input_grads, variable_grads)``.
    grad_fn runs under the tapes active at gradient time, so the second
    derivative is the derivative of the ops grad_fn computes; outputs that do
    not contribute to the target get zero upstreams.  Under a
    ForwardAccumulator the JVP is computed by transposing grad_fn when f is
    called.
    """
    if f is None:
        return custom_gradient

    @functools.wraps(f)
    def decorated(*args, **kwargs):
        # f runs as usual for tapes (grad_fn may use its intermediate tensors,
        # whose history outer tapes need for second order) but not for
        # accumulators, which differentiate the call through grad_fn.
        log = _core.ReadLog()
        visible = [r for r in _core.active_recorders() if not isinstance(r, _core.Accumulator)]
        old = _core.replace_stack(visible + [log])
        try:
            result, grad_fn = f(*args, **kwargs)
        finally:
            _core.replace_stack(old)
        inputs = [_as_input(a) for a in _nest.flatten(args)]
        variables = _captured(log, inputs)
        if variables and not _accepts_variables(grad_fn):
            raise TypeError(f"@tf.custom_gradient grad_fn must accept keyword argument 'variables', since "
                            f"function uses variables: {variables}")
        return _record(_name(f), inputs, variables, result, grad_fn, None)

    return decorated


def recompute_grad(f: Callable[..., Any]) -> Callable[..., Any]:
    """Decorator: f's forward values are not kept on the tape; the gradient
    runs f again (under a fresh tape) during the backward sweep, trading
    compute for memory.  Gradients (also for variables f reads, and second
    order) equal the plain ones.  Not usable in forward mode."""
    name = _name(f)

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        log = _core.ReadLog()
        old = _core.replace_stack([log])        # nothing records the forward
        try:
            result = f(*args, **kwargs)
        finally:
            _core.replace_stack(old)
        flat_args = _nest.flatten(args)
        inputs = [_as_input(a) for a in flat_args]
        variables = _captured(log, inputs)

        def grad_fn(*upstreams, variables=None):
            ids = [identity(x) for x in inputs]
            watched = ids + list(variables or ())
            with GradientTape() as tape:
                tape.watch(watched)
                it = iter(ids)
                again = f(*_nest.pack_sequence_as(args, [next(it) for _ in flat_args]), **kwargs)
            grads = tape.gradient(again, watched, output_gradients=list(upstreams),
                                  unconnected_gradients="zero")
            return grads[:len(ids)], grads[len(ids):]

        def transpose(*unused):
            raise NotImplementedError(f"recompute_grad tried to transpose grad of {name}. Consider not using "
                                      f"recompute_grad in forward modeautodiff")

        return _record(name, inputs, variables, result, grad_fn, transpose)

    return wrapped


# ---------------------------------------------------------------------------------------------

def _name(f):
    return getattr(f, "__name__", type(f).__name__)


def _as_input(a):
    """A flattened argument as an op input: a Tensor (variables are read, so
    tapes auto-watch them; Python and NumPy values become constants)."""
    return _core.as_tensor(a)


def _captured(log, inputs):
    """Variables f read that are not among its arguments."""
    ids = {t._id for t in inputs}
    return [v for v in log.variables if v._id not in ids]


def _accepts_variables(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return True
    return any(p.name == "variables" or p.kind is p.VAR_KEYWORD for p in params)


class _Meta:
    """What a custom op remembers of an output: enough for a zero upstream."""
    __slots__ = ("shape", "dtype")

    def __init__(self, value):
        self.shape, self.dtype = np.shape(value), np.result_type(value)


def _record(name, inputs, variables, result, grad_fn, transpose):
    """Wrap f's results in fresh tensors and record them as the outputs of one
    op whose inputs are `inputs` + the captured variables."""
    flat = _nest.flatten(result)
    outs = [_core.wrap(_core.as_tensor(r)._value) for r in flat]
    metas = [_Meta(o._value) for o in outs]
    all_inputs = tuple(inputs + [v.value() for v in variables])
    n_args = len(inputs)

    def call_grad_fn(upstreams):
        """grad_fn's gradients as one flat list (inputs, then variables),
        with TensorFlow's checks."""
        if variables:
            input_grads, variable_grads = grad_fn(*upstreams, variables=variables)
            if len(variable_grads) != len(variables):
                raise ValueError("Must return gradient for each variable from @custom_gradient grad_fn.")
        else:
            input_grads, variable_grads = grad_fn(*upstreams), []
        grads = _nest.flatten(input_grads)
        if len(grads) != n_args:
            raise ValueError(f"custom_gradient function expected to return {n_args} gradients, but returned "
                             f"{len(grads)} instead.")
        return grads + list(variable_grads)

    def vjp(g, ans, needs, ins):
        gs = g if len(outs) > 1 else (g,)
        tensor_mode = any(isinstance(x, Tensor) for x in gs)
        ups = [_core.wrap(np.zeros(m.shape, m.dtype)) if x is None else x if isinstance(x, Tensor)
               else _core.wrap(x) for x, m in zip(gs, metas)]
        grads = call_grad_fn(ups)
        return [_gradient_value(gr, x, tensor_mode) for gr, x in zip(grads, all_inputs)]

    def jvp(tangents, ans, ins):
        if transpose is not None:
            transpose()
        res = _transpose(call_grad_fn, tangents, metas)
        return res if len(outs) > 1 else res[0]

    if any(m.dtype.kind in "fc" for m in metas):
        op = Op(name, None, (vjp,), jvps=(jvp,), n_out=len(outs), joint=True, batching=False)
        _core.record(op, all_inputs, tuple(outs) if len(outs) > 1 else outs[0])
    return _nest.pack_sequence_as(result, outs)


def _gradient_value(g, like, tensor_mode):
    """A gradient returned by grad_fn in the form the sweep works in (a Tensor
    in tensor mode, else raw), in the input's dtype."""
    if g is None:
        return None
    if isinstance(g, Variable):
        g = g.value()
    if not isinstance(g, Tensor):
        g = _core.wrap(_core.raw_from_python(g, np.result_type(like._value)))
    return g if tensor_mode else g._value


def _transpose(call_grad_fn, tangents, metas):
    """J t from a linear u -> J^T u: the gradient of <grad_fn(u), t> with
    respect to u (any u; zeros here)."""
    tensor_mode = any(isinstance(t, Tensor) for t in tangents)
    us = [_core.wrap(np.zeros(m.shape, m.dtype)) for m in metas]
    with GradientTape() as tape:
        tape.watch(us)
        grads = call_grad_fn(us)
    pairs = [(g, t) for g, t in zip(grads, tangents) if g is not None and t is not None]
    if not pairs:
        return [None] * len(us)
    res = tape.gradient([g for g, _ in pairs], us, output_gradients=[t for _, t in pairs])
    return [r if r is None or tensor_mode else r._value for r in res]
