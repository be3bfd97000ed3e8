"""Complex tensors (issue 9): creation and dtype rules, TensorFlow's gradient convention checked by hand and
against finite differences of the real and imaginary parts, real -> complex -> real programs, NumPy's FFTs and
TensorFlow's tf.signal names, and the linear algebra of general and complex matrices.

Per-op rules are checked through tests/op_records.py (RECORDS and COMPLEX_RECORDS); this module checks the public
functions: their arguments, values against NumPy's, and gradients of whole programs."""
import doctest
import pathlib
import re

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.errors import InvalidArgumentError
from tapegrad.test import check_gradients, compute_gradient

RNG = np.random.default_rng(9)
X = RNG.standard_normal((3, 6))
Z = X + 1j * RNG.standard_normal((3, 6))


def _grad(f, x):
    t = tg.constant(x)
    with tg.GradientTape() as tape:
        tape.watch(t)
        y = f(t)
    return tape.gradient(y, t).numpy()


# ---- creation and dtypes ----------------------------------------------------------------------

def test_complex_literals_and_parts():
    assert tg.constant(1 + 2j).dtype == tg.complex128
    assert tg.constant(np.array([1j], dtype=np.complex64)).dtype == tg.complex64
    z = tg.complex(1.0, 2.0)
    assert z.dtype == tg.complex64 and complex(z) == 1 + 2j
    assert tg.complex(tg.constant([1.0], tg.float64), [2.0]).dtype == tg.complex128
    assert tg.complex([[1.0], [2.0]], [3.0, 4.0]).shape == (2, 2)          # broadcasting, as TensorFlow's Complex
    assert tg.math.real(z).dtype == tg.float32 and float(tg.math.imag(z)) == 2.0
    assert complex(tg.math.conj(z)) == 1 - 2j and complex(np.conjugate(z)) == 1 - 2j
    assert float(tg.math.angle(tg.constant(1j))) == pytest.approx(np.pi / 2)
    assert float(np.angle(tg.constant(-1j), deg=True)) == pytest.approx(-90.0)
    with pytest.raises(TypeError, match="float32 or float64"):
        tg.complex(tg.constant([1], tg.int32), [2])
    with pytest.raises(InvalidArgumentError):
        tg.complex(tg.constant(1.0), tg.constant(1.0, tg.float64))


def test_real_inputs_to_the_complex_functions():
    x = tg.constant([1.5, -2.0])
    assert tg.math.real(x) is x and tg.math.conj(x) is x and np.conj(x) is x
    np.testing.assert_array_equal(tg.math.imag(x).numpy(), [0.0, 0.0])
    np.testing.assert_array_equal(np.angle(x).numpy(), np.angle(np.array([1.5, -2.0], np.float32)))
    assert np.angle(x).dtype == tg.float32
    with tg.GradientTape() as tape:
        tape.watch(x)
        y = tg.reduce_sum(tg.math.real(x) * 3.0)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [3.0, 3.0])


def test_cast_between_complex_and_real_as_tensorflow():
    z = tg.constant([1.5 + 2j, -3 - 1j])
    assert tg.cast(z, tg.float32).numpy().tolist() == [1.5, -3.0]                 # the real part
    assert tg.cast(z, tg.int32).numpy().tolist() == [1, -3]
    with tg.GradientTape() as tape:
        tape.watch(z)
        y = tg.reduce_sum(tg.cast(z, tg.float64) * [2.0, 3.0])
    np.testing.assert_array_equal(tape.gradient(y, z).numpy(), [2 + 0j, 3 + 0j])


def test_real_if_close():
    close = np.real_if_close(tg.constant([1 + 1e-20j, 2 + 0j]))
    assert close.dtype == tg.float64
    far = tg.constant([1 + 1e-3j])
    assert np.real_if_close(far) is far


def test_mixing_complex_and_real_operands():
    z = tg.constant([1 + 1j], dtype=tg.complex64)
    assert (z * 2.0).dtype == tg.complex64 and (z * np.array([2.0])).dtype == tg.complex64
    assert complex((z * 1j).numpy()[0]) == -1 + 1j
    with pytest.raises(InvalidArgumentError, match="complex64"):
        z * tg.constant([1.0])
    with pytest.raises(TypeError):
        tg.constant([1.0]) * (1 + 1j)


# ---- the gradient convention --------------------------------------------------------------------

def test_the_gradient_is_d_by_d_real_plus_i_d_by_d_imag():
    # |z|**2 at 3 + 4i: d/dx = 6, d/dy = 8 (docs/complex.md's worked example).
    z = tg.Variable(3.0 + 4.0j)
    with tg.GradientTape() as tape:
        loss = tg.math.real(z * tg.math.conj(z))
    assert complex(tape.gradient(loss, z)) == 6 + 8j


def test_a_holomorphic_function_gets_the_conjugate_derivative_as_in_tensorflow():
    # TensorFlow: the gradient of z * z at 0.1j is -0.2j (its issue 3348); forward mode gives f'(z) = 0.2j.
    z = tg.constant(0.1j)
    assert complex(_grad(lambda t: t * t, 0.1j)) == pytest.approx(-0.2j)
    assert complex(_grad(lambda t: tg.exp(t), 0.1j)) == pytest.approx(np.conj(np.exp(0.1j)))
    with tg.autodiff.ForwardAccumulator(z, tg.constant(1 + 0j)) as acc:
        y = z * z
    assert complex(acc.jvp(y)) == pytest.approx(0.2j)


def _finite_difference_gradient(f, z0, h=1e-6):
    """dL/dRe + i dL/dIm of a real function of a complex array, by central differences."""
    g = np.zeros(z0.shape, complex)
    for k in np.ndindex(z0.shape):
        for unit in (1, 1j):
            e = np.zeros(z0.shape, complex)
            e[k] = h * unit
            g[k] += (f(z0 + e) - f(z0 - e)) / (2 * h) * unit
    return g


def test_a_whole_complex_program_against_finite_differences_of_real_and_imaginary_parts():
    def loss(z):
        w = tg.sin(z) * z + tg.exp(z) / (z + 3) - tg.sqrt(z * z + 1) ** 1.5
        return tg.reduce_sum(tg.abs(w) + tg.math.angle(w) + tg.math.imag(tg.tanh(z) @ tg.math.conj(z)))

    z0 = Z[:2, :2]
    got = _grad(loss, z0)
    want = _finite_difference_gradient(lambda v: float(loss(tg.constant(v))), z0)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    check_gradients(loss, [z0], order=2)


def test_real_to_complex_to_real_gets_exactly_the_real_gradients():
    x = X[0]

    def through_complex(t):
        z = tg.complex(t, tg.zeros_like(t))
        return tg.reduce_sum(tg.math.real(tg.sin(z) * tg.exp(z)) + tg.math.imag(z * 2.0))

    def real_only(t):
        return tg.reduce_sum(tg.sin(t) * tg.exp(t))

    np.testing.assert_allclose(_grad(through_complex, x), _grad(real_only, x), rtol=1e-15, atol=1e-15)
    assert _grad(through_complex, x).dtype == np.float64
    cast = _grad(lambda t: tg.reduce_sum(tg.math.real(tg.cast(t, tg.complex128) ** 2)), x)
    np.testing.assert_allclose(cast, 2 * x, rtol=1e-15)


def test_compute_gradient_and_the_jacobian_on_complex_values():
    theoretical, numerical = compute_gradient(lambda t: tg.exp(t) * t, [Z[0, :3]])
    np.testing.assert_allclose(theoretical[0], numerical[0], rtol=1e-6, atol=1e-8)
    assert theoretical[0].dtype == np.complex128


def test_complex64_keeps_its_dtype_through_gradients():
    z = tg.constant(Z.astype(np.complex64))
    with tg.GradientTape() as tape:
        tape.watch(z)
        y = tg.reduce_sum(tg.abs(tg.sin(z) @ tg.transpose(z)))
    assert tape.gradient(y, z).dtype == tg.complex64


# ---- FFTs ---------------------------------------------------------------------------------------

FFTS = [
    ("fft", lambda t, norm: np.fft.fft(t, norm=norm), Z),
    ("fft n<", lambda t, norm: np.fft.fft(t, n=4, axis=0, norm=norm), Z),
    ("ifft n>", lambda t, norm: np.fft.ifft(t, n=8, norm=norm), Z),
    ("fft of a real tensor", lambda t, norm: np.fft.fft(t, norm=norm), X),
    ("fft2 s", lambda t, norm: np.fft.fft2(t, s=(2, 5), norm=norm), Z),
    ("ifft2", lambda t, norm: np.fft.ifft2(t, norm=norm), Z),
    ("fftn axes", lambda t, norm: np.fft.fftn(t, axes=(0,), norm=norm), Z),
    ("ifftn s axes", lambda t, norm: np.fft.ifftn(t, s=(4, 3), axes=(1, 0), norm=norm), Z),
    ("rfft", lambda t, norm: np.fft.rfft(t, norm=norm), X),
    ("rfft odd n", lambda t, norm: np.fft.rfft(t, n=7, norm=norm), X),
    ("rfft2", lambda t, norm: np.fft.rfft2(t, norm=norm), X),
    ("rfftn s", lambda t, norm: np.fft.rfftn(t, s=(4, 5), axes=(0, 1), norm=norm), X),
    ("irfft", lambda t, norm: np.fft.irfft(t, norm=norm), Z),
    ("irfft odd n", lambda t, norm: np.fft.irfft(t, n=9, norm=norm), Z),
    ("irfft n<", lambda t, norm: np.fft.irfft(t, n=4, axis=0, norm=norm), Z),
    ("irfft2", lambda t, norm: np.fft.irfft2(t, norm=norm), Z),
    ("irfftn s", lambda t, norm: np.fft.irfftn(t, s=(3, 7), axes=(0, 1), norm=norm), Z),
    ("fftshift", lambda t, norm: np.fft.fftshift(t), Z),
    ("ifftshift axes", lambda t, norm: np.fft.ifftshift(t, axes=1), X),
]


@pytest.mark.parametrize("norm", [None, "ortho", "forward"])
@pytest.mark.parametrize("name,f,x", FFTS, ids=[c[0] for c in FFTS])
def test_numpy_fft_on_tensors(name, f, x, norm):
    want = f(x, norm)
    got = f(tg.constant(x), norm).numpy()
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    check_gradients(lambda t: f(t, norm), [x], order=2)


def test_single_precision_transforms_keep_it():
    x32 = X.astype(np.float32)
    assert np.fft.rfft(tg.constant(x32)).dtype == tg.complex64
    assert np.fft.irfft(np.fft.rfft(tg.constant(x32))).dtype == tg.float32
    assert np.fft.fft(tg.constant(x32)).dtype == tg.complex64


def test_irfft_gradient_has_the_hermitian_weights():
    # L = sum(irfft(c)) = c_0 (the mean of the signal times n / n): only the zero frequency counts, weight 1.
    c = Z[0, :4]
    np.testing.assert_allclose(_grad(lambda t: tg.reduce_sum(np.fft.irfft(t)), c), [1, 0, 0, 0], atol=1e-15)
    # L = irfft(c)[0] = (c_0 + 2 Re(c_1) + 2 Re(c_2) + Re(c_3)) / 6 for n = 6: weights 1, 2, 2, 1.
    np.testing.assert_allclose(_grad(lambda t: np.fft.irfft(t)[0], c), np.array([1, 2, 2, 1]) / 6, atol=1e-15)


def test_fft_arguments_are_checked():
    with pytest.raises(ValueError, match="Invalid norm"):
        np.fft.fft(tg.constant(Z), norm="both")
    with pytest.raises(ValueError, match="Invalid number of FFT data points"):
        np.fft.fft(tg.constant(Z), n=0)
    with pytest.raises(TypeError, match="must be real"):
        np.fft.rfft(tg.constant(Z))
    with pytest.raises(TypeError, match="out="):
        np.fft.fft(tg.constant(Z), out=np.zeros(Z.shape, complex))


def test_tensorflow_signal_names():
    z = tg.constant(RNG.standard_normal((2, 3, 4, 5)) + 1j, dtype=tg.complex128)
    v = z.numpy()
    for f, want in [(tg.signal.fft, np.fft.fft(v)), (tg.signal.ifft, np.fft.ifft(v)),
                    (tg.signal.fft2d, np.fft.fft2(v)), (tg.signal.ifft2d, np.fft.ifft2(v)),
                    (tg.signal.fft3d, np.fft.fftn(v, axes=(-3, -2, -1))),
                    (tg.signal.ifft3d, np.fft.ifftn(v, axes=(-3, -2, -1)))]:
        np.testing.assert_allclose(f(z).numpy(), want, rtol=1e-12, atol=1e-12)
    x = tg.constant(X.astype(np.float32))
    spectrum = tg.signal.rfft(x, fft_length=[8])
    assert spectrum.dtype == tg.complex64 and spectrum.shape == (3, 5)
    np.testing.assert_allclose(spectrum.numpy(), np.fft.rfft(X, n=8), rtol=1e-5, atol=1e-5)
    back = tg.signal.irfft(spectrum, fft_length=[8])
    assert back.dtype == tg.float32 and back.shape == (3, 8)
    np.testing.assert_allclose(back.numpy()[:, :6], X, rtol=1e-5, atol=1e-5)
    assert tg.signal.irfft(tg.signal.rfft(tg.constant(X))).shape == (3, 6)
    assert tg.signal.fft([1.0, 2.0]).dtype == tg.complex64                # a list converts, as in TensorFlow
    with pytest.raises(InvalidArgumentError, match="Tcomplex"):
        tg.signal.fft(tg.constant([1.0, 2.0]))
    with pytest.raises(InvalidArgumentError, match="Treal"):
        tg.signal.rfft(tg.constant([1j]))
    check_gradients(lambda t: tg.signal.irfft(tg.signal.fft2d(t), fft_length=[7]), [Z[:2, :4]], order=2)
    cube = RNG.standard_normal((2, 3, 4))
    np.testing.assert_allclose(tg.signal.rfft2d(cube, fft_length=[2, 6]).numpy(), np.fft.rfft2(cube, s=(2, 6)),
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(tg.signal.irfft3d(tg.signal.rfft3d(tg.constant(cube))).numpy(), cube, atol=1e-12)
    np.testing.assert_allclose(tg.signal.irfft2d(tg.constant(Z), fft_length=[3, 5]).numpy(),
                               np.fft.irfft2(Z, s=(3, 5)), atol=1e-12)
    with pytest.raises(InvalidArgumentError, match="fft_length"):
        tg.signal.rfft2d(cube, fft_length=[4])
    check_gradients(lambda t: tg.signal.irfft2d(tg.signal.rfft2d(t, fft_length=[3, 5]) * (1 + 2j)), [cube],
                    order=2)


# ---- linear algebra -----------------------------------------------------------------------------

def test_complex_matrices_in_inv_det_slogdet_solve():
    a = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3)) + 3 * np.eye(3)
    b = RNG.standard_normal((3, 2)) + 1j * RNG.standard_normal((3, 2))
    ta = tg.constant(a)
    np.testing.assert_allclose(tg.linalg.inv(ta).numpy(), np.linalg.inv(a), rtol=1e-12)
    np.testing.assert_allclose(tg.linalg.inv(ta, adjoint=True).numpy(), np.linalg.inv(a.conj().T), rtol=1e-12)
    np.testing.assert_allclose(complex(np.linalg.det(ta)), np.linalg.det(a), rtol=1e-12)
    sign, logdet = tg.linalg.slogdet(ta)
    np.testing.assert_allclose(complex(sign), np.linalg.slogdet(a)[0], rtol=1e-12)
    np.testing.assert_allclose(tg.linalg.solve(ta, b, adjoint=True).numpy(), np.linalg.solve(a.conj().T, b),
                               rtol=1e-12)
    check_gradients(lambda m, r: tg.linalg.solve(m, r, adjoint=True), [a, b], order=2)
    check_gradients(lambda m: tg.math.real(np.linalg.det(m)) + tg.linalg.slogdet(m)[1], [a], order=2)


def test_complex_matrices_in_cholesky_eigh_svd():
    b = RNG.standard_normal((3, 3)) + 1j * RNG.standard_normal((3, 3))
    h = b @ b.conj().T + 3 * np.eye(3)
    np.testing.assert_allclose(np.linalg.cholesky(tg.constant(h)).numpy(), np.linalg.cholesky(h), rtol=1e-12)
    e, v = tg.linalg.eigh(h)
    np.testing.assert_allclose(e.numpy(), np.linalg.eigvalsh(h), rtol=1e-12)
    assert e.dtype == tg.float64 and v.dtype == tg.complex128
    u, s, vh = np.linalg.svd(tg.constant(b[:, :2]), full_matrices=False)
    np.testing.assert_allclose((u.numpy() * s.numpy()) @ vh.numpy(), b[:, :2], atol=1e-12)

    def herm(m):
        return (m + tg.math.conj(tg.transpose(m))) * 0.5

    # Losses free of the eigen- and singular vectors' phases.
    check_gradients(lambda m: tg.math.real(tg.reduce_sum(tg.linalg.cholesky(herm(m)) * [[1.0], [2.0], [3.0]])),
                    [h], order=2)
    check_gradients(lambda m: tg.reduce_sum(tg.linalg.eigh(herm(m))[0] * [1.0, 2.0, 3.0]) + tg.reduce_sum(
        tg.abs(tg.linalg.eigh(herm(m))[1]) ** 3), [h], order=2)
    check_gradients(lambda m: tg.reduce_sum(tg.abs(tg.linalg.svd(m)[1]) ** 3) + tg.reduce_sum(
        tg.abs(tg.linalg.svd(m)[2]) ** 3) + tg.reduce_sum(tg.linalg.svd(m)[0] * [1.0, 3.0]), [b[:, :2]], order=2)


def test_eig_of_general_matrices():
    a = RNG.standard_normal((4, 4))
    e, v = tg.linalg.eig(a)
    assert e.dtype == tg.complex128 and v.dtype == tg.complex128
    np.testing.assert_allclose(a @ v.numpy(), v.numpy() * e.numpy(), atol=1e-12)
    assert np.any(np.abs(e.numpy().imag) > 1e-3), "the test wants a complex pair"
    # A loss that does not depend on the eigenvectors' phases: eigenvalues and |v|.
    check_gradients(lambda m: tg.reduce_sum(tg.abs(tg.linalg.eig(m)[0]) ** 2) + tg.reduce_sum(
        tg.abs(tg.linalg.eig(m)[1])), [a], order=2)
    ta = tg.constant(np.eye(2))                      # a repeated eigenvalue: no eigenvector derivative
    with tg.GradientTape() as tape:
        tape.watch(ta)
        y = tg.reduce_sum(tg.abs(tg.linalg.eig(ta)[1]))
    with pytest.raises(InvalidArgumentError, match="repeated eigenvalues"):
        tape.gradient(y, ta)
    # NumPy's spelling keeps NumPy's dtypes: real arrays when every eigenvalue of a real matrix is real.
    s = a + a.T
    e, v = np.linalg.eig(tg.constant(s))
    assert e.dtype == tg.float64 and v.dtype == tg.float64
    np.testing.assert_allclose(np.sort(e.numpy()), np.linalg.eigvalsh(s), rtol=1e-12)
    np.testing.assert_allclose(np.sort_complex(np.linalg.eigvals(tg.constant(a)).numpy()),
                               np.sort_complex(np.linalg.eigvals(a)), rtol=1e-12)


def test_pinv_and_multi_dot():
    a = RNG.standard_normal((5, 3))
    np.testing.assert_allclose(np.linalg.pinv(tg.constant(a)).numpy(), np.linalg.pinv(a), rtol=1e-12)
    np.testing.assert_allclose(tg.linalg.pinv(a).numpy(), np.linalg.pinv(a), rtol=1e-12)
    check_gradients(np.linalg.pinv, [np.diag([1.0, 2.0, 3.0]) @ a.T], order=2)
    u, b, c, w = RNG.standard_normal(4), RNG.standard_normal((4, 3)), RNG.standard_normal((3, 2)), \
        RNG.standard_normal(2)
    for args in [(u, b, c, w), (b.T, b, c), (u, b, c)]:
        want = np.linalg.multi_dot(args)
        got = np.linalg.multi_dot([tg.constant(x) for x in args]).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-12)
    check_gradients(lambda *xs: np.linalg.multi_dot(xs), [u, b, c, w], order=2)


MATRIX_ORDS = [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf]
VECTOR_ORDS = [None, 1, 2, 3, 0.5, -1, -2.5, np.inf, -np.inf]


@pytest.mark.parametrize("order", MATRIX_ORDS, ids=str)
def test_matrix_norms(order):
    a = RNG.standard_normal((2, 4, 3))

    def f(t):
        return np.linalg.norm(t, ord=order, axis=(1, 2))

    np.testing.assert_allclose(f(tg.constant(a)).numpy(), f(a), rtol=1e-12)
    check_gradients(f, [a], order=2)
    c = a + 1j * RNG.standard_normal(a.shape)
    np.testing.assert_allclose(f(tg.constant(c)).numpy(), f(c), rtol=1e-12)
    check_gradients(f, [c], order=2)


@pytest.mark.parametrize("order", VECTOR_ORDS, ids=str)
def test_vector_norms(order):
    for v in (X[0], Z[0]):
        np.testing.assert_allclose(np.linalg.norm(tg.constant(v), order).numpy(), np.linalg.norm(v, order),
                                   rtol=1e-12)
        check_gradients(lambda t: np.linalg.norm(t, order), [v], order=2)


def test_the_zero_norm_counts_without_a_gradient():
    v = tg.constant([0.0, 1.5, -2.0])
    with tg.GradientTape() as tape:
        tape.watch(v)
        n = np.linalg.norm(v, 0)
    assert float(n) == 2.0 and tape.gradient(n, v) is None


def test_qr():
    for a in (X[:, :3].T @ X[:, :3] + np.eye(3), X[:, :2], X[:2, :5], Z[:, :2], Z[:2, :4]):
        q, r = np.linalg.qr(tg.constant(a))
        want_q, want_r = np.linalg.qr(a)
        np.testing.assert_allclose(q.numpy(), want_q, atol=1e-12)
        np.testing.assert_allclose(r.numpy(), want_r, atol=1e-12)
        check_gradients(lambda m: tg.math.real(tg.reduce_sum(tg.linalg.qr(m)[0] ** 2)) + tg.reduce_sum(
            tg.abs(tg.linalg.qr(m)[1])), [a], order=2)
    assert np.linalg.qr(tg.constant(X), mode="r").shape == (3, 6)
    full = tg.constant(X[:, :2])
    with tg.GradientTape() as tape:
        tape.watch(full)
        q, r = tg.linalg.qr(full, full_matrices=True)
    assert q.shape == (3, 3)
    with pytest.raises(NotImplementedError, match="full_matrices"):
        tape.gradient(q, full)


def test_the_examples_of_docs_complex_md_run():
    text = (pathlib.Path(__file__).resolve().parent.parent / "docs" / "complex.md").read_text()
    blocks = [b for b in re.findall(r"```python\n(.*?)```", text, flags=re.S) if ">>>" in b]
    assert len(blocks) == 2
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {"tg": tg, "np": np}, "complex.md", None, 0)
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(test)
    assert runner.summarize().failed == 0
