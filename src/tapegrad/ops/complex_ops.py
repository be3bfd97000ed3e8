"""Complex numbers: building them from parts, taking them apart (real, imag,
conj, angle), NumPy's real_if_close.

Gradients follow TensorFlow's convention (docs/complex.md): the gradient of a
real loss L with respect to a complex z is dL/dRe(z) + i dL/dIm(z).  So
complex(re, im) sends Re(g) to re and Im(g) to im, real(z) sends g back as
g + 0i, imag(z) as 0 + g i, and a real -> complex -> real program gets exactly
the real program's gradients.  Each of these ops is real-linear (angle
aside), so its JVP is the op applied to the tangent.
"""
import numpy as np

from tapegrad import _core
from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import UFUNCS, call, general, numpy_function, raw
from tapegrad.ops._shapes import as_tensor, shape_of, unbroadcast
from tapegrad.ops.math_ops import as_dtype

_COMPLEX_OF = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.float64): np.dtype(np.complex128)}
_REAL_OF = {v: k for k, v in _COMPLEX_OF.items()}


def _dtype(x):
    return np.result_type(raw(x))


# ---- complex(re, im) -------------------------------------------------------------------------

def _complex_forward(re, im, cdt, re_shape, im_shape):
    out = np.empty(np.broadcast_shapes(np.shape(re), np.shape(im)), dtype=cdt)
    out.real = re
    out.imag = im
    return out


def _complex_rank(re_shape, im_shape):
    return max(len(re_shape), len(im_shape))


complex_op = general(
    "complex", _complex_forward,
    (lambda g, ans, re, im, cdt, rs, ims: unbroadcast(call(real_op, g), rs, _complex_rank(rs, ims)),
     lambda g, ans, re, im, cdt, rs, ims: unbroadcast(call(imag_op, g), ims, _complex_rank(rs, ims))),
    jvps=(lambda t, ans, re, im, cdt, rs, ims: as_dtype(t, cdt),
          lambda t, ans, re, im, cdt, rs, ims: as_dtype(t, cdt) * 1j))


@op_doc(
    tf="``tf.complex``",
    numpy="``real + 1j * imag``",
    returns="A complex Tensor of the broadcast shape: complex64 from float32 parts, complex128 from float64.",
    args={"real": ("Tensor, Variable or array-like", "the real parts."),
          "imag": ("Tensor, Variable or array-like", "the imaginary parts; one dtype with real.")},
    dtypes="float32 or float64 parts (one dtype for both).",
    derivative="d/d real = Re(g), d/d imag = Im(g) (g: the complex gradient dL/dRe + i dL/dIm).",
    raises="TypeError: parts that are not float32 or float64.\nInvalidArgumentError: parts of two dtypes, or "
           "shapes that do not broadcast.",
    example="""
        >>> tg.complex(1.0, 2.0)
        <tapegrad.Tensor: shape=(), dtype=complex64, numpy=(1+2j)>
    """)
def complex(real, imag, name=None):  # noqa: A001 - TensorFlow's name
    """A complex tensor from its real and imaginary parts."""
    re, im = _core.operands((real, imag), "Complex")
    cdt = _COMPLEX_OF.get(_dtype(re))
    if cdt is None:
        raise TypeError(f"complex: the parts must be float32 or float64, got {_dtype(re).name}")
    rs, ims = shape_of(re), shape_of(im)
    try:
        np.broadcast_shapes(rs, ims)
    except ValueError:
        raise InvalidArgumentError(f"Incompatible shapes: {list(rs)} vs. {list(ims)} [Op:Complex]") from None
    return apply(complex_op, (re, im), (cdt, rs, ims))


# ---- real, imag, conj: real-linear, so their JVPs are themselves ------------------------------

real_op = general("real", lambda z: np.real(z),
                  (lambda g, ans, z: as_dtype(g, _COMPLEX_OF[_dtype(g)]),), linear=True)
imag_op = general("imag", lambda z: np.imag(z),
                  (lambda g, ans, z: as_dtype(g, _COMPLEX_OF[_dtype(g)]) * 1j,), linear=True)
conj_op = general("conj", lambda z: np.conjugate(z), (lambda g, ans, z: call(conj_op, g),), linear=True)


def _complex_input(x):
    t = as_tensor(x)
    return t, _dtype(t).kind == "c"


@op_doc(
    tf="``tf.math.real``",
    numpy="``numpy.real``",
    returns="A real Tensor of input's shape (float32 for complex64, float64 for complex128); a real input is "
            "returned as it is.",
    dtypes="every numeric dtype.",
    derivative="g + 0i for a complex input (the gradient's imaginary part is 0); 1 for a real input.",
    example="""
        >>> tg.math.real(tg.constant([1 + 2j, 3 - 4j]))
        <tapegrad.Tensor: shape=(2,), dtype=float64, numpy=array([1., 3.])>
    """)
def real(input, name=None):
    """The real part of each element."""
    t, is_complex = _complex_input(input)
    return apply(real_op, (t,)) if is_complex else t


@op_doc(
    tf="``tf.math.imag``",
    numpy="``numpy.imag``",
    returns="A real Tensor of input's shape; zeros for a real input.",
    dtypes="every numeric dtype.",
    derivative="0 + g i for a complex input; none for a real input (its imaginary part is a constant 0).",
    example="""
        >>> tg.math.imag(tg.constant([1 + 2j, 3 - 4j]))
        <tapegrad.Tensor: shape=(2,), dtype=float64, numpy=array([ 2., -4.])>
    """)
def imag(input, name=None):
    """The imaginary part of each element."""
    t, is_complex = _complex_input(input)
    return apply(imag_op, (t,)) if is_complex else _core.wrap(np.zeros_like(t._value))


@op_doc(
    tf="``tf.math.conj``",
    numpy="``numpy.conjugate`` (``numpy.conj``)",
    returns="A Tensor of input's shape and dtype; a real input is returned as it is.",
    dtypes="every numeric dtype.",
    derivative="conj(g): conjugation is its own adjoint.",
    example="""
        >>> tg.math.conj(tg.constant(1 + 2j))
        <tapegrad.Tensor: shape=(), dtype=complex128, numpy=(1-2j)>
    """)
def conj(x, name=None):
    """The complex conjugate of each element."""
    t, is_complex = _complex_input(x)
    return apply(conj_op, (t,)) if is_complex else t


UFUNCS[np.conjugate] = conj
numpy_function(np.real)(lambda val: real(val))
numpy_function(np.imag)(lambda val: imag(val))


# ---- angle ---------------------------------------------------------------------------------

def _angle_vjp(g, ans, z):
    # TensorFlow's rule: angle = atan2(Im z, Re z), so dL/dRe + i dL/dIm = g (i z) / |z|**2.
    cdt = _dtype(z)
    return as_dtype(g, cdt) * (z * 1j) / as_dtype(call(real_op, z * call(conj_op, z)), cdt)


def _angle_jvp(t, ans, z):
    return call(imag_op, call(conj_op, z) * t) / call(real_op, z * call(conj_op, z))


angle_op = general("angle", lambda z: np.angle(z), (_angle_vjp,), save="x", jvps=(_angle_jvp,))


@op_doc(
    tf="``tf.math.angle``",
    numpy="``numpy.angle``",
    returns="A real Tensor of input's shape: the argument in (-pi, pi]; for a real input 0 (x >= 0) or pi.",
    args={"deg": ("bool", "degrees instead of radians (NumPy's argument).")},
    dtypes="every numeric dtype.",
    derivative="for z = x + iy: d/dx = -y / |z|**2, d/dy = x / |z|**2, so the gradient is g i z / |z|**2; none "
               "for a real input (a piecewise constant).",
    example="""
        >>> tg.math.angle(tg.constant(1j))
        <tapegrad.Tensor: shape=(), dtype=float64, numpy=1.5707963267948966>
    """)
def angle(input, name=None, deg=False):
    """The argument (phase) of each element."""
    t, is_complex = _complex_input(input)
    if is_complex:
        r = apply(angle_op, (t,))
    else:
        v = t._value
        r = _core.wrap(np.angle(v).astype(v.dtype if v.dtype.kind == "f" else np.float64))
    return r * (180 / np.pi) if deg else r


numpy_function(np.angle)(lambda z, deg=False: angle(z, deg=deg))


@op_doc(
    tf="has none",
    numpy="``numpy.real_if_close``",
    returns="real(a) when a is complex and every imaginary part is below tol machine epsilons; else a itself.",
    args={"tol": ("float", "the threshold in machine epsilons of a's dtype (above 1: NumPy's rule), or an "
                           "absolute tolerance (at most 1).")},
    dtypes="every numeric dtype.",
    derivative="that of real(a) when the imaginary parts are dropped, else 1.",
    example="""
        >>> np.real_if_close(tg.constant([1 + 1e-20j, 2 + 0j]))
        <tapegrad.Tensor: shape=(2,), dtype=float64, numpy=array([1., 2.])>
    """)
@numpy_function(np.real_if_close)
def real_if_close(a, tol=100):
    """NumPy's real_if_close: drop imaginary parts that are all negligible."""
    t, is_complex = _complex_input(a)
    if not is_complex:
        return t
    if tol > 1:
        tol = tol * np.finfo(_dtype(t)).eps
    return real(t) if np.all(np.abs(np.imag(t._value)) < tol) else t


__all__ = ["angle", "complex", "complex_op", "conj", "imag", "real", "real_if_close"]
