"""Linear algebra: matmul (batched, transposes), tensordot (composite)."""
import numpy as np

from tapegrad import _core
from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import general, numpy_function, UFUNCS
from tapegrad.ops.array_ops import reshape, transpose, sum_to_shape, _shape_of, _ensure_tensor


def _any_tensor(*xs):
    return any(isinstance(x, (_core.Tensor, _core.Variable)) for x in xs)


def _mm(x, y, tx=False, ty=False):
    """x @ y with optional transposes of the last two axes, on either path."""
    if _any_tensor(x, y):
        return matmul(x, y, transpose_a=tx, transpose_b=ty)
    return np.matmul(np.swapaxes(x, -1, -2) if tx else x, np.swapaxes(y, -1, -2) if ty else y)


def _matmul_grad_a(g, ans, a, b, ta, tb):
    ga = _mm(b, g, tb, True) if ta else _mm(g, b, False, not tb)
    return sum_to_shape(ga, _shape_of(a))       # batch dims may have broadcast


def _matmul_grad_b(g, ans, a, b, ta, tb):
    gb = _mm(g, a, True, not ta) if tb else _mm(a, g, not ta, False)
    return sum_to_shape(gb, _shape_of(b))


matmul_op = general("matmul", lambda a, b, ta, tb: _mm(a, b, ta, tb), (_matmul_grad_a, _matmul_grad_b), save="x")


def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """tf.linalg.matmul (batched, with transposes); also the `@` operator,
    which follows NumPy for 1-d operands."""
    ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
    # Non-tensor operands adopt the tensor operand's dtype (TensorFlow's rule).
    if _any_tensor(a) and not _any_tensor(b):
        b = _core.raw_from_python(b, np.result_type(_ensure_tensor(a)._value))
    elif _any_tensor(b) and not _any_tensor(a):
        a = _core.raw_from_python(a, np.result_type(_ensure_tensor(b)._value))
    a, b = _ensure_tensor(a), _ensure_tensor(b)
    if np.result_type(a._value) != np.result_type(b._value):
        raise InvalidArgumentError(
            f"cannot compute MatMul as input #1(zero-based) was expected to be a {np.result_type(a._value)} "
            f"tensor but is a {np.result_type(b._value)} tensor [Op:MatMul]")
    sa, sb = _shape_of(a), _shape_of(b)
    if len(sa) == 0 or len(sb) == 0:
        raise InvalidArgumentError(f"matmul: both operands must have rank >= 1, got shapes {sa} and {sb}")
    if len(sa) == 1 or len(sb) == 1:
        # NumPy's 1-d rules: promote to a matrix, multiply, drop the added axis.
        a2 = reshape(a, (1, -1)) if len(sa) == 1 else a
        b2 = reshape(b, (-1, 1)) if len(sb) == 1 else b
        r = matmul(a2, b2, transpose_a=ta and len(sa) > 1, transpose_b=tb and len(sb) > 1)
        rs = _shape_of(r)
        return reshape(r, rs[:-2] + (rs[-2:-1] if len(sa) > 1 else ()) + (rs[-1:] if len(sb) > 1 else ()))
    ka = sa[-2] if ta else sa[-1]
    kb = sb[-1] if tb else sb[-2]
    if ka != kb:
        raise InvalidArgumentError(f"Matrix size-incompatible: In[0]: {list(sa)}, In[1]: {list(sb)} [Op:MatMul]")
    try:
        np.broadcast_shapes(sa[:-2], sb[:-2])
    except ValueError:
        raise InvalidArgumentError(f"matmul: batch dimensions {sa[:-2]} and {sb[:-2]} do not broadcast") from None
    return apply(matmul_op, (a, b), (ta, tb))


UFUNCS[np.matmul] = matmul


def matvec(a, b, transpose_a=False, name=None):
    return reshape(matmul(a, expand_last(b), transpose_a=transpose_a), _shape_of(_ensure_tensor(a))[:-2] + (
        _shape_of(_ensure_tensor(a))[-1 if transpose_a else -2],))


def expand_last(x):
    t = _ensure_tensor(x)
    return reshape(t, _shape_of(t) + (1,))


def _normalize_axes(axes, nda, ndb):
    if isinstance(axes, (int, np.integer)):
        axes = int(axes)
        return list(range(nda - axes, nda)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot: axes lists differ in length: {a_axes} vs {b_axes}")
    return [x % nda for x in a_axes], [x % ndb for x in b_axes]


@numpy_function(np.tensordot)
def tensordot(a, b, axes=2, name=None):
    """tf.tensordot, composite (transpose, reshape, matmul) like TensorFlow's."""
    if _any_tensor(a) and not _any_tensor(b):
        b = _core.raw_from_python(b, np.result_type(_ensure_tensor(a)._value))
    elif _any_tensor(b) and not _any_tensor(a):
        a = _core.raw_from_python(a, np.result_type(_ensure_tensor(b)._value))
    a, b = _ensure_tensor(a), _ensure_tensor(b)
    sa, sb = _shape_of(a), _shape_of(b)
    a_axes, b_axes = _normalize_axes(axes, len(sa), len(sb))
    for i, j in zip(a_axes, b_axes):
        if sa[i] != sb[j]:
            raise InvalidArgumentError(f"tensordot: contracted dimensions differ: {sa} axis {i} vs {sb} axis {j}")
    free_a = [i for i in range(len(sa)) if i not in a_axes]
    free_b = [i for i in range(len(sb)) if i not in b_axes]
    k = int(np.prod([sa[i] for i in a_axes], dtype=np.int64))
    a2 = reshape(transpose(a, free_a + a_axes), (-1, k))
    b2 = reshape(transpose(b, b_axes + free_b), (k, -1))
    return reshape(matmul(a2, b2), [sa[i] for i in free_a] + [sb[i] for i in free_b])


@numpy_function(np.dot)
def _np_dot(a, b, out=None):
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors")
    if len(_shape_of(_ensure_tensor(a))) == 0 or len(_shape_of(_ensure_tensor(b))) == 0:
        return a * b
    return matmul(a, b)


def trace(x, name=None):
    from tapegrad.ops.reduction_ops import reduce_sum
    from tapegrad.ops.array_ops import getitem
    t = _ensure_tensor(x)
    n = min(_shape_of(t)[-2:])
    idx = np.arange(n)
    return reduce_sum(getitem(t, (Ellipsis, idx, idx)), axis=-1)
