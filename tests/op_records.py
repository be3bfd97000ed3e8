"""One record per registered differentiable op: how to call it (inputs drawn
from a domain, static params), the order its derivatives are checked to, and
the tolerance.  tests/test_ops_rules.py runs every record through the
finite-difference checker, the JVP-against-VJP identity and the batching
contract; test_every_differentiable_op_has_a_record fails for an op added
to the registry without a record here.

Records call the op itself (``_core.apply(op, inputs, params)``), not the
public function, so each op is checked on exactly the params it receives.
"""
import importlib.util
import zlib
from dataclasses import dataclass

import numpy as np
import pytest

from tapegrad import _core
from tapegrad.ops import _registry, numpy_arrays
from tapegrad.ops.array_ops import index_params
from tapegrad.ops.linalg_ops import _parse_einsum


def _rng(name):
    return np.random.default_rng(zlib.crc32(name.encode()))      # stable across runs (str hash is salted)


# Input domains: where the op is smooth (kinks and poles stay far from the
# finite-difference step).
DOMAINS = {
    "real": lambda r, s: r.standard_normal(s),
    "pos": lambda r, s: r.uniform(0.5, 2.0, s),
    "unit": lambda r, s: r.uniform(-0.8, 0.8, s),
    "gt1": lambda r, s: r.uniform(1.2, 3.0, s),
    "nonzero": lambda r, s: r.choice([-1.0, 1.0], s) * r.uniform(0.3, 2.0, s),
    "relu6": lambda r, s: r.choice([-1.0, 3.0, 7.0], s) + r.uniform(-0.5, 0.5, s),
    "clip": lambda r, s: r.choice([-1.5, 0.0, 1.5], s) + r.uniform(-0.3, 0.3, s),
    "spread": lambda r, s: r.permutation(np.prod(s, dtype=int)).reshape(s) * 0.5 + r.uniform(0, 0.1, s),
    "wellcond": lambda r, s: r.standard_normal(s) + 3 * np.eye(s[-1]),
    "spd": lambda r, s: _spd(r, s),
    "with_zeros": lambda r, s: np.where(r.uniform(size=s) < 0.3, 0.0, r.uniform(0.5, 1.5, s)),
    "prob": lambda r, s: r.uniform(0.1, 0.9, s),
    "erfc": lambda r, s: r.uniform(0.2, 1.8, s),
}

try:
    HAVE_SCIPY = importlib.util.find_spec("scipy") is not None
except (ImportError, ValueError):           # a finder that refuses it, or sys.modules["scipy"] = None
    HAVE_SCIPY = False


def _hpd(r, s):
    a = r.standard_normal(s) + 1j * r.standard_normal(s)
    return a @ np.conjugate(np.swapaxes(a, -1, -2)) + s[-1] * np.eye(s[-1])


COMPLEX_DOMAINS = {"hpd"}          # domains that draw complex values themselves
DOMAINS["hpd"] = lambda r, s: _hpd(r, s)


def _spd(r, s):
    a = r.standard_normal(s)
    return a @ np.swapaxes(a, -1, -2) + s[-1] * np.eye(s[-1])


@dataclass
class Record:
    op: str
    args: tuple                          # ((shape, domain), ...) or arrays
    params: tuple = None                 # static params (GENERAL ops)
    order: int = 2
    rtol: float = 1e-5
    atol: float = 1e-6
    prepare: object = None               # inputs -> inputs, inside the differentiated function
    finish: object = None                # op output -> one tensor to check (multi-output ops)
    dtypes: tuple = ("float64", "float32")
    note: str = ""
    tag: str = ""                        # tells apart two complex records of one op
    nograd: tuple = ()                   # inputs (after prepare) without a derivative: their rules raise
    scipy: bool = False                  # the op's forward is SciPy's: skipped when SciPy is absent

    @property
    def marks(self):
        return (pytest.mark.skipif(not HAVE_SCIPY, reason="needs SciPy"),) if self.scipy else ()

    def inputs(self, dtype=None):
        """The inputs, in `dtype` (default: the record's first dtype); complex dtypes get an imaginary part
        (0.3 * a standard normal) on the domain's real values."""
        dtype = np.dtype(self.dtypes[0] if dtype is None else dtype)
        r = _rng(self.op)
        out = []
        for a in self.args:
            if isinstance(a, np.ndarray):
                out.append(a.astype(dtype))
            else:
                shape, domain = a
                x = DOMAINS[domain](r, shape)
                if dtype.kind == "c" and domain not in COMPLEX_DOMAINS:
                    x = x + 0.3j * r.standard_normal(shape)
                out.append(np.asarray(x, dtype=dtype))
        return out

    @property
    def Op(self):
        return _registry.OPS[self.op]

    def apply(self, *ts):
        """The op on tensors (recorded), as the checked function."""
        if self.prepare is not None:
            ts = self.prepare(*ts)
        out = _core.apply(self.Op, tuple(ts), self.params)
        return self.finish(out) if self.finish is not None else out

    def raw_params(self, inputs):
        """The params the core passes a rule for these raw inputs."""
        if self.Op.kind == _core.BINARY:
            return (np.shape(inputs[0]), np.shape(inputs[1]))
        return self.params or ()


def _sym(a):
    return ((a + np.swapaxes(a, -1, -2)) * 0.5,)


def _cat_outputs(outs):
    import tapegrad as tg
    return tg.concat([tg.reshape(o, [-1]) for o in outs], 0)


def _eigh_finish(outs):
    e, v = outs
    return _cat_outputs([e, v * v])             # v * v: free of the eigenvectors' sign


def _svd_finish(outs):
    s, u, v = outs
    return _cat_outputs([s, u * u, v * v])


def _key(key, shape):
    return index_params(key, shape)


S = (3, 4)
R = []
add = R.append

# ---- elementwise binary (broadcasting is checked separately, with hypothesis) ----
for name in ["add", "subtract", "multiply", "maximum", "minimum"]:
    add(Record(name, ((S, "spread"), ((4,), "real"))))
add(Record("truediv", ((S, "real"), ((4,), "nonzero"))))
add(Record("mod", ((S, "pos"), ((4,), "gt1")), note="away from the jumps of floor(x / y)"))
add(Record("pow", ((S, "pos"), ((4,), "real"))))
add(Record("atan2", ((S, "real"), ((4,), "nonzero"))))

# ---- elementwise unary ----
for name, domain in [("negative", "real"), ("abs", "nonzero"), ("sign", "nonzero"), ("exp", "real"),
                     ("expm1", "real"), ("log", "pos"), ("log1p", "pos"), ("log2", "pos"), ("sqrt", "pos"),
                     ("rsqrt", "pos"), ("square", "real"), ("reciprocal", "nonzero"), ("sin", "real"),
                     ("cos", "real"), ("tan", "unit"), ("asin", "unit"), ("acos", "unit"), ("atan", "real"),
                     ("sinh", "real"), ("cosh", "real"), ("tanh", "real"), ("asinh", "real"), ("acosh", "gt1"),
                     ("atanh", "unit"), ("erf", "real"), ("sigmoid", "real"), ("softplus", "real"),
                     ("relu", "nonzero"), ("relu6", "relu6"), ("elu", "nonzero"), ("selu", "nonzero"),
                     ("identity", "real")]:
    add(Record(name, ((S, domain),)))
add(Record("relu_grad", ((S, "real"), (S, "nonzero"))))
add(Record("relu6_grad", ((S, "real"), (S, "relu6"))))
add(Record("leaky_relu_grad", ((S, "real"), (S, "nonzero")), params=(0.2,)))
add(Record("leaky_relu", ((S, "nonzero"),), params=(0.3,)))
add(Record("cast", ((S, "real"),), params=(np.dtype(np.float64), np.dtype(np.float64)), dtypes=("float64",),
           note="float64 -> float32 -> float64 is checked in test_ops_conventions"))
add(Record("where", ((S, "real"), ((4,), "real")), params=(np.array([True, False, True, False]), S, (4,))))
add(Record("clip_by_value", ((S, "clip"),), params=(-1.0, 1.0)))

# ---- reductions and scans ----
for name, domain in [("reduce_sum", "real"), ("reduce_mean", "real"), ("reduce_max", "spread"),
                     ("reduce_min", "spread"), ("reduce_prod", "with_zeros")]:
    add(Record(name, (((2, 3, 4), domain),), params=((0, 2), False, (2, 3, 4))))
add(Record("cumsum", ((S, "real"),), params=(-1, True, True)))
add(Record("cumprod", (((3, 5), "with_zeros"),), params=(-1,), order=3,
           note="zeros included: the rule is a linear recurrence, exact at every order"))
add(Record("linear_recurrence", (((5,), "real"), ((3, 5), "real")), params=(-1, False), order=3))

# ---- shape and indexing ----
add(Record("reshape", ((S, "real"),), params=((2, 6), S)))
add(Record("broadcast_to", (((3, 1), "real"),), params=((2, 3, 4), (3, 1))))
add(Record("transpose", (((2, 3, 4), "real"),), params=((2, 0, 1),)))
add(Record("getitem", (((4, 5, 3), "real"),),
           params=_key((np.array([0, 2, 2]), slice(None, None, -2), np.array([1, 0, 1])), (4, 5, 3)),
           note="separated advanced indices with a repeated index (the gradient adds)"))
add(Record("scatter_into_zeros", (((3, 3), "real"),), params=_key((np.array([0, 2, 2]), slice(None)), (4, 3))))
add(Record("concat", ((S, "real"), ((3, 2), "real")), params=(-1, (4, 2), (3, 6))))
add(Record("pad", ((S, "real"),), params=(((1, 0), (2, 1)), 0.5, S)))
add(Record("stack", ((S, "real"), (S, "real"), (S, "real")), params=(-2, (3, 3, 4)),
           note="the middle axis: a rule's batch axes come before it"))
add(Record("reverse", ((S, "real"),), params=((-2, -1),)))
add(Record("tensor_scatter_nd", ((S, "real"), ((2, 4), "real")),
           params=_key((np.array([2, 0]),), S) + (False,)))

# ---- linear algebra ----
add(Record("matmul", (((2, 3, 4), "real"), ((4, 5), "real")), params=(False, False)))
add(Record("einsum", (((3, 3, 2), "real"), ((2, 4), "real")), params=_parse_einsum("iij,jk->ik", [(3, 3, 2), (2, 4)]),
           note="a diagonal and a contraction"))
add(Record("inv", (((2, 3, 3), "wellcond"),)))
add(Record("det", (((3, 3), "wellcond"),)))
add(Record("slogdet", (((3, 3), "wellcond"),), finish=lambda o: o[1]))
add(Record("solve", (((3, 3), "wellcond"), ((3, 2), "real")), params=(False,)))
add(Record("cholesky", (((3, 3), "spd"),), prepare=_sym, note="symmetric perturbations"))
add(Record("eigh", (((3, 3), "spd"),), prepare=_sym, finish=_eigh_finish, rtol=1e-4))
add(Record("svd", (((4, 3), "real"),), params=(False,), finish=_svd_finish, rtol=1e-4))
add(Record("diag_part", (((2, 3, 4), "real"),), params=(3, 4)))

# ---- nn ----
add(Record("softmax", ((S, "real"),), params=(-1,)))
add(Record("log_softmax", ((S, "real"),), params=(-2,)))
add(Record("sparse_softmax_cross_entropy_with_logits", ((S, "real"),), params=(np.array([0, 3, 1]),)))

# ---- segments, sorting, bands ----
add(Record("segment_max", (((5, 3), "spread"),), params=(np.array([0, 0, 2, 2, 2]), 3),
           note="an empty segment (output 0) between two segments"))
add(Record("top_k", (((3, 5), "spread"),), params=(3, False, np.dtype(np.int32)), finish=lambda o: o[0]))
add(Record("band_part", (((2, 3, 4), "real"),), params=(1, 2)))
add(Record("gather", (((4, 3), "real"),), params=(np.array([[2, 0], [2, 3]], np.int32), (4, 3)),
           note="the sparse gradient (IndexedSlices), a repeated row; densified by the checks"))
add(Record("unsorted_segment_sum", (((5, 3), "real"),), params=(np.array([2, 0, 2, -1, 1]), 4, (5, 3)),
           note="a repeated id, a dropped negative id and an empty segment"))

# ---- convolution and pooling: im2col / col2im (strides, dilations, uneven padding) and the window maximum ----
_WIN = ((2, 3), (2, 1), (1, 2), ((1, 0), (0, 2)))          # ks, ss, ds, pads
_IMG = (2, 5, 6, 3)
_P = (2, 3, 4, 2, 3, 3)                                       # its patches: (N, Ho, Wo, kh, kw, C)
add(Record("extract_patches", ((_IMG, "real"),), params=_WIN + (_IMG, 0)))
add(Record("patches_transpose", ((_P, "real"),), params=_WIN + (_IMG, 0)))
add(Record("window_max", ((_P, "spread"),), note="distinct values: no tie at the finite-difference step"))
add(Record("window_max_grad", (((2, 3, 4, 3), "real"), (_P, "spread"))))
add(Record("window_max_gather", ((_P, "real"), (_P, "spread"))))

# ---- complex numbers (issue 9) ----
_CX = ("complex128", "complex64")
add(Record("complex", ((S, "real"), ((4,), "real")), params=(np.dtype(np.complex128), S, (4,)), dtypes=("float64",),
           note="float64 parts; complex64 from float32 parts is checked in test_complex"))
add(Record("real", ((S, "real"),), dtypes=_CX))
add(Record("imag", ((S, "real"),), dtypes=_CX))
add(Record("conj", ((S, "real"),), dtypes=_CX))
add(Record("angle", ((S, "nonzero"),), dtypes=_CX))
# ---- Fourier transforms (issue 9) ----
add(Record("fft", (((2, 3, 4), "real"),), params=((-3, -1), False, "ortho"), dtypes=_CX))
add(Record("rfft", (((3, 6), "real"),), params=(-1, "backward")))
add(Record("irfft", (((3, 4), "real"),), params=(-2, 5, "forward"), dtypes=_CX,
           note="odd n along a non-last axis: the Hermitian weights 1, 2, 2"))

# ---- linear algebra (issue 9) ----
def _eig_finish(outs):
    import tapegrad as tg
    e, v = outs
    return _cat_outputs([tg.math.real(e), tg.math.imag(e), tg.math.real(v * tg.math.conj(v))])   # |v|**2: phase-free


add(Record("pinv", (((4, 3), "real"),), params=(1e-12,), note="full column rank"))
add(Record("eig", (((3, 3), "real"),), finish=_eig_finish, rtol=1e-4,
           note="a real matrix with a complex pair of eigenvalues; |v|**2 does not depend on each column's phase"))

def _qr_finish(outs):
    return _cat_outputs(list(outs))


add(Record("qr", (((4, 3), "real"),), params=(False,), finish=_qr_finish))

# ---- SciPy (ops/scipy_ops.py): special functions, the cdfs behind tapegrad.scipy.stats, linalg, signal ----


def _fixed(*where):
    """prepare: insert constant inputs (value, position) that have no derivative
    (an order, a shape parameter), in x's dtype and shape."""
    def prepare(*xs):
        x = xs[0]
        raw = x._value if isinstance(x, _core.Tensor) else x
        out = list(xs)
        for value, pos in where:
            c = np.full(np.shape(raw), value, dtype=np.result_type(raw))
            out.insert(pos, _core.wrap(c) if isinstance(x, _core.Tensor) else c)
        return tuple(out)
    return prepare


def scipy_record(*args, **kwargs):
    add(Record(*args, scipy=True, **kwargs))


for name, domain in [("gammaln", "pos"), ("digamma", "pos"), ("gamma", "pos"), ("rgamma", "pos"),
                     ("erfc", "real"), ("erfinv", "unit"), ("erfcinv", "erfc"), ("logit", "prob"),
                     ("i0", "real"), ("i1", "real"), ("j0", "real"), ("j1", "real"), ("y0", "pos"), ("y1", "pos"),
                     ("ndtr", "real"), ("log_ndtr", "real")]:
    scipy_record(name, ((S, domain),))
for name in ["beta", "betaln", "xlogy", "xlog1py"]:
    scipy_record(name, ((S, "pos"), ((4,), "pos")))
for name, order, domain in [("polygamma", 1.0, "pos"), ("jv", 1.5, "pos"), ("yn", 2.0, "pos"), ("iv", 0.5, "pos"),
                            ("ive", 1.0, "nonzero"), ("stdtr", 3.0, "real"), ("gammainc", 2.5, "pos"),
                            ("gammaincc", 2.5, "pos")]:
    scipy_record(name, ((S, domain),), prepare=_fixed((order, 0)), nograd=(0,),
                 note="the first input (an order, a shape or degrees of freedom) has no derivative")
scipy_record("betainc", ((S, "prob"),), prepare=_fixed((2.5, 0), (1.5, 1)), nograd=(0, 1),
             note="the shapes a and b have no derivative")
scipy_record("solve_triangular", (((3, 3), "wellcond"), ((3, 2), "real")), params=(1, True, False),
             note="a^T x = b with a lower triangular: the gradient of a is its lower triangle")
scipy_record("solve_sylvester", (((3, 3), "wellcond"), ((2, 2), "wellcond"), ((3, 2), "real")), rtol=1e-4)
scipy_record("sqrtm", (((3, 3), "spd"),), rtol=1e-4)
scipy_record("expm", (((3, 3), "real"),), rtol=1e-4)
scipy_record("convolve", (((4, 5), "real"), ((2, 3), "real")), params=("valid", "direct"))

RECORDS = {r.op: r for r in R}
assert len(RECORDS) == len(R), "two records for one op"

# ---- complex values (issue 9): ops already recorded above, checked again on complex inputs ----
C = []
_CX = ("complex128", "complex64")
for name, domain in [("negative", "real"), ("abs", "nonzero"), ("exp", "real"), ("expm1", "real"), ("log", "pos"),
                     ("log1p", "pos"), ("log2", "pos"), ("sqrt", "pos"), ("rsqrt", "pos"), ("square", "real"),
                     ("reciprocal", "nonzero"), ("sin", "real"), ("cos", "real"), ("tan", "unit"), ("asin", "unit"),
                     ("acos", "unit"), ("atan", "unit"), ("sinh", "real"), ("cosh", "real"), ("tanh", "unit"),
                     ("asinh", "unit"), ("acosh", "gt1"), ("atanh", "unit"), ("sigmoid", "unit"),
                     ("softplus", "unit"), ("identity", "real")]:
    C.append(Record(name, ((S, domain),), dtypes=_CX))
for name in ["add", "subtract", "multiply"]:
    C.append(Record(name, ((S, "real"), ((4,), "real")), dtypes=_CX))
C.append(Record("truediv", ((S, "real"), ((4,), "nonzero")), dtypes=_CX))
C.append(Record("pow", ((S, "pos"), ((4,), "real")), dtypes=_CX))
C.append(Record("reduce_sum", (((2, 3, 4), "real"),), params=((0, 2), False, (2, 3, 4)), dtypes=_CX))
C.append(Record("reduce_mean", (((2, 3, 4), "real"),), params=((0, 2), False, (2, 3, 4)), dtypes=_CX))
C.append(Record("matmul", (((2, 3, 4), "real"), ((5, 4), "real")), params=(False, True), dtypes=_CX))
C.append(Record("einsum", (((3, 3, 2), "real"), ((2, 4), "real")),
                params=_parse_einsum("iij,jk->ik", [(3, 3, 2), (2, 4)]), dtypes=_CX))
C.append(Record("transpose", (((2, 3, 4), "real"),), params=((2, 0, 1),), dtypes=_CX))
C.append(Record("cast", ((S, "real"),), params=(np.dtype(np.complex128), np.dtype(np.float64)), dtypes=("float64",),
                note="float64 -> complex128: the gradient is the real part"))
C.append(Record("inv", (((2, 3, 3), "wellcond"),), dtypes=_CX))
C.append(Record("det", (((3, 3), "wellcond"),), dtypes=_CX))
C.append(Record("slogdet", (((3, 3), "wellcond"),), finish=lambda o: o[1], dtypes=_CX))
C.append(Record("solve", (((3, 3), "wellcond"), ((3, 2), "real")), params=(False,), dtypes=_CX))
C.append(Record("irfft", (((3, 4), "real"),), params=(-1, 6, "backward"), dtypes=_CX,
                note="even n: the last input counts once"))
C.append(Record("pinv", (((3, 4), "real"),), params=(1e-12,), dtypes=_CX, note="full row rank"))
C.append(Record("eig", (((3, 3), "real"),), finish=_eig_finish, rtol=1e-4, dtypes=_CX))
C.append(Record("reduce_prod", (((2, 3, 4), "with_zeros"),), params=((0, 2), False, (2, 3, 4)), dtypes=_CX))
C.append(Record("cumprod", (((3, 5), "with_zeros"),), params=(-1,), dtypes=_CX))
C.append(Record("linear_recurrence", (((5,), "real"), ((3, 5), "real")), params=(-1, False), dtypes=_CX))
def _herm(a):
    return ((a + np.conjugate(np.swapaxes(a, -1, -2))) * 0.5,)


def _eigh_complex_finish(outs):
    import tapegrad as tg
    e, v = outs
    return _cat_outputs([e, tg.math.real(v * tg.math.conj(v))])        # |v|**2: free of each column's phase


C.append(Record("cholesky", (((3, 3), "hpd"),), prepare=_herm, dtypes=_CX, note="Hermitian perturbations"))
C.append(Record("eigh", (((3, 3), "hpd"),), prepare=_herm, finish=_eigh_complex_finish, rtol=1e-4, dtypes=_CX))
def _svd_complex_finish(outs):
    import tapegrad as tg
    s, u, v = outs
    return _cat_outputs([s, tg.math.real(u * tg.math.conj(u)), tg.math.real(v * tg.math.conj(v))])


C.append(Record("svd", (((4, 3), "real"),), params=(False,), finish=_svd_complex_finish, rtol=1e-4, dtypes=_CX))
C.append(Record("svd", (((2, 4), "real"),), params=(False,), finish=_svd_complex_finish, rtol=1e-4,
                dtypes=_CX, tag=",wide"))
C.append(Record("qr", (((4, 3), "real"),), params=(False,), finish=_qr_finish, dtypes=_CX))
C.append(Record("qr", (((2, 4), "real"),), params=(False,), finish=_qr_finish, dtypes=_CX, tag=",wide"))
C.append(Record("qr", (((3, 3), "real"),), params=(True,), finish=_qr_finish, dtypes=("float64", "float32"),
                tag=",square"))
C.append(Record("qr", (((2, 5), "real"),), params=(True,), finish=_qr_finish, dtypes=("float64", "float32"),
                tag=",wide"))
C.append(Record("cast", ((S, "real"),), params=(np.dtype(np.float64), np.dtype(np.complex128)), dtypes=("complex128",),
                tag=",to real", note="complex128 -> float64: the real part (TensorFlow's cast)"))
C.append(Record("exp2", ((S, "real"),), dtypes=_CX))
C.append(Record("log10", ((S, "pos"),), dtypes=_CX))
COMPLEX_RECORDS = {f"{r.op}[{r.dtypes[0]}{r.tag}]": r for r in C}
assert len(COMPLEX_RECORDS) == len(C), "two complex records for one op"


# ---- NumPy's elementwise functions TensorFlow lacks (ops/numpy_math.py) ----
for name, domain in [("exp2", "real"), ("log10", "pos"), ("cbrt", "pos"), ("sinc", "real")]:
    add(Record(name, ((S, domain),)))
for name in ["logaddexp", "logaddexp2", "hypot"]:
    add(Record(name, ((S, "real"), ((4,), "nonzero"))))
for name in ["fmax", "fmin"]:
    add(Record(name, ((S, "spread"), ((4,), "real"))))
RECORDS.update({r.op: r for r in R[len(RECORDS):]})
assert len(RECORDS) == len(R), "two records for one op"


# ---- NumPy functions on tensors that are compositions of the ops above ----
# (ops/numpy_arrays.py, ops/numpy_math.py, ndarray methods): no rule of their own, so each is
# checked as a function: its value against NumPy's on the same arrays, and its derivatives
# through the ops it is made of (tests/test_numpy_functions.py).

@dataclass
class NumpyRecord:
    name: str
    f: object                            # the NumPy program: the same code runs on ndarrays and on tensors
    args: tuple                          # ((shape, domain), ...)
    order: int = 2
    rtol: float = 1e-5
    atol: float = 1e-6

    def inputs(self, dtype=np.float64):
        r = _rng(self.name)
        return [np.asarray(DOMAINS[d](r, s), dtype=dtype) for s, d in self.args]


def _first(parts, i=0):
    return parts[i]


A, V, M = ((3, 4), "real"), ((4,), "real"), ((3, 3), "real")
NUMPY = [
    NumpyRecord("atleast_1d", lambda a: np.atleast_1d(a[0, 0]) * 1.0, (A,)),
    NumpyRecord("atleast_2d", lambda v: np.atleast_2d(v), (V,)),
    NumpyRecord("atleast_3d", lambda a, v: np.multiply(*np.atleast_3d(a, v)), (A, V)),
    NumpyRecord("hstack", lambda a, b: np.hstack([a, a * b]), (A, V)),
    NumpyRecord("vstack", lambda a, v: np.vstack([a, v]), (A, V)),
    NumpyRecord("row_stack", lambda a, v: np.vstack((v, a)), (A, V)),
    NumpyRecord("dstack", lambda a, b: np.dstack([a, b]), (A, A)),
    NumpyRecord("column_stack", lambda a, v: np.column_stack([v, a.T]), (A, V)),
    NumpyRecord("block", lambda m, a: np.block([[m, a], [a.T[:1], a[:1, :2]]]), (M, ((3, 2), "real"))),
    NumpyRecord("append", lambda a, v: np.append(a, v), (A, V)),
    NumpyRecord("append_axis", lambda a, v: np.append(a, v[None], axis=0), (A, V)),
    NumpyRecord("split", lambda a: np.split(a, 2, axis=1)[1], (A,)),
    NumpyRecord("split_indices", lambda a: np.split(a, [1, 3], axis=-1)[1], (A,)),
    NumpyRecord("array_split", lambda a: np.array_split(a, 3, axis=1)[0], (A,)),
    NumpyRecord("hsplit", lambda a: np.hsplit(a, [1])[1], (A,)),
    NumpyRecord("vsplit", lambda a: np.vsplit(a, 3)[2], (A,)),
    NumpyRecord("dsplit", lambda a: np.dsplit(np.reshape(a, (1, 3, 4)), 2)[0], (A,)),
    NumpyRecord("repeat", lambda a: np.repeat(a, [1, 2, 0, 3], axis=1), (A,)),
    NumpyRecord("repeat_flat", lambda a: np.repeat(a, 2), (A,)),
    NumpyRecord("roll", lambda a: np.roll(a, (1, -5), axis=(0, 1)), (A,)),
    NumpyRecord("roll_flat", lambda a: np.roll(a, 5), (A,)),
    NumpyRecord("rot90", lambda a: np.rot90(a), (A,)),
    NumpyRecord("rot90_k3", lambda a: np.rot90(np.reshape(a, (2, 3, 2)), 3, axes=(2, 0)), (A,)),
    NumpyRecord("rollaxis", lambda a: np.rollaxis(np.reshape(a, (3, 2, 2)), 2), (A,)),
    NumpyRecord("fliplr", lambda a: np.fliplr(a), (A,)),
    NumpyRecord("flipud", lambda a: np.flipud(a), (A,)),
    NumpyRecord("reshape_F", lambda a: np.reshape(a, (2, -1), order="F"), (A,)),
    NumpyRecord("ravel_F", lambda a: np.ravel(a, order="F"), (A,)),
    NumpyRecord("diag_matrix", lambda a: np.diag(a, -1), (A,)),
    NumpyRecord("diag_vector", lambda v: np.diag(v, 2), (V,)),
    NumpyRecord("tril", lambda a: np.tril(a, 1), (A,)),
    NumpyRecord("triu", lambda a: np.triu(a, -1), (A,)),
    NumpyRecord("trace", lambda a: np.trace(np.reshape(a, (2, 3, 2)), 1, axis1=2, axis2=1), (A,)),
    NumpyRecord("diagonal", lambda a: np.diagonal(a, -1), (A,)),
    NumpyRecord("diff", lambda a: np.diff(a, n=2, axis=1, prepend=1.0, append=a[:, :1]), (A,)),
    NumpyRecord("gradient", lambda a: np.gradient(a, 0.5)[1], (A,)),
    NumpyRecord("gradient_edge2", lambda a: np.gradient(a, edge_order=2, axis=0), (A,)),
    NumpyRecord("gradient_coordinates", lambda a: np.multiply(*np.gradient(a, [0.0, 1.0, 1.5], [0, 0.5, 1.5, 1.7],
                                                                          edge_order=2)), (A,)),
    NumpyRecord("select", lambda a: np.select([np.asarray(a) > 0.5, np.asarray(a) < -1], [a, a * a], 3.0), (A,)),
    NumpyRecord("linspace", lambda a, b: np.linspace(a, b, 5), (V, V)),
    NumpyRecord("linspace_axis", lambda a, b: np.linspace(a, b, 4, endpoint=False, axis=1), (V, V)),
    NumpyRecord("sort", lambda a: np.sort(a, axis=0), (((3, 4), "spread"),)),
    NumpyRecord("partition", lambda a: np.partition(a, 2, axis=1), (((3, 4), "spread"),)),
    NumpyRecord("inner", lambda a, v: np.inner(a, v), (A, V)),
    NumpyRecord("outer", lambda a, v: np.outer(a, v), (A, V)),
    NumpyRecord("kron", lambda a, v: np.kron(a, v), (A, V)),
    NumpyRecord("kron_2d", lambda m, a: np.kron(m, a), (((2, 2), "real"), ((2, 3), "real"))),
    NumpyRecord("cross", lambda a, b: np.cross(a, b), (((2, 3), "real"), ((2, 3), "real"))),
    NumpyRecord("einsum_sublists", lambda a, v: np.einsum(a, [0, 1], v, [1], [0]), (A, V)),
    NumpyRecord("einsum_ellipsis", lambda a, b: np.einsum(a, [Ellipsis, 1], b, [1, 2]), (A, ((4, 2), "real"))),
    NumpyRecord("fabs", lambda a: np.fabs(a), (((3, 4), "nonzero"),)),
    NumpyRecord("degrees", lambda a: np.degrees(a) + np.rad2deg(a), (A,)),
    NumpyRecord("radians", lambda a: np.radians(a) * np.deg2rad(a), (A,)),
    NumpyRecord("nan_to_num", lambda a: np.nan_to_num(np.log(a)), (A,)),
    NumpyRecord("sinc_near_zero", lambda a: np.sinc(a * 0.2), (A,)),
    NumpyRecord("method_T", lambda a: a.T @ a, (A,)),
    NumpyRecord("method_reshape", lambda a: a.reshape(2, 6).sum(0) + a.reshape((6, 2)).mean(axis=1), (A,)),
    NumpyRecord("method_reductions", lambda a: a.std(axis=0) + a.var(0, ddof=1) + a.max(0) * a.min(0)
                + a.prod(axis=0), (((3, 4), "spread"),)),
    NumpyRecord("method_scans", lambda a: a.cumsum(axis=1) + a.cumprod(1), (A,)),
    NumpyRecord("method_shapes", lambda a: a.ravel() + a.flatten() + a.transpose().swapaxes(0, 1).ravel()
                + a[None].squeeze(0).ravel() + a.copy().ravel(), (A,)),
    NumpyRecord("method_matrix", lambda a: a.dot(a.T).trace() + a.diagonal(1).sum() + a.repeat(2, axis=0).sum(),
                (A,)),
    NumpyRecord("method_clip", lambda a: a.clip(-0.5, 0.5), (((3, 4), "clip"),)),
]
if numpy_arrays._numpy_takes_2d_cross():     # NumPy removed 2-element vectors from np.cross after 2.4
    NUMPY += [
        NumpyRecord("cross_2_3", lambda a, b: np.cross(a, b, axisa=0, axisc=0), (((2, 4), "real"), ((4, 3), "real"))),
        NumpyRecord("cross_2d", lambda a, b: np.cross(a, b), (((4, 2), "real"), ((2,), "real"))),
    ]
NUMPY_RECORDS = {r.name: r for r in NUMPY}
assert len(NUMPY_RECORDS) == len(NUMPY), "two NumPy records with one name"

# ---- a matrix times a vector: the @ operator's W @ x as one op (params: (transpose_a,)) ----
add(Record("matvec", (((3, 4), "real"), ((3,), "real")), params=(True,), note="a.T @ b, as b's gradient calls it"))
RECORDS.update({r.op: r for r in R[len(RECORDS):]})
assert len(RECORDS) == len(R), "two records for one op"
C.append(Record("matvec", (((3, 4), "real"), ((4,), "real")), params=(False,), dtypes=_CX))
COMPLEX_RECORDS.update({f"{r.op}[{r.dtypes[0]}{r.tag}]": r for r in C[len(COMPLEX_RECORDS):]})
assert len(COMPLEX_RECORDS) == len(C), "two complex records for one op"
