"""PyTorch's autograd API on tapegrad's engine: ``import tapegrad.torch as torch``.

    x = torch.arange(4.0, requires_grad=True)
    y = 2 * torch.dot(x, x)
    y.backward()
    x.grad                      # tensor([ 0.,  4.,  8., 12.])

The graph belongs to the tensors: each result of a recorded op holds the node that
made it, nothing else does, so a dropped result frees its graph; backward() frees
the values it used unless retain_graph=True.  Every op is a registered tapegrad op
with its one set of rules.  See docs/guides/pytorch.md for what ports and what not.
"""
import builtins

import numpy as np

from tapegrad import __version__, _graph
from tapegrad.torch import autograd, linalg, nn
from tapegrad.torch._grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from tapegrad.torch._tensor import (Size, Tensor, backward, bool_, cat, clamp, complex64, complex128, dot, dtype,
                                    float16, float32, float64, from_numpy, get_default_dtype, int8, int16, int32,
                                    int64, log_softmax, matmul, maximum, mean, minimum, mm, mv, norm, numpy_dtype,
                                    result_type, set_default_dtype, softmax, stack, sum, tensor, uint8, where)
from tapegrad.torch._tensor import _shape_args

bool = bool_  # noqa: A001 (PyTorch's name)
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
cfloat = complex64
cdouble = complex128
clip = clamp


# ---------------------------------------------------------------- creation

def _make(value, dtype, requires_grad):
    t = _graph.new_tensor(value if dtype is None else np.asarray(value).astype(numpy_dtype(dtype)))
    if requires_grad:
        t._set_requires_grad(True, "Only Tensors of floating point and complex dtype can require gradients")
    return t


def _size(size, name):
    shape = _shape_args(size)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(shape)}")
    return shape


def _float_dt(dtype):
    return get_default_dtype().np if dtype is None else numpy_dtype(dtype)


def zeros(*size_, size=None, dtype=None, requires_grad=False):
    size = (size,) if size is not None and not size_ else size_
    return _make(np.zeros(_size(size, "zeros"), dtype=_float_dt(dtype)), None, requires_grad)


def ones(*size_, size=None, dtype=None, requires_grad=False):
    size = (size,) if size is not None and not size_ else size_
    return _make(np.ones(_size(size, "ones"), dtype=_float_dt(dtype)), None, requires_grad)


def empty(*size, dtype=None, requires_grad=False):
    return zeros(*size, dtype=dtype, requires_grad=requires_grad)


def full(size, fill_value, dtype=None, requires_grad=False):
    if not isinstance(size, (tuple, list, Size)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    if dtype is None:
        dtype = tensor(fill_value).dtype
    return _make(np.full(_size((size,), "full"), fill_value, dtype=numpy_dtype(dtype)), None, requires_grad)


def eye(n, m=None, dtype=None, requires_grad=False):
    return _make(np.eye(n, m, dtype=_float_dt(dtype)), None, requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    ints = all(isinstance(v, (builtins.int, np.integer)) for v in (start, end, step))
    dt = numpy_dtype(dtype) if dtype is not None else (np.dtype(np.int64) if ints else get_default_dtype().np)
    return _make(np.arange(start, end, step).astype(dt), None, requires_grad)


def linspace(start, end, steps, dtype=None, requires_grad=False):
    v = np.linspace(start, end, steps)
    dt = _float_dt(dtype)
    return _make(np.trunc(v).astype(dt) if dt.kind in "iu" else v.astype(dt), None, requires_grad)


def zeros_like(x, dtype=None, requires_grad=False):
    return _make(np.zeros(np.shape(x._value), dtype=numpy_dtype(dtype or x.dtype)), None, requires_grad)


def ones_like(x, dtype=None, requires_grad=False):
    return _make(np.ones(np.shape(x._value), dtype=numpy_dtype(dtype or x.dtype)), None, requires_grad)


def empty_like(x, dtype=None, requires_grad=False):
    return zeros_like(x, dtype, requires_grad)


def full_like(x, fill_value, dtype=None, requires_grad=False):
    return _make(np.full(np.shape(x._value), fill_value, dtype=numpy_dtype(dtype or x.dtype)), None, requires_grad)


def as_tensor(data, dtype=None):
    if isinstance(data, Tensor):
        return data if dtype is None else data.to(dtype)
    if isinstance(data, np.ndarray) and (dtype is None or numpy_dtype(dtype) == data.dtype):
        return from_numpy(data)
    return tensor(data, dtype=dtype)


def is_tensor(x):
    return isinstance(x, Tensor)


def numel(x):
    return x.numel()


def equal(a, b):
    return a.shape == b.shape and builtins.bool(np.array_equal(a._value, b._value))


def allclose(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    return builtins.bool(np.allclose(a._value, b._value, rtol=rtol, atol=atol, equal_nan=equal_nan))


def is_floating_point(x):
    return x.is_floating_point()


# ---------------------------------------------------------------- random

class Generator:
    """torch.Generator over NumPy's PCG64 (PyTorch's values are not reproduced)."""

    def __init__(self, seed=None):
        self.manual_seed(67280421310721 if seed is None else seed)

    def manual_seed(self, seed):
        self._rng = np.random.default_rng(builtins.int(seed))
        self._seed = builtins.int(seed)
        return self

    def initial_seed(self):
        return self._seed


default_generator = Generator()


def manual_seed(seed):
    return default_generator.manual_seed(seed)


def seed():
    s = builtins.int(np.random.SeedSequence().entropy % (2 ** 63))
    default_generator.manual_seed(s)
    return s


def _rand_dt(dtype, kernel):
    dt = _float_dt(dtype)
    if dt.kind not in "fc":
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{tensor(0, dtype=dtype).dtype._legacy}'")
    return dt


def randn(*size_, size=None, dtype=None, requires_grad=False, generator=None):
    size = size if size is not None and not size_ else size_
    dt = _rand_dt(dtype, "normal_kernel_cpu")
    g = generator or default_generator
    return _make(g._rng.standard_normal(_size(size, "randn")).astype(dt), None, requires_grad)


def rand(*size_, size=None, dtype=None, requires_grad=False, generator=None):
    size = size if size is not None and not size_ else size_
    dt = _rand_dt(dtype, "check_uniform_bounds")
    g = generator or default_generator
    return _make(g._rng.random(_size(size, "rand")).astype(dt), None, requires_grad)


def randint(low, high=None, size=None, dtype=None, requires_grad=False, generator=None):
    if high is None or (size is None and isinstance(high, (tuple, list))):
        low, high, size = 0, low, high
    g = generator or default_generator
    return _make(g._rng.integers(low, high, size=_size((size,), "randint")).astype(numpy_dtype(dtype or int64)),
                 None, requires_grad)


def normal(mean=0.0, std=1.0, size=None, dtype=None, requires_grad=False, generator=None):
    g = generator or default_generator
    return _make((g._rng.standard_normal(_size((size,), "normal")) * std + mean).astype(_float_dt(dtype)), None,
                 requires_grad)


def randn_like(x, dtype=None, requires_grad=False):
    return randn(*x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


def rand_like(x, dtype=None, requires_grad=False):
    return rand(*x.shape, dtype=dtype or x.dtype, requires_grad=requires_grad)


# ---------------------------------------------------------------- math (functions of the Tensor methods)

def _method(name):
    def f(x, *args, **kwargs):
        return getattr(x, name)(*args, **kwargs)
    f.__name__ = name
    f.__doc__ = f"torch.{name}(x, ...) = x.{name}(...)"
    return f


exp = Tensor.exp
log = Tensor.log
sin = Tensor.sin
cos = Tensor.cos
tan = Tensor.tan
tanh = Tensor.tanh
sigmoid = Tensor.sigmoid
relu = Tensor.relu
sqrt = Tensor.sqrt
abs = Tensor.abs  # noqa: A001
neg = _method("neg")
square = _method("square")
log1p = _method("log1p")
expm1 = _method("expm1")
sign = _method("sign")
reciprocal = _method("reciprocal")
prod = _method("prod")
amax = _method("amax")
argmax = _method("argmax")
argmin = _method("argmin")
reshape = _method("reshape")
flatten = _method("flatten")
t = _method("t")
transpose = _method("transpose")
permute = _method("permute")
unsqueeze = _method("unsqueeze")
squeeze = _method("squeeze")
detach = _method("detach")
clone = _method("clone")
max = _method("max")  # noqa: A001
min = _method("min")  # noqa: A001


def pow(x, exponent):  # noqa: A001
    return x ** exponent


add = Tensor.add
sub = Tensor.sub
mul = Tensor.mul
div = Tensor.div


__all__ = [n for n in dir() if not n.startswith("_") and n not in ("builtins", "np")]
