"""Forward mode: tf.autodiff.ForwardAccumulator over the compiled core.

    with ForwardAccumulator(x, u) as acc:
        y = f(x)
    acc.jvp(y)                    # J_f(x) @ u, computed alongside y

The accumulator is a recorder on the thread's stack (tapegrad._core.Accumulator):
each op computed inside the context gets its output tangent from its inputs'
tangents through the op's JVP rules.  Nesting with tapes and other
accumulators follows TensorFlow (docs/tensorflow_semantics.md §14, pinned by
tests/test_forward.py): see the core class.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from tapegrad import _callsite, _core, _nest
from tapegrad._core import Tensor, Variable
from tapegrad.ops.math_ops import cast
from tapegrad.ops.sparse_ops import IndexedSlices
from tapegrad.tape import UnconnectedGradients, _dtype_name, warn_first_n

if TYPE_CHECKING:
    from tapegrad._types import Nest

__all__ = ["ForwardAccumulator"]

_DUPLICATE_PRIMAL = ("Tensor {} was specified as a primal multiple times. This may indicate an error. If it "
                     "was intended, please sum the corresponding tangents.")


def _assert_same_structure(a, b):
    """tf.nest.assert_same_structure's check and message, for primals/tangents
    (iterative: nests may be deep)."""
    stack = [(a, b)]
    while stack:
        x, y = stack.pop()
        if isinstance(x, dict) or isinstance(y, dict):
            same = isinstance(x, dict) and isinstance(y, dict) and sorted(x) == sorted(y)
            pairs = [(x[k], y[k]) for k in sorted(x)] if same else []
        elif isinstance(x, (list, tuple)) or isinstance(y, (list, tuple)):
            same = isinstance(x, (list, tuple)) and isinstance(y, (list, tuple)) and len(x) == len(y)
            pairs = list(zip(x, y)) if same else []
        else:
            same, pairs = True, []
        if not same:
            raise ValueError(f"The two structures don't have the same nested structure.\n\nFirst structure: "
                             f"{a!r}\n\nSecond structure: {b!r}")
        stack.extend(pairs)


class ForwardAccumulator:
    """Computes Jacobian-vector products alongside the forward computation.

    ``ForwardAccumulator(primals, tangents)``: matching nests of tensors or
    variables and their tangents.  Inside ``with acc:`` every op that depends
    on a primal gets a tangent; ``acc.jvp(y)`` looks it up (inside or after the
    context).  Ops need JVP rules, not finite differences.

    Args:
        primals: a Tensor or Variable, or a nest of them: the inputs whose
            directional derivative is taken.
        tangents: a matching nest of tangents (tensors, arrays or numbers of
            each primal's shape), converted to each primal's dtype.

    Raises:
        ValueError: the nests differ in structure, a tangent's shape differs
            from its primal's, or a primal is given twice.

    Example:
        >>> import tapegrad as tg
        >>> x = tg.constant(2.0)
        >>> with tg.autodiff.ForwardAccumulator(primals=x, tangents=1.0) as acc:
        ...     y = x * x * x
        >>> acc.jvp(y)
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=12.0>
    """

    def __init__(self, primals: Nest, tangents: Nest) -> None:
        if isinstance(primals, (Tensor, Variable)) and (type(tangents) is Tensor or not _nest.is_nested(tangents)):
            pairs = ((primals, tangents),)
        else:
            _assert_same_structure(primals, tangents)
            pairs = zip(_nest.flatten(primals), _nest.flatten(tangents))
        self._acc = _core.Accumulator()
        self._recording = False
        self._primals = []                # what the repr lists
        seen = set()
        for p, t in pairs:
            if not isinstance(p, (Tensor, Variable)):
                p = _core.as_tensor(p)
            if p._id in seen:
                raise ValueError(_DUPLICATE_PRIMAL)
            seen.add(p._id)
            if p._value.dtype.kind not in "fc":
                tg = _callsite.module_name()
                warn_first_n(f"The dtype of the watched primal must be floating (e.g. {tg}.float32), got "
                             f"{tg}.{_dtype_name(p)}", 5)
                continue
            pv = p._value
            if type(t) is not Tensor or t._value.dtype != pv.dtype or t._value.shape != pv.shape:
                t = _tangent_like(t, p)         # (a Tensor of the primal's dtype and shape is kept as it is)
            self._acc.watch(p._id, t)
            self._primals.append(p)

    def __repr__(self):
        state = "recording" if self._recording else "not recording"
        primals = [p.name if isinstance(p, Variable) else f"Tensor{tuple(np.shape(p._value))}"
                   for p in self._primals]
        return f"<tapegrad.autodiff.ForwardAccumulator: {state}, primals: {primals}>"

    def __enter__(self) -> ForwardAccumulator:
        """Start computing tangents for the ops run inside ``with acc:``.

        Raises:
            ValueError: the accumulator is already recording.
        """
        if self._recording:
            raise ValueError("Accumulator is already recording.")
        _core.push_recorder(self._acc)
        self._recording = True
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        """Stop computing tangents; those computed stay available to jvp()."""
        if self._recording:
            _core.pop_recorder(self._acc)
            self._recording = False
        return False

    def jvp(self, primals: Nest, unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE) -> Any:
        """The tangent (Jacobian-vector product) of each tensor in a nest.

        A lookup: tangents were computed as the ops ran.

        Args:
            primals: a Tensor or Variable computed inside the accumulator (or
                one of its primals), or a nest of them.
            unconnected_gradients: ``'none'`` (default) or ``'zero'``.

        Returns:
            J @ tangents for each tensor, in the structure of `primals`.  An
            entry is None when the tensor does not depend on the accumulator's
            primals (computed outside the context, through NumPy values, or
            an integer op); zeros of its shape with
            ``unconnected_gradients='zero'``.

        Raises:
            TypeError: an element is not a Tensor or Variable.
            ValueError: an unknown unconnected_gradients value.
        """
        # The default without the enum's lookup (two Python frames, a cost per call in W9).
        zero = (unconnected_gradients is not UnconnectedGradients.NONE
                and UnconnectedGradients(unconnected_gradients) is UnconnectedGradients.ZERO)
        if type(primals) is Tensor:
            t = self._acc.tangent(primals._id)      # _jvp_one's common case, without its frame
            if t is not None or not zero:
                return t
        if isinstance(primals, (Tensor, Variable)):
            return self._jvp_one(primals, zero)
        return _nest.pack_sequence_as(primals, [self._jvp_one(x, zero) for x in _nest.flatten(primals)])

    def _jvp_one(self, x, zero):
        # A method, not a closure calling itself: that closure would be a reference cycle
        # holding the accumulator (and its tangents) until the cyclic collector ran.
        if isinstance(x, IndexedSlices):        # a sparse gradient: the tangent of its values, same rows
            t = self._jvp_one(x.values, zero)
            return None if t is None else IndexedSlices(t, x.indices, x._dense_shape)
        if not isinstance(x, (Tensor, Variable)):
            raise TypeError(f"ForwardAccumulator.jvp expects tensors or variables, got "
                            f"{type(x).__name__}")
        t = self._acc.tangent(x._id)
        if t is None and zero:
            return _core.wrap(np.zeros(np.shape(x._value), dtype=np.result_type(x._value)))
        return t


def _tangent_like(t, primal):
    """The tangent as a Tensor of the primal's dtype and shape.  A Tensor of the
    right dtype is kept as it is, so a tape outside can differentiate through it."""
    dt = primal._value.dtype
    if isinstance(t, Variable):
        t = t.value()
    if isinstance(t, Tensor):
        if t._value.dtype != dt:
            t = cast(t, dt)
    else:
        t = _core.wrap(_core.raw_from_python(t, dt))
    if t._value.shape != primal._value.shape:
        raise ValueError(f"A tangent's shape must match its primal's: got a tangent of shape "
                         f"{np.shape(t._value)} for a primal of shape {np.shape(primal._value)}")
    return t
