"""GradientTape: TensorFlow 2's tape API over the compiled tape.

The lifecycle (enter, exit, re-enter, stop_recording, reset, the one-shot
rule) and the argument handling live here; recording and the backward sweep
live in the compiled core (`tapegrad._core.Tape`).
"""
import contextlib
import enum
import logging
import os
import sys

import numpy as np

from tapegrad import _core, _nest
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError

logger = logging.getLogger("tapegrad")

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_ONE_SHOT = "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)"
_PERSISTENT_IN_CONTEXT = (
    "Calling GradientTape.gradient on a persistent tape inside its context is significantly less efficient "
    "than calling it outside the context (it causes the gradient ops to be recorded on the tape, leading to "
    "increased CPU and memory usage). Only call GradientTape.gradient inside the context if you actually want "
    "to trace the gradient in order to compute higher order derivatives.")


class UnconnectedGradients(enum.Enum):
    """What gradient() returns for a source with no path to the target."""
    NONE = "none"
    ZERO = "zero"


_log_counts = {}


def _caller_site():
    """(file, line) of the first frame outside tapegrad: warnings are rate
    limited per user call site, as TensorFlow's log_first_n does."""
    f = sys._getframe(1)
    while f is not None and os.path.dirname(os.path.abspath(f.f_code.co_filename)).startswith(_PACKAGE_DIR):
        f = f.f_back
    return (f.f_code.co_filename, f.f_lineno) if f is not None else ("?", 0)


def warn_first_n(message, n):
    key = (message, _caller_site())
    count = _log_counts.get(key, 0)
    if count < n:
        _log_counts[key] = count + 1
        logger.warning(message)


def _dtype_name(t):
    return np.result_type(t._value).name


class GradientTape:
    """Records operations on watched tensors for automatic differentiation.

    ``with GradientTape() as t: y = f(x)`` then ``t.gradient(y, x)``.
    Trainable variables read inside the context are watched automatically;
    tensors are watched with ``t.watch(x)``.  A non-persistent tape yields one
    set of gradients and frees its memory as it computes them.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self._persistent = bool(persistent)
        self._watch_accessed_variables = bool(watch_accessed_variables)
        self._tape = None              # the compiled tape; None before entering / after a one-shot use
        self._recording = False
        self._last_watched_variables = ()

    # ---- context ---------------------------------------------------------------------
    def __enter__(self):
        if self._recording:
            raise ValueError("Tape is still recording, This can happen if you try to re-enter an already-active tape.")
        if self._tape is None:
            self._tape = _core.Tape(self._persistent, self._watch_accessed_variables)
        self._push()
        return self

    def __exit__(self, exc_type, exc, tb):
        if self._recording:
            self._pop()
        return False

    def _push(self):
        _core.push_recorder(self._tape)
        self._recording = True

    def _pop(self):
        _core.pop_recorder(self._tape)
        self._recording = False

    @contextlib.contextmanager
    def stop_recording(self):
        """Temporarily stop this tape recording (outer tapes keep recording)."""
        if self._tape is None:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        if not self._recording:
            raise ValueError("Tape is not recording.")
        self._pop()
        try:
            yield
        finally:
            self._push()

    def reset(self):
        """Forget everything recorded so far; only valid while recording."""
        if not self._recording:
            raise ValueError("Tape is not recording.")
        self._pop()
        self._tape = _core.Tape(self._persistent, self._watch_accessed_variables)
        self._push()

    # ---- watching -----------------------------------------------------------------------
    def watch(self, tensor):
        """Watch a tensor, a variable, or a nest of them."""
        if self._tape is None:
            raise AttributeError(
                "GradientTape.watch() was called on a tape that has no recording: enter the tape first "
                "(`with tape:`); a non-persistent tape that already computed its gradient cannot be reused")
        for t in _nest.flatten(tensor):
            if not isinstance(t, (Tensor, Variable)):
                raise ValueError(f"Passed in object {t} of type '{type(t).__name__}', not tf.Tensor or "
                                 f"tf.Variable or ExtensionType.")
            if np.result_type(t._value).kind not in "fc":
                warn_first_n(f"The dtype of the watched tensor must be floating (e.g. tf.float32), got "
                             f"tf.{_dtype_name(t)}", 5)
            # Watching while nothing records is ignored (TensorFlow's rule).
            if not (self._recording or _core.any_recording()):
                continue
            if isinstance(t, Variable):
                self._tape.watch_variable(t)
            else:
                self._tape.watch_tensor(t)

    def watched_variables(self):
        """The variables this tape watched, in their construction order."""
        if self._tape is None:
            return self._last_watched_variables
        return self._tape.watched_variables()

    # ---- gradients ------------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
        """d(sum of targets)/d(source) for each source, in sources' structure."""
        if self._tape is None:
            raise RuntimeError(_ONE_SHOT)
        if target is None:
            raise TypeError("Argument `target` should be a list or nested structure of Tensors, Variables or "
                            "CompositeTensors to be differentiated, but received None.")
        unconnected = _unconnected_value(unconnected_gradients)
        flat_sources = _nest.flatten(sources)
        for s in flat_sources:
            if s is None:
                raise TypeError("Cannot convert the argument `type_value`: None to a TensorFlow DType. "
                                "(a source passed to gradient() is None)")
            if not isinstance(s, (Tensor, Variable)):
                raise AttributeError(f"'{type(s).__name__}' object has no attribute '_id': gradient() sources "
                                     f"must be tapegrad Tensors or Variables")
        flat_targets = _nest.flatten(target)
        for t in flat_targets:
            if not isinstance(t, (Tensor, Variable)):
                raise AttributeError(
                    f"'{type(t).__name__}' object has no attribute '_id': gradient() targets must be tapegrad "
                    f"Tensors or Variables (a value computed outside tapegrad has no recorded history)")
        seeds = self._seeds(flat_targets, output_gradients)
        tape = self._begin_use("gradient")
        results = self._backward(tape, flat_targets, seeds, flat_sources)
        return _nest.pack_sequence_as(sources, self._finish(results, flat_sources, unconnected))

    def _seeds(self, flat_targets, output_gradients):
        """One seed per flattened target: the given output gradient or ones."""
        given = [] if output_gradients is None else _nest.flatten(output_gradients)
        seeds = []
        for i, t in enumerate(flat_targets):
            tv = t._value
            if i < len(given) and given[i] is None:
                raise ValueError("Attempt to convert a value (None) with an unsupported type "
                                 "(<class 'NoneType'>) to a Tensor.")
            if i < len(given):
                g = given[i]
                raw = g._value if isinstance(g, (Tensor, Variable)) else _core.raw_from_python(g, np.result_type(tv))
                if np.shape(raw) != np.shape(tv):
                    try:
                        raw = np.broadcast_to(raw, np.shape(tv))
                    except ValueError:
                        raise InvalidArgumentError(
                            f"Incompatible shapes: {list(np.shape(raw))} vs. {list(np.shape(tv))} [Op:Mul] "
                            f"(output_gradients must match the target's shape)") from None
                seeds.append(_core.raw_from_python(raw, np.result_type(tv)) if np.result_type(raw) != np.result_type(tv) else raw)
            else:
                seeds.append(np.ones_like(tv)[()] if np.ndim(tv) == 0 else np.ones(np.shape(tv), dtype=np.result_type(tv)))
        return seeds

    def _begin_use(self, method):
        """Apply the in-context rules and take the tape for one computation."""
        tape = self._tape
        if self._recording:
            if self._persistent:
                warn_first_n(_PERSISTENT_IN_CONTEXT, 1)
            else:
                self._pop()            # a non-persistent tape stops recording
        if not self._persistent:
            self._last_watched_variables = tape.watched_variables()
            self._tape = None          # one-shot: consumed whatever happens next
        return tape

    def _backward(self, tape, flat_targets, seeds, flat_sources):
        # Rules run on Tensors (and are recorded) when some recorder is still
        # active: that is how nested tapes give higher derivatives.
        tensor_mode = _core.any_recording()
        read = [t.value() if isinstance(t, Variable) else t for t in flat_targets]
        srcs = [s.value() if isinstance(s, Variable) else s for s in flat_sources]
        if tensor_mode:
            seeds = [_core.wrap(s) for s in seeds]
        try:
            return tape.backward(read, seeds, srcs, tensor_mode)
        finally:
            if not self._persistent:
                tape.release()

    def _finish(self, results, flat_sources, unconnected):
        out = []
        for g, s in zip(results, flat_sources):
            sdt = np.result_type(s._value)
            if g is not None and sdt.kind not in "fc" and _value_dtype(g).kind in "fc":
                g = None     # integer sources get no gradient (only gradient(i, i): int ones)
            if g is None:
                if unconnected == "zero":
                    out.append(_core.wrap(np.zeros(np.shape(s._value), dtype=sdt)))
                else:
                    out.append(None)
                continue
            if isinstance(g, Tensor):
                if np.result_type(g._value) != sdt:
                    from tapegrad.ops.math_ops import cast
                    g = cast(g, sdt)
                if np.shape(g._value) != np.shape(s._value):
                    g = _core.wrap(np.broadcast_to(g._value, np.shape(s._value)))
                out.append(g)
            else:
                g = np.asarray(g)
                if g.dtype != sdt:
                    g = g.astype(sdt)
                if g.shape != np.shape(s._value):
                    g = np.broadcast_to(g, np.shape(s._value))
                out.append(_core.wrap(g if g.flags.owndata or g.base is None else np.array(g)))
        return out


def _value_dtype(g):
    return np.result_type(g._value if isinstance(g, Tensor) else g)


def _unconnected_value(value):
    if isinstance(value, UnconnectedGradients):
        return value.value
    if value in ("none", "zero"):
        return value
    raise ValueError(f"Unknown value for unconnected_gradients: {value!r}")
