"""The op library, declared family by family.  Importing it installs the ops
behind Python operators and NumPy's protocols into the core."""
import numpy as _np

from tapegrad import _core
from tapegrad.ops import (
    array_ops,
    band_ops,
    clip_ops,
    complex_ops,
    conv_ops,
    creation,
    fft_ops,
    linalg_ops,
    math_ops,
    ndarray_methods,
    nn_ops,
    numpy_arrays,
    numpy_dispatch,
    numpy_math,
    reduction_ops,
    scipy_ops,
    segment_ops,
    sort_ops,
    sparse_ops,
)
from tapegrad.ops._registry import FUNCTIONS, OPS, UFUNCS, numpy_function
from tapegrad.ops.math_ops import cast, where

numpy_function(_np.where)(lambda condition, x=None, y=None: where(condition, x, y))

_core.install_operators(
    add=math_ops.add, subtract=math_ops.subtract, multiply=math_ops.multiply, truediv=math_ops.truediv,
    floordiv=math_ops.floordiv, mod=math_ops.mod, pow=math_ops.pow, negative=math_ops.negative,
    abs=math_ops.abs, identity=array_ops.identity_op, logical_not=math_ops.logical_not,
    logical_and=math_ops.logical_and, logical_or=math_ops.logical_or, logical_xor=math_ops.logical_xor,
    less=math_ops.less, less_equal=math_ops.less_equal, greater=math_ops.greater,
    greater_equal=math_ops.greater_equal, equal=math_ops.equal, not_equal=math_ops.not_equal,
    matmul=linalg_ops._matmul, getitem=array_ops.getitem, variable_slice=array_ops.variable_slice,
    array_ufunc=numpy_dispatch.array_ufunc, array_function=numpy_dispatch.array_function,
)
_core.install_numpy(methods=ndarray_methods.METHODS, ufuncs=UFUNCS, functions=FUNCTIONS)

__all__ = ["FUNCTIONS", "OPS", "UFUNCS", "cast", "creation", "nn_ops", "reduction_ops", "where"]
