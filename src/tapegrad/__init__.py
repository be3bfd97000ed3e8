"""tapegrad: automatic differentiation for NumPy code with TensorFlow 2's
GradientTape semantics and a compiled tape.

    import tapegrad as tg
    x = tg.Variable(tg.range(4, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = 2 * tg.tensordot(x, x, axes=1)
    t.gradient(y, x)      # [0., 4., 8., 12.]
"""
from tapegrad import _core
from tapegrad._core import Tensor, Variable
from tapegrad import dtypes, errors
from tapegrad.errors import GradientLostWarning
from tapegrad.dtypes import (DType, as_dtype, float16, half, float32, float64, double, int8, int16, int32,
                             int64, uint8, uint16, uint32, uint64, bool, complex64, complex128)
from tapegrad.shapes import TensorShape
from tapegrad import ops as _ops
from tapegrad.ops.math_ops import (add, subtract, multiply, truediv, divide, floordiv, mod, pow, maximum, minimum,
                                   negative, abs, sign, exp, log, sin, cos, tan, tanh, sqrt, square, reciprocal,
                                   sigmoid, round, floor, ceil, equal, not_equal, less, less_equal, greater,
                                   greater_equal, logical_and, logical_or, logical_not, cast, where,
                                   clip_by_value, asin, acos, atan, atan2, sinh, cosh, asinh, acosh, atanh)
from tapegrad.ops.reduction_ops import (reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod,
                                        reduce_logsumexp, reduce_std, reduce_variance, argmax, argmin,
                                        reduce_any, reduce_all, cumsum)
from tapegrad.ops.linalg_ops import matmul, tensordot, einsum, norm
from tapegrad.ops.array_ops import (reshape, transpose, expand_dims, squeeze, concat, stack, unstack, tile,
                                    broadcast_to, add_n, identity, split, pad, reverse, gather_nd,
                                    boolean_mask, slice_ as slice, strided_slice, tensor_scatter_nd_update,
                                    tensor_scatter_nd_add)
from tapegrad.ops.creation import (constant, convert_to_tensor, is_tensor, stop_gradient, zeros, ones, fill,
                                   eye, zeros_like, ones_like, range, linspace, size, shape, rank, one_hot)
from tapegrad.ops.clip_ops import clip_by_global_norm, clip_by_norm
from tapegrad.ops.sort_ops import argsort, sort
from tapegrad.ops.sparse_ops import IndexedSlices, gather
from tapegrad.tape import GradientTape, UnconnectedGradients
from tapegrad.custom import custom_gradient, recompute_grad
from tapegrad.functional import grad, value_and_grad, jacobian, hessian, hvp, jvp, vjp, hessians, ravel_pytree
from tapegrad import math, linalg, nn, random, autodiff, test, optimizers
from tapegrad.module import Module, name_scope
from tapegrad.functions import function
from tapegrad.ops.complex_ops import complex
from tapegrad import signal

newaxis = None

__version__ = "0.1.0"  # the one version source: pyproject.toml reads this line
