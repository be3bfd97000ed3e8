"""GradientTape: TensorFlow 2's tape API over the compiled tape.

The lifecycle (enter, exit, re-enter, stop_recording, reset, the one-shot
rule) and the argument handling live here; recording and the backward sweep
live in the compiled core (`tapegrad._core.WengertList`).  Looking at what a tape recorded
(describe, to_dot, render, explain) lives in tapegrad.inspect_tape.
"""
from __future__ import annotations

import contextlib
import enum
import logging
import math
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from tapegrad import _callsite, _core, _nest, inspect_tape
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._shapes import shape_of
from tapegrad.ops.array_ops import broadcast_to, reshape, stack, transpose
from tapegrad.ops.math_ops import cast
from tapegrad.ops.sparse_ops import IndexedSlices, densify

if TYPE_CHECKING:
    from tapegrad._types import Nest

logger = logging.getLogger("tapegrad")

_ONE_SHOT = "A non-persistent GradientTape can only be used to compute one set of gradients (or jacobians)"
# TensorFlow's texts, verbatim: "tocompute" and the double spaces are theirs.
_ONE_SHOT_BATCH = "A non-persistent GradientTape can only be used tocompute one set of gradients (or jacobians)"
_NO_PFOR = ("GradientTape must be created with persistent=True to compute the jacobian with eager execution "
            "enabled and with  experimental_use_pfor set to False.")
_NO_PFOR_BATCH = ("GradientTape must be created with persistent=True to compute the batch_jacobian with eager "
                  "execution enabled and  with experimental_use_pfor set to False.")
_COUPLED_BATCH = (
    "batch_jacobian: rows of the target depend on other rows of the source (the examples are not "
    "independent). As in TensorFlow, the result holds each target row's gradient summed over the batch, "
    "which is not the per-example Jacobian; use jacobian() for the full Jacobian.")
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


def warn_first_n(message, n):
    """Log `message` at most n times per user call site, as TensorFlow's
    log_first_n does; the record carries the user's file and line."""
    f = _callsite.user_frame()
    key = (message, (f.f_code.co_filename, f.f_lineno) if f is not None else ("?", 0))
    count = _log_counts.get(key, 0)
    if count < n:
        _log_counts[key] = count + 1
        logger.warning(message, stacklevel=_callsite.stacklevel())


def _dtype_name(t):
    return np.result_type(t._value).name


class GradientTape:
    """Records operations on watched tensors for automatic differentiation.

    ``with GradientTape() as t: y = f(x)`` then ``t.gradient(y, x)``.
    Trainable variables read inside the context are watched automatically;
    tensors are watched with ``t.watch(x)``.  A non-persistent tape yields one
    set of gradients and frees its memory as it computes them.

    Args:
        persistent: bool, default False.  True lets gradient(), jacobian() and
            batch_jacobian() be called any number of times; the tape then
            keeps what it recorded until it is deleted.
        watch_accessed_variables: bool, default True.  False: only what
            watch() was given is watched, not every trainable variable read.

    Example:
        >>> import tapegrad as tg
        >>> x = tg.Variable(3.0)
        >>> with tg.GradientTape() as tape:
        ...     y = x * x
        >>> tape.gradient(y, x)
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=6.0>
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self._persistent = bool(persistent)
        self._watch_accessed_variables = bool(watch_accessed_variables)
        self._wengert = None              # the compiled tape; None before entering / after a one-shot use
        self._recording = False
        self._pushed = None               # the WengertList on its owner thread's recorder stack
        self._released = False            # a non-persistent tape that computed its one result
        self._used = None                 # a one-shot tape's used WengertList (its watched variables)
        # For describe()/explain(), kept outside the per-op path: when recording started and
        # stopped ((id clock, event) pairs, see WengertList.id_clock) and the shape and dtype of
        # each tensor passed to watch().
        self._events = []
        self._watched_meta = {}

    def __repr__(self):
        if self._recording:
            state = "recording"
        elif self._released:
            state = "released (its one gradient computed)"
        elif self._wengert is None:
            state = "not entered"
        else:
            state = "not recording"
        ops = self._wengert.num_nodes if self._wengert is not None else 0
        names = [v.name for v in self.watched_variables()]
        return (f"<tapegrad.GradientTape: {state}, persistent={self._persistent}, {ops} ops recorded, "
                f"watched variables: {names}>")

    # ---- context ---------------------------------------------------------------------
    def __enter__(self) -> GradientTape:
        """Start recording (``with tape:``); returns the tape.

        Raises:
            ValueError: the tape is already recording.
        """
        if self._recording:
            raise ValueError("Tape is still recording, This can happen if you try to re-enter an already-active tape.")
        if self._wengert is None:
            self._wengert = _core.WengertList(self._persistent, self._watch_accessed_variables)
            self._events = []
            self._watched_meta = {}
            self._released = False
        self._push("enter")
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        """Stop recording; what was recorded stays for gradient()."""
        if self._recording:
            self._pop("exit")
        return False

    def _push(self, event):
        _core.push_recorder(self._wengert)
        self._pushed = self._wengert
        self._recording = True
        self._events.append((_core.WengertList.id_clock(), event))

    def _pop(self, event):
        try:
            _core.pop_recorder(self._pushed)
        except ValueError:
            # A tape records in the thread that entered it; stop_recording() or reset() from
            # another thread cannot pause or restart that thread's recording.
            raise ValueError(f"Tape is not recording in this thread: {event}() must be called from the "
                             f"thread that entered the tape (`with tape:`)") from None
        self._pushed = None
        self._recording = False
        self._events.append((_core.WengertList.id_clock(), event))

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """A context in which this tape does not record (outer tapes still do).

        Example: ``with tape.stop_recording(): metric = loss * 1.0`` is not
        differentiated by this tape.

        Raises:
            RuntimeError: the tape was never entered.
            ValueError: the tape has exited (is not recording).
        """
        if self._wengert is None:
            raise RuntimeError("Trying to stop recording a tape which is not recording.")
        if not self._recording:
            raise ValueError("Tape is not recording.")
        self._pop("stop_recording")
        try:
            yield
        finally:
            self._push("resume")

    def reset(self) -> None:
        """Forget everything recorded so far and keep recording.

        Raises:
            ValueError: the tape is not recording.
        """
        if not self._recording:
            raise ValueError("Tape is not recording.")
        self._pop("reset")
        self._wengert = _core.WengertList(self._persistent, self._watch_accessed_variables)
        self._events = []
        self._watched_meta = {}
        self._push("enter")

    # ---- watching -----------------------------------------------------------------------
    def watch(self, tensor: Nest) -> None:
        """Watch a tensor, a variable, or a nest of them: operations on it are
        recorded, so gradient() can differentiate with respect to it.

        Constants must be watched; trainable variables are watched when read.
        Watching while the tape does not record is ignored (as in TensorFlow);
        an integer or bool tensor logs a warning and gets no gradient.

        Args:
            tensor: a Tensor, a Variable, or a list/tuple/dict nest of them.

        Raises:
            AttributeError: the tape was never entered, or is a non-persistent
                tape that already computed its gradient.
            ValueError: an element is not a Tensor or Variable.
        """
        if self._wengert is None:
            raise AttributeError(
                "GradientTape.watch() was called on a tape that has no recording: enter the tape first "
                "(`with tape:`); a non-persistent tape that already computed its gradient cannot be reused")
        # (one Tensor, W9's watch(x): a tuple of it, without _flat's frame)
        for t in ((tensor,) if type(tensor) is Tensor else _flat(tensor)):
            if not isinstance(t, (Tensor, Variable)):
                raise ValueError(f"Passed in object {t} of type '{type(t).__name__}', not tf.Tensor or "
                                 f"tf.Variable or ExtensionType.")
            if t._value.dtype.kind not in "fc":
                tg = _callsite.module_name()
                warn_first_n(f"The dtype of the watched tensor must be floating (e.g. {tg}.float32), got "
                             f"{tg}.{_dtype_name(t)}", 5)
            # Watching while nothing records *in this thread* is ignored (TensorFlow's
            # rule): a tape records only the thread that entered it.
            if not _core.any_recording():
                continue
            if isinstance(t, Variable):
                self._wengert.watch_variable(t)
            else:
                self._wengert.watch_tensor(t)
                v = t._value
                # what np.shape / np.result_type give, without their dispatch frames
                self._watched_meta[t._id] = ((v.shape, v.dtype) if type(v) is np.ndarray or isinstance(v, np.generic)
                                             else (np.shape(v), np.result_type(v)))

    def watched_variables(self) -> tuple[Variable, ...]:
        """The variables this tape watched, as a tuple in the order they were
        created (TensorFlow's order), including after a one-shot gradient."""
        if self._wengert is None:
            return self._last_watched_variables
        return self._wengert.watched_variables()

    @property
    def _last_watched_variables(self):
        # Asked for only after a one-shot gradient(), so computed then, not on every call: a
        # released WengertList keeps its watched variables (never changed once released).
        return () if self._used is None else self._used.watched_variables()

    # ---- looking at the recording (tapegrad.inspect_tape) ----------------------------------
    def describe(self) -> str:
        """The recording as a Wengert list, one line per op: ``v3 = multiply(v1, v2)``, with
        each result's dtype and shape; watched tensors and variables where the tape met them.

        Works while recording, and on a persistent tape before and after gradient(); a
        non-persistent tape that computed its gradient says it was released.
        """
        return inspect_tape.describe(self)

    def to_dot(self, target: Nest = None) -> str:
        """Graphviz DOT source of the recording.

        One node per op (its name, output dtype and shape), edges for tensors, watched
        tensors and variables marked. With `target` (a tensor or a nest of them), only the
        ops on a path to it, and the edges its gradient flows back along in red. Needs
        neither the graphviz package nor Graphviz.
        """
        return inspect_tape.to_dot(self, target)

    def render(self, path: str, target: Nest = None, format: str = "svg") -> str:  # noqa: A002 - graphviz's name
        """Draw to_dot(target) into the file `path` and return `path`.

        Args:
            path: the file to write.
            target: as for to_dot().
            format: any output format of Graphviz's ``dot`` ("svg", "png", "pdf", ...).

        Raises:
            ImportError: the optional ``graphviz`` Python package is not installed.
            RuntimeError: Graphviz's ``dot`` program is not on PATH.
        """
        return inspect_tape.render(self, path, target, format)

    def explain(self, target: Nest, sources: Nest) -> Any:
        """Why gradient(target, sources) is None for each source, or through which ops it is
        connected.

        Returns:
            One `inspect_tape.Explanation` per source, in the structure of `sources`: its
            ``reason`` is a key of `inspect_tape.REASONS`, and printing it gives the message.
        """
        return _pack(sources, inspect_tape.explain(self, target, self._check_sources(_flat(sources))))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        # Jupyter shows a tape as its graph when Graphviz can draw it, else as describe().
        return inspect_tape.mimebundle(self)

    def _repr_svg_(self) -> str | None:
        return inspect_tape.svg_or_none(self)

    # ---- gradients ------------------------------------------------------------------------
    def gradient(self, target: Nest, sources: Nest, output_gradients: Nest = None,
                 unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE) -> Any:
        """The gradient of the sum of the targets with respect to each source.

        Args:
            target: a Tensor or Variable, or a nest of them (each is summed;
                non-scalar targets are summed over their elements).
            sources: a Tensor or Variable, or a nest of them.
            output_gradients: None (the default: ones), or one seed per
                flattened target: gradient() then returns the vector-Jacobian
                product with those seeds.
            unconnected_gradients: ``'none'`` (default) or ``'zero'``, or an
                `UnconnectedGradients`.

        Returns:
            One Tensor per source, in the structure of `sources`, with the
            source's shape and dtype.  An entry is None when that source does
            not affect the targets through recorded operations (it was not
            watched, the path goes through NumPy values, an integer op, a
            stop_gradient, or an assign), when the source has an integer
            dtype, and when the gradient is a constant computed by an inner
            tape (a second derivative of linear code); with
            ``unconnected_gradients='zero'`` those entries are zeros instead.

        Raises:
            RuntimeError: a non-persistent tape is used a second time, or the
                tape was never entered.
            TypeError: target is None, or a source is None.
            AttributeError: a target or source is not a tapegrad Tensor or
                Variable (a Python number, an ndarray).
            ValueError: an unknown unconnected_gradients value.
        """
        if (output_gradients is None and unconnected_gradients is UnconnectedGradients.NONE
                and type(target) is Tensor and self._wengert is not None):
            kind = type(sources)
            if kind is list and _exact_leaves(sources):
                return self._gradient_of_list(target, sources)
            if kind is Tensor or kind is Variable:
                return self._gradient_of_list(target, [sources])[0]
        if self._wengert is None:
            raise RuntimeError(self._not_recorded_message(_ONE_SHOT, "gradient()"))
        if target is None:
            raise TypeError("Argument `target` should be a list or nested structure of Tensors, Variables or "
                            "CompositeTensors to be differentiated, but received None.")
        unconnected = _unconnected_value(unconnected_gradients)
        flat_sources = self._check_sources(_flat(sources))
        # an IndexedSlices target (a gradient, differentiated again) is its values, as in TensorFlow
        flat_targets = [t.values if isinstance(t, IndexedSlices) else t for t in _flat(target)]
        for t in flat_targets:
            if not isinstance(t, (Tensor, Variable)):
                raise AttributeError(
                    f"'{type(t).__name__}' object has no attribute '_id': gradient() targets must be tapegrad "
                    f"Tensors or Variables (a value computed outside tapegrad has no recorded history)")
        seeds = self._seeds(flat_targets, output_gradients)
        wengert = self._begin_use("gradient")
        start = _core.WengertList.id_clock()
        with _callsite.fp_errors_reported_at_user_line():
            results = self._backward(wengert, flat_targets, seeds, flat_sources)
        out = self._finish(results, flat_sources, unconnected)
        self._note_nested(start)
        return _pack(sources, out)

    def _gradient_of_list(self, target, sources):
        """gradient(target, [sources]) with the defaults: one Tensor target, a list of
        Tensors and Variables of exactly those types (or one of them, passed as a list
        of one).  The general path's steps in its order, without its nest, seed and
        conversion code; what needs converting (a None, a scalar, another dtype, a
        sparse gradient) goes through `_finish`."""
        tv = target._value
        seed = np.ones(tv.shape, tv.dtype) if type(tv) is np.ndarray else tv.dtype.type(1)
        if self._recording or self._persistent:
            wengert = self._begin_use("gradient")
        else:           # _begin_use's steps for a one-shot tape no longer recording, without its frame
            wengert = self._used = self._wengert
            self._wengert = None
            self._released = True
        # Variables are read after _begin_use, as _backward does: a tape still recording
        # would otherwise see the reads.
        srcs = []                        # (a loop: a comprehension is one more frame before Python 3.12)
        for s in sources:
            srcs.append(s.value() if type(s) is Variable else s)
        tensor_mode = _core.any_recording()
        start = _core.WengertList.id_clock() if tensor_mode else 0
        # fp_errors_reported_at_user_line()'s context without the `with` block's frames
        undo = _callsite.fp_errors_at_user_line_begin()
        try:
            results = wengert.backward([target], [_core.wrap(seed) if tensor_mode else seed], srcs, tensor_mode)
        finally:
            if not self._persistent:
                wengert.release()
            if undo is not None:
                undo.var.reset(undo)
        out = []
        for g, s in zip(results, srcs):
            sv = s._value
            if type(g) is np.ndarray and g.dtype == sv.dtype and g.shape == sv.shape:
                out.append(_core.wrap(g))            # as in _finish
            elif type(g) is Tensor and g._value.dtype == sv.dtype and g._value.shape == sv.shape:
                out.append(g)                        # tensor mode (W9): _finish keeps it as it is
            else:
                out.append(self._finish([g], [s], "none")[0])
        if tensor_mode:    # _note_nested's append (the recorders are the ones tensor_mode saw)
            inspect_tape.NESTED_GRADIENT_SPANS.append((start, _core.WengertList.id_clock(), weakref.ref(self)))
        return out

    def _note_nested(self, start):
        """Remember which tensor ids a gradient computed under another recording tape made
        (explain() recognises a second derivative of linear code by them)."""
        if _core.any_recording():
            inspect_tape.NESTED_GRADIENT_SPANS.append((start, _core.WengertList.id_clock(), weakref.ref(self)))

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
                if isinstance(g, Variable):
                    g = g.value()
                if (isinstance(g, Tensor) and np.shape(g._value) == np.shape(tv)
                        and np.result_type(g._value) == np.result_type(tv)):
                    seeds.append(g)        # kept: in tensor mode the gradient depends on it
                    continue
                raw = g._value if isinstance(g, Tensor) else _core.raw_from_python(g, np.result_type(tv))
                if np.shape(raw) != np.shape(tv):
                    try:
                        raw = np.broadcast_to(raw, np.shape(tv))
                    except ValueError:
                        raise InvalidArgumentError(
                            f"Incompatible shapes: {list(np.shape(raw))} vs. {list(np.shape(tv))} [Op:Mul] "
                            f"(output_gradients must match the target's shape)") from None
                if np.result_type(raw) != np.result_type(tv):
                    raw = _core.raw_from_python(raw, np.result_type(tv))
                seeds.append(raw)
            else:
                seeds.append(np.ones(tv.shape, tv.dtype) if type(tv) is np.ndarray else tv.dtype.type(1))
        return seeds

    def _begin_use(self, method):
        """Apply the in-context rules and take the tape for one computation."""
        wengert = self._wengert
        if self._recording and self._pushed in _core.active_recorders():
            if self._persistent:
                warn_first_n(_PERSISTENT_IN_CONTEXT, 1)
            else:
                self._pop("gradient")  # a non-persistent tape stops recording
        # From another thread while the owner thread is still inside `with tape:`, a
        # non-persistent tape gives the gradient of what it recorded so far and is released:
        # the owner's later ops are not recorded, and its `with` block exits normally.
        if not self._persistent:
            self._used = wengert
            self._wengert = None          # one-shot: consumed whatever happens next
            self._released = True
        return wengert

    def _not_recorded_message(self, tf_text, method):
        """TensorFlow's message for a tape with nothing to differentiate, then why and what to do."""
        tg = _callsite.module_name()
        if self._released:
            return (f"{tf_text}. This tape already computed its {method} result and released what it "
                    f"recorded: to call gradient() or jacobian() more than once, create the tape with "
                    f"`{tg}.GradientTape(persistent=True)`.")
        return (f"{tf_text}. This tape was never entered, so it recorded nothing: compute the target "
                f"inside `with tape:` (e.g. `with {tg}.GradientTape() as tape: y = f(x)`), then call "
                f"tape.{method} after the block.")

    def _backward(self, wengert, flat_targets, seeds, flat_sources):
        # Rules run on Tensors (and are recorded) when some recorder is still
        # active: that is how nested tapes give higher derivatives.
        tensor_mode = _core.any_recording()
        read = [t.value() if isinstance(t, Variable) else t for t in flat_targets]
        srcs = [s.value() if isinstance(s, Variable) else s for s in flat_sources]
        if tensor_mode:
            seeds = [s if isinstance(s, Tensor) else _core.wrap(s) for s in seeds]
        else:
            seeds = [s._value if isinstance(s, Tensor) else s for s in seeds]
        try:
            return wengert.backward(read, seeds, srcs, tensor_mode)
        finally:
            if not self._persistent:
                wengert.release()

    # ---- jacobians --------------------------------------------------------------------------
    def jacobian(self, target: Tensor | Variable, sources: Nest,
                 unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE,
                 parallel_iterations: int | None = None, experimental_use_pfor: bool = True) -> Any:
        """The full Jacobian of one target with respect to each source.

        One reverse sweep with every cotangent row stacked on a leading batch
        axis (the identity), when every op on the path accepts batched
        cotangents; one sweep per target element otherwise.

        Args:
            target: one Tensor or Variable (not a nest).
            sources: a Tensor or Variable, or a nest of them.
            unconnected_gradients: ``'none'`` (default) or ``'zero'``.
            parallel_iterations: accepted for TensorFlow compatibility; ignored.
            experimental_use_pfor: bool, default True; False requires a
                persistent tape (TensorFlow's rule), the result is the same.

        Returns:
            For each source, in the structure of `sources`, a Tensor of shape
            ``target.shape + source.shape``: entry [i..., j...] is
            d target[i...] / d source[j...].  An entry is None when the source
            does not affect the target through recorded operations or has an
            integer dtype (zeros with ``unconnected_gradients='zero'``); a
            zero-size target gives zeros.

        Raises:
            RuntimeError: a non-persistent tape is used a second time, the tape
                was never entered, or experimental_use_pfor=False on a
                non-persistent tape.
            AttributeError: the target is not a Tensor or Variable, or a source
                is not one.
            ValueError: an unknown unconnected_gradients value.
        """
        if self._wengert is None:
            raise RuntimeError(self._not_recorded_message(_ONE_SHOT, "jacobian()"))
        if not isinstance(target, (Tensor, Variable)):
            raise AttributeError(f"'{type(target).__name__}' object has no attribute 'shape': jacobian() "
                                 f"differentiates a single target tensor (stack several targets into one)")
        unconnected = _unconnected_value(unconnected_gradients)
        if not experimental_use_pfor and not self._persistent:
            raise RuntimeError(_NO_PFOR)
        flat_sources = self._check_sources(_flat(sources))
        target_shape = shape_of(target)
        size = math.prod(target_shape)
        wengert = self._begin_use("jacobian")
        start = _core.WengertList.id_clock()
        rows = self._rows(wengert, target, None, flat_sources, identity=True)
        out = []
        for g, s in zip(rows, flat_sources):
            source_shape = shape_of(s)
            shape = target_shape + source_shape
            if size == 0:
                g = _core.wrap(np.zeros(shape, dtype=np.result_type(s._value)))
            elif g is None:
                g = _core.wrap(np.zeros(shape, dtype=np.result_type(s._value))) if unconnected == "zero" else None
            else:
                g = _reshape(_broadcast(g, (size,) + source_shape), shape)
            out.append(g)
        self._note_nested(start)
        return _pack(sources, out)

    def batch_jacobian(self, target: Tensor | Variable, source: Tensor | Variable,
                       unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE,
                       parallel_iterations: int | None = None, experimental_use_pfor: bool = True,
                       experimental_check_independence: bool = True) -> Tensor:
        """Per-example Jacobians: target [b, y...], source [b, x...] -> [b, y..., x...].

        Args:
            target: one Tensor or Variable of rank >= 2, examples on axis 0.
            source: one Tensor or Variable of rank >= 2 with the same first
                dimension.
            unconnected_gradients: checked as in gradient(); the result for an
                unconnected source is zeros whatever it says (TensorFlow's
                behaviour).
            parallel_iterations: accepted for TensorFlow compatibility; ignored.
            experimental_use_pfor: bool, default True; False requires a
                persistent tape.
            experimental_check_independence: bool, default True: warn when the
                examples are coupled (see below).

        Returns:
            A Tensor of shape ``target.shape + source.shape[1:]``.  It is never
            None: an unconnected source, or an integer target, gives zeros.

        Raises:
            RuntimeError: a non-persistent tape is used a second time, the tape
                was never entered, or experimental_use_pfor=False on a
                non-persistent tape.
            ValueError: a rank below 2, or first dimensions that differ.
            AttributeError: target or source is not a Tensor or Variable.

        As TensorFlow computes it: entry [i, j, k] is the gradient of target
        column j *summed over the batch* with respect to source[i, k], which is
        the per-example Jacobian only when each target row depends on its own
        source row alone.  TensorFlow does not check that; tapegrad does (one
        extra cotangent row in the same sweep) and logs a warning when the rows
        are coupled, unless experimental_check_independence=False.
        Unconnected sources give zeros (TensorFlow's behaviour, whatever
        unconnected_gradients says).
        """
        if self._wengert is None:
            raise RuntimeError(self._not_recorded_message(_ONE_SHOT_BATCH, "batch_jacobian()"))
        for t in (target, source):
            if not isinstance(t, (Tensor, Variable)):
                raise AttributeError(f"'{type(t).__name__}' object has no attribute 'shape': batch_jacobian() "
                                     f"takes one target tensor and one source tensor")
        target_shape, source_shape = np.shape(target._value), np.shape(source._value)
        for shape in (target_shape, source_shape):
            if len(shape) < 2:
                raise ValueError(f"Shape {shape} must have rank at least 2")
        if target_shape[0] != source_shape[0]:
            raise ValueError(f"Need first dimension of target shape ({target_shape}) and source shape "
                             f"({source_shape}) to match.")
        if not experimental_use_pfor and not self._persistent:
            raise RuntimeError(_NO_PFOR_BATCH)
        _unconnected_value(unconnected_gradients)
        self._check_sources([source])
        batch, row_shape = target_shape[0], target_shape[1:]
        size = int(np.prod(row_shape, dtype=np.int64))
        dt = _value_dtype(target)
        # Row j of the cotangent is e_j in every example: gradient of column j summed over the batch.
        seeds = np.broadcast_to(_identity_rows(size, row_shape, dt)[:, None], (size, batch) + row_shape)
        probe = None
        if experimental_check_independence and batch > 1 and size and dt.kind in "fc":
            probe = np.random.default_rng(0).standard_normal(target_shape).astype(dt)
            seeds = np.concatenate([seeds, probe[None]])
        wengert = self._begin_use("batch_jacobian")
        (g,) = self._rows(wengert, target, seeds, [source])
        out_shape = target_shape + source_shape[1:]
        if g is None or size == 0:
            return _core.wrap(np.zeros(out_shape, dtype=np.result_type(source._value)))
        g = _broadcast(g, (len(seeds),) + source_shape)
        if probe is not None:
            self._warn_if_coupled(g, probe, size, batch)
            g = g[:size]
        # (y, b, x...) -> (b, y, x...) -> (b, y..., x...)
        perm = (1, 0) + tuple(range(2, len(source_shape) + 1))
        return _reshape(_transpose(g, perm), out_shape)

    @staticmethod
    def _warn_if_coupled(g, probe, size, batch):
        """The probe row's gradient (J^T r for a random r) must equal what the
        block-diagonal per-example Jacobians predict; otherwise rows are coupled."""
        g = g._value if isinstance(g, Tensor) else g
        full = np.asarray(g[size], dtype=np.float64).reshape(batch, -1)
        blocks = np.asarray(g[:size], dtype=np.float64).reshape(size, batch, -1)
        predicted = np.einsum("jbx,bj->bx", blocks, np.asarray(probe, dtype=np.float64).reshape(batch, size))
        scale = max(float(np.max(np.abs(full), initial=0.0)), float(np.max(np.abs(predicted), initial=0.0)), 1e-30)
        tol = 1e-3 if np.result_type(g).itemsize <= 4 else 1e-8
        if np.max(np.abs(full - predicted), initial=0.0) > tol * scale * max(1.0, size ** 0.5):
            warn_first_n(_COUPLED_BATCH, 1)

    def _rows(self, wengert, target, seeds, flat_sources, identity=False):
        try:
            if (math.prod(shape_of(target)) if seeds is None  # (None: the identity rows, see jacobian_rows)
                    else len(seeds) and seeds[0].size) == 0:  # nothing to differentiate (zero-size target)
                return [None] * len(flat_sources)
            with _callsite.fp_errors_reported_at_user_line():
                return jacobian_rows(wengert, target, seeds, flat_sources, self._persistent, identity)
        finally:
            if not self._persistent:
                wengert.release()

    def _check_sources(self, flat_sources):
        for s in flat_sources:
            if s is None:
                raise TypeError("Cannot convert the argument `type_value`: None to a TensorFlow DType. "
                                "(a source passed to gradient() is None)")
            if not isinstance(s, (Tensor, Variable)):
                tg = _callsite.module_name()
                raise AttributeError(
                    f"'{type(s).__name__}' object has no attribute '_id': gradient() sources must be tapegrad "
                    f"Tensors or Variables, not {s!r:.40}. Make the source a variable before the tape, "
                    f"`x = {tg}.Variable(...)`, or a constant that the tape watches: `x = {tg}.constant(...)` "
                    f"then `tape.watch(x)` inside the `with` block; then compute the target from x.")
        return flat_sources

    def _finish(self, results, flat_sources, unconnected):
        out = []
        for g, s in zip(results, flat_sources):
            sdt = s._value.dtype
            if type(g) is np.ndarray and g.dtype == sdt and g.shape == s._value.shape:
                out.append(_core.wrap(g))            # the common case: nothing to convert (see below)
                continue
            if isinstance(g, IndexedSlices):
                out.append(_public_slices(g, sdt))
                continue
            if g is not None and sdt.kind not in "fc" and _value_dtype(g).kind in "fc":
                g = None     # integer sources get no gradient (only gradient(i, i): int ones)
            if g is None:
                if unconnected == "zero":
                    out.append(_core.wrap(np.zeros(np.shape(s._value), dtype=sdt)))
                else:
                    out.append(None)
                continue
            if isinstance(g, Tensor):
                if g._value.dtype != sdt:
                    g = cast(g, sdt)
                out.append(_broadcast(g, s._value.shape))
            elif isinstance(g, np.generic) and g.dtype == sdt and type(s._value) is not np.ndarray:
                out.append(_core.wrap(g))            # a scalar gradient for a scalar source
            else:
                g = np.asarray(g)
                if g.dtype != sdt:
                    g = g.astype(sdt)
                if g.shape != s._value.shape:
                    g = np.broadcast_to(g, s._value.shape)
                # Rule results are fresh arrays or views of tapegrad's own
                # (read-only) values, never of a user's array: no copy needed.
                out.append(_core.wrap(g))
        return out


def _public_slices(g, dtype):
    """A sparse gradient as gradient() returns it: values a Tensor of the
    source's dtype (raw values are the engine's own arrays: wrapped, not copied)."""
    values = g._values
    if isinstance(values, Tensor):
        if values._value.dtype != dtype:
            values = cast(values, dtype)
    else:
        values = _core.wrap(np.asarray(values).astype(dtype, copy=False))
    return IndexedSlices(values, g._raw_indices(), g._dense_shape)


def _value_dtype(g):
    v = g._value if isinstance(g, (Tensor, Variable)) else g
    if type(v) is np.ndarray or isinstance(v, np.generic):
        return v.dtype               # what np.result_type gives, without its dispatch
    return np.result_type(v)


def _flat(structure):
    """nest.flatten, with the common cases first: one tensor, a flat list of them."""
    if isinstance(structure, (Tensor, Variable)):
        return [structure]
    if type(structure) is list and _all_leaves(structure):
        return list(structure)
    return _nest.flatten(structure)


def _exact_leaves(items):
    """Whether every item is exactly a Tensor or a Variable (not a subclass, not a nest)."""
    for x in items:
        if type(x) is not Tensor and type(x) is not Variable:
            return False
    return True


def _all_leaves(items):
    for x in items:
        if not isinstance(x, (Tensor, Variable)):
            return False
    return True


def _pack(structure, flat):
    if isinstance(structure, (Tensor, Variable)):
        return flat[0]
    if type(structure) is list and len(flat) == len(structure) and _all_leaves(structure):
        return list(flat)
    return _nest.pack_sequence_as(structure, flat)


def jacobian_rows(wengert, target, seeds, flat_sources, retain, identity=False):
    """For each source, the gradients of <seeds[i], target> for every row i
    of `seeds` (shape (rows,) + target.shape), stacked: a value of shape
    (rows,) + source.shape (or broadcastable to it), or None.  One batched
    sweep if the path allows it, else one sweep per row.  `wengert` is the
    core WengertList; retain: keep its saved values (else a non-persistent tape frees them
    as its last sweep passes).  identity: `seeds` is `_identity_rows(...)` (the
    core may then carry it as its diagonal), or None: the same rows, made only
    where they are needed (the core makes them itself, or just their diagonal)."""
    tensor_mode = _core.any_recording()
    t = target.value() if isinstance(target, Variable) else target
    srcs = [s.value() if isinstance(s, Variable) else s for s in flat_sources]
    dtype = _value_dtype(t)
    if dtype.kind not in "fc":
        return [None] * len(srcs)
    if seeds is None and tensor_mode:
        seeds = _identity_rows(math.prod(shape_of(t)), shape_of(t), dtype)
    n = math.prod(shape_of(t)) if seeds is None else len(seeds)
    res = wengert.backward([t], [_core.wrap(seeds) if tensor_mode else seeds], srcs, tensor_mode, (n,), retain,
                           identity)
    if res is not None:
        return [_clean(g, s) for g, s in zip(res, srcs)]
    if seeds is None:
        seeds = _identity_rows(n, shape_of(t), dtype)
    per_row = []
    for i in range(n):
        seed = _core.wrap(seeds[i]) if tensor_mode else np.asarray(seeds[i])
        res = wengert.backward([t], [seed], srcs, tensor_mode, None, retain or i < n - 1)
        per_row.append([_clean(g, s) for g, s in zip(res, srcs)])
    return [_stack_rows([row[j] for row in per_row], (n,) + np.shape(srcs[j]._value)) for j in range(len(srcs))]


def _clean(g, source):
    """A gradient as jacobian rows need it: None for integer sources, else in
    the source's dtype."""
    if g is None:
        return None
    if isinstance(g, IndexedSlices):
        g = densify(g)                   # jacobian rows are dense
    sdt = _value_dtype(source)
    if sdt.kind not in "fc":
        return None
    if _value_dtype(g) != sdt:
        if isinstance(g, Tensor):
            return cast(g, sdt)
        return np.asarray(g).astype(sdt)
    return g


def _identity_rows(size, shape, dtype):
    """The cotangents of a Jacobian: row i is the i-th unit tensor of `shape`."""
    rows = np.zeros((size, size), dtype=dtype if dtype.kind in "fc" else np.float32)
    rows.reshape(-1)[::size + 1] = 1             # np.eye's values, without its Python-level argument handling
    return rows.reshape((size,) + tuple(shape))


def _stack_rows(rows, shape):
    """Per-row gradients (raw or Tensors, None where unconnected) stacked on a
    new leading axis; None if no row is connected."""
    if all(r is None for r in rows):
        return None
    if any(isinstance(r, Tensor) for r in rows):
        zero = next(r for r in rows if r is not None) * 0
        return stack([_broadcast(zero if r is None else r, shape[1:]) for r in rows])
    out = np.zeros(shape, dtype=_value_dtype(next(r for r in rows if r is not None)))
    for i, r in enumerate(rows):
        if r is not None:
            out[i] = r
    return out


def _broadcast(g, shape):
    v = g._value if isinstance(g, Tensor) else g
    if (v.shape if type(v) is np.ndarray else np.shape(v)) == tuple(shape):
        return g
    if isinstance(g, Tensor):
        return broadcast_to(g, shape)
    return np.broadcast_to(g, shape)


def _reshape(g, shape):
    """A Jacobian block in its final shape: recorded (a Tensor) in tensor mode,
    else a new Tensor owning its array."""
    if isinstance(g, Tensor):
        return reshape(g, shape)
    # Rule results are fresh arrays or views of tapegrad's own (read-only)
    # values, never of a user's array (as in gradient()'s _finish): wrapped, not copied.
    return _core.wrap(g.reshape(shape) if type(g) is np.ndarray else np.reshape(g, shape))


def _transpose(g, perm):
    if isinstance(g, Tensor):
        return transpose(g, perm)
    return np.transpose(g, perm)


def _unconnected_value(value):
    if value is UnconnectedGradients.NONE:
        return "none"                  # the default (Enum's .value is a descriptor call)
    if isinstance(value, UnconnectedGradients):
        return value.value
    if value in ("none", "zero"):
        return value
    raise ValueError(f"Unknown value for unconnected_gradients: {value!r}")
