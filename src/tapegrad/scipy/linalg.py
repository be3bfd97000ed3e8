"""scipy.linalg's matrix functions, differentiable: solve_triangular,
cho_solve, solve_sylvester, sqrtm and expm (real matrices).  Their rules use
each other (sqrtm's VJP solves a Sylvester equation, expm's is expm of a block
matrix), so second derivatives work."""
from tapegrad._core import apply
from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy._convert import tensor, tensors

__all__ = ["solve_triangular", "cho_solve", "solve_sylvester", "sqrtm", "expm"]

_TRANS = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1}


def solve_triangular(a, b, trans=0, lower=False, unit_diagonal=False, overwrite_b=False, check_finite=True):
    """x with a x = b (trans=0 or 'N') or a^T x = b (1, 'T', or 2, 'C': real
    matrices), reading only a's lower or upper triangle.  Differentiable in a
    (its triangle; without the diagonal when unit_diagonal) and b."""
    if trans not in _TRANS:
        raise ValueError(f"Incorrect value for trans: {trans!r}; expected 0, 1, 2, 'N', 'T' or 'C'")
    a, b = tensors("solve_triangular", a, b)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError("expected square matrix")
    if b.ndim not in (1, 2) or b.shape[0] != a.shape[0]:
        raise ValueError(f"shapes of a {tuple(a.shape)} and b {tuple(b.shape)} are incompatible")
    return apply(_ops.solve_triangular, (a, b), (_TRANS[trans], bool(lower), bool(unit_diagonal)))


def cho_solve(c_and_lower, b, overwrite_b=False, check_finite=True):
    """x with A x = b, given (c, lower) from scipy.linalg.cho_factor (or a
    Cholesky factor of A): two triangular solves, differentiable in c and b.
    Only c's triangle is read, as in SciPy."""
    c, lower = c_and_lower
    c, b = tensors("cho_solve", c, b)
    if lower:      # A = c c^T
        return _tri(c, _tri(c, b, 0, True), 1, True)
    return _tri(c, _tri(c, b, 1, False), 0, False)


def _tri(a, b, trans, lower):
    return apply(_ops.solve_triangular, (a, b), (trans, lower, False))


def solve_sylvester(a, b, q):
    """x with a x + x b = q; differentiable in a, b and q."""
    return apply(_ops.solve_sylvester, tensors("solve_sylvester", a, b, q))


def sqrtm(A, disp=True, blocksize=64):
    """The principal square root of a real matrix with a real square root;
    differentiable (its derivative solves a Sylvester equation).  disp and
    blocksize are accepted for SciPy compatibility and ignored."""
    return apply(_ops.sqrtm, (tensor(A, "sqrtm"),))


def expm(A):
    """The matrix exponential of a square matrix; differentiable (the
    derivative is a block of expm of a matrix twice the size)."""
    return apply(_ops.expm, (tensor(A, "expm"),))
