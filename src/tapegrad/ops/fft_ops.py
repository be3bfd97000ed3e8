"""Discrete Fourier transforms: NumPy's numpy.fft functions on tensors and
TensorFlow's tf.signal names, built on three ops.

* ``fft``: the complex transform over some axes, forward or inverse, with a
  normalisation.  It is complex-linear, y = s F x (F the DFT matrix, s the
  scale of the norm), so its gradient is s conj(F) g: the *inverse* transform
  with the dual norm ("backward" <-> "forward", "ortho" itself).
* ``rfft``: real input, the first n // 2 + 1 outputs of the complex
  transform.  Gradient: g zero-padded back to n entries, inverse-transformed
  (dual norm), real part.
* ``irfft``: the real signal of n samples whose spectrum is the Hermitian
  extension of its n // 2 + 1 inputs.  Each input except the first (and,
  for even n, the last) stands for two entries of the full spectrum, so the
  gradient is rfft(g) (dual norm) times the Hermitian weights 1, 2, ..., 2, 1:
  the correction a plain "the adjoint of irfft is rfft" misses.

The ops take inputs already cropped or zero-padded to the transform's
lengths (the n= and s= arguments are getitem and pad ops before them) and
axes counted from the end, so a cotangent with leading batch axes passes.
Gradients follow TensorFlow's complex convention (docs/complex.md).
"""
import numpy as np

from tapegrad import _core
from tapegrad._core import apply
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import call, general, numpy_function, raw
from tapegrad.ops._shapes import as_tensor, ndim_of, shape_of
from tapegrad.ops.math_ops import cast

_DUAL = {"backward": "forward", "forward": "backward", "ortho": "ortho"}
_COMPLEX = {np.dtype(np.float32): np.dtype(np.complex64), np.dtype(np.complex64): np.dtype(np.complex64)}
_REAL = {np.dtype(np.complex64): np.dtype(np.float32), np.dtype(np.float32): np.dtype(np.float32)}


def _complex_dtype(dt):
    return _COMPLEX.get(np.dtype(dt), np.dtype(np.complex128))


def _real_dtype(dt):
    return _REAL.get(np.dtype(dt), np.dtype(np.float64))


# ---- the three ops ---------------------------------------------------------------------------

def _fft_forward(x, axes, inverse, norm):
    f = np.fft.ifftn if inverse else np.fft.fftn
    return f(x, axes=axes, norm=norm).astype(_complex_dtype(np.result_type(x)), copy=False)


fft_op = general("fft", _fft_forward,
                 (lambda g, ans, x, axes, inverse, norm: call(fft_op, g, params=(axes, not inverse, _DUAL[norm])),),
                 linear=True)


def _rfft_forward(x, axis, norm):
    return np.fft.rfft(x, axis=axis, norm=norm).astype(_complex_dtype(np.result_type(x)), copy=False)


def _rfft_vjp(g, ans, x, axis, norm):
    n = shape_of(x)[axis]
    widths = [(0, 0)] * ndim_of(g)
    widths[axis] = (0, n - shape_of(g)[axis])
    full = call(fft_op, np.pad(g, widths), params=((axis,), True, _DUAL[norm]))
    return np.real(full)


rfft_op = general("rfft", _rfft_forward, (_rfft_vjp,), save="x", linear=True)


def _hermitian_weights(m, n, axis, dtype):
    w = np.full(m, 2.0, dtype=dtype)
    w[0] = 1.0
    if n % 2 == 0:
        w[-1] = 1.0
    return w.reshape((m,) + (1,) * (-axis - 1))


def _irfft_forward(x, axis, n, norm):
    return np.fft.irfft(x, n=n, axis=axis, norm=norm).astype(_real_dtype(np.result_type(x)), copy=False)


def _irfft_vjp(g, ans, x, axis, n, norm):
    spectrum = call(rfft_op, g, params=(axis, _DUAL[norm]))
    return spectrum * _hermitian_weights(shape_of(x)[axis], n, axis, _real_dtype(np.result_type(raw(g))))


irfft_op = general("irfft", _irfft_forward, (_irfft_vjp,), save="x", linear=True)


# ---- argument handling (NumPy's rules) -------------------------------------------------------

def _norm(norm):
    if norm is None:
        return "backward"
    if norm not in _DUAL:
        raise ValueError(f'Invalid norm value {norm}; should be "backward", "ortho" or "forward".')
    return norm


def _resized(t, axis, n):
    """t cropped or zero-padded to n entries along axis (NumPy's n= / s=)."""
    size = shape_of(t)[axis]
    if n is None or n == size:
        return t
    if n < 1:
        raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
    if n < size:
        return t[(slice(None),) * (axis % ndim_of(t)) + (slice(0, n),)]
    widths = [(0, 0)] * ndim_of(t)
    widths[axis] = (0, n - size)
    return np.pad(t, widths)


def _as_complex(a):
    t = as_tensor(a)
    dt = np.result_type(t._value)
    return t if dt.kind == "c" else cast(t, _complex_dtype(dt))


def _as_real(a, op):
    t = as_tensor(a)
    dt = np.result_type(t._value)
    if dt.kind == "c":
        raise TypeError(f"{op}: the input must be real, got {dt.name}")
    return t if dt.kind == "f" else cast(t, np.float64)


def _axes(t, s, axes, default_last=None):
    nd = ndim_of(t)
    if axes is None:
        axes = list(range(-len(s), 0)) if s is not None else list(range(-(default_last or nd), 0))
    axes = [int(a) for a in np.atleast_1d(axes)]
    for a in axes:
        if not -nd <= a < nd:
            raise IndexError(f"axis {a} is out of bounds for array of dimension {nd}")
    axes = [a % nd - nd for a in axes]
    if s is None:
        s = [None] * len(axes)
    s = list(s)
    if len(s) != len(axes):
        raise ValueError("Shape and axes have different lengths.")
    return axes, s


def _c2c(a, s, axes, norm, inverse):
    t = _as_complex(a)
    axes, s = _axes(t, s, axes)
    for ax, n in zip(axes, s):
        t = _resized(t, ax, n)
    if not axes:
        return t
    return apply(fft_op, (t,), (tuple(axes), inverse, _norm(norm)))


def _r2c(a, s, axes, norm, op):
    t = _as_real(a, op)
    axes, s = _axes(t, s, axes)
    t = apply(rfft_op, (_resized(t, axes[-1], s[-1]),), (axes[-1], _norm(norm)))
    return _c2c(t, s[:-1], axes[:-1], norm, False) if len(axes) > 1 else t


def _c2r(a, s, axes, norm):
    t = _as_complex(a)
    axes, s = _axes(t, s, axes)
    if len(axes) > 1:
        t = _c2c(t, s[:-1], axes[:-1], norm, True)
    n = s[-1] if s[-1] is not None else 2 * (shape_of(t)[axes[-1]] - 1)
    if n < 1:
        raise ValueError(f"Invalid number of FFT data points ({n}) specified.")
    return apply(irfft_op, (_resized(t, axes[-1], n // 2 + 1),), (axes[-1], n, _norm(norm)))


# ---- numpy.fft on tensors ------------------------------------------------------------------

def _no_out(out, np_func):
    if out is not None:
        raise TypeError(f"tapegrad: numpy.fft.{np_func.__name__}(..., out=...) is not supported: Tensors are "
                        f"immutable")


def _transform(s, axes, norm, kind, inverse, np_func):
    if kind == "c2c":
        return lambda a: _c2c(a, s, axes, norm, inverse)
    if kind == "r2c":
        return lambda a: _r2c(a, s, axes, norm, np_func.__name__)
    return lambda a: _c2r(a, s, axes, norm)


def _numpy_fft(np_func, kind, inverse, one_axis, default_axes=None):
    """numpy.fft.<name> on tensors, with NumPy's signature (out= is refused)."""
    if one_axis:
        def f(a, n=None, axis=-1, norm=None, out=None):
            _no_out(out, np_func)
            return _transform([n], [axis], norm, kind, inverse, np_func)(a)
    else:
        def f(a, s=None, axes=default_axes, norm=None, out=None):
            _no_out(out, np_func)
            return _transform(s, axes, norm, kind, inverse, np_func)(a)
    numpy_function(np_func)(f)


for _args in [(np.fft.fft, "c2c", False, True), (np.fft.ifft, "c2c", True, True),
              (np.fft.fft2, "c2c", False, False, (-2, -1)), (np.fft.ifft2, "c2c", True, False, (-2, -1)),
              (np.fft.fftn, "c2c", False, False), (np.fft.ifftn, "c2c", True, False),
              (np.fft.rfft, "r2c", False, True), (np.fft.rfft2, "r2c", False, False, (-2, -1)),
              (np.fft.rfftn, "r2c", False, False), (np.fft.irfft, "c2r", True, True),
              (np.fft.irfft2, "c2r", True, False, (-2, -1)), (np.fft.irfftn, "c2r", True, False)]:
    _numpy_fft(*_args)


def _shifted(x, axes, sign):
    t = as_tensor(x)
    nd = ndim_of(t)
    axes = range(nd) if axes is None else [int(a) for a in np.atleast_1d(axes)]
    for ax in axes:
        n = shape_of(t)[ax]
        perm = (np.arange(n) - sign * (n // 2)) % n          # np.roll by sign * (n // 2)
        t = t[(slice(None),) * (ax % nd) + (perm,)]
    return t


numpy_function(np.fft.fftshift)(lambda x, axes=None: _shifted(x, axes, 1))
numpy_function(np.fft.ifftshift)(lambda x, axes=None: _shifted(x, axes, -1))


# ---- TensorFlow's tf.signal names: the innermost axes, complex inputs ----------------------

def _tf_complex(x, op):
    if isinstance(x, (_core.Tensor, _core.Variable)):
        dt = np.result_type(as_tensor(x)._value)
        if dt.kind != "c":
            raise InvalidArgumentError(f"Value for attr 'Tcomplex' of {dt.name} is not in the list of allowed "
                                       f"values: complex64, complex128 [Op:{op}]")
        return x
    return as_tensor(np.asarray(x, dtype=np.complex64))


def _tf_real(x, op):
    if isinstance(x, (_core.Tensor, _core.Variable)):
        dt = np.result_type(as_tensor(x)._value)
        if dt.kind != "f" or dt.itemsize < 4:
            raise InvalidArgumentError(f"Value for attr 'Treal' of {dt.name} is not in the list of allowed values: "
                                       f"float, double [Op:{op}]")
        return x
    return as_tensor(np.asarray(x, dtype=np.float32))


def _fft_length(fft_length, k, op):
    if fft_length is None:
        return None
    n = [int(v) for v in np.atleast_1d(np.asarray(raw(as_tensor(fft_length))))]
    if len(n) != k:
        raise InvalidArgumentError(f"{op}: fft_length must have {k} element(s), got {n}")
    return n


_C2C_DOC = dict(
    dtypes="complex64 and complex128 (a float tensor raises InvalidArgumentError, as in TensorFlow; Python "
           "lists become complex64).",
    raises="InvalidArgumentError: a real tensor.")


def _tf_c2c(k, inverse, tf_name):
    op = tf_name.split(".")[-1]
    first = ", ".join(["0"] * k)

    @op_doc(
        summary=f"The {'inverse ' if inverse else ''}discrete Fourier transform over the innermost {k} "
                f"ax{'is' if k == 1 else 'es'} (unnormalised forward, 1/n inverse).",
        tf=f"``{tf_name}``",
        numpy=f"``numpy.fft.{'i' if inverse else ''}fft{'' if k == 1 else '2' if k == 2 else 'n'}``",
        returns="A complex Tensor of input's shape and dtype.",
        derivative=f"the {'forward' if inverse else 'inverse'} transform of g, scaled so it is the adjoint "
                   f"(conjugate transpose) of this linear map.",
        example=f"""
            >>> complex(tg.signal.{op}(tg.ones([2] * {k}, dtype=tg.complex64)).numpy()[{first}])
            {'(1+0j)' if inverse else f'({2 ** k}+0j)'}
        """, **_C2C_DOC)
    def transform(input, name=None):
        t = _tf_complex(input, op.upper())
        return _c2c(t, None, list(range(-k, 0)), None, inverse)
    transform.__name__ = transform.__qualname__ = op
    return transform


fft = _tf_c2c(1, False, "tf.signal.fft")
ifft = _tf_c2c(1, True, "tf.signal.ifft")
fft2d = _tf_c2c(2, False, "tf.signal.fft2d")
ifft2d = _tf_c2c(2, True, "tf.signal.ifft2d")
fft3d = _tf_c2c(3, False, "tf.signal.fft3d")
ifft3d = _tf_c2c(3, True, "tf.signal.ifft3d")


def _tf_r2c(k, tf_name):
    op = tf_name.split(".")[-1]
    axes = "innermost axis" if k == 1 else f"innermost {k} axes"

    @op_doc(
        summary=f"The discrete Fourier transform of a real signal over the {axes}: the n // 2 + 1 non-negative "
                f"frequencies along the last one.",
        tf=f"``{tf_name}``",
        numpy=f"``numpy.fft.rfft{'' if k == 1 else '2' if k == 2 else 'n'}``",
        args={"input_tensor": ("Tensor, Variable or array-like", "real signals, samples on the last axes."),
              "fft_length": (f"list of {k} int(s) or None", "the signal is cropped or zero-padded to these "
                                                             "lengths.")},
        returns="A complex Tensor (..., n // 2 + 1) for n samples on the last axis: complex64 for float32, "
                "complex128 for float64.",
        dtypes="float32 and float64.",
        derivative="g zero-padded to n entries, inverse-transformed without the 1/n, real part (and the adjoint "
                   "complex transform over the other axes).",
        raises="InvalidArgumentError: a complex or integer tensor, or an fft_length of another length.",
        example=f"""
            >>> tuple(tg.signal.{op}(tg.ones({[2] * (k - 1) + [4]})).shape)
            {tuple([2] * (k - 1) + [3])}
        """)
    def transform(input_tensor, fft_length=None, name=None):
        n = _fft_length(fft_length, k, op.upper())
        return _r2c(_tf_real(input_tensor, op.upper()), n, list(range(-k, 0)), None, op)
    transform.__name__ = transform.__qualname__ = op
    return transform


def _tf_c2r(k, tf_name):
    op = tf_name.split(".")[-1]
    axes = "innermost axis" if k == 1 else f"innermost {k} axes"

    @op_doc(
        summary=f"The real signal whose spectrum over the {axes} is the input, non-negative frequencies along "
                f"the last one (the inverse of rfft{'' if k == 1 else f'{k}d'}).",
        tf=f"``{tf_name}``",
        numpy=f"``numpy.fft.irfft{'' if k == 1 else '2' if k == 2 else 'n'}``",
        args={"input_tensor": ("Tensor, Variable or array-like", "complex spectra on the last axes."),
              "fft_length": (f"list of {k} int(s) or None", "the output's lengths; the last defaults to "
                                                             "2 * (m - 1) for m inputs.")},
        returns="A real Tensor: float32 for complex64, float64 for complex128.",
        dtypes="complex64 and complex128.",
        derivative="rfft(g) / n times the Hermitian weights (1 for the zero frequency and, for even n, the last; 2 "
                   "for the others, which stand for two entries of the full spectrum).",
        raises="InvalidArgumentError: a real tensor, or an fft_length of another length.",
        example=f"""
            >>> tuple(tg.signal.{op}(tg.ones({[2] * (k - 1) + [3]}, dtype=tg.complex64)).shape)
            {tuple([2] * (k - 1) + [4])}
        """)
    def transform(input_tensor, fft_length=None, name=None):
        n = _fft_length(fft_length, k, op.upper())
        return _c2r(_tf_complex(input_tensor, op.upper()), n, list(range(-k, 0)), None)
    transform.__name__ = transform.__qualname__ = op
    return transform


rfft = _tf_r2c(1, "tf.signal.rfft")
irfft = _tf_c2r(1, "tf.signal.irfft")
rfft2d = _tf_r2c(2, "tf.signal.rfft2d")
irfft2d = _tf_c2r(2, "tf.signal.irfft2d")
rfft3d = _tf_r2c(3, "tf.signal.rfft3d")
irfft3d = _tf_c2r(3, "tf.signal.irfft3d")


__all__ = ["fft", "fft2d", "fft3d", "fft_op", "ifft", "ifft2d", "ifft3d", "irfft", "irfft2d", "irfft3d", "irfft_op",
           "rfft", "rfft2d", "rfft3d", "rfft_op"]
