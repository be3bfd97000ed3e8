"""tf.clip_by_global_norm, tf.linalg.global_norm and tf.clip_by_norm:
composites of recorded ops (the clipped tensors are differentiable, through
the norm too, as in TensorFlow).  IndexedSlices are clipped as their values:
their norm is the values' (rows of duplicate indices count separately) and
they come back as IndexedSlices with the same indices."""
import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import math_ops, reduction_ops
from tapegrad.ops.array_ops import stack
from tapegrad.ops.reduction_ops import reduce_sum
from tapegrad.ops.sparse_ops import IndexedSlices


def _as_float_tensor(t):
    if isinstance(t, IndexedSlices):
        t = t.values
    t = t.value() if isinstance(t, Variable) else t if isinstance(t, Tensor) else _core.as_tensor(t)
    if np.result_type(t._value).kind != "f":
        raise InvalidArgumentError(f"Value for attr 'T' of {np.result_type(t._value).name} is not in the list of "
                                   f"allowed values: half, bfloat16, float, double [Op:L2Loss]")
    return t


def global_norm(t_list, name=None):
    """tf.linalg.global_norm: sqrt of the sum of the squares of every entry
    of every tensor (None entries are skipped)."""
    if not isinstance(t_list, (list, tuple)):
        raise TypeError(f"`t_list` should be a sequence of tensors. Received {type(t_list)}.")
    parts = [reduce_sum(math_ops.square(_as_float_tensor(t))) for t in t_list if t is not None]
    if not parts:
        return _core.wrap(np.float32(0.0))
    return math_ops.sqrt(reduce_sum(stack(parts)))


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """tf.clip_by_global_norm: ``(clipped list, global norm)``.  Every tensor
    is multiplied by ``clip_norm * min(1 / norm, 1 / clip_norm)``, so nothing
    changes while the norm is within `clip_norm`; an infinite or NaN norm
    makes every output NaN; None entries stay None.  `use_norm` replaces the
    computed norm."""
    if not isinstance(t_list, (list, tuple)):
        raise TypeError(f"`t_list` should be a sequence of tensors. Received {type(t_list)}.")
    tensors = [None if t is None else _as_float_tensor(t) for t in t_list]       # IndexedSlices: their values
    norm = global_norm(tensors) if use_norm is None else _core.as_tensor(use_norm)
    dt = np.result_type(norm._value)
    cn = _core.operands((norm, clip_norm), "ClipByGlobalNorm")[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = cn * math_ops.minimum(1.0 / norm, 1.0 / cn)
        scale = scale + (norm - norm)          # NaN when the norm is inf or NaN
    out = []
    for given, t in zip(t_list, tensors):
        if t is None:
            out.append(None)
            continue
        s = scale if np.result_type(t._value) == dt else math_ops.cast(scale, np.result_type(t._value))
        if isinstance(given, IndexedSlices):
            out.append(IndexedSlices(t * s, given.indices, given._dense_shape))
        else:
            out.append(t * s)
    return out, norm


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """tf.clip_by_norm: ``t * clip_norm / max(norm(t), clip_norm)`` (the norm
    over all entries, or per slice along `axes`); an IndexedSlices is
    clipped by the norm of its values and stays an IndexedSlices."""
    if isinstance(t, IndexedSlices):
        return IndexedSlices(reduction_ops.clip_by_norm(t.values, clip_norm, axes), t.indices, t._dense_shape)
    return reduction_ops.clip_by_norm(t, clip_norm, axes)
