"""PyTorch's views: tensors that share their base's memory and version counter.

A view's value is a NumPy view of its base's array, so a change made in place
through either is seen by both.  The base is always the root (a view of a
view has the first tensor as its base, as `Tensor._base` in PyTorch).  A
view's ``_view`` field holds a `ViewOf`: the base and the steps that make the
view from it, each a pair (the recorded op applied to a tensor, the same
selection on a NumPy array).  A base's ``_view`` holds a `Views` listing its
live views (weak references).

Autograd follows PyTorch's rules: an in-place op on a view gives the base the
history "base with the view's elements replaced by the op's result" (the
node is named ``CopySlices``), written with registered ops: the result is
scattered into the base's shape and selected by a mask.  Then every live view
of the base gets its history again from the base's new history (the steps
reapplied), as PyTorch regenerates a view's ``grad_fn`` (``AsStridedBackward0``).
"""
import weakref

import numpy as np

from tapegrad import _graph
from tapegrad._core import apply
from tapegrad.ops import OPS
from tapegrad.ops.array_ops import index_params
from tapegrad.ops.array_ops import reshape as _tg_reshape
from tapegrad.ops.math_ops import where as _tg_where

VIEW_OF_LEAF = "a view of a leaf Variable that requires grad is being used in an in-place operation."
INPLACE_LEAF = "a leaf Variable that requires grad is being used in an in-place operation."
NO_GRAD_VIEW = (
    "A view was created in no_grad mode and is being modified inplace with grad mode enabled. Given that this use "
    "case is ambiguous and error-prone, it is forbidden. You can clarify your code by moving both the view and the "
    "inplace either both inside the no_grad block (if you don't want the inplace to be tracked) or both outside "
    "(if you want the inplace to be tracked).")
NOT_A_VIEW = ("view size is not compatible with input tensor's size and stride (at least one dimension spans across "
              "two contiguous subspaces). Use .reshape(...) instead.")
OVERLAP = ("unsupported operation: more than one element of the written-to tensor refers to a single memory "
           "location. Please clone() the tensor before performing the operation.")


class ViewOf:
    """On a view: its base (a tensor that is not a view) and the steps from it."""
    __slots__ = ("base", "steps", "made_without_grad")

    def __init__(self, base, steps, made_without_grad):
        self.base = base
        self.steps = steps
        self.made_without_grad = made_without_grad


class Views:
    """On a base: weak references to its live views (a dead view's entry is
    dropped by the reference's callback, so a base viewed in a loop does not
    accumulate them)."""
    __slots__ = ("refs",)

    def __init__(self):
        self.refs = {}

    def add(self, view):
        refs = self.refs
        r = weakref.ref(view, lambda r: refs.pop(id(r), None))
        refs[id(r)] = r

    def live(self):
        return [v for v in (r() for r in list(self.refs.values())) if v is not None]


def base_of(t):
    info = t._view
    return info.base if type(info) is ViewOf else None


def _memory(t):
    """t's value as a writable ndarray that views can share (a 0-d NumPy
    scalar becomes a 0-d array; a read-only array that no view shares yet is
    copied, as an in-place op would)."""
    v = t._value
    if type(v) is not np.ndarray:
        v = np.array(v)
        t._value = v
    elif not v.flags.writeable and t._view is None:
        v = v.copy()
        t._value = v
    return v


def make_view(t, front, select, strict=False):
    """The view of t made by front (the recorded op, on tensors) and select
    (the same selection, on NumPy arrays).  If select copies (a reshape of
    memory that is not contiguous), front's result is returned as it is: not
    a view, as PyTorch's reshape; view() (strict) raises PyTorch's error."""
    out = front(t)
    info = t._view
    if type(info) is ViewOf:
        base, steps = info.base, info.steps + ((front, select),)
    else:
        base, steps = t, ((front, select),)
    arr = _memory(t)
    value = select(arr)
    if value.size and not np.shares_memory(value, arr):
        if strict:
            raise RuntimeError(NOT_A_VIEW)
        return out
    t._guard_saved_output()          # the memory is shared from now on: t's saved output is checked
    base._guard_saved_output()
    out._value = value
    out._view = ViewOf(base, steps, not _graph.is_grad_enabled())
    out._is_view = True
    out._share_version(base)
    views = base._view
    if views is None:
        views = base._view = Views()
    views.add(out)
    return out


def writable_memory(t):
    """The array an in-place op writes into: t's own memory (shared with its
    views and base)."""
    if type(t._view) is ViewOf:
        v = t._value
        if any(s == 0 and n > 1 for s, n in zip(v.strides, v.shape)):
            raise RuntimeError(OVERLAP)
        if not v.flags.writeable:
            raise RuntimeError(OVERLAP)
        return v
    return _memory(t)


def check_inplace(t, grad_enabled):
    """PyTorch's refusals of an in-place op on t while grad mode is on."""
    if not grad_enabled:
        return
    info = t._view
    if type(info) is ViewOf:
        base = info.base
        if info.made_without_grad and base.requires_grad:
            raise RuntimeError(NO_GRAD_VIEW)
        if base._node is None and base._requires_grad:
            raise RuntimeError(VIEW_OF_LEAF)
        return
    if t._node is None and t._requires_grad:
        raise RuntimeError(INPLACE_LEAF)


def snapshot(t):
    """t as it is before an in-place op: a copy of its value (the op's node may
    save it) with t's history."""
    s = _graph.new_tensor(np.array(t._value) if type(t._value) is np.ndarray else t._value)
    s._node = t._node
    s._out = t._out
    s._requires_grad = t._requires_grad
    return s


def _write(t, value):
    mem = t._value
    if type(mem) is np.ndarray and mem.flags.writeable and mem.shape == np.shape(value):
        mem[...] = value
    elif type(t._view) is ViewOf or (type(mem) is np.ndarray and mem.shape != np.shape(value)):
        writable_memory(t)[...] = value
    else:
        t._value = value if type(value) is not np.ndarray else np.array(value)


def commit(t, out, name):
    """t takes out's value (written into t's memory, which its base and views
    share) and, if out has history, out's history: for a view, through its
    base (CopySlices).  The shared version counter moves on."""
    info = t._view
    if out._node is None or not _graph.is_grad_enabled():
        _write(t, out._value)
        t._bump_version()
        return
    if type(info) is ViewOf:
        base = info.base
        idx = index_map(t)
        n = int(np.size(base._value))
        spread = _graph.call_captured(apply, (OPS["scatter_into_zeros"], (out,), index_params(idx, (n,))), {})
        spread = _graph.call_captured(_tg_reshape, (spread, np.shape(base._value)), {})
        mask = np.zeros(n, dtype=bool)
        mask[idx] = True
        new = _graph.call_captured(
            _tg_where, (_graph.new_tensor(mask.reshape(np.shape(base._value))), spread, snapshot(base)), {},
            "CopySlices")
        base._bump_version()
        _write(t, out._value)
        base._node, base._out = new._node, new._out
        _refresh_views(base)
        return
    t._bump_version()
    _write(t, out._value)
    t._node, t._out = out._node, out._out
    if name is not None:
        _graph.set_node_name(t, name)
    if t._view is not None:
        _refresh_views(t)


def index_map(t):
    """For each element of view t, its flat index in its base (raises
    PyTorch's error where two elements share one memory location)."""
    info = t._view
    idx = np.arange(np.size(info.base._value)).reshape(np.shape(info.base._value))
    for _front, select in info.steps:
        idx = select(idx)
    idx = np.array(idx)
    if np.unique(idx).size != idx.size:
        raise RuntimeError(OVERLAP)
    return idx


def _refresh_views(base):
    """Each live view of base takes its history from base's (PyTorch
    regenerates a view's grad_fn after its base changed in place)."""
    views = base._view
    if type(views) is not Views:
        return
    for v in views.live():
        info = v._view
        if info.made_without_grad:
            continue
        r = base
        for front, _select in info.steps:
            r = front(r)
        v._node, v._out = r._node, r._out
        if v._node is not None:
            _graph.set_node_name(v, "AsStridedBackward0")
