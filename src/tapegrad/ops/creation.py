"""Creating tensors: constants, ranges, fills and random values.  Created
tensors are constants: the tape records nothing until they are watched."""
import numpy as np

from tapegrad import _core, dtypes
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._registry import numpy_function


def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor.  Python floats become float32 and ints int32 (as in
    TensorFlow); NumPy values keep their dtype.  The value is copied."""
    raw = _core.raw_from_python(value, dtypes.numpy_dtype(dtype))
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        raw = _core.raw_from_python(np.broadcast_to(raw, shape) if np.size(raw) == 1 else np.reshape(raw, shape))
    return _core.wrap(raw)


def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    if isinstance(value, Tensor):
        if dtype is not None and dtypes.as_dtype(dtype) != value.dtype:
            raise ValueError(f"Tensor conversion requested dtype {dtypes.as_dtype(dtype).name} for Tensor "
                             f"with dtype {value.dtype.name}: {value!r}")
        return value
    if isinstance(value, Variable):
        return value.value()
    if dtype is None and dtype_hint is not None and not isinstance(value, (np.ndarray, np.generic)):
        try:
            return constant(value, dtype_hint)
        except (TypeError, ValueError):
            pass
    return constant(value, dtype)


def is_tensor(x):
    return isinstance(x, (Tensor, Variable))


def stop_gradient(input, name=None):
    """The same value as a new constant: tapes see no path through it."""
    if isinstance(input, Tensor):
        return _core.wrap(input._value)
    if isinstance(input, Variable):
        return _core.wrap(input._value)
    return constant(input)


def zeros(shape, dtype=dtypes.float32, name=None):
    return _core.wrap(np.zeros(_shape(shape), dtype=dtypes.numpy_dtype(dtype)))


def ones(shape, dtype=dtypes.float32, name=None):
    return _core.wrap(np.ones(_shape(shape), dtype=dtypes.numpy_dtype(dtype)))


def fill(dims, value, name=None):
    raw = _core.raw_from_python(value)
    return _core.wrap(np.full(_shape(dims), raw, dtype=np.result_type(raw)))


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    m = np.eye(int(num_rows), None if num_columns is None else int(num_columns), dtype=dtypes.numpy_dtype(dtype))
    if batch_shape is not None:
        m = np.broadcast_to(m, _shape(batch_shape) + m.shape).copy()
    return _core.wrap(m)


def _like_dtype(input, dtype):
    if dtype is not None:
        return dtypes.numpy_dtype(dtype)
    return np.result_type(_core.as_tensor(input)._value)


@numpy_function(np.zeros_like)
def zeros_like(input, dtype=None, name=None, **np_kwargs):
    """Zeros shaped like input: a constant (TensorFlow: no gradient through it)."""
    return _core.wrap(np.zeros(np.shape(_core.as_tensor(input)._value), dtype=_like_dtype(input, dtype)))


@numpy_function(np.ones_like)
def ones_like(input, dtype=None, name=None, **np_kwargs):
    return _core.wrap(np.ones(np.shape(_core.as_tensor(input)._value), dtype=_like_dtype(input, dtype)))


def _shape(shape):
    if isinstance(shape, (Tensor, Variable)):
        shape = np.asarray(shape).tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 - TensorFlow's name
    """tf.range: int32 for integer arguments, float32 if any is a float."""
    if limit is None:
        start, limit = 0, start
    vals = [np.asarray(v).item() if isinstance(v, (Tensor, Variable)) else v for v in (start, limit, delta)]
    if dtype is None:
        dt = np.float32 if any(isinstance(v, float) for v in vals) else np.int32
        for v in (start, limit, delta):
            if isinstance(v, (Tensor, Variable, np.ndarray, np.generic)):
                dt = np.result_type(dt, np.asarray(v).dtype)
    else:
        dt = dtypes.numpy_dtype(dtype)
    return _core.wrap(np.arange(*vals).astype(dt))


def linspace(start, stop, num, name=None, axis=0):
    s = np.asarray(_core.raw_from_python(start))
    dt = s.dtype if s.dtype.kind == "f" else np.float32
    return _core.wrap(np.linspace(np.asarray(start, dt), np.asarray(stop, dt), int(num), axis=axis).astype(dt))


def size(input, out_type=dtypes.int32, name=None):
    return _core.wrap(np.asarray(np.size(_core.as_tensor(input)._value), dtype=dtypes.numpy_dtype(out_type)))


def shape(input, out_type=dtypes.int32, name=None):
    return _core.wrap(np.asarray(np.shape(_core.as_tensor(input)._value), dtype=dtypes.numpy_dtype(out_type)))


def rank(input, name=None):
    return _core.wrap(np.int32(np.ndim(_core.as_tensor(input)._value)))


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """tf.one_hot: a constant (indices are integers: nothing to differentiate);
    indices outside [0, depth) give all-off rows, as in TensorFlow."""
    idx = np.asarray(indices)
    if idx.dtype.kind not in "iu":
        raise TypeError(f"one_hot: indices must be integers, got dtype {idx.dtype}")
    depth = int(depth)
    if depth < 0:
        raise InvalidArgumentError(f"one_hot: depth must be non-negative, got {depth}")
    dt = dtypes.numpy_dtype(dtype) if dtype is not None else (
        np.result_type(np.asarray(on_value)) if on_value is not None and not isinstance(on_value, float)
        else np.dtype(np.float32))
    on = np.asarray(1 if on_value is None else on_value, dtype=dt)
    off = np.asarray(0 if off_value is None else off_value, dtype=dt)
    hot = idx[..., None] == np.arange(depth)
    out = np.where(hot, on, off).astype(dt)
    if axis is not None and axis != -1:
        out = np.moveaxis(out, -1, int(axis))
    return _core.wrap(out)


# ---- random: TensorFlow's global-seed semantics over NumPy generators ---------------------
# set_seed(s) makes every later sequence of random ops repeat; an op-level
# seed gives that op its own stream (repeated calls still differ, as in TF).

_global_seed = None
_generator = None            # made on first use: importing numpy.random costs ~20 ms
_op_generators = {}


def set_seed(seed):
    """tf.random.set_seed: reset the global seed (and every op-seed stream)."""
    global _generator, _global_seed
    _global_seed = None if seed is None else int(seed)
    _generator = np.random.default_rng(_global_seed)
    _op_generators.clear()


def _rng(seed):
    global _generator
    if seed is None:
        if _generator is None:
            _generator = np.random.default_rng(_global_seed)
        return _generator
    key = (_global_seed, int(seed))
    gen = _op_generators.get(key)
    if gen is None:
        gen = _op_generators[key] = np.random.default_rng([int(seed)] + ([] if _global_seed is None
                                                                           else [_global_seed]))
    return gen


def _float_dtype_of(dtype, op):
    dt = dtypes.numpy_dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"{op}: dtype must be a floating point type, got {dt.name}")
    return dt


def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    dt = _float_dtype_of(dtype, "random.normal")
    return _core.wrap((_rng(seed).standard_normal(_shape(shape)) * stddev + mean).astype(dt))


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal values redrawn until within two standard deviations of the mean."""
    dt = _float_dtype_of(dtype, "random.truncated_normal")
    gen = _rng(seed)
    z = gen.standard_normal(_shape(shape))
    bad = np.abs(z) > 2
    while bad.any():
        z[bad] = gen.standard_normal(int(bad.sum()))
        bad = np.abs(z) > 2
    return _core.wrap((z * stddev + mean).astype(dt))


def uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    gen = _rng(seed)
    dt = dtypes.numpy_dtype(dtype)
    if dt.kind in "iu":
        if maxval is None:
            raise ValueError("Must specify maxval for integer dtype")
        if not minval < maxval:
            raise InvalidArgumentError(f"random.uniform: need minval < maxval, got {minval} >= {maxval}")
        return _core.wrap(gen.integers(minval, maxval, _shape(shape)).astype(dt))
    if dt.kind != "f":
        raise ValueError(f"random.uniform: dtype must be a float or integer type, got {dt.name}")
    maxval = 1.0 if maxval is None else maxval
    return _core.wrap(gen.uniform(minval, maxval, _shape(shape)).astype(dt))


def shuffle(value, seed=None, name=None):
    """A random permutation along the first axis: a new constant (TensorFlow
    registers no gradient for RandomShuffle)."""
    v = np.array(_core.as_tensor(value)._value)
    if v.ndim == 0:
        raise InvalidArgumentError("random.shuffle: value must have rank >= 1")
    return _core.wrap(v[_rng(seed).permutation(v.shape[0])])
