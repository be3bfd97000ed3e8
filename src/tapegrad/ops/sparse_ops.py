"""tf.IndexedSlices and the sparse gradient of gather / embedding_lookup.

As in TensorFlow, the gradient of ``gather(params, indices)`` (axis 0) with
respect to ``params`` is an IndexedSlices: one row of values per looked-up
index, duplicates not merged, in lookup order, plus the params' shape.  A
backward sweep then costs the rows looked up, not the table.

The engine meets such a gradient in three places, and this module tells it
what to do (``_core.install_sparse``, done by tapegrad.ops):

* two gradients of one tensor are added: two IndexedSlices concatenate (the
  earlier use's rows first), an IndexedSlices and a dense gradient give a
  dense sum;
* an op receives one as its upstream gradient (``gather(x * 2, i)``): it is
  densified first, so every other rule sees a dense gradient;
* an op receives one as an input (``tg.reduce_sum(g)``, ``tg.add_n([g])``):
  densified, recorded when the values are, so it stays differentiable.

Densifying sums the rows of duplicate indices (an unsorted segment sum).
"""
import numpy as np

from tapegrad import _core, dtypes
from tapegrad._core import Tensor, Variable, apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import _docs, array_ops
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, raw
from tapegrad.ops._shapes import as_tensor, ndim_of, shape_of
from tapegrad.ops.array_ops import concat
from tapegrad.ops.reduction_ops import clip_by_norm
from tapegrad.ops.segment_ops import _segment_sum_forward, unsorted_segment_sum_op
from tapegrad.shapes import TensorShape

__all__ = ["IndexedSlices", "gather", "embedding_lookup"]

_CPU = "/job:localhost/replica:0/task:0/device:CPU:0"


class IndexedSlices:
    """tf.IndexedSlices(values, indices, dense_shape=None): the rows
    ``values[i]`` of a tensor of shape `dense_shape` at rows ``indices[i]``
    (a row listed twice counts twice), every other row zero.

    ``tapegrad.convert_to_tensor`` (and any op taking it as an input)
    densifies it.  Python's ``*``, ``+``, ``/`` are not defined on it (a
    TypeError, as in TensorFlow); unary ``-`` is.  Unlike TensorFlow,
    ``numpy.asarray`` gives the dense array."""

    __slots__ = ("_values", "_indices", "_dense_shape")
    # NumPy's operators refuse it (ndarray * slices is a TypeError, as in TensorFlow) while
    # numpy.asarray still densifies it
    __array_ufunc__ = None

    def __init__(self, values, indices, dense_shape=None):
        # Inside the engine the parts are raw arrays (first order) or Tensors
        # (higher order); the public properties always give Tensors.
        if isinstance(values, Variable):
            values = values.value()
        elif not isinstance(values, (Tensor, np.ndarray, np.generic)):
            values = _core.as_tensor(values)
        if not isinstance(indices, (Tensor, Variable, np.ndarray, np.generic)):
            indices = _core.as_tensor(indices)
        self._values = values
        self._indices = indices
        self._dense_shape = dense_shape

    # ---- parts --------------------------------------------------------------------------
    @property
    def values(self):
        if not isinstance(self._values, Tensor):
            self._values = _core.as_tensor(self._values)
        return self._values

    @property
    def indices(self):
        if not isinstance(self._indices, Tensor):
            self._indices = _core.as_tensor(self._indices)
        return self._indices

    @property
    def dense_shape(self):
        shape = self._dense_shape
        if shape is None or isinstance(shape, Tensor):
            return shape
        dims = np.asarray(raw(shape._value) if isinstance(shape, Variable) else shape)
        wide = dims.size and int(dims.max()) >= 2 ** 31
        self._dense_shape = _core.wrap(dims.astype(np.int64 if wide else np.int32))
        return self._dense_shape

    @property
    def dtype(self):
        return dtypes.as_dtype(np.result_type(self._raw_values()))

    @property
    def shape(self):
        """The dense shape (a TensorShape); the first dimension is None
        when `dense_shape` was not given."""
        dims = self._shape_tuple()
        if dims is None:
            return TensorShape((None,) + tuple(np.shape(raw(self._values))[1:]))
        return TensorShape(dims)

    @property
    def device(self):
        return _CPU

    def _raw_values(self):
        return raw(self._values)

    def _raw_indices(self):
        idx = self._indices
        return np.asarray(idx._value if isinstance(idx, (Tensor, Variable)) else idx)

    def _shape_tuple(self):
        shape = self._dense_shape
        if shape is None:
            return None
        if isinstance(shape, (Tensor, Variable)):
            shape = shape._value
        return tuple(int(d) for d in np.asarray(shape).reshape(-1))

    # ---- what TensorFlow defines --------------------------------------------------------
    def __neg__(self):
        return IndexedSlices(-self.values, self.indices, self._dense_shape)

    def __str__(self):
        parts = f"indices={_tf_str(self.indices)}, values={_tf_str(self.values)}"
        if self._dense_shape is not None:
            parts += f", dense_shape={_tf_str(self.dense_shape)}"
        return f"IndexedSlices({parts})"

    def __array__(self, dtype=None, copy=None):
        dense = np.asarray(raw(densify(self)))
        return dense if dtype is None else dense.astype(dtype)

    def _tensor_conversion(self, dtype=None):
        """convert_to_tensor's rule: TensorFlow's errors without a dense shape
        or for another dtype."""
        if self._dense_shape is None:
            raise ValueError(f"Tensor conversion requested for IndexedSlices for argument `value` without "
                             f"dense_shape: {self}")
        if dtype is not None and np.dtype(dtype) != np.result_type(self._raw_values()):
            raise ValueError(f"Incompatible tensor conversion requested to `dtype` {np.dtype(dtype).name} for "
                             f"IndexedSlices ({self}) with dtype {np.result_type(self._raw_values()).name}")
        return densify(self, to_tensor=True)


def _tf_str(t):
    return str(t)


def densify(sp, to_tensor=False):
    """The dense value: rows of duplicate indices summed.  Tensor values give
    a recorded Tensor; raw values a raw array (a Tensor with to_tensor)."""
    shape = sp._shape_tuple()
    if shape is None:
        raise ValueError(f"Tensor conversion requested for IndexedSlices for argument `value` without "
                         f"dense_shape: {sp}")
    idx = sp._raw_indices().reshape(-1)
    n = shape[0]
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        j = int(np.argmax((idx < 0) | (idx >= n)))
        raise InvalidArgumentError(f"segment_ids[{j}] = {int(idx[j])} is out of range [0, {n}) "
                                   f"[Op:UnsortedSegmentSum]")
    values = sp._values
    if isinstance(values, Tensor):
        vshape = shape_of(values)
        if tuple(vshape[1:]) != tuple(shape[1:]):
            raise InvalidArgumentError(f"IndexedSlices: values of shape {list(vshape)} do not fit dense_shape "
                                       f"{list(shape)}")
        return apply(unsorted_segment_sum_op, (values,), (idx, n, vshape))
    values = np.asarray(values)
    out = _segment_sum_forward(values, idx, n, values.shape)
    return _core.wrap(out) if to_tensor else out


def _dense_for_engine(sp):
    return densify(sp)


def _add_for_engine(old, new):
    """old + new for one slot's gradients (one or both IndexedSlices)."""
    old_sparse, new_sparse = isinstance(old, IndexedSlices), isinstance(new, IndexedSlices)
    if old_sparse and new_sparse:
        vals = (new._values, old._values)
        if any(isinstance(v, (Tensor, Variable)) for v in vals):
            values = concat(list(vals), 0)
        else:
            values = np.concatenate(vals, axis=0)
        indices = np.concatenate((new._raw_indices().reshape(-1), old._raw_indices().reshape(-1)))
        return IndexedSlices(values, indices, old._dense_shape)
    sp, dense = (old, new) if old_sparse else (new, old)
    if isinstance(dense, Tensor) or isinstance(sp._values, Tensor):
        return dense + densify(sp, to_tensor=True)
    shape = sp._shape_tuple()
    total = np.array(np.broadcast_to(dense, shape), dtype=np.result_type(dense, sp._raw_values()))
    values = np.asarray(sp._raw_values())
    return _core.add_rows(total, sp._raw_indices(), values.reshape((-1,) + total.shape[1:]))


# ---- gather along axis 0: the sparse gradient --------------------------------------------------
# params: (indices, params_shape); indices keep their dtype (the IndexedSlices' indices have it).

def _gather_forward(x, idx, in_shape):
    nb = np.ndim(x) - len(in_shape)
    return np.take(x, idx, axis=nb)


def _gather_vjp(g, ans, x, idx, in_shape):
    nb = ndim_of(g) - (idx.ndim + len(in_shape) - 1)
    if nb:
        # a batched cotangent (a Jacobian's rows): the dense scatter, rows summed
        return call(unsorted_segment_sum_op, g, params=(idx, in_shape[0], idx.shape + tuple(in_shape[1:])))
    values = np.reshape(g, (idx.size,) + tuple(in_shape[1:]))
    return IndexedSlices(values, idx.reshape(-1), in_shape)


gather_op = general("gather", _gather_forward, (_gather_vjp,), linear=True)


def _index_array(indices):
    """Indices as TensorFlow types them: a Python list is int32 (int64 if it
    must be), tensors and arrays keep their dtype."""
    if isinstance(indices, (Tensor, Variable)):
        return np.asarray(indices._value)
    if isinstance(indices, (np.ndarray, np.generic)):
        return np.asarray(indices)
    return np.asarray(_core.as_tensor(indices)._value)


@op_doc(
    tf="``tf.gather``",
    numpy="``numpy.take(params, indices, axis)``",
    returns="A Tensor: params with `axis` replaced by indices' shape (after batch_dims shared axes).",
    args={"params": (_docs.TENSOR, "the tensor to take from."),
          "indices": ("integer Tensor or array-like", "positions along `axis`, each in [0, params.shape[axis])."),
          "validate_indices": ("ignored", "accepted for TensorFlow compatibility; indices are always checked."),
          "axis": ("int or None", "the axis to index; None means batch_dims (axis 0 by default)."),
          "batch_dims": ("int", "leading axes shared by params and indices (one gather per batch entry).")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="along axis 0 (batch_dims 0): an IndexedSlices holding g's rows at indices (repeated indices "
               "listed twice, summed when densified), so a backward pass costs the rows gathered, not the "
               "table; along another axis: g added back densely at the indices; none for indices.",
    raises="InvalidArgumentError: an index out of range, or a scalar params.\nTypeError: non-integer indices.",
    example="""
        >>> table = tg.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> with tg.GradientTape() as tape:
        ...     rows = tg.gather(table, [2, 0, 2])
        >>> g = tape.gradient(rows, table)
        >>> print(type(g).__name__, g.indices.numpy(), tg.convert_to_tensor(g).numpy().tolist())
        IndexedSlices [2 0 2] [[1.0, 1.0], [0.0, 0.0], [2.0, 2.0]]
    """)
def gather(params, indices, validate_indices=None, axis=None, batch_dims=0, name=None):
    """The slices of params at `indices` along `axis`: ``params[..., indices, ...]``."""
    if batch_dims or (axis is not None and int(axis) != 0):
        return array_ops.gather(params, indices, validate_indices, axis, batch_dims, name)
    t = as_tensor(params)
    shape = shape_of(t)
    if len(shape) == 0:
        raise InvalidArgumentError("params must be at least 1 dimensional [Op:GatherV2]")
    idx = _index_array(indices)
    if idx.dtype.kind not in "iu" or (idx.size and (idx.min() < 0 or idx.max() >= shape[0])):
        array_ops._check_indices(idx, shape[0], "gather")           # raises TensorFlow's error
    return apply(gather_op, (t,), (idx, shape))


@op_doc(
    tf="``tf.nn.embedding_lookup``",
    numpy="``params[ids]``",
    returns="A Tensor ids.shape + params.shape[1:].",
    args={"params": (_docs.TENSOR + ", or a list holding one", "the embedding table, one row per id (sharded "
                                                               "tables, lists of several, are not supported)."),
          "ids": ("integer Tensor or array-like", "the rows to look up, each in [0, params.shape[0])."),
          "max_norm": ("float or None", "if given, each looked-up row whose L2 norm exceeds it is scaled down "
                                        "to it.")},
    dtypes="any dtype (values are moved, not computed on); only floating tables get gradients; integer ids.",
    derivative="d/d params = an IndexedSlices of g's rows at ids (gather's sparse gradient), through the "
               "max_norm clipping when given; none for ids.",
    raises="InvalidArgumentError: an id out of range.\nNotImplementedError: a list of several tables.",
    example="""
        >>> table = tg.Variable([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
        >>> with tg.GradientTape() as tape:
        ...     rows = tg.nn.embedding_lookup(table, [[0, 2]])
        >>> print(rows.shape, tape.gradient(rows, table).indices.numpy())
        (1, 2, 2) [0 2]
        >>> tg.nn.embedding_lookup(table, [1], max_norm=1.0)      # the row [3, 4] scaled to norm 1
        <tapegrad.Tensor: shape=(1, 2), dtype=float32, numpy=array([[0.6, 0.8]], dtype=float32)>
    """)
def embedding_lookup(params, ids, max_norm=None, name=None):
    """The rows `ids` of the embedding table `params`: a gather along axis 0, so the table's gradient is an
    IndexedSlices of the rows looked up."""
    if isinstance(params, (list, tuple)):
        if len(params) != 1:
            raise NotImplementedError("tapegrad.nn.embedding_lookup: sharded tables (a list of several params) "
                                      "are not supported; concatenate the shards")
        params = params[0]
    out = gather(params, ids)
    if max_norm is not None:
        rank_ids = _index_array(ids).ndim
        out = clip_by_norm(out, max_norm, axes=list(range(rank_ids, ndim_of(out))))
    return out


_core.install_sparse(IndexedSlices, _add_for_engine, _dense_for_engine)
