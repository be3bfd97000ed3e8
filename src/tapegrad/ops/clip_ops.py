"""tf.clip_by_global_norm, tf.linalg.global_norm and tf.clip_by_norm:
composites of recorded ops (the clipped tensors are differentiable, through
the norm too, as in TensorFlow).  IndexedSlices are clipped as their values:
their norm is the values' (rows of duplicate indices count separately) and
they come back as IndexedSlices with the same indices."""
import numpy as np

from tapegrad import _core
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _docs, math_ops, reduction_ops
from tapegrad.ops._docs import op_doc
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


@op_doc(
    tf="``tf.linalg.global_norm``",
    numpy="``numpy.sqrt(sum(numpy.sum(t ** 2) for t in t_list))``",
    returns="A scalar Tensor (float32 for an empty list).",
    args={"t_list": ("list or tuple of Tensors, IndexedSlices or None", "the tensors; None entries are skipped, "
                                                                        "an IndexedSlices counts its values.")},
    dtypes="float16, float32, float64; complex, integer and bool tensors raise an error.",
    derivative="d/d t = g * t / global_norm for every tensor (nan when every entry is 0, as in TensorFlow).",
    raises="TypeError: t_list is not a list or tuple.\nInvalidArgumentError: a non-floating tensor.",
    example="""
        >>> tg.linalg.global_norm([tg.constant([3.0]), tg.constant([4.0])])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=5.0>
    """)
def global_norm(t_list, name=None):
    """The L2 norm of several tensors taken together: the square root of the sum of the squares of every entry
    of every tensor."""
    if not isinstance(t_list, (list, tuple)):
        raise TypeError(f"`t_list` should be a sequence of tensors. Received {type(t_list)}.")
    parts = [reduce_sum(math_ops.square(_as_float_tensor(t))) for t in t_list if t is not None]
    if not parts:
        return _core.wrap(np.float32(0.0))
    return math_ops.sqrt(reduce_sum(stack(parts)))


@op_doc(
    tf="``tf.clip_by_global_norm``",
    numpy="has none",
    returns="A tuple (list of the clipped tensors, in t_list's order, None where t_list has None; the global "
            "norm before clipping, a scalar Tensor).",
    args={"t_list": ("list or tuple of Tensors, IndexedSlices or None", "the tensors to clip together (a "
                                                                        "model's gradients); an IndexedSlices "
                                                                        "comes back as one."),
          "clip_norm": ("positive number or scalar Tensor", "the largest global norm allowed."),
          "use_norm": ("scalar Tensor or None", "the global norm to use instead of computing it.")},
    dtypes="float16, float32, float64; complex, integer and bool tensors raise an error.",
    derivative="that of t * clip_norm * min(1 / global_norm, 1 / clip_norm): the identity while global_norm <= "
               "clip_norm, else the scaling differentiated through the norm too (through use_norm instead when it "
               "is given).",
    raises="TypeError: t_list is not a list or tuple.\nInvalidArgumentError: a non-floating tensor.",
    example="""
        >>> (a, b), norm = tg.clip_by_global_norm([tg.constant([3.0]), tg.constant([4.0])], 1.0)
        >>> print(a.numpy(), b.numpy(), norm.numpy())      # both scaled by 1 / 5
        [0.6] [0.8] 5.0
    """)
def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scale several tensors by one factor so that their global norm (see tapegrad.linalg.global_norm) is at
    most clip_norm: each is multiplied by ``clip_norm * min(1 / norm, 1 / clip_norm)``, so nothing changes
    while the norm is within clip_norm. An infinite or NaN norm makes every output NaN; None entries stay
    None."""
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


@op_doc(
    tf="``tf.clip_by_norm``",
    numpy="``t * clip_norm / max(numpy.linalg.norm(t), clip_norm)``",
    returns="A Tensor of t's shape (an IndexedSlices for an IndexedSlices): t rescaled so that its L2 norm over "
            "`axes` is at most clip_norm.",
    args={"t": (_docs.TENSOR + " or IndexedSlices", "the tensor to clip; an IndexedSlices is clipped by the norm "
                                                    "of its values."),
          "clip_norm": ("positive number or scalar Tensor", "the largest norm allowed."),
          "axes": ("int, list of ints or None", "the axes the norm is taken over (one norm per remaining "
                                                "slice); None: all.")},
    dtypes="float16, float32, float64, complex64, complex128; integer and bool tensors raise an error.",
    derivative="that of t * clip_norm / max(norm(t), clip_norm): the identity while norm(t) <= clip_norm; at t "
               "= 0 the gradient is 1, not nan (TensorFlow's formulation).",
    example="""
        >>> tg.clip_by_norm([3.0, 4.0], 1.0)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([0.6, 0.8], dtype=float32)>
        >>> s = tg.IndexedSlices(tg.constant([[3.0, 4.0]]), [1], dense_shape=[2, 2])
        >>> tg.clip_by_norm(s, 1.0).values
        <tapegrad.Tensor: shape=(1, 2), dtype=float32, numpy=array([[0.6, 0.8]], dtype=float32)>
    """)
def clip_by_norm(t, clip_norm, axes=None, name=None):
    """Scale t so that its L2 norm is at most clip_norm: ``t * clip_norm / max(norm(t), clip_norm)``, the norm
    taken over every entry, or per slice along `axes`."""
    if isinstance(t, IndexedSlices):
        return IndexedSlices(reduction_ops.clip_by_norm(t.values, clip_norm, axes), t.indices, t._dense_shape)
    return reduction_ops.clip_by_norm(t, clip_norm, axes)
