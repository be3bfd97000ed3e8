"""Linear algebra: matmul, einsum, the matrix functions (inv, det, slogdet,
solve, cholesky, eigh, svd) and compositions of them (tensordot, matvec,
trace).  Rules follow TensorFlow's (which tensors they read); all work on
stacks of matrices (leading batch axes broadcast through matmul)."""
import string

import numpy as np

from tapegrad import _core
from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops import math_ops
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import UFUNCS, call, general, numpy_function, raw, variadic
from tapegrad.ops._shapes import as_tensor, ndim_of, neg_axis, shape_of, unbroadcast
from tapegrad.ops.array_ops import reshape, transpose
from tapegrad.ops.reduction_ops import reduce_max, reduce_min, reduce_sum

_TENSORS = (_core.Tensor, _core.Variable)


def _any_tensor(*xs):
    for x in xs:
        if isinstance(x, _TENSORS):
            return True
    return False


def _mm(x, y, tx=False, ty=False):
    """x @ y with optional transposes of the last two axes, on either path."""
    if type(x) is np.ndarray and type(y) is np.ndarray:      # raw values (a JVP, a transposed forward)
        return np.matmul(x.swapaxes(-1, -2) if tx else x, y.swapaxes(-1, -2) if ty else y)
    if _any_tensor(x, y):
        return matmul(x, y, transpose_a=tx, transpose_b=ty)
    return np.matmul(_swap(x) if tx else x, _swap(y) if ty else y)


def _swap(x):
    # ndarray's method: the view np.swapaxes returns, without its two Python frames
    return x.swapaxes(-1, -2) if type(x) is np.ndarray else np.swapaxes(x, -1, -2)


def _tensor_matrices(g, a, b):
    """All three Tensors of 2-d arrays of one dtype (tensor mode: nested tapes, forward over
    reverse): a rule's product is then the matmul op applied directly, as matmul() would."""
    if not (type(g) is _core.Tensor and type(a) is _core.Tensor and type(b) is _core.Tensor):
        return False
    gv, av, bv = g._value, a._value, b._value
    return (type(gv) is np.ndarray and type(av) is np.ndarray and type(bv) is np.ndarray
            and gv.ndim == 2 and av.ndim == 2 and bv.ndim == 2 and gv.dtype == av.dtype == bv.dtype)


# The two rules test _raw_matrices' condition written out: a helper's frame per rule is a
# measurable share of an MLP step's sweep (W4).
def _matmul_grad_a(g, ans, a, b, ta, tb):
    if (type(g) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray
            and g.ndim == 2 and a.ndim == 2 and b.ndim == 2):
        return np.matmul(b.T if tb else b, g.T) if ta else np.matmul(g, b if tb else b.T)    # .T: views
    if _tensor_matrices(g, a, b):
        return apply(matmul_op, (b, g), (tb, True)) if ta else apply(matmul_op, (g, b), (False, not tb))
    ga = _mm(b, g, tb, True) if ta else _mm(g, b, False, not tb)
    return unbroadcast(ga, shape_of(a), max(ndim_of(a), ndim_of(b)))      # batch dims may have broadcast


def _matmul_grad_b(g, ans, a, b, ta, tb):
    if (type(g) is np.ndarray and type(a) is np.ndarray and type(b) is np.ndarray
            and g.ndim == 2 and a.ndim == 2 and b.ndim == 2):
        return np.matmul(g.T, a.T if ta else a) if tb else np.matmul(a if ta else a.T, g)
    if _tensor_matrices(g, a, b):
        return apply(matmul_op, (g, a), (True, ta)) if tb else apply(matmul_op, (a, g), (not ta, False))
    gb = _mm(g, a, True, ta) if tb else _mm(a, g, not ta, False)
    return unbroadcast(gb, shape_of(b), max(ndim_of(a), ndim_of(b)))


def _matmul_diag_b(d, ans, a, b, ta, tb):
    """b's gradient for a Jacobian's diagonal cotangents d (shape of a @ b) when
    b is one column (a matrix-vector product): row s of the batch is
    a.T @ (d[s] e_s), i.e. row s of a scaled by d[s], so the batch is a with
    its rows scaled, O(m n) instead of the dense O(m^2 n) product.  Equal to
    the general rule's bits while a is finite (its other terms are 0 * a)."""
    if ta or tb or not (type(a) is np.ndarray and type(b) is np.ndarray and type(d) is np.ndarray):
        return None
    if a.ndim != 2 or b.ndim != 2 or b.shape[1] != 1 or d.shape != (a.shape[0], 1):
        return None
    rows = _core.scaled_rows(d, a)      # d * a, or None where inf or nan: the dense product differs off the diagonal
    if rows is None:
        return None
    return False, rows[:, :, None]


# TensorFlow's MatMul gradient reads only the other operand: matmul by a
# constant has a None second derivative.
def _matmul_forward(a, b, ta, tb):
    if not (ta or tb):
        return np.matmul(a, b)         # raw values (forward, or a JVP on raw tangents)
    return _mm(a, b, ta, tb)


matmul_op = general("matmul", _matmul_forward, (_matmul_grad_a, _matmul_grad_b), save="x",
                    holomorphic=True, diag_vjps=(None, _matmul_diag_b),
                    jvps=(lambda t, ans, a, b, ta, tb: _mm(t, b, ta, tb),
                          lambda t, ans, a, b, ta, tb: _mm(a, t, ta, tb)))
# The core runs the first branch of each rule and the forward's np.matmul(a, b) itself (a frame
# fewer each, five rules and three forwards per MLP step); these functions stay the general code.
_core.install_matmul(matmul_op)


# ---- a matrix times a vector (the @ operator's W @ x) ------------------------------------------
# One op instead of the general path's reshape / matmul / reshape, with the same products as the
# general path's (the vector as a column through np.matmul; np.matmul of a matrix and a 1-d vector
# is that very gemv call, bit for bit: tests/test_matvec_op.py), so every value and derivative
# has the general path's bits; a nested tape or a ForwardAccumulator records and differentiates
# one node instead of three.  The params are (ta,): the product is a.T @ b when ta is set (b's
# gradient is such a product).

def _matvec_arrays(a, v, ta):
    """a @ v (a.T @ v when ta) for ndarrays; the core's _matvec_raw makes the same calls."""
    if a.ndim == 2 and v.ndim == 1:
        return np.matmul(a.T if ta else a, v)
    r = np.matmul(a.swapaxes(-1, -2) if ta else a, v.reshape(v.shape + (1,)))
    return r.reshape(r.shape[:-1])


def _matvec_forward(a, b, ta):
    if type(a) is not np.ndarray or type(b) is not np.ndarray:
        a, b = np.asarray(a), np.asarray(b)
    return _matvec_arrays(a, b, ta)


def _matvec_general(a, v, ta):
    """a (or a.T) @ v for a vector or a batch of vectors v, by the general path's ops."""
    vs = shape_of(v)
    r = matmul(a, reshape(v, vs + (1,)), transpose_a=ta)
    return reshape(r, shape_of(r)[:-1])


def _matvec_any(a, v, ta):
    """The product on raw values (the forward's calls), as the op on two Tensors, or by the
    general path's ops."""
    if type(a) is np.ndarray and type(v) is np.ndarray:
        return _matvec_arrays(a, v, ta)
    if type(a) is _core.Tensor and type(v) is _core.Tensor and v._value.ndim == 1:
        return apply(matvec_op, (a, v), (ta,))
    return _matvec_general(a, v, ta)


def _matvec_grad_a(g, ans, a, b, ta):
    if type(g) is np.ndarray and type(b) is np.ndarray:
        gc, bc = g.reshape(g.shape + (1,)), b.reshape(b.shape + (1,))
        return np.matmul(bc, gc.swapaxes(-1, -2)) if ta else np.matmul(gc, bc.swapaxes(-1, -2))
    gc, bc = reshape(g, shape_of(g) + (1,)), reshape(b, shape_of(b) + (1,))
    ga = matmul(bc, gc, transpose_b=True) if ta else matmul(gc, bc, transpose_b=True)
    return unbroadcast(ga, shape_of(a), 2)


def _matvec_grad_b(g, ans, a, b, ta):
    if type(g) is _core.Tensor and type(a) is _core.Tensor and g._value.ndim == 1:
        return apply(matvec_op, (a, g), (not ta,))      # tensor mode (W9's sweep): one frame
    return _matvec_any(a, g, not ta)


def _matvec_diag_b(d, ans, a, b, ta):
    """b's gradient for a Jacobian's diagonal cotangents d (of the output's shape): a with its
    rows scaled (what matmul's diagonal rule gives the general path's column), or None."""
    if ta or not (type(a) is np.ndarray and type(d) is np.ndarray) or a.ndim != 2 or d.shape != a.shape[:1]:
        return None
    rows = _core.scaled_rows(d.reshape(d.shape[0], 1), a)
    return None if rows is None else (False, rows)


matvec_op = general("matvec", _matvec_forward, (_matvec_grad_a, _matvec_grad_b), save="x",
                    holomorphic=True, diag_vjps=(None, _matvec_diag_b),
                    jvps=(lambda t, ans, a, b, ta: _matvec_any(t, b, ta),
                          lambda t, ans, a, b, ta: _matvec_any(a, t, ta)))
_core.install_matvec(matvec_op)      # the core makes the raw calls above itself (forward over reverse, W9)


@op_doc(
    tf="``tf.linalg.matmul``",
    numpy="``numpy.matmul``",
    returns="A Tensor (..., M, N): the (batched) matrix product.",
    args={"a": ("Tensor, Variable or array-like", "(..., M, K) matrices."),
          "b": ("Tensor, Variable or array-like", "(..., K, N) matrices; batch axes broadcast."),
          "transpose_a": ("bool", "use a's transpose."),
          "transpose_b": ("bool", "use b's transpose."),
          "adjoint_a": ("bool", "use a's conjugate transpose."),
          "adjoint_b": ("bool", "use b's conjugate transpose."),
          "a_is_sparse": ("bool", "accepted for TensorFlow compatibility; ignored."),
          "b_is_sparse": ("bool", "accepted for TensorFlow compatibility; ignored."),
          "output_type": ("None", "accepted for TensorFlow compatibility.")},
    dtypes="every numeric dtype; only floating (and complex) inputs get gradients.",
    derivative="d/da = g @ b^T, d/db = a^T @ g (transposed back when transpose_* is set).",
    raises="InvalidArgumentError: inner dimensions that differ.",
    example="""
        >>> tg.matmul([[1.0, 2.0]], [[3.0], [4.0]])
        <tapegrad.Tensor: shape=(1, 1), dtype=float32, numpy=array([[11.]], dtype=float32)>
    """)
def matmul(a, b, transpose_a=False, transpose_b=False, adjoint_a=False, adjoint_b=False,
           a_is_sparse=False, b_is_sparse=False, output_type=None, name=None):
    """tf.linalg.matmul (batched, with transposes) of operands of rank >= 2, as
    in TensorFlow; the `@` operator and numpy.matmul on tensors follow NumPy's
    rules for 1-d operands."""
    return _matmul(a, b, bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b), False)


def matmul_numpy(a, b):
    """a @ b and numpy.matmul on tensors: NumPy's 1-d rules (a vector is a row
    on the left, a column on the right, and the added axis is dropped)."""
    return _matmul(a, b, False, False, True)


def _matmul(a, b, ta=False, tb=False, numpy_1d=True):
    """matmul (numpy_1d False) and matmul_numpy (True); with the defaults it is
    matmul_numpy itself, which the ``@`` operator calls without that wrapper's frame."""
    if isinstance(a, _TENSORS) and isinstance(b, _TENSORS):
        # Fast path (an MLP's x @ W): two matrices of one dtype that fit.
        av, bv = a._value, b._value
        if (type(av) is np.ndarray and type(bv) is np.ndarray and av.ndim == 2 and bv.ndim == 2
                and av.dtype == bv.dtype and av.shape[0 if ta else 1] == bv.shape[1 if tb else 0]):
            return apply(matmul_op, (a, b), (ta, tb))
        if (numpy_1d and type(av) is np.ndarray and type(bv) is np.ndarray and av.ndim == 2 and bv.ndim == 1
                and av.dtype == bv.dtype and av.shape[1] == bv.shape[0]):
            # A matrix times a vector (W @ x): one op computing what the general path's three
            # ops (the vector as a column, the product, the column as a vector) compute.
            return apply(matvec_op, (a, b), (False,))
    a, b = _core.operands((a, b), "MatMul")
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) == 0 or len(sb) == 0:
        raise InvalidArgumentError(f"matmul: both operands must have rank >= 1, got shapes {sa} and {sb}")
    if (len(sa) == 1 or len(sb) == 1) and not numpy_1d:
        raise InvalidArgumentError(f"In[{0 if len(sa) == 1 else 1}] and In[{1 if len(sa) == 1 else 0}] ndims must "
                                   f"be >= 2: matmul takes matrices (shapes {list(sa)} and {list(sb)}); use "
                                   f"tensordot or the @ operator for vectors [Op:MatMul]")
    if len(sa) == 1 or len(sb) == 1:
        # NumPy's 1-d rules: promote to a matrix, multiply, drop the added axis.
        a2 = reshape(a, (1, -1)) if len(sa) == 1 else a
        b2 = reshape(b, (-1, 1)) if len(sb) == 1 else b
        r = _matmul(a2, b2, False, False, True)
        rs = shape_of(r)
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


UFUNCS[np.matmul] = matmul_numpy


@op_doc(
    summary="The matrix-vector product a @ b, batched.",
    tf="``tf.linalg.matvec``",
    numpy="``numpy.matmul(a, b[..., None])[..., 0]``",
    returns="A Tensor (..., M).",
    args={"a": ("Tensor, Variable or array-like", "(..., M, N) matrices."),
          "b": ("Tensor, Variable or array-like", "(..., N) vectors."),
          "transpose_a": ("bool", "use a's transpose.")},
    dtypes="every numeric dtype; only floating (and complex) inputs get gradients.",
    derivative="d/da = outer(g, b), d/db = a^T g.",
    example="""
        >>> tg.linalg.matvec([[1.0, 2.0], [3.0, 4.0]], [1.0, 1.0])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([3., 7.], dtype=float32)>
    """)
def matvec(a, b, transpose_a=False, name=None):
    return reshape(matmul(a, expand_last(b), transpose_a=transpose_a), shape_of(as_tensor(a))[:-2] + (
        shape_of(as_tensor(a))[-1 if transpose_a else -2],))


def expand_last(x):
    t = as_tensor(x)
    return reshape(t, shape_of(t) + (1,))


def _normalize_axes(axes, nda, ndb):
    if isinstance(axes, (int, np.integer)):
        axes = int(axes)
        if axes < 0:
            raise ValueError("'axes' must be at least 0.")
        if axes > nda or axes > ndb:
            raise ValueError(f"tensordot: 'axes' ({axes}) must not be larger than the number of dimensions of "
                             f"either tensor (ranks {nda} and {ndb})")
        return list(range(nda - axes, nda)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot: axes lists differ in length: {a_axes} vs {b_axes}")
    for x, nd in [(x, nda) for x in a_axes] + [(x, ndb) for x in b_axes]:
        if not -nd <= x < nd:
            raise ValueError(f"tensordot: axis {x} is out of range for a tensor of rank {nd}")
    return [x % nda for x in a_axes], [x % ndb for x in b_axes]


@op_doc(
    tf="``tf.tensordot``",
    numpy="``numpy.tensordot``",
    returns="A Tensor: a's free axes, then b's.",
    args={"a": ("Tensor, Variable or array-like", "the first tensor."),
          "b": ("Tensor, Variable or array-like", "the second tensor."),
          "axes": ("int, or a pair of axis lists", "n: contract a's last n axes with b's first n; a pair: those "
                                                   "axes.")},
    dtypes="every numeric dtype; only floating (and complex) inputs get gradients.",
    derivative="through transpose, reshape and matmul: each input's gradient contracts g with the other input over "
               "its free axes.",
    example="""
        >>> tg.tensordot([1.0, 2.0], [3.0, 4.0], axes=1)
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=11.0>
    """)
@numpy_function(np.tensordot)
def tensordot(a, b, axes=2, name=None):
    """tf.tensordot, composite (transpose, reshape, matmul) like TensorFlow's."""
    a, b = _core.operands((a, b), "Tensordot")
    sa, sb = shape_of(a), shape_of(b)
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
    if len(shape_of(as_tensor(a))) == 0 or len(shape_of(as_tensor(b))) == 0:
        return a * b
    return matmul_numpy(a, b)


# ---- einsum -------------------------------------------------------------------------------
# The equation is normalised once (ellipses spelled out, output explicit), so
# a rule can add fresh letters for leading batch axes of its cotangent.

def _parse_einsum(equation, shapes):
    eq = equation.replace(" ", "")
    lhs, out = eq.split("->") if "->" in eq else (eq, None)
    ins = lhs.split(",")
    if len(ins) != len(shapes):
        raise ValueError(f"einsum: the equation {equation!r} names {len(ins)} operands, got {len(shapes)}")
    free = [c for c in string.ascii_letters if c not in eq]
    ell_nd = max([len(sh) - (len(s) - 3) for s, sh in zip(ins, shapes) if "..." in s] or [0])
    ell, free = "".join(free[:ell_nd]), free[ell_nd:]
    spelled = []
    for s, sh in zip(ins, shapes):
        if "..." in s:
            k = len(sh) - (len(s) - 3)
            s = s.replace("...", ell[ell_nd - k:] if k else "")
        if len(s) != len(sh) or not all(c.isalpha() for c in s):
            raise ValueError(f"einsum: operand subscripts {s!r} do not match an operand of shape {tuple(sh)}")
        spelled.append(s)
    if out is None:
        letters = "".join(spelled)
        out = ell + "".join(sorted(c for c in set(letters) if letters.count(c) == 1 and c not in ell))
    else:
        out = out.replace("...", ell)
    sizes = {}
    for s, sh in zip(spelled, shapes):
        for c, d in zip(s, sh):
            if sizes.setdefault(c, d) != d:
                raise InvalidArgumentError(f"einsum: index {c!r} has sizes {sizes[c]} and {d} in {equation!r} "
                                           f"(broadcasting between operands is not supported)")
    if any(c not in sizes for c in out) or len(set(out)) != len(out):
        raise ValueError(f"einsum: invalid output subscripts in {equation!r}")
    return tuple(spelled), out, "".join(free), tuple(sorted(sizes.items()))


def _einsum_forward(*args):
    *xs, ins, out, free, sizes = args
    return np.einsum(",".join(ins) + "->" + out, *xs)


def _einsum_vjp(g, ans, i, inputs, ins, out, free, sizes):
    size = dict(sizes)
    nb = ndim_of(g) - len(out)
    b, free = free[:nb], free[nb:]
    target = ins[i]
    others = [(s, x) for j, (s, x) in enumerate(zip(ins, inputs)) if j != i]
    uniq = "".join(dict.fromkeys(target))
    avail = set(out).union(*[set(s) for s, _ in others])
    have = "".join(c for c in uniq if c in avail)
    r = einsum(",".join([b + out] + [s for s, _ in others]) + "->" + b + have, g, *[x for _, x in others])
    if have != uniq:       # letters summed in this operand alone: their gradient is broadcast
        lead = shape_of(r)[:nb]
        r = np.reshape(r, lead + tuple(size[c] if c in have else 1 for c in uniq))
        r = np.broadcast_to(r, lead + tuple(size[c] for c in uniq))
    if uniq != target:     # repeated letters (diagonals): place the gradient on the diagonal
        subs, eyes, seen = "", [], set()
        dt = np.result_type(raw(g))
        for c in target:
            if c in seen:
                f, free = free[0], free[1:]
                subs += f
                eyes.append((c + f, np.eye(size[c], dtype=dt)))
            else:
                seen.add(c)
                subs += c
        r = einsum(",".join([b + uniq] + [s for s, _ in eyes]) + "->" + b + subs, r, *[e for _, e in eyes])
    return r


def _einsum_jvp(t, ans, i, inputs, ins, out, free, sizes):
    xs = list(inputs)
    xs[i] = t
    return einsum(",".join(ins) + "->" + out, *xs)


einsum_op = variadic("einsum", _einsum_forward, _einsum_vjp, _einsum_jvp, save="x", holomorphic=True)


@op_doc(
    tf="``tf.einsum``",
    numpy="``numpy.einsum``",
    returns="A Tensor with the output subscripts' axes.",
    args={"equation": ("str", "the subscripts, e.g. 'ij,jk->ik'."),
          "inputs": ("Tensor, Variable or array-like", "one tensor per comma-separated term."),
          "kwargs": ("keyword arguments", "NumPy's optimize= etc. are accepted and ignored.")},
    dtypes="every numeric dtype; only floating (and complex) inputs get gradients.",
    derivative="each operand's gradient is an einsum of g with the other operands (output and operand subscripts "
               "exchanged).",
    raises="ValueError: a malformed equation or mismatched dimensions.",
    example="""
        >>> tg.einsum('ij,j->i', [[1.0, 2.0], [3.0, 4.0]], [1.0, 1.0])
        array([3., 7.])
    """)
def einsum(equation, *inputs, **kwargs):
    """tf.einsum / numpy.einsum (subscripts form): ellipses, implicit outputs,
    traces and diagonals ('ii->i'); differentiable in every operand."""
    if not isinstance(equation, str):
        raise TypeError("tapegrad.einsum: only the subscripts-string form is supported")
    kwargs.pop("optimize", None)
    kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"tapegrad.einsum: unsupported keyword arguments {sorted(kwargs)}")
    if not _any_tensor(*inputs):
        return np.einsum(equation, *inputs)
    ts = _core.operands(inputs, "Einsum")
    return apply(einsum_op, tuple(ts), _parse_einsum(equation, [shape_of(t) for t in ts]))


# ---- matrix functions ---------------------------------------------------------------------

def _expand2(x):
    return np.expand_dims(np.expand_dims(x, -1), -1)


def _square_matrices(x, op):
    t = as_tensor(x)
    s = shape_of(t)
    if len(s) < 2 or s[-1] != s[-2]:
        raise InvalidArgumentError(f"{op}: input must be a square matrix or a stack of them, got shape {list(s)}")
    kind = np.result_type(t._value).kind
    if kind not in "fc":
        raise InvalidArgumentError(f"{op}: input must be a float or complex tensor, got {np.result_type(t._value)}")
    return t


def _lapack(f, op, message):
    def forward(*args):
        try:
            return f(*args)
        except np.linalg.LinAlgError:
            raise InvalidArgumentError(f"{message} [Op:{op}]") from None
    return forward


def _inv(x):
    return call(inv_op, x)


inv_op = general("inv", _lapack(np.linalg.inv, "MatrixInverse", "Input is not invertible."),
                 (lambda g, ans, a: -_mm(ans, _mm(g, ans, False, True), True, False),), save="ans",
                 jvps=(lambda t, ans, a: -_mm(ans, _mm(t, ans)),), holomorphic=True)


def _is_complex(x):
    return np.result_type(raw(x)).kind == "c"


def _conj_if_complex(x):
    return np.conjugate(x) if _is_complex(x) else x


def _real_if_complex(x):
    return np.real(x) if _is_complex(x) else x


def _mmh(x, y, hx=False, hy=False):
    """x @ y with optional conjugate transposes of the last two axes: _mm itself for real values,
    so one rule serves real and complex matrices."""
    return _mm(_conj_if_complex(x) if hx else x, _conj_if_complex(y) if hy else y, hx, hy)


def _in_dtype(x, dt):
    """x in dtype dt (a real factor joining a complex rule); x itself when it already is."""
    return x if np.result_type(raw(x)) == dt else math_ops.as_dtype(x, dt)


def _trace_of_product(a_inv, t):
    return np.sum(_swap(a_inv) * t, axis=(-2, -1))           # trace(a_inv @ t)


# TensorFlow: d det / dA = det * A^{-T}; d log|det| / dA = A^{-T}.
det_op = general("det", _lapack(np.linalg.det, "MatrixDeterminant", "Input is not a square matrix."),
                 (lambda g, ans, a: _expand2(g * ans) * _swap(_inv(a)),), save="x,ans",
                 jvps=(lambda t, ans, a: ans * _trace_of_product(_inv(a), t),), holomorphic=True)
slogdet_op = general(
    "slogdet", _lapack(lambda a: tuple(np.linalg.slogdet(a)), "LogMatrixDeterminant", "Input is not invertible."),
    # For complex A, log|det A| has gradient inv(A)^H (conj: TensorFlow's convention) and tangent
    # Re(trace(inv(A) dA)); the sign (a phase) has no gradient.
    (lambda g, ans, a: None if g[1] is None else _expand2(math_ops.as_dtype(g[1], np.result_type(raw(a)))) *
     _swap(_inv(_conj_if_complex(a))),), save="x",
    n_out=2, jvps=(lambda t, ans, a: (None, _real_if_complex(_trace_of_product(_inv(a), t))),))


def _solve_raw(a, b, adjoint):
    return np.linalg.solve(np.swapaxes(a, -1, -2) if adjoint else a, b)


def _solve(a, b, adjoint):
    return call(solve_op, a, b, params=(adjoint,))


def _solve_grad_b(g, ans, a, b, adjoint):
    return unbroadcast(_solve(a, g, not adjoint), shape_of(b), ndim_of(ans))


def _solve_grad_a(g, ans, a, b, adjoint):
    gb = _solve(a, g, not adjoint)
    ga = -_mm(ans, gb, False, True) if adjoint else -_mm(gb, ans, False, True)
    return unbroadcast(ga, shape_of(a), ndim_of(ans))


solve_op = general("solve", _lapack(_solve_raw, "MatrixSolve", "Input matrix is not invertible."),
                   (_solve_grad_a, _solve_grad_b), save="x,ans",
                   jvps=(lambda t, ans, a, b, adjoint: _solve(a, -_mm(t, ans, adjoint, False), adjoint),
                         lambda t, ans, a, b, adjoint: _solve(a, t, adjoint)), holomorphic=True)


def _phi_mask(n, dtype):
    # The lower triangle with half the diagonal: Cholesky's Phi, as a mask.
    return np.tril(np.ones((n, n), dtype=dtype)) - 0.5 * np.eye(n, dtype=dtype)


def _cholesky_vjp(g, ans, a):
    # TensorFlow's rule: symmetric, for symmetric perturbations of a.  Complex A = L L^H: the same
    # with conjugate transposes (L's diagonal is real, so the half-diagonal mask is the same);
    # Hermitian, for Hermitian perturbations of a.
    n = shape_of(ans)[-1]
    linv = _inv(ans)
    middle = _mmh(ans, g, True) * _phi_mask(n, np.result_type(raw(ans)))
    grad_a = _mm(_mmh(linv, middle, True), linv)
    return 0.5 * (grad_a + _adjoint(grad_a))


def _cholesky_jvp(t, ans, a):
    n = shape_of(ans)[-1]
    linv = _inv(ans)
    sym = 0.5 * (t + _adjoint(t))
    return _mm(ans, _mm(linv, _mmh(sym, linv, False, True)) * _phi_mask(n, np.result_type(raw(ans))))


cholesky_op = general("cholesky", _lapack(np.linalg.cholesky, "Cholesky", "Cholesky decomposition was not "
                                                                           "successful. The input might not be valid."),
                      (_cholesky_vjp,), save="ans", jvps=(_cholesky_jvp,))


def _separation(e, what, op, repeated):
    """1 / (e_j - e_i) off the diagonal, 0 on it; a clear error where the
    derivative does not exist (repeated values)."""
    ev = np.asarray(raw(e))
    n = ev.shape[-1]
    gaps = np.where(np.eye(n, dtype=bool), np.inf, np.abs(ev[..., None, :] - ev[..., :, None]))
    if n > 1 and np.min(gaps) <= 8 * np.finfo(ev.dtype).eps * max(1.0, float(np.max(np.abs(ev)))):
        raise InvalidArgumentError(f"{op}: the gradient through {what} is not defined for {repeated}; "
                                   f"differentiate only the {'eigenvalues' if op == 'eigh' else 'singular values'}")
    eye = np.eye(n, dtype=ev.dtype)
    return (1 - eye) / (np.expand_dims(e, -2) - np.expand_dims(e, -1) + eye)


def _eigh_vjp(g, ans, a):
    # TensorFlow's rule; Hermitian A = V diag(e) V^H (e real): the same with conjugate transposes.
    # Each complex eigenvector's phase is free, so only phase-independent losses have a meaningful
    # gradient.
    ge, gv = g
    e, v = ans
    n = shape_of(v)[-1]
    dt = np.result_type(raw(v))
    inner = 0
    if ge is not None:
        inner = np.expand_dims(_in_dtype(ge, dt), -1) * np.eye(n, dtype=dt)
    if gv is not None:
        f = _in_dtype(_separation(e, "eigenvectors", "eigh", "repeated eigenvalues"), dt)
        inner = inner + f * _mmh(v, gv, True)
    grad_a = _mm(v, _mmh(inner, v, False, True))
    # eigh reads the lower triangle only: fold the upper gradient onto it.
    return (grad_a + _adjoint(grad_a)) * _phi_mask(n, np.result_type(raw(e)))


def _eigh_jvp(t, ans, a):
    e, v = ans
    n = shape_of(v)[-1]
    dt = np.result_type(raw(v))
    # LAPACK reads the strict lower triangle and the real part of the diagonal.
    strict = t * np.tril(np.ones((n, n), dtype=dt), -1)
    da = strict + _adjoint(strict) + _in_dtype(_real_if_complex(t), dt) * np.eye(n, dtype=dt)
    m = _mmh(v, _mm(da, v), True)
    de = _real_if_complex(np.sum(m * np.eye(n, dtype=dt), axis=-1))
    f = _in_dtype(_separation(e, "eigenvectors", "eigh", "repeated eigenvalues"), dt)
    return de, _mm(v, f * m)


eigh_op = general("eigh", _lapack(lambda a: tuple(np.linalg.eigh(a)), "SelfAdjointEigV2",
                                  "Self-adjoint eigen decomposition was not successful."),
                  (_eigh_vjp,), save="ans", n_out=2, jvps=(_eigh_jvp,))


def _svd_forward(a, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return s, u, np.conjugate(np.swapaxes(vh, -1, -2)) if np.iscomplexobj(vh) else np.swapaxes(vh, -1, -2)


def _svd_check(s, a, full_matrices, need_uv):
    m, n = shape_of(a)[-2:]
    if need_uv and full_matrices and m != n:
        raise NotImplementedError("tapegrad.linalg.svd: the gradient through u or v with full_matrices=True is "
                                  "only defined for square matrices")
    sv = np.asarray(raw(s))
    if need_uv and m != n and sv.size and np.min(sv) <= np.finfo(sv.dtype).eps * max(1.0, float(np.max(sv))):
        raise InvalidArgumentError("svd: the gradient through u or v is not defined for a non-square matrix with a "
                                   "zero singular value")


def _svd_vjp(g, ans, a, full_matrices):
    # A = U S V^H (conjugate transposes are transposes for real A).  Complex A adds TensorFlow's term
    # for the phase u_i and v_i share: 1/2 U S^-1 (L^H - L) V^H, L = diag(V^H g_V).
    gs, gu, gv = g
    s, u, v = ans
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    _svd_check(s, a, full_matrices, gu is not None or gv is not None)
    if full_matrices:
        u, v = u[..., :, :k], v[..., :, :k]
        gu = None if gu is None else gu[..., :, :k]
        gv = None if gv is None else gv[..., :, :k]
    dt = np.result_type(raw(u))
    eye = np.eye(k, dtype=dt)
    inner = 0 if gs is None else np.expand_dims(_in_dtype(gs, dt), -1) * eye
    sr = _in_dtype(np.expand_dims(s, -1), dt)        # s as a column
    sc = _in_dtype(np.expand_dims(s, -2), dt)        # s as a row
    extra = 0
    if gu is not None or gv is not None:
        f = _in_dtype(_separation(s * s, "u or v", "svd", "repeated singular values"), dt)
        if gu is not None:
            uhgu = _mmh(u, gu, True)
            inner = inner + f * (uhgu - _adjoint(uhgu)) * sc
            if m > k:
                extra = extra + _mmh((gu - _mm(u, uhgu)) / sc, v, False, True)
        if gv is not None:
            vhgv = _mmh(v, gv, True)
            inner = inner + sr * (f * (vhgv - _adjoint(vhgv)))
            if dt.kind == "c":
                diag = vhgv * eye
                inner = inner + 0.5 * (_adjoint(diag) - diag) / sr
            if n > k:
                extra = extra + _mmh(u, (gv - _mm(v, vhgv)) / sc, False, True)
    return _mm(u, _mmh(inner, v, False, True)) + extra


def _svd_jvp(t, ans, a, full_matrices):
    # The adjoint of _svd_vjp: P = U^H dA V; for complex A, u keeps its phase and v takes -i Im(P_ii) / s_i.
    s, u, v = ans
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    _svd_check(s, a, full_matrices, True)
    dt = np.result_type(raw(u))
    eye = np.eye(k, dtype=dt)
    uk, vk = u[..., :, :k], v[..., :, :k]
    p = _mmh(uk, _mm(t, vk), True)
    ds = _real_if_complex(np.sum(p * eye, axis=-1))
    f = _in_dtype(_separation(s * s, "u or v", "svd", "repeated singular values"), dt)
    sc = _in_dtype(np.expand_dims(s, -2), dt)        # s as a row
    sr = _in_dtype(np.expand_dims(s, -1), dt)        # s as a column
    du = _mm(uk, f * (p * sc + _adjoint(p * sc)))
    dv_inner = f * (sr * p + _adjoint(sr * p))
    if dt.kind == "c":
        dv_inner = dv_inner - 1j * math_ops.as_dtype(np.imag(p * eye), dt) / sr
    dv = _mm(vk, dv_inner)
    if m > n:
        dav = _mm(t, v)
        du = du + (dav - _mm(u, _mmh(u, dav, True))) / sc
    if n > m:
        dahu = _mmh(t, u, True)
        dv = dv + (dahu - _mm(v, _mmh(v, dahu, True))) / sc
    return ds, du, dv


svd_op = general("svd", _lapack(_svd_forward, "Svd", "SVD did not converge."), (_svd_vjp,), save="x,ans",
                 n_out=3, jvps=(_svd_jvp,))


@op_doc(
    summary="The inverse of a square matrix (or a batch of them).",
    tf="``tf.linalg.inv``",
    numpy="``numpy.linalg.inv``",
    returns="A Tensor of input's shape.",
    args={"input": ("Tensor, Variable or array-like", "a square matrix or a batch of them (..., M, M)."),
          "adjoint": ("bool", "invert the conjugate transpose.")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="d inv(A) = -inv(A) dA inv(A): the gradient is -inv(A)^T g inv(A)^T.",
    raises="InvalidArgumentError: a singular matrix.",
    example="""
        >>> tg.linalg.inv([[2.0, 0.0], [0.0, 4.0]])
        <tapegrad.Tensor: shape=(2, 2), dtype=float32, numpy=
        array([[0.5 , 0.  ],
               [0.  , 0.25]], dtype=float32)>
    """)
def inv(input, adjoint=False, name=None):
    t = _square_matrices(input, "inv")
    return apply(inv_op, (_conj_if_complex(np.swapaxes(t, -1, -2)) if adjoint else t,))


@op_doc(
    summary="The determinant of a square matrix (or a batch of them).",
    tf="``tf.linalg.det``",
    numpy="``numpy.linalg.det``",
    returns="A Tensor (...,): one determinant per matrix.",
    args={"input": ("Tensor, Variable or array-like", "a square matrix or a batch of them (..., M, M).")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="d det(A) / dA = det(A) inv(A)^T.",
    example="""
        >>> tg.linalg.det([[2.0, 1.0], [1.0, 3.0]])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=5.0>
    """)
def det(input, name=None):
    return apply(det_op, (_square_matrices(input, "det"),))


@op_doc(
    tf="``tf.linalg.slogdet``",
    numpy="``numpy.linalg.slogdet``",
    returns="A tuple (sign, log_abs_det) of Tensors (...,).",
    args={"input": ("Tensor, Variable or array-like", "a square matrix or a batch of them (..., M, M).")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="d log|det A| / dA = inv(A)^T; the sign has no gradient.",
    example="""
        >>> sign, logdet = tg.linalg.slogdet([[2.0, 0.0], [0.0, -3.0]])
        >>> float(sign), round(float(logdet), 4)
        (-1.0, 1.7918)
    """)
def slogdet(input, name=None):
    """(sign, log|det|): only the second carries a gradient."""
    return apply(slogdet_op, (_square_matrices(input, "slogdet"),))


@op_doc(
    tf="``tf.linalg.solve``",
    numpy="``numpy.linalg.solve``",
    returns="A Tensor (..., M, K): X.",
    args={"matrix": ("Tensor, Variable or array-like", "(..., M, M) matrices."),
          "rhs": ("Tensor, Variable or array-like", "(..., M, K) right-hand sides."),
          "adjoint": ("bool", "solve with matrix's conjugate transpose.")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="d/d rhs = solve(A^T, g); d/dA = -solve(A^T, g) @ X^T.",
    raises="InvalidArgumentError: a singular matrix or mismatched shapes.",
    example="""
        >>> tg.linalg.solve([[2.0, 0.0], [0.0, 4.0]], [[2.0], [2.0]])
        <tapegrad.Tensor: shape=(2, 1), dtype=float32, numpy=
        array([[1. ],
               [0.5]], dtype=float32)>
    """)
def solve(matrix, rhs, adjoint=False, name=None):
    """tf.linalg.solve: X with matrix @ X = rhs; rhs is (..., M, K)."""
    a = _square_matrices(matrix, "solve")
    a, b = _core.operands((a, rhs), "MatrixSolve")
    sa, sb = shape_of(a), shape_of(b)
    if len(sb) < 2 or sb[-2] != sa[-1]:
        raise InvalidArgumentError(f"solve: input matrix and rhs are incompatible: {list(sa)} vs {list(sb)} "
                                   f"(rhs must be (..., {sa[-1]}, K)) [Op:MatrixSolve]")
    if adjoint and _is_complex(a):
        # solve_op is holomorphic in A only without the adjoint: conjugate-transpose A as an op instead.
        return apply(solve_op, (np.conjugate(np.swapaxes(a, -1, -2)), b), (False,))
    return apply(solve_op, (a, b), (bool(adjoint),))


@op_doc(
    tf="``tf.linalg.cholesky``",
    numpy="``numpy.linalg.cholesky``",
    returns="A Tensor of input's shape: lower-triangular L with L @ L^T = input.",
    args={"input": ("Tensor, Variable or array-like", "symmetric positive-definite matrices (..., M, M).")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="TensorFlow's symmetric formula, from L and inv(L): the gradient with respect to a symmetric "
               "perturbation of the input.",
    raises="InvalidArgumentError: a matrix that is not positive definite.",
    example="""
        >>> tg.linalg.cholesky([[4.0, 2.0], [2.0, 2.0]])
        <tapegrad.Tensor: shape=(2, 2), dtype=float32, numpy=
        array([[2., 0.],
               [1., 1.]], dtype=float32)>
    """)
def cholesky(input, name=None):
    """The lower Cholesky factor; reads the lower triangle.  Its gradient is
    TensorFlow's, symmetric (for symmetric perturbations)."""
    return apply(cholesky_op, (_square_matrices(input, "cholesky"),))


@op_doc(
    tf="``tf.linalg.eigh``",
    numpy="``numpy.linalg.eigh``",
    returns="A tuple (e, v): e (..., M) ascending, v (..., M, M) with the eigenvectors as columns.",
    args={"tensor": ("Tensor, Variable or array-like", "symmetric matrices (..., M, M).")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="d e_i = v_i^T dA v_i; the eigenvectors' gradient has factors 1 / (e_j - e_i), so it needs distinct "
               "eigenvalues.",
    example="""
        >>> e, v = tg.linalg.eigh([[2.0, 0.0], [0.0, 1.0]])
        >>> e
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([1., 2.], dtype=float32)>
    """)
def eigh(tensor, name=None):
    """(eigenvalues ascending, eigenvectors as columns); reads the lower
    triangle.  Gradients through the eigenvectors need distinct eigenvalues."""
    return apply(eigh_op, (_square_matrices(tensor, "eigh"),))


@op_doc(
    summary="The eigenvalues of symmetric matrices, ascending.",
    tf="``tf.linalg.eigvalsh``",
    numpy="``numpy.linalg.eigvalsh``",
    returns="A Tensor (..., M).",
    args={"tensor": ("Tensor, Variable or array-like", "symmetric matrices (..., M, M).")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="d e_i / dA = v_i v_i^T (v_i: the unit eigenvector of e_i).",
    example="""
        >>> tg.linalg.eigvalsh([[2.0, 1.0], [1.0, 2.0]])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([1., 3.], dtype=float32)>
    """)
def eigvalsh(tensor, name=None):
    return eigh(tensor)[0]


@op_doc(
    tf="``tf.linalg.svd``",
    numpy="``numpy.linalg.svd`` (which returns u, s, vh instead)",
    returns="s (..., K) with K = min(M, N), descending; or (s, u, v) when compute_uv.",
    args={"tensor": ("Tensor, Variable or array-like", "matrices (..., M, N)."),
          "full_matrices": ("bool", "full-size u and v instead of K columns."),
          "compute_uv": ("bool", "also return u and v.")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes throughout).",
    derivative="d s_i / dA = u_i v_i^T; gradients through u and v need distinct (and, for non-square matrices, "
               "non-zero) singular values.",
    example="""
        >>> tg.linalg.svd([[3.0, 0.0], [0.0, 4.0]], compute_uv=False)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([4., 3.], dtype=float32)>
    """)
def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """tf.linalg.svd: s (descending), or (s, u, v) with a = u @ diag(s) @ v^H.
    Gradients through u or v need distinct (and, for non-square matrices,
    non-zero) singular values; a clear error says so otherwise."""
    t = as_tensor(tensor)
    s_ = shape_of(t)
    if len(s_) < 2:
        raise InvalidArgumentError(f"svd: input must have rank >= 2, got shape {list(s_)}")
    if np.result_type(t._value).kind not in "fc":
        raise InvalidArgumentError(f"svd: input must be a float or complex tensor, got {np.result_type(t._value)}")
    s, u, v = apply(svd_op, (t,), (bool(full_matrices),))
    return (s, u, v) if compute_uv else s


@numpy_function(np.linalg.svd)
def _np_svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    r = svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    if not compute_uv:
        return r
    s, u, v = r
    return u, s, _adjoint(v)


numpy_function(np.linalg.inv)(lambda a: inv(a))
numpy_function(np.linalg.det)(lambda a: det(a))
numpy_function(np.linalg.slogdet)(lambda a: slogdet(a))
numpy_function(np.linalg.cholesky)(lambda a, upper=False: np.swapaxes(cholesky(a), -1, -2) if upper else cholesky(a))
numpy_function(np.linalg.eigh)(lambda a, UPLO="L": eigh(a) if UPLO == "L" else eigh(np.swapaxes(a, -1, -2)))


@numpy_function(np.linalg.solve)
def _np_solve(a, b):
    tb = as_tensor(b)
    if ndim_of(tb) == 1:
        return reshape(solve(a, reshape(tb, (-1, 1))), (-1,))
    return solve(a, tb)


# ---- diagonals and traces -------------------------------------------------------------------

def _diag_embed(g, n, m):
    """g (..., min(n, m)) placed on the diagonal of (..., n, m) zeros."""
    eye = np.eye(n, m, dtype=np.result_type(raw(g)))
    return np.expand_dims(g, -1) * eye if n <= m else np.expand_dims(g, -2) * eye


diag_part_op = general("diag_part", lambda x, n, m: np.diagonal(x, axis1=-2, axis2=-1),
                       (lambda g, ans, x, n, m: _diag_embed(g, n, m),), linear=True)


@op_doc(
    summary="The main diagonal of (a batch of) matrices.",
    tf="``tf.linalg.diag_part``",
    numpy="``numpy.diagonal(x, axis1=-2, axis2=-1)``",
    returns="A Tensor (..., min(M, N)).",
    args={"k": ("int", "only 0 (the main diagonal) is supported.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="g placed on the diagonal of a zero matrix of the input's shape.",
    example="""
        >>> tg.linalg.diag_part([[1.0, 2.0], [3.0, 4.0]])
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([1., 4.], dtype=float32)>
    """)
def diag_part(input, name=None, k=0):
    t = as_tensor(input)
    s = shape_of(t)
    if len(s) < 2:
        raise InvalidArgumentError(f"diag_part: input must have rank >= 2, got shape {list(s)}")
    if k != 0:
        raise NotImplementedError("tapegrad.linalg.diag_part: only the main diagonal (k=0) is supported")
    return apply(diag_part_op, (t,), s[-2:])


@op_doc(
    tf="``tf.linalg.diag``",
    numpy="``numpy.diag`` (one matrix)",
    returns="A Tensor (..., N, N).",
    args={"diagonal": ("Tensor, Variable or array-like", "(..., N) diagonals."),
          "k": ("int", "only 0 is supported.")},
    dtypes="any dtype (values are moved, not computed on); only floating inputs get gradients.",
    derivative="the diagonal of g.",
    raises="NotImplementedError: k != 0.",
    example="""
        >>> tg.linalg.diag([1.0, 2.0]).numpy()
        array([[1., 0.],
               [0., 2.]], dtype=float32)
    """)
def diag(diagonal, name=None, k=0):
    """tf.linalg.diag: a (batch of) diagonal matrices from the last axis."""
    if k != 0:
        raise NotImplementedError("tapegrad.linalg.diag: only the main diagonal (k=0) is supported")
    t = as_tensor(diagonal)
    n = shape_of(t)[-1]
    return _diag_embed(t, n, n)


@op_doc(
    summary="The sum of the main diagonal of (a batch of) matrices.",
    tf="``tf.linalg.trace``",
    numpy="``numpy.trace(x, axis1=-2, axis2=-1)``",
    returns="A Tensor (...,).",
    dtypes="every numeric dtype; only floating (and complex) inputs get gradients.",
    derivative="the identity matrix (times g).",
    example="""
        >>> tg.linalg.trace([[1.0, 2.0], [3.0, 4.0]])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=5.0>
    """)
def trace(x, name=None):
    return reduce_sum(diag_part(x), axis=-1)


# ---- norms --------------------------------------------------------------------------------

@op_doc(
    tf="``tf.norm``",
    numpy="``numpy.linalg.norm``",
    returns="A Tensor: the input reduced over `axis`.",
    args={"ord": ("'euclidean', 'fro', 'nuc', a number, numpy.inf or -numpy.inf", "which norm (see above)."),
          "axis": ("int, pair of ints or None", "None: the whole tensor as a vector; an int: vectors along it; a "
                                                "pair: matrices."),
          "keepdims": ("bool or None", "keep the reduced axes with length 1.")},
    dtypes="float16, float32, float64, complex64, complex128 (complex: of |x|; 'nuc', 2 and -2 through the SVD "
           "of float32 to complex128 matrices).",
    derivative="for the euclidean norm x / norm(x) (nan at x = 0, as in TensorFlow); the other orders differentiate "
               "their composition (through the singular values for 'nuc', 2 and -2); ord=0 has none.",
    raises="ValueError: an unsupported ord or axis.",
    example="""
        >>> tg.norm([3.0, 4.0])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=5.0>
        >>> tg.norm([[1.0, -2.0], [3.0, 4.0]], ord=1, axis=1)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([3., 7.], dtype=float32)>
    """)
def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None):
    """tf.norm / tf.linalg.norm, composed like TensorFlow's (so the gradient
    at the zero vector is nan too).  Vector norms (axis None or an int):
    'euclidean' (= 'fro'), any p != 0 (sum |x|**p)**(1/p) (1, 2, negative p),
    np.inf (max |x|), -np.inf (min |x|), 0 (the number of non-zeros, no
    gradient).  Matrix norms (axis a pair): 'euclidean'/'fro', 'nuc' (sum of
    singular values), 1 / -1 (largest / smallest column sum of |x|), np.inf /
    -np.inf (row sums), 2 / -2 (largest / smallest singular value).  Complex
    inputs use |x|."""
    x = as_tensor(tensor)
    keepdims = bool(keepdims)
    nd = ndim_of(x)
    cplx = _is_complex(x)
    if isinstance(axis, (list, tuple)) and len(axis) == 2:
        a0, a1 = (neg_axis(a, nd, "norm") % nd for a in axis)
        if a0 == a1:
            raise ValueError(f"norm: the two axes of a matrix norm must differ, got {axis}")
        if ord in ("euclidean", "fro"):
            return math_ops.sqrt(reduce_sum(_squared_modulus(x, cplx), axis=(a0, a1), keepdims=keepdims))
        if isinstance(ord, (int, float, np.number)) and not isinstance(ord, bool) and abs(ord) in (1, np.inf):
            rows, cols = (a0, a1) if abs(ord) == 1 else (a1, a0)
            pick = reduce_max if ord > 0 else reduce_min
            r = pick(reduce_sum(math_ops.abs(x), axis=rows, keepdims=True), axis=cols, keepdims=True)
        elif ord in (2, -2, "nuc") and not isinstance(ord, bool):
            perm = [i for i in range(nd) if i not in (a0, a1)] + [a0, a1]
            s = svd(transpose(x, perm), compute_uv=False)
            pick = reduce_sum if ord == "nuc" else reduce_max if ord == 2 else reduce_min
            r = pick(s, axis=-1, keepdims=True)
            r = reshape(r, [1 if i in (a0, a1) else d for i, d in enumerate(shape_of(x))])
        else:
            raise ValueError(f"norm: ord={ord!r} is not a supported matrix norm; use 'euclidean', 'fro', 'nuc', "
                             f"1, -1, 2, -2, np.inf or -np.inf")
        return r if keepdims else reshape(r, [d for i, d in enumerate(shape_of(r)) if i not in (a0, a1)])
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise ValueError(f"norm: axis must be None, an int or a pair of ints, got {axis!r}")
    if ord in ("euclidean", "fro", 2, 2.0) and not isinstance(ord, bool):
        return math_ops.sqrt(reduce_sum(_squared_modulus(x, cplx), axis=axis, keepdims=keepdims))
    if not isinstance(ord, (int, float, np.number)) or isinstance(ord, bool):
        raise ValueError(f"norm: ord={ord!r} is not a supported vector norm; use 'euclidean', a number, np.inf "
                         f"or -np.inf")
    if ord in (1, 1.0):
        return reduce_sum(math_ops.abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return reduce_max(math_ops.abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return reduce_min(math_ops.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:       # a count: piecewise constant, no gradient
        v = np.asarray(x._value)
        dt = np.finfo(v.dtype).dtype if v.dtype.kind in "fc" else np.float64
        return _core.wrap(np.sum(v != 0, axis=axis, keepdims=keepdims).astype(dt))
    return reduce_sum(math_ops.abs(x) ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _squared_modulus(x, cplx):
    # x * x for real x (TensorFlow's composition); |x|**2 = Re(x conj(x)) for complex x.
    return np.real(x * np.conjugate(x)) if cplx else x * x


@numpy_function(np.linalg.norm)
def _np_norm(x, ord=None, axis=None, keepdims=False):
    nd = ndim_of(as_tensor(x))
    matrix = (axis is None and nd == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if ord is None:
        return norm(x, "euclidean", axis=axis, keepdims=keepdims) if not matrix else \
            norm(x, "fro", axis=(-2, -1) if axis is None else axis, keepdims=keepdims)
    return norm(x, ord, axis=(-2, -1) if matrix and axis is None else axis, keepdims=keepdims)


# ---- issue 9: multi_dot, pinv, eig ------------------------------------------------------------

def _adjoint(x):
    """The conjugate transpose of the last two axes (the transpose for real values), on either path."""
    return _conj_if_complex(_swap(x))


@op_doc(
    tf="has none (``tf.linalg.matmul`` in a chain)",
    numpy="``numpy.linalg.multi_dot``",
    returns="A Tensor: the product; a 1-d first argument is a row vector and a 1-d last argument a column vector, "
            "and their axes are dropped from the result, as in NumPy.",
    args={"arrays": ("sequence of Tensors, Variables or array-likes", "the factors: 2-d, except the first and last "
                                                                       "may be 1-d."),
          "out": ("None", "NumPy's; only None is supported on tensors.")},
    dtypes="every numeric dtype (one dtype for all factors); only floating and complex inputs get gradients.",
    derivative="through the matmuls: each factor's gradient is the product of g with the other factors' "
               "(conjugate) transposes.",
    raises="ValueError: fewer than two factors, or a middle factor that is not 2-d.",
    example="""
        >>> tg.linalg.multi_dot([[1.0, 2.0], [[1.0, 0.0], [0.0, 2.0]], [3.0, 4.0]])
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=19.0>
    """)
@numpy_function(np.linalg.multi_dot)
def multi_dot(arrays, *, out=None):
    """numpy.linalg.multi_dot: the product of a chain of matrices, as matmuls from the left."""
    if out is not None:
        raise TypeError("tapegrad: out= is not supported on Tensors")
    if len(arrays) < 2:
        raise ValueError("Expecting at least two arrays.")
    ts = _core.operands(arrays, "MultiDot")
    first, last = ndim_of(ts[0]) == 1, ndim_of(ts[-1]) == 1
    for t in ts[1:-1]:
        if ndim_of(t) != 2:
            raise ValueError(f"{ndim_of(t)}-dimensional array given. Array must be two-dimensional")
    r = reshape(ts[0], (1, -1)) if first else ts[0]
    for t in ts[1:-1]:
        r = matmul(r, t)
    r = matmul(r, reshape(ts[-1], (-1, 1)) if last else ts[-1])
    s = shape_of(r)
    return reshape(r, (() if first else s[:1]) + (() if last else s[1:]))


def _pinv_forward(a, rcond):
    return np.linalg.pinv(a, rcond=rcond)


def _pinv_parts(ans, a):
    m, n = shape_of(a)[-2:]
    dt = np.result_type(raw(ans))
    return np.eye(m, dtype=dt) - _mm(a, ans), np.eye(n, dtype=dt) - _mm(ans, a)


def _pinv_vjp(g, ans, a, rcond):
    # Differentiating P = pinv(A) at constant rank (Golub and Pereyra):
    # dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P, whose adjoint is below.
    p, ph = ans, _adjoint(ans)
    left, right = _pinv_parts(ans, a)
    gh = _adjoint(g)
    return (-_mm(ph, _mm(g, ph)) + _mm(left, _mm(gh, _mm(p, ph))) + _mm(ph, _mm(p, _mm(gh, right))))


def _pinv_jvp(t, ans, a, rcond):
    p, ph = ans, _adjoint(ans)
    left, right = _pinv_parts(ans, a)
    th = _adjoint(t)
    return -_mm(p, _mm(t, p)) + _mm(p, _mm(ph, _mm(th, left))) + _mm(right, _mm(th, _mm(ph, p)))


pinv_op = general("pinv", _pinv_forward, (_pinv_vjp,), save="x,ans", jvps=(_pinv_jvp,))


@op_doc(
    summary="The Moore-Penrose pseudo-inverse of (a batch of) matrices, from the SVD: singular values below "
            "rcond times the largest count as zero.",
    tf="``tf.linalg.pinv``",
    numpy="``numpy.linalg.pinv``",
    returns="A Tensor (..., N, M) for input (..., M, N).",
    args={"a": ("Tensor, Variable or array-like", "matrices (..., M, N)."),
          "rcond": ("float or None", "the cutoff; None: TensorFlow's 10 * max(M, N) * eps."),
          "validate_args": ("bool", "accepted for TensorFlow compatibility; ignored.")},
    dtypes="float32, float64, complex64, complex128.",
    derivative="at constant rank, dP = -P dA P + P P^H dA^H (I - A P) + (I - P A) dA^H P^H P; the gradient is "
               "its adjoint. It does not exist where a singular value crosses the cutoff (the rank changes).",
    raises="InvalidArgumentError: an input of rank < 2.",
    example="""
        >>> tg.linalg.pinv([[2.0, 0.0], [0.0, 0.0]])
        <tapegrad.Tensor: shape=(2, 2), dtype=float32, numpy=
        array([[0.5, 0. ],
               [0. , 0. ]], dtype=float32)>
    """)
def pinv(a, rcond=None, validate_args=False, name=None):
    t = as_tensor(a)
    s = shape_of(t)
    if len(s) < 2:
        raise InvalidArgumentError(f"pinv: input must have rank >= 2, got shape {list(s)}")
    dt = np.result_type(t._value)
    if dt.kind not in "fc":
        raise InvalidArgumentError(f"pinv: input must be a float or complex tensor, got {dt}")
    if rcond is None:
        rcond = 10 * max(s[-2:]) * np.finfo(dt).eps
    return apply(pinv_op, (t,), (float(rcond),))


numpy_function(np.linalg.pinv)(lambda a, rcond=None, hermitian=False, *, rtol=None:
                               pinv(a, 1e-15 if rcond is None and rtol is None else rtol if rcond is None else rcond))


def _eig_forward(a):
    e, v = np.linalg.eig(a)
    cdt = np.result_type(a, np.complex64)
    return e.astype(cdt, copy=False), v.astype(cdt, copy=False)


def _eig_vjp(g, ans, a):
    # TensorFlow's rule for A = V diag(e) V^-1 with unit-norm columns of V: the gradient is
    # V^-H (diag(g_e) + conj(F) o (V^H g_V - V^H V diag(Re(diag(V^H g_V))))) V^H, F_ij = 1 / (e_j - e_i).
    ge, gv = g
    e, v = ans
    n = shape_of(v)[-1]
    cdt = np.result_type(raw(v))
    eye = np.eye(n, dtype=cdt)
    vh = _adjoint(v)
    inner = 0
    if ge is not None:
        inner = np.expand_dims(ge, -1) * eye
    if gv is not None:
        f = np.conjugate(_separation(e, "eigenvectors", "eig", "repeated eigenvalues"))
        vgv = _mm(vh, gv)
        diag_real = math_ops.as_dtype(np.real(vgv), cdt) * eye
        inner = inner + f * (vgv - _mm(_mm(vh, v), diag_real))
    grad = call(solve_op, vh, _mm(inner, vh), params=(False,))
    return grad if _is_complex(a) else np.real(grad)


def _eig_jvp(t, ans, a):
    e, v = ans
    n = shape_of(v)[-1]
    cdt = np.result_type(raw(v))
    m = call(solve_op, v, _mm(math_ops.as_dtype(t, cdt), v), params=(False,))       # V^-1 dA V
    eye = np.eye(n, dtype=cdt)
    de = np.sum(m * eye, axis=-1)
    dv = _mm(v, _separation(e, "eigenvectors", "eig", "repeated eigenvalues") * m)
    # Keep the columns unit-norm: remove each column's component Re(v_i^H dv_i) v_i.
    return de, dv - v * math_ops.as_dtype(np.real(np.sum(np.conjugate(v) * dv, axis=-2, keepdims=True)), cdt)


eig_op = general("eig", _lapack(_eig_forward, "Eig", "Eigen decomposition was not successful."), (_eig_vjp,),
                 save="x,ans", n_out=2, jvps=(_eig_jvp,))


@op_doc(
    summary="The eigenvalues and eigenvectors of general square matrices (complex in general).",
    tf="``tf.linalg.eig``",
    numpy="``numpy.linalg.eig`` (which returns real arrays when every eigenvalue is real)",
    returns="A tuple (e, v) of complex Tensors: e (..., M) in LAPACK's order, v (..., M, M) with unit-norm "
            "eigenvectors as columns.",
    args={"tensor": ("Tensor, Variable or array-like", "square matrices (..., M, M).")},
    dtypes="float32, float64 (complex64, complex128 results), complex64, complex128.",
    derivative="d e = diag(V^-1 dA V); dV = V (F o (V^-1 dA V)) made unit-norm again, F_ij = 1 / (e_j - e_i). "
               "An eigenvector is only defined up to a phase, so only losses that do not depend on that phase "
               "(|v|, eigenvalues, projectors) have a meaningful gradient; through the eigenvectors the gradient "
               "needs distinct eigenvalues (InvalidArgumentError otherwise). For a real input the gradient is "
               "the real part.",
    example="""
        >>> e, v = tg.linalg.eig([[2.0, 0.0], [0.0, 3.0]])
        >>> e
        <tapegrad.Tensor: shape=(2,), dtype=complex64, numpy=array([2.+0.j, 3.+0.j], dtype=complex64)>
    """)
def eig(tensor, name=None):
    """(eigenvalues, eigenvectors as columns), complex."""
    t = as_tensor(tensor)
    s = shape_of(t)
    if len(s) < 2 or s[-1] != s[-2]:
        raise InvalidArgumentError(f"eig: input must be a square matrix or a stack of them, got shape {list(s)}")
    if np.result_type(t._value).kind not in "fc":
        raise InvalidArgumentError(f"eig: input must be a float or complex tensor, got {np.result_type(t._value)}")
    return apply(eig_op, (t,))


@op_doc(
    summary="The eigenvalues of general square matrices (complex).",
    tf="``tf.linalg.eigvals``",
    numpy="``numpy.linalg.eigvals``",
    returns="A complex Tensor (..., M).",
    args={"tensor": ("Tensor, Variable or array-like", "square matrices (..., M, M).")},
    dtypes="float32, float64, complex64, complex128.",
    derivative="d e_i = (V^-1 dA V)_ii.",
    example="""
        >>> tg.linalg.eigvals([[2.0, 0.0], [0.0, 3.0]])
        <tapegrad.Tensor: shape=(2,), dtype=complex64, numpy=array([2.+0.j, 3.+0.j], dtype=complex64)>
    """)
def eigvals(tensor, name=None):
    return eig(tensor)[0]


@numpy_function(np.linalg.eig)
def _np_eig(a):
    # NumPy returns real arrays when every eigenvalue of a real matrix is real; so do we (their real parts).
    e, v = eig(a)
    if np.result_type(as_tensor(a)._value).kind != "c" and not np.any(np.imag(e._value)):
        return np.real(e), np.real(v)
    return e, v


@numpy_function(np.linalg.eigvals)
def _np_eigvals(a):
    return _np_eig(a)[0]


# ---- QR ---------------------------------------------------------------------------------------

def _qr_forward(a, full_matrices):
    return tuple(np.linalg.qr(a, mode="complete" if full_matrices else "reduced"))


def _right_solve(x, r):
    """x @ inv(r)^H, on either path."""
    return _adjoint(call(solve_op, r, _adjoint(x), params=(False,)))


def _qr_grad_deep(q, r, gq, gr):
    # TensorFlow's rule for M >= N (reduced) and square matrices, with its complex correction (R's
    # diagonal is real, which fixes the phase of each column of Q).
    qgq = _mm(_adjoint(q), gq)
    rgr = _mm(r, _adjoint(gr))
    n = shape_of(r)[-1]
    lower = (qgq - _adjoint(qgq) + rgr - _adjoint(rgr)) * np.tril(np.ones((n, n), dtype=np.result_type(raw(r))))
    grad = _mm(q, gr + _right_solve(lower, r)) + _right_solve(gq - _mm(q, qgq), r)
    if _is_complex(q):
        d = (rgr - _adjoint(qgq)) * np.eye(n, dtype=np.result_type(raw(r)))
        correction = d - math_ops.as_dtype(np.real(d), np.result_type(raw(r)))
        grad = grad + _right_solve(_mm(q, _adjoint(correction)), r)
    return grad


def _qr_parts(g, ans):
    gq, gr = g
    q, r = ans
    return q, r, (np.zeros_like(q) if gq is None else gq), (np.zeros_like(r) if gr is None else gr)


def _full_q_check(a, full_matrices):
    m, n = shape_of(a)[-2:]
    if full_matrices and m > n:
        raise NotImplementedError("tapegrad.linalg.qr: the gradient with full_matrices=True is not defined for a "
                                  "matrix with more rows than columns (Q's extra columns are not unique); use "
                                  "full_matrices=False")
    return m, n


def _qr_vjp(g, ans, a, full_matrices):
    q, r, gq, gr = _qr_parts(g, ans)
    m, n = _full_q_check(a, full_matrices)
    if m >= n:
        return _qr_grad_deep(q, r, gq, gr)
    # Wide: A = [X | Y] with X = Q R1 square and R2 = Q^H Y (TensorFlow's split).
    y, r1, gr2 = a[..., :, m:], r[..., :, :m], gr[..., :, m:]
    gx = _qr_grad_deep(q, r1, gq + _mm(y, _adjoint(gr2)), gr[..., :, :m])
    return np.concatenate([gx, _mm(q, gr2)], axis=-1)


def _qr_tangent_deep(t, q, r):
    # Q^H dA R^-1 = Omega + dR R^-1, Omega anti-Hermitian, dR R^-1 upper triangular with a real diagonal.
    n = shape_of(r)[-1]
    dt = np.result_type(raw(r))
    c = _adjoint(call(solve_op, _adjoint(r), _adjoint(_mm(_adjoint(q), t)), params=(False,)))     # Q^H dA R^-1
    low = c * np.tril(np.ones((n, n), dtype=dt), -1)
    omega = low - _adjoint(low)
    if _is_complex(c):
        omega = omega + 1j * math_ops.as_dtype(np.imag(c * np.eye(n, dtype=dt)), dt)
    dr = _mm(c - omega, r)
    dq = _adjoint(call(solve_op, _adjoint(r), _adjoint(t), params=(False,))) - _mm(q, c - omega)
    return dq, dr


def _qr_jvp(t, ans, a, full_matrices):
    q, r = ans
    m, n = _full_q_check(a, full_matrices)
    if m >= n:
        return _qr_tangent_deep(t, q, r)
    dq, dr1 = _qr_tangent_deep(t[..., :, :m], q, r[..., :, :m])
    dr2 = _mm(_adjoint(dq), a[..., :, m:]) + _mm(_adjoint(q), t[..., :, m:])
    return dq, np.concatenate([dr1, dr2], axis=-1)


qr_op = general("qr", _lapack(_qr_forward, "Qr", "QR decomposition was not successful."), (_qr_vjp,), save="x,ans",
                n_out=2, jvps=(_qr_jvp,))


@op_doc(
    summary="The QR decomposition of (a batch of) matrices: Q with orthonormal columns, R upper triangular.",
    tf="``tf.linalg.qr``",
    numpy="``numpy.linalg.qr`` (mode 'reduced' or 'complete')",
    returns="A tuple (q, r): q (..., M, K), r (..., K, N) with K = min(M, N) (full_matrices: q (..., M, M), r "
            "(..., M, N)).",
    args={"input": ("Tensor, Variable or array-like", "matrices (..., M, N)."),
          "full_matrices": ("bool", "square q (the gradient then needs M <= N, as in TensorFlow).")},
    dtypes="float32, float64, complex64, complex128 (complex: conjugate transposes; R's diagonal is real).",
    derivative="TensorFlow's: with C = Q^H dA R^-1, dQ = Q Omega + (I - Q Q^H) dA R^-1 and dR = (C - Omega) R, "
               "Omega the anti-Hermitian matrix that makes dR upper triangular with a real diagonal; wide matrices "
               "split A = [X | Y]. The derivative needs a full-rank leading square block (R invertible).",
    raises="NotImplementedError: the gradient with full_matrices=True and M > N (TensorFlow's limit too).",
    example="""
        >>> q, r = tg.linalg.qr([[3.0, 0.0], [4.0, 1.0]])
        >>> r
        <tapegrad.Tensor: shape=(2, 2), dtype=float32, numpy=
        array([[-5. , -0.8],
               [ 0. ,  0.6]], dtype=float32)>
    """)
def qr(input, full_matrices=False, name=None):
    t = as_tensor(input)
    s = shape_of(t)
    if len(s) < 2:
        raise InvalidArgumentError(f"qr: input must have rank >= 2, got shape {list(s)}")
    if np.result_type(t._value).kind not in "fc":
        raise InvalidArgumentError(f"qr: input must be a float or complex tensor, got {np.result_type(t._value)}")
    return apply(qr_op, (t,), (bool(full_matrices),))


@numpy_function(np.linalg.qr)
def _np_qr(a, mode="reduced"):
    if mode not in ("reduced", "complete", "r"):
        raise ValueError(f"tapegrad: numpy.linalg.qr on Tensors supports mode 'reduced', 'complete' or 'r', got "
                         f"{mode!r}")
    q, r = qr(a, full_matrices=mode == "complete")
    return r if mode == "r" else (q, r)
