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
from tapegrad.ops.reduction_ops import reduce_max, reduce_sum

_TENSORS = (_core.Tensor, _core.Variable)


def _any_tensor(*xs):
    for x in xs:
        if isinstance(x, _TENSORS):
            return True
    return False


def _mm(x, y, tx=False, ty=False):
    """x @ y with optional transposes of the last two axes, on either path."""
    if _any_tensor(x, y):
        return matmul(x, y, transpose_a=tx, transpose_b=ty)
    return np.matmul(np.swapaxes(x, -1, -2) if tx else x, np.swapaxes(y, -1, -2) if ty else y)


def _matmul_grad_a(g, ans, a, b, ta, tb):
    ga = _mm(b, g, tb, True) if ta else _mm(g, b, False, not tb)
    return unbroadcast(ga, shape_of(a), max(ndim_of(a), ndim_of(b)))      # batch dims may have broadcast


def _matmul_grad_b(g, ans, a, b, ta, tb):
    gb = _mm(g, a, True, ta) if tb else _mm(a, g, not ta, False)
    return unbroadcast(gb, shape_of(b), max(ndim_of(a), ndim_of(b)))


# TensorFlow's MatMul gradient reads only the other operand: matmul by a
# constant has a None second derivative.
matmul_op = general("matmul", lambda a, b, ta, tb: _mm(a, b, ta, tb), (_matmul_grad_a, _matmul_grad_b), save="x",
                    jvps=(lambda t, ans, a, b, ta, tb: _mm(t, b, ta, tb),
                          lambda t, ans, a, b, ta, tb: _mm(a, t, ta, tb)))


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
    """tf.linalg.matmul (batched, with transposes); also the `@` operator,
    which follows NumPy for 1-d operands."""
    ta, tb = bool(transpose_a or adjoint_a), bool(transpose_b or adjoint_b)
    if isinstance(a, _TENSORS) and isinstance(b, _TENSORS):
        # Fast path (an MLP's x @ W): two matrices of one dtype that fit.
        av, bv = a._value, b._value
        if (type(av) is np.ndarray and type(bv) is np.ndarray and av.ndim == 2 and bv.ndim == 2
                and av.dtype == bv.dtype and av.shape[0 if ta else 1] == bv.shape[1 if tb else 0]):
            return apply(matmul_op, (a, b), (ta, tb))
    a, b = _core.operands((a, b), "MatMul")
    sa, sb = shape_of(a), shape_of(b)
    if len(sa) == 0 or len(sb) == 0:
        raise InvalidArgumentError(f"matmul: both operands must have rank >= 1, got shapes {sa} and {sb}")
    if len(sa) == 1 or len(sb) == 1:
        # NumPy's 1-d rules: promote to a matrix, multiply, drop the added axis.
        a2 = reshape(a, (1, -1)) if len(sa) == 1 else a
        b2 = reshape(b, (-1, 1)) if len(sb) == 1 else b
        r = matmul(a2, b2, transpose_a=ta and len(sa) > 1, transpose_b=tb and len(sb) > 1)
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


UFUNCS[np.matmul] = matmul


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
        return list(range(nda - axes, nda)), list(range(axes))
    a_axes, b_axes = axes
    a_axes = [a_axes] if isinstance(a_axes, (int, np.integer)) else list(a_axes)
    b_axes = [b_axes] if isinstance(b_axes, (int, np.integer)) else list(b_axes)
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot: axes lists differ in length: {a_axes} vs {b_axes}")
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
    return matmul(a, b)


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


einsum_op = variadic("einsum", _einsum_forward, _einsum_vjp, _einsum_jvp, save="x")


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

def _swap(x):
    return np.swapaxes(x, -1, -2)


def _expand2(x):
    return np.expand_dims(np.expand_dims(x, -1), -1)


def _square_matrices(x, op, real=True):
    t = as_tensor(x)
    s = shape_of(t)
    if len(s) < 2 or s[-1] != s[-2]:
        raise InvalidArgumentError(f"{op}: input must be a square matrix or a stack of them, got shape {list(s)}")
    kind = np.result_type(t._value).kind
    if kind not in "fc":
        raise InvalidArgumentError(f"{op}: input must be a float tensor, got {np.result_type(t._value)}")
    if real and kind == "c":
        raise NotImplementedError(f"tapegrad.{op}: complex inputs are not supported")
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
                 jvps=(lambda t, ans, a: -_mm(ans, _mm(t, ans)),))


def _trace_of_product(a_inv, t):
    return np.sum(_swap(a_inv) * t, axis=(-2, -1))           # trace(a_inv @ t)


# TensorFlow: d det / dA = det * A^{-T}; d log|det| / dA = A^{-T}.
det_op = general("det", _lapack(np.linalg.det, "MatrixDeterminant", "Input is not a square matrix."),
                 (lambda g, ans, a: _expand2(g * ans) * _swap(_inv(a)),), save="x,ans",
                 jvps=(lambda t, ans, a: ans * _trace_of_product(_inv(a), t),))
slogdet_op = general(
    "slogdet", _lapack(lambda a: tuple(np.linalg.slogdet(a)), "LogMatrixDeterminant", "Input is not invertible."),
    (lambda g, ans, a: None if g[1] is None else _expand2(g[1]) * _swap(_inv(a)),), save="x", n_out=2,
    jvps=(lambda t, ans, a: (None, _trace_of_product(_inv(a), t)),))


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
                         lambda t, ans, a, b, adjoint: _solve(a, t, adjoint)))


def _phi_mask(n, dtype):
    # The lower triangle with half the diagonal: Cholesky's Phi, as a mask.
    return np.tril(np.ones((n, n), dtype=dtype)) - 0.5 * np.eye(n, dtype=dtype)


def _cholesky_vjp(g, ans, a):
    # TensorFlow's rule: symmetric, for symmetric perturbations of a.
    n = shape_of(ans)[-1]
    linv = _inv(ans)
    middle = _mm(ans, g, True, False) * _phi_mask(n, np.result_type(raw(ans)))
    grad_a = _mm(_mm(linv, middle, True, False), linv)
    return 0.5 * (grad_a + _swap(grad_a))


def _cholesky_jvp(t, ans, a):
    n = shape_of(ans)[-1]
    linv = _inv(ans)
    sym = 0.5 * (t + _swap(t))
    return _mm(ans, _mm(linv, _mm(sym, linv, False, True)) * _phi_mask(n, np.result_type(raw(ans))))


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


def _lower_sym(grad_a):
    # eigh reads the lower triangle only: fold the upper gradient onto it.
    n = shape_of(grad_a)[-1]
    return (grad_a + _swap(grad_a)) * _phi_mask(n, np.result_type(raw(grad_a)))


def _eigh_vjp(g, ans, a):
    ge, gv = g
    e, v = ans
    n = shape_of(v)[-1]
    inner = 0
    if ge is not None:
        inner = np.expand_dims(ge, -1) * np.eye(n, dtype=np.result_type(raw(v)))
    if gv is not None:
        inner = inner + _separation(e, "eigenvectors", "eigh", "repeated eigenvalues") * _mm(v, gv, True, False)
    return _lower_sym(_mm(v, _mm(inner, v, False, True)))


def _eigh_jvp(t, ans, a):
    e, v = ans
    n = shape_of(v)[-1]
    dt = np.result_type(raw(v))
    lower = t * np.tril(np.ones((n, n), dtype=dt))
    da = lower + _swap(lower * (1 - np.eye(n, dtype=dt)))
    m = _mm(v, _mm(da, v), True, False)
    de = np.sum(m * np.eye(n, dtype=dt), axis=-1)
    return de, _mm(v, _separation(e, "eigenvectors", "eigh", "repeated eigenvalues") * m)


eigh_op = general("eigh", _lapack(lambda a: tuple(np.linalg.eigh(a)), "SelfAdjointEigV2",
                                  "Self-adjoint eigen decomposition was not successful."),
                  (_eigh_vjp,), save="ans", n_out=2, jvps=(_eigh_jvp,))


def _svd_forward(a, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    return s, u, np.swapaxes(vh, -1, -2)


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
    gs, gu, gv = g
    s, u, v = ans
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    _svd_check(s, a, full_matrices, gu is not None or gv is not None)
    if full_matrices:
        u, v = u[..., :, :k], v[..., :, :k]
        gu = None if gu is None else gu[..., :, :k]
        gv = None if gv is None else gv[..., :, :k]
    dt = np.result_type(raw(s))
    inner = 0 if gs is None else np.expand_dims(gs, -1) * np.eye(k, dtype=dt)
    sr, sc = np.expand_dims(s, -1), np.expand_dims(s, -2)     # s as a column, s as a row
    extra = 0
    if gu is not None or gv is not None:
        f = _separation(s * s, "u or v", "svd", "repeated singular values")
        if gu is not None:
            uhgu = _mm(u, gu, True, False)
            inner = inner + f * (uhgu - _swap(uhgu)) * sc
            if m > k:
                extra = extra + _mm((gu - _mm(u, uhgu)) / sc, v, False, True)
        if gv is not None:
            vhgv = _mm(v, gv, True, False)
            inner = inner + sr * (f * (vhgv - _swap(vhgv)))
            if n > k:
                extra = extra + _mm(u, (gv - _mm(v, vhgv)) / sc, False, True)
    return _mm(u, _mm(inner, v, False, True)) + extra


def _svd_jvp(t, ans, a, full_matrices):
    s, u, v = ans
    m, n = shape_of(a)[-2:]
    k = min(m, n)
    _svd_check(s, a, full_matrices, True)
    dt = np.result_type(raw(s))
    ds_mat = _mm(u[..., :, :k], _mm(t, v[..., :, :k]), True, False)
    ds = np.sum(ds_mat * np.eye(k, dtype=dt), axis=-1)
    f = _separation(s * s, "u or v", "svd", "repeated singular values")
    sr, sc = np.expand_dims(s, -1), np.expand_dims(s, -2)
    du = _mm(u[..., :, :k], f * (ds_mat * sc + _swap(ds_mat * sc)))
    dv = _mm(v[..., :, :k], f * (sr * ds_mat + _swap(sr * ds_mat)))
    if m > n:
        dav = _mm(t, v)
        du = du + (dav - _mm(u, _mm(u, dav, True, False))) / sc
    if n > m:
        dahu = _mm(t, u, True, False)
        dv = dv + (dahu - _mm(v, _mm(v, dahu, True, False))) / sc
    return ds, du, dv


svd_op = general("svd", _lapack(_svd_forward, "Svd", "SVD did not converge."), (_svd_vjp,), save="x,ans", n_out=3,
                 jvps=(_svd_jvp,))


@op_doc(
    summary="The inverse of a square matrix (or a batch of them).",
    tf="``tf.linalg.inv``",
    numpy="``numpy.linalg.inv``",
    returns="A Tensor of input's shape.",
    args={"input": ("Tensor, Variable or array-like", "a square matrix or a batch of them (..., M, M)."),
          "adjoint": ("bool", "invert the conjugate transpose.")},
    dtypes="float32 and float64.",
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
    return apply(inv_op, (np.swapaxes(t, -1, -2) if adjoint else t,))


@op_doc(
    summary="The determinant of a square matrix (or a batch of them).",
    tf="``tf.linalg.det``",
    numpy="``numpy.linalg.det``",
    returns="A Tensor (...,): one determinant per matrix.",
    args={"input": ("Tensor, Variable or array-like", "a square matrix or a batch of them (..., M, M).")},
    dtypes="float32 and float64.",
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
    dtypes="float32 and float64.",
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
    dtypes="float32 and float64.",
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
    return apply(solve_op, (a, b), (bool(adjoint),))


@op_doc(
    tf="``tf.linalg.cholesky``",
    numpy="``numpy.linalg.cholesky``",
    returns="A Tensor of input's shape: lower-triangular L with L @ L^T = input.",
    args={"input": ("Tensor, Variable or array-like", "symmetric positive-definite matrices (..., M, M).")},
    dtypes="float32 and float64.",
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
    dtypes="float32 and float64.",
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
    dtypes="float32 and float64.",
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
    dtypes="float32 and float64.",
    derivative="d s_i / dA = u_i v_i^T; gradients through u and v need distinct (and, for non-square matrices, "
               "non-zero) singular values.",
    raises="NotImplementedError: complex input.",
    example="""
        >>> tg.linalg.svd([[3.0, 0.0], [0.0, 4.0]], compute_uv=False)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([4., 3.], dtype=float32)>
    """)
def svd(tensor, full_matrices=False, compute_uv=True, name=None):
    """tf.linalg.svd: s (descending), or (s, u, v) with a = u @ diag(s) @ v^T.
    Gradients through u or v need distinct (and, for non-square matrices,
    non-zero) singular values; a clear error says so otherwise."""
    t = as_tensor(tensor)
    s_ = shape_of(t)
    if len(s_) < 2:
        raise InvalidArgumentError(f"svd: input must have rank >= 2, got shape {list(s_)}")
    if np.result_type(t._value).kind == "c":
        raise NotImplementedError("tapegrad.linalg.svd: complex inputs are not supported")
    if np.result_type(t._value).kind != "f":
        raise InvalidArgumentError(f"svd: input must be a float tensor, got {np.result_type(t._value)}")
    s, u, v = apply(svd_op, (t,), (bool(full_matrices),))
    return (s, u, v) if compute_uv else s


@numpy_function(np.linalg.svd)
def _np_svd(a, full_matrices=True, compute_uv=True, hermitian=False):
    r = svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    if not compute_uv:
        return r
    s, u, v = r
    return u, s, np.swapaxes(v, -1, -2)


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
    args={"ord": ("'euclidean', 'fro', 1, 2, numpy.inf or a number p > 0", "which norm."),
          "axis": ("int, pair of ints or None", "None: the whole tensor as a vector; an int: vectors along it; a "
                                                "pair: matrices."),
          "keepdims": ("bool or None", "keep the reduced axes with length 1.")},
    dtypes="float16, float32, float64.",
    derivative="for the euclidean norm x / norm(x) (nan at x = 0, as in TensorFlow); the other orders differentiate "
               "their composition.",
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
    'euclidean' (= 'fro'), 1, 2, np.inf or any p > 0.  Matrix norms (axis a
    pair): 'euclidean'/'fro', 1, 2 (largest singular value), np.inf."""
    x = as_tensor(tensor)
    keepdims = bool(keepdims)
    nd = ndim_of(x)
    if isinstance(axis, (list, tuple)) and len(axis) == 2:
        a0, a1 = (neg_axis(a, nd, "norm") % nd for a in axis)
        if a0 == a1:
            raise ValueError(f"norm: the two axes of a matrix norm must differ, got {axis}")
        if ord in ("euclidean", "fro"):
            return math_ops.sqrt(reduce_sum(x * x, axis=(a0, a1), keepdims=keepdims))
        if ord in (1, np.inf):
            rows, cols = (a0, a1) if ord == 1 else (a1, a0)
            r = reduce_max(reduce_sum(math_ops.abs(x), axis=rows, keepdims=True), axis=cols, keepdims=True)
        elif ord == 2:
            perm = [i for i in range(nd) if i not in (a0, a1)] + [a0, a1]
            s = svd(transpose(x, perm), compute_uv=False)
            r = reduce_max(s, axis=-1, keepdims=True)
            r = reshape(r, [1 if i in (a0, a1) else d for i, d in enumerate(shape_of(x))])
        else:
            raise ValueError(f"norm: ord={ord!r} is not a supported matrix norm; use 'euclidean', 'fro', 1, 2 or "
                             f"np.inf")
        return r if keepdims else reshape(r, [d for i, d in enumerate(shape_of(r)) if i not in (a0, a1)])
    if axis is not None and not isinstance(axis, (int, np.integer)):
        raise ValueError(f"norm: axis must be None, an int or a pair of ints, got {axis!r}")
    if ord in ("euclidean", "fro", 2, 2.0):
        return math_ops.sqrt(reduce_sum(x * x, axis=axis, keepdims=keepdims))
    if ord in (1, 1.0):
        return reduce_sum(math_ops.abs(x), axis=axis, keepdims=keepdims)
    if ord == np.inf:
        return reduce_max(math_ops.abs(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, (int, float, np.number)) and not isinstance(ord, bool) and ord > 0:
        return reduce_sum(math_ops.abs(x) ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)
    raise ValueError(f"norm: ord={ord!r} is not a supported vector norm; use 'euclidean', 1, 2, np.inf or a "
                     f"positive number")


@numpy_function(np.linalg.norm)
def _np_norm(x, ord=None, axis=None, keepdims=False):
    nd = ndim_of(as_tensor(x))
    matrix = (axis is None and nd == 2) or (isinstance(axis, tuple) and len(axis) == 2)
    if ord is None:
        return norm(x, "euclidean", axis=axis, keepdims=keepdims) if not matrix else \
            norm(x, "fro", axis=(-2, -1) if axis is None else axis, keepdims=keepdims)
    return norm(x, ord, axis=(-2, -1) if matrix and axis is None else axis, keepdims=keepdims)
