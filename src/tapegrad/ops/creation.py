"""Creating tensors: constants, ranges, fills and random values.  Created
tensors are constants: the tape records nothing until they are watched."""
import numpy as np

from tapegrad import _core, dtypes
from tapegrad._core import Tensor, Variable
from tapegrad.errors import InvalidArgumentError
from tapegrad.ops._docs import op_doc
from tapegrad.ops._registry import numpy_function


@op_doc(
    tf="``tf.constant``",
    numpy="``numpy.array`` (a copy)",
    returns="A new Tensor (a Tensor of the requested dtype: that Tensor itself).",
    dtypes="every dtype NumPy has (bool, integers, floats, complex).",
    derivative="none: a new constant with no history; ``tape.watch`` it to differentiate with respect to it (a "
               "Tensor passed in as it is keeps its history).",
    args={"value": ("number, bool, nested list, NumPy array or Tensor", "the value, copied."),
          "dtype": ("DType, NumPy dtype or None", "convert to this dtype; None: TensorFlow's rule (Python floats "
                                                  "float32, ints int32, NumPy values keep theirs)."),
          "shape": ("tuple of ints or None", "reshape to this shape; a single value fills it.")},
    raises="TypeError: a value that does not fit the dtype (a fraction for an integer dtype).",
    example="""
        >>> tg.constant([1, 2])
        <tapegrad.Tensor: shape=(2,), dtype=int32, numpy=array([1, 2], dtype=int32)>
        >>> tg.constant(0.5, dtype=tg.float64)
        <tapegrad.Tensor: shape=(), dtype=float64, numpy=0.5>
        >>> tg.constant(7.0, shape=(2, 2)).numpy()
        array([[7., 7.],
               [7., 7.]], dtype=float32)
    """)
def constant(value, dtype=None, shape=None, name=None):
    """A constant tensor.  Python floats become float32 and ints int32 (as in
    TensorFlow); NumPy values keep their dtype.  The value is copied, except
    that a Tensor of the requested dtype is returned as it is (TensorFlow's
    eager constant does the same), so it stays connected to the tape."""
    if isinstance(value, Tensor) and shape is None and (dtype is None or dtypes.as_dtype(dtype) == value.dtype):
        return value
    raw = _core.raw_from_python(value, dtypes.numpy_dtype(dtype))
    if shape is not None:
        shape = tuple(int(d) for d in shape)
        raw = _core.raw_from_python(np.broadcast_to(raw, shape) if np.size(raw) == 1 else np.reshape(raw, shape))
    return _core.wrap(raw)


@op_doc(
    tf="``tf.convert_to_tensor``",
    numpy="``numpy.asarray``",
    returns="A Tensor: `value` itself if it already is one, a read of a Variable, else a new constant.",
    summary="`value` as a Tensor: a Tensor is returned as it is, a Variable is read, anything else becomes a "
            "constant.",
    dtypes="every dtype.",
    derivative="the identity for a Tensor or Variable (a Variable's read is watched as usual); none for other values.",
    args={"value": ("Tensor, Variable, number, nested list or NumPy array", "what to convert."),
          "dtype": ("DType, NumPy dtype or None", "the required dtype; a Tensor of another dtype raises ValueError."),
          "dtype_hint": ("DType, NumPy dtype or None", "the dtype to try for a Python value when dtype is None.")},
    raises="ValueError: a Tensor whose dtype is not `dtype`.",
    example="""
        >>> tg.convert_to_tensor([1.0, 2.0], dtype_hint=tg.float64)
        <tapegrad.Tensor: shape=(2,), dtype=float64, numpy=array([1., 2.])>
    """)
def convert_to_tensor(value, dtype=None, dtype_hint=None, name=None):
    if isinstance(value, Tensor):
        if dtype is not None and dtypes.as_dtype(dtype) != value.dtype:
            raise ValueError(f"Tensor conversion requested dtype {dtypes.as_dtype(dtype).name} for Tensor "
                             f"with dtype {value.dtype.name}: {value!r}")
        return value
    if isinstance(value, Variable):
        return value.value()
    conversion = getattr(type(value), "_tensor_conversion", None)    # IndexedSlices: densified
    if conversion is not None:
        return conversion(value, None if dtype is None else dtypes.numpy_dtype(dtype))
    if dtype is None and dtype_hint is not None and not isinstance(value, (np.ndarray, np.generic)):
        try:
            return constant(value, dtype_hint)
        except (TypeError, ValueError):
            pass
    return constant(value, dtype)


@op_doc(
    tf="``tf.is_tensor``",
    numpy="has none",
    returns="True for a tapegrad Tensor or Variable, else False.",
    summary="Whether x is a tapegrad Tensor or Variable.",
    dtypes="any.",
    derivative="none: the result is a Python bool.",
    args={"x": ("any object", "what to test.")},
    example="""
        >>> tg.is_tensor(tg.constant(1.0)), tg.is_tensor(1.0)
        (True, False)
    """)
def is_tensor(x):
    return isinstance(x, (Tensor, Variable))


@op_doc(
    tf="``tf.stop_gradient``",
    numpy="has none",
    returns="A Tensor with the same value, as a new constant.",
    dtypes="every dtype.",
    derivative="none: tapes see no path through it, so the gradient of anything computed from the result with "
               "respect to the input is None (or flows only along other paths).",
    example="""
        >>> x = tg.Variable(2.0)
        >>> with tg.GradientTape() as tape:
        ...     y = tg.stop_gradient(x * x) * x     # d/dx = x*x, not 3 x*x
        >>> tape.gradient(y, x)
        <tapegrad.Tensor: shape=(), dtype=float32, numpy=4.0>
    """)
def stop_gradient(input, name=None):
    """The same value as a new constant: tapes see no path through it."""
    if isinstance(input, (Tensor, Variable)):
        out = _core.wrap(input._value)
        _core.note_cut("stop_gradient", None, input, out)       # for GradientTape.explain
        return out
    return constant(input)


@op_doc(
    tf="``tf.zeros``",
    numpy="``numpy.zeros``",
    returns="A Tensor of zeros.",
    summary="A tensor of zeros.",
    dtypes="every dtype; float32 by default.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.zeros((2, 3)).numpy()
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """)
def zeros(shape, dtype=dtypes.float32, name=None):
    return _core.wrap(np.zeros(_shape(shape), dtype=dtypes.numpy_dtype(dtype)))


@op_doc(
    tf="``tf.ones``",
    numpy="``numpy.ones``",
    returns="A Tensor of ones.",
    summary="A tensor of ones.",
    dtypes="every dtype; float32 by default.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.ones(3, dtype=tg.int32)
        <tapegrad.Tensor: shape=(3,), dtype=int32, numpy=array([1, 1, 1], dtype=int32)>
    """)
def ones(shape, dtype=dtypes.float32, name=None):
    return _core.wrap(np.ones(_shape(shape), dtype=dtypes.numpy_dtype(dtype)))


@op_doc(
    tf="``tf.fill``",
    numpy="``numpy.full``",
    returns="A Tensor of shape `dims` filled with `value`, of value's dtype.",
    summary="A tensor of the given shape with every element equal to `value`.",
    args={"dims": ("list or tuple of ints, or a 1-d integer Tensor", "the result's shape."),
          "value": ("scalar", "the value (Python floats become float32).")},
    dtypes="every dtype.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.fill([2], 9.0)
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([9., 9.], dtype=float32)>
    """)
def fill(dims, value, name=None):
    raw = _core.raw_from_python(value)
    return _core.wrap(np.full(_shape(dims), raw, dtype=np.result_type(raw)))


@op_doc(
    tf="``tf.eye``",
    numpy="``numpy.eye``",
    returns="A Tensor of shape batch_shape + (num_rows, num_columns).",
    summary="Identity matrices (ones on the main diagonal, zeros elsewhere), optionally a batch of them.",
    args={"num_rows": ("int", "rows of each matrix."),
          "num_columns": ("int or None", "columns; None means num_rows."),
          "batch_shape": ("list or tuple of ints, or None", "leading batch dimensions.")},
    dtypes="every dtype; float32 by default.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.eye(2).numpy()
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """)
def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    m = np.eye(int(num_rows), None if num_columns is None else int(num_columns), dtype=dtypes.numpy_dtype(dtype))
    if batch_shape is not None:
        m = np.broadcast_to(m, _shape(batch_shape) + m.shape).copy()
    return _core.wrap(m)


def _like_dtype(input, dtype):
    if dtype is not None:
        return dtypes.numpy_dtype(dtype)
    return np.result_type(_core.as_tensor(input)._value)


@op_doc(
    tf="``tf.zeros_like``",
    numpy="``numpy.zeros_like``",
    returns="A Tensor of zeros with input's shape (and dtype unless `dtype` is given).",
    args={"np_kwargs": ("keyword arguments", "accepted when NumPy's ``numpy.zeros_like`` is called on a Tensor; "
                                             "ignored.")},
    dtypes="every dtype.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.zeros_like([[1, 2]])
        <tapegrad.Tensor: shape=(1, 2), dtype=int32, numpy=array([[0, 0]], dtype=int32)>
    """)
@numpy_function(np.zeros_like)
def zeros_like(input, dtype=None, name=None, **np_kwargs):
    """Zeros shaped like input: a constant (TensorFlow: no gradient through it)."""
    return _core.wrap(np.zeros(np.shape(_core.as_tensor(input)._value), dtype=_like_dtype(input, dtype)))


@op_doc(
    tf="``tf.ones_like``",
    numpy="``numpy.ones_like``",
    returns="A Tensor of ones with input's shape (and dtype unless `dtype` is given).",
    summary="Ones shaped like input: a constant (TensorFlow: no gradient through it).",
    args={"np_kwargs": ("keyword arguments", "accepted when NumPy's ``numpy.ones_like`` is called on a Tensor; "
                                             "ignored.")},
    dtypes="every dtype.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.ones_like(tg.constant([1.5, 2.5]))
        <tapegrad.Tensor: shape=(2,), dtype=float32, numpy=array([1., 1.], dtype=float32)>
    """)
@numpy_function(np.ones_like)
def ones_like(input, dtype=None, name=None, **np_kwargs):
    return _core.wrap(np.ones(np.shape(_core.as_tensor(input)._value), dtype=_like_dtype(input, dtype)))


def _shape(shape):
    if isinstance(shape, (Tensor, Variable)):
        shape = np.asarray(shape).tolist()
    if isinstance(shape, (int, np.integer)):
        return (int(shape),)
    return tuple(int(d) for d in shape)


@op_doc(
    tf="``tf.range``",
    numpy="``numpy.arange``",
    returns="A 1-d Tensor: start, start + delta, ... up to but excluding limit.",
    summary="Evenly spaced values in [start, limit): int32 for integer arguments, float32 if any is a Python float "
            "(TensorFlow's rule).",
    args={"start": ("number or scalar Tensor", "the first value; the limit if `limit` is None (then start is 0)."),
          "limit": ("number, scalar Tensor or None", "the end, excluded."),
          "delta": ("number or scalar Tensor", "the step.")},
    dtypes="integer and floating dtypes.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.range(4)
        <tapegrad.Tensor: shape=(4,), dtype=int32, numpy=array([0, 1, 2, 3], dtype=int32)>
        >>> tg.range(0, 1, 0.25)
        <tapegrad.Tensor: shape=(4,), dtype=float32, numpy=array([0.  , 0.25, 0.5 , 0.75], dtype=float32)>
    """)
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


@op_doc(
    tf="``tf.linspace``",
    numpy="``numpy.linspace``",
    returns="A Tensor of `num` values, start and stop included.",
    summary="`num` evenly spaced values from start to stop, both included.",
    args={"start": ("number or Tensor", "the first value."),
          "stop": ("number or Tensor", "the last value."),
          "num": ("int", "how many values."),
          "axis": ("int", "where the new axis goes when start and stop are tensors.")},
    dtypes="float32 for Python numbers, else the floating dtype of start.",
    derivative="none: the result is a new constant; nothing flows back to the arguments.",
    example="""
        >>> tg.linspace(0.0, 1.0, 5)
        <tapegrad.Tensor: shape=(5,), dtype=float32, numpy=array([0.  , 0.25, 0.5 , 0.75, 1.  ], dtype=float32)>
    """)
def linspace(start, stop, num, name=None, axis=0):
    s = np.asarray(_core.raw_from_python(start))
    dt = s.dtype if s.dtype.kind == "f" else np.float32
    return _core.wrap(np.linspace(np.asarray(start, dt), np.asarray(stop, dt), int(num), axis=axis).astype(dt))


@op_doc(
    tf="``tf.size``",
    numpy="``numpy.size``",
    returns="A scalar integer Tensor.",
    summary="The number of elements of input.",
    args={"out_type": ("integer DType", "the result's dtype.")},
    dtypes="any input dtype.",
    derivative="none: the result is an integer.",
    example="""
        >>> tg.size(tg.zeros((2, 3)))
        <tapegrad.Tensor: shape=(), dtype=int32, numpy=6>
    """)
def size(input, out_type=dtypes.int32, name=None):
    return _core.wrap(np.asarray(np.size(_core.as_tensor(input)._value), dtype=dtypes.numpy_dtype(out_type)))


@op_doc(
    tf="``tf.shape``",
    numpy="``numpy.shape``",
    returns="A 1-d integer Tensor with one entry per axis.",
    summary="The shape of input, as an integer tensor (``x.shape`` gives a TensorShape instead).",
    args={"out_type": ("integer DType", "the result's dtype.")},
    dtypes="any input dtype.",
    derivative="none: the result is an integer.",
    example="""
        >>> tg.shape(tg.zeros((2, 3)))
        <tapegrad.Tensor: shape=(2,), dtype=int32, numpy=array([2, 3], dtype=int32)>
    """)
def shape(input, out_type=dtypes.int32, name=None):
    return _core.wrap(np.asarray(np.shape(_core.as_tensor(input)._value), dtype=dtypes.numpy_dtype(out_type)))


@op_doc(
    tf="``tf.rank``",
    numpy="``numpy.ndim``",
    returns="A scalar int32 Tensor.",
    summary="The number of axes of input.",
    dtypes="any input dtype.",
    derivative="none: the result is an integer.",
    example="""
        >>> tg.rank(tg.zeros((2, 3)))
        <tapegrad.Tensor: shape=(), dtype=int32, numpy=2>
    """)
def rank(input, name=None):
    return _core.wrap(np.int32(np.ndim(_core.as_tensor(input)._value)))


@op_doc(
    tf="``tf.one_hot``",
    numpy="``numpy.eye(depth)[indices]``",
    returns="A Tensor of indices' shape with a new axis of length depth (last, or at `axis`).",
    args={"indices": ("integer Tensor or array-like", "the positions of the on values."),
          "depth": ("int", "the length of the new axis."),
          "on_value": ("scalar or None", "the value at the index; default 1."),
          "off_value": ("scalar or None", "the value elsewhere; default 0."),
          "axis": ("int or None", "where the new axis goes; None or -1: last.")},
    raises="TypeError: indices are not integers.\nInvalidArgumentError: a negative depth.",
    dtypes="integer indices; the result is float32 unless dtype or an integer on_value says otherwise.",
    derivative="none: the result is a constant.",
    example="""
        >>> tg.one_hot([0, 2], depth=3).numpy()
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """)
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


@op_doc(
    tf="``tf.random.set_seed``",
    numpy="``numpy.random.default_rng(seed)``",
    returns="None.",
    args={"seed": ("int or None", "the global seed; None draws fresh entropy.")},
    dtypes="not applicable.",
    derivative="not applicable.",
    example="""
        >>> tg.random.set_seed(0); a = tg.random.uniform([2])
        >>> tg.random.set_seed(0); b = tg.random.uniform([2])
        >>> bool(tg.reduce_all(a == b))
        True
    """)
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


@op_doc(
    tf="``tf.random.normal``",
    numpy="``numpy.random.Generator.normal``",
    returns="A Tensor of the given shape.",
    summary="Random values from a normal distribution.",
    args={"mean": ("float", "the mean."),
          "stddev": ("float", "the standard deviation.")},
    raises="ValueError: a non-floating dtype.",
    dtypes="float16, float32 (default), float64.",
    derivative="none: the result is a constant.",
    example="""
        >>> tg.random.normal([2, 3], seed=1).shape
        (2, 3)
    """)
def normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    dt = _float_dtype_of(dtype, "random.normal")
    return _core.wrap((_rng(seed).standard_normal(_shape(shape)) * stddev + mean).astype(dt))


@op_doc(
    tf="``tf.random.truncated_normal``",
    numpy="has none",
    returns="A Tensor of the given shape.",
    args={"mean": ("float", "the mean."),
          "stddev": ("float", "the standard deviation before truncation.")},
    raises="ValueError: a non-floating dtype.",
    dtypes="float16, float32 (default), float64.",
    derivative="none: the result is a constant.",
    example="""
        >>> x = tg.random.truncated_normal([1000], seed=1)
        >>> bool(tg.reduce_max(tg.abs(x)) <= 2.0)
        True
    """)
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


@op_doc(
    tf="``tf.random.uniform``",
    numpy="``numpy.random.Generator.uniform`` / ``integers``",
    returns="A Tensor of the given shape.",
    summary="Random values drawn uniformly from [minval, maxval).",
    args={"minval": ("number", "the lower bound, included."),
          "maxval": ("number or None", "the upper bound, excluded; None means 1 for floating dtypes (required for "
                                       "integers).")},
    raises="ValueError: an integer dtype without maxval.",
    dtypes="floating and integer dtypes; float32 by default.",
    derivative="none: the result is a constant.",
    example="""
        >>> tg.random.uniform([3], maxval=10, dtype=tg.int32, seed=3).dtype
        tapegrad.int32
    """)
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


@op_doc(
    tf="``tf.random.shuffle``",
    numpy="``numpy.random.Generator.permutation``",
    returns="A Tensor: value with its first axis permuted.",
    args={"value": ("Tensor, Variable or array-like", "the input.")},
    dtypes="every dtype.",
    derivative="none: the result is a new constant (as in TensorFlow, whose shuffle has no gradient).",
    example="""
        >>> sorted(tg.random.shuffle([1, 2, 3], seed=2).numpy().tolist())
        [1, 2, 3]
    """)
def shuffle(value, seed=None, name=None):
    """A random permutation along the first axis: a new constant (TensorFlow
    registers no gradient for RandomShuffle)."""
    v = np.array(_core.as_tensor(value)._value)
    if v.ndim == 0:
        raise InvalidArgumentError("random.shuffle: value must have rank >= 1")
    return _core.wrap(v[_rng(seed).permutation(v.shape[0])])
