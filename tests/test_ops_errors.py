"""Bad input: each case raises the exception type TensorFlow (or NumPy, for
NumPy functions) raises, with a message naming the op and the argument."""
import numpy as np
import pytest

import tapegrad as tg
from tapegrad.errors import InvalidArgumentError

M = tg.constant(np.arange(12.0).reshape(3, 4), tg.float32)
V = tg.constant([1.0, 2.0, 3.0])


def _recording(f):
    with tg.GradientTape() as tape:
        tape.watch(V)
        return f()


SINGULAR = tg.ones([2, 2])


@pytest.mark.parametrize("name,call,exc,match", [
    # shape mismatches
    ("add", lambda: M + V, InvalidArgumentError, r"Incompatible shapes: \[3, 4\] vs. \[3\]"),
    ("matmul", lambda: tg.matmul(M, M), InvalidArgumentError, "Matrix size-incompatible"),
    ("reshape", lambda: tg.reshape(M, [5, -1]), InvalidArgumentError, "reshape.*12 values"),
    ("concat", lambda: tg.concat([M, V], 0), InvalidArgumentError, "ConcatOp"),
    ("stack", lambda: tg.stack([M, V]), InvalidArgumentError, "values\\[1\\].shape"),
    ("broadcast_to", lambda: tg.broadcast_to(V, [2, 4]), InvalidArgumentError, "Unable to broadcast"),
    ("tile", lambda: tg.tile(M, [2]), InvalidArgumentError, "multiples"),
    ("transpose", lambda: tg.transpose(M, [0, 0]), InvalidArgumentError, "transpose: perm"),
    ("squeeze", lambda: tg.squeeze(M, 0), InvalidArgumentError, "squeeze dim\\[0\\]"),
    ("split", lambda: tg.split(M, 3, axis=1), InvalidArgumentError, "split: dimension 1 of size 4"),
    ("where", lambda: tg.where(np.array([True, False]), V, V), InvalidArgumentError, "where: condition"),
    ("clip_by_value", lambda: tg.clip_by_value(V, [0.0, 0.0], 1.0), InvalidArgumentError, "clip_by_value"),
    ("solve", lambda: tg.linalg.solve(tg.eye(3), V), InvalidArgumentError, "solve: input matrix and rhs"),
    ("inv of a non-square matrix", lambda: tg.linalg.inv(M), InvalidArgumentError, "inv: input must be a square"),
    ("einsum sizes", lambda: tg.einsum("ij,jk->ik", M, M), InvalidArgumentError, "einsum: index 'j'"),
    ("einsum operands", lambda: tg.einsum("ij,jk->ik", M), ValueError, "einsum: .* names 2 operands"),
    ("boolean_mask", lambda: tg.boolean_mask(M, [True, False]), InvalidArgumentError, "boolean_mask: mask"),
    ("tensor_scatter_nd_update", lambda: tg.tensor_scatter_nd_update(M, [[0]], [1.0]), InvalidArgumentError,
     "tensor_scatter_nd_update: updates must have shape \\[1, 4\\]"),
    ("softmax_cross_entropy", lambda: tg.nn.softmax_cross_entropy_with_logits(V, M), ValueError,
     "logits and labels must have the same shape"),
    ("sparse xent labels shape", lambda: tg.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1], logits=M),
     InvalidArgumentError, "labels shape"),
    # out-of-range indices and axes
    ("gather", lambda: tg.gather(V, [0, 5]), InvalidArgumentError, r"gather: indices\[1\] = 5 is not in \[0, 3\)"),
    ("gather negative", lambda: tg.gather(V, [-1]), InvalidArgumentError, r"indices\[0\] = -1"),
    ("gather_nd", lambda: tg.gather_nd(M, [[0, 4]]), InvalidArgumentError, r"gather_nd: indices\[0\] = 4"),
    ("getitem", lambda: M[3], IndexError, "out of bounds"),
    ("scatter index", lambda: tg.tensor_scatter_nd_add(V, [[3]], [1.0]), InvalidArgumentError, r"indices\[0\] = 3"),
    ("sparse xent label", lambda: tg.nn.sparse_softmax_cross_entropy_with_logits(labels=[0, 1, 4], logits=M),
     InvalidArgumentError, "label value outside the valid range"),
    ("reduce_sum axis", lambda: tg.reduce_sum(M, axis=2), InvalidArgumentError, "reduce_sum: Invalid reduction "
                                                                               "dimension 2"),
    ("argmax axis", lambda: tg.argmax(M, axis=-3), InvalidArgumentError, "argmax: axis -3 is out of range"),
    ("softmax axis", lambda: tg.nn.softmax(M, axis=2), InvalidArgumentError, "softmax: axis 2"),
    ("cumsum scalar", lambda: tg.cumsum(tg.constant(1.0)), InvalidArgumentError, "cumsum: input must have rank"),
    ("pad negative", lambda: tg.pad(V, [[-1, 0]]), InvalidArgumentError, "pad: paddings must be non-negative"),
    ("pad reflect too far", lambda: tg.pad(V, [[3, 0]], mode="REFLECT"), InvalidArgumentError,
     "no greater than 2"),
    # wrong dtypes
    ("add dtypes", lambda: V + tg.constant([1, 2, 3]), InvalidArgumentError, "cannot compute add"),
    ("matmul dtypes", lambda: tg.matmul(M, tg.ones([4, 2], tg.float64)), InvalidArgumentError, "MatMul"),
    ("where condition", lambda: tg.where(V, V, V), InvalidArgumentError, "expected to be a bool tensor"),
    ("gather float indices", lambda: tg.gather(V, [0.0]), TypeError, "gather: indices must be integers"),
    ("one_hot float indices", lambda: tg.one_hot([0.5], 3), TypeError, "one_hot: indices must be integers"),
    ("softmax int logits", lambda: tg.nn.softmax(tg.constant([1, 2])), InvalidArgumentError,
     "softmax: logits must be a float"),
    ("sparse xent float labels", lambda: tg.nn.sparse_softmax_cross_entropy_with_logits(labels=[0.0, 1, 2], logits=M),
     InvalidArgumentError, "labels must be integers"),
    ("det int", lambda: tg.linalg.det(tg.constant([[1, 2], [3, 4]])), InvalidArgumentError, "det: input must be a "
                                                                                           "float"),
    ("reduce_any float", lambda: tg.reduce_any(V), TypeError, "reduce_any: input must be a bool"),
    ("random.normal int", lambda: tg.random.normal([2], dtype=tg.int32), ValueError, "random.normal: dtype"),
    # values outside an op's domain
    ("inv singular", lambda: tg.linalg.inv(SINGULAR), InvalidArgumentError, "Input is not invertible"),
    ("cholesky not positive definite", lambda: tg.linalg.cholesky(-tg.eye(2)), InvalidArgumentError,
     "Cholesky decomposition was not successful"),
    ("solve singular", lambda: tg.linalg.solve(SINGULAR, tg.ones([2, 1])), InvalidArgumentError,
     "not invertible"),
    # unsupported arguments
    ("norm ord", lambda: tg.norm(V, ord="nuc"), ValueError, "norm: ord='nuc'"),
    ("matrix norm ord", lambda: tg.norm(M, ord=3, axis=[0, 1]), ValueError, "norm: ord=3 is not a supported "
                                                                            "matrix norm"),
    ("pad mode", lambda: tg.pad(V, [[1, 1]], mode="WRAP"), ValueError, "pad: unknown padding mode 'WRAP'"),
    ("gather batch_dims", lambda: tg.gather(M, [0], batch_dims=1), NotImplementedError, "gather: batch_dims"),
    ("dropout rate", lambda: tg.nn.dropout(V, 1.0), ValueError, r"dropout: rate must be a scalar in \[0, 1\)"),
    ("uniform int without maxval", lambda: tg.random.uniform([2], dtype=tg.int32), ValueError, "maxval"),
    ("svd integer", lambda: tg.linalg.svd(tg.constant([[1, 0], [0, 1]])), InvalidArgumentError, "float or complex"),
    ("diag_part k", lambda: tg.linalg.diag_part(M, k=1), NotImplementedError, "k=0"),
    ("np.einsum sublist", lambda: np.einsum(M, [0, 99]), ValueError, "subscript 99"),
    ("np.sum out", lambda: np.sum(M, out=np.zeros(())), TypeError, "out="),
    ("np.cumsum out", lambda: np.cumsum(M, out=np.zeros(12)), TypeError, "out="),
    ("np.sort order", lambda: np.sort(V, order="x"), TypeError, "structured arrays"),
    ("np.convolve (no rule) while recording", lambda: _recording(lambda: np.convolve(V, V)), TypeError,
     "no gradient rule for numpy.convolve"),
    ("np.pad mode", lambda: np.pad(V, 1, mode="wrap"), TypeError, "numpy.pad mode='wrap'"),
    ("np.clip out", lambda: np.clip(V, 0, 1, out=np.zeros(3)), TypeError, "numpy.clip"),
])
def test_bad_input_raises_a_clear_error(name, call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_errors_do_not_leave_half_recorded_nodes():
    x = tg.Variable([1.0, 2.0, 3.0])
    with tg.GradientTape() as t:
        with pytest.raises(InvalidArgumentError):
            tg.gather(x, [7])
        y = tg.reduce_sum(x * x)
    assert t.gradient(y, x).numpy().tolist() == [2.0, 4.0, 6.0]
