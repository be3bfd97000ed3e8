"""tapegrad: automatic differentiation for NumPy code with TensorFlow 2's
GradientTape semantics and a compiled tape.

    import tapegrad as tg
    x = tg.Variable(tg.range(4, dtype=tg.float32))
    with tg.GradientTape() as t:
        y = 2 * tg.tensordot(x, x, axes=1)
    t.gradient(y, x)      # [0., 4., 8., 12.]
"""
from tapegrad import _core, autodiff, dtypes, errors, linalg, math, nn, optimizers, random, test
from tapegrad import ops as _ops
from tapegrad._core import Tensor, Variable
from tapegrad.custom import custom_gradient, recompute_grad
from tapegrad.dtypes import (
                             DType,
                             as_dtype,
                             bool,
                             complex64,
                             complex128,
                             double,
                             float16,
                             float32,
                             float64,
                             half,
                             int8,
                             int16,
                             int32,
                             int64,
                             uint8,
                             uint16,
                             uint32,
                             uint64,
)
from tapegrad.functional import grad, hessian, hessians, hvp, jacobian, jvp, value_and_grad, vjp
from tapegrad.functions import function
from tapegrad.module import Module, name_scope
from tapegrad.ops.array_ops import (
                             add_n,
                             boolean_mask,
                             broadcast_to,
                             concat,
                             expand_dims,
                             gather_nd,
                             identity,
                             pad,
                             reshape,
                             reverse,
                             split,
                             squeeze,
                             stack,
                             strided_slice,
                             tensor_scatter_nd_add,
                             tensor_scatter_nd_update,
                             tile,
                             transpose,
                             unstack,
)
from tapegrad.ops.array_ops import slice_ as slice
from tapegrad.ops.clip_ops import clip_by_global_norm, clip_by_norm
from tapegrad.ops.creation import (
                             constant,
                             convert_to_tensor,
                             eye,
                             fill,
                             is_tensor,
                             linspace,
                             one_hot,
                             ones,
                             ones_like,
                             range,
                             rank,
                             shape,
                             size,
                             stop_gradient,
                             zeros,
                             zeros_like,
)
from tapegrad.ops.linalg_ops import einsum, matmul, norm, tensordot
from tapegrad.ops.math_ops import (
                             abs,
                             acos,
                             acosh,
                             add,
                             asin,
                             asinh,
                             atan,
                             atan2,
                             atanh,
                             cast,
                             ceil,
                             clip_by_value,
                             cos,
                             cosh,
                             divide,
                             equal,
                             exp,
                             floor,
                             floordiv,
                             greater,
                             greater_equal,
                             less,
                             less_equal,
                             log,
                             logical_and,
                             logical_not,
                             logical_or,
                             maximum,
                             minimum,
                             mod,
                             multiply,
                             negative,
                             not_equal,
                             pow,
                             reciprocal,
                             round,
                             sigmoid,
                             sign,
                             sin,
                             sinh,
                             sqrt,
                             square,
                             subtract,
                             tan,
                             tanh,
                             truediv,
                             where,
)
from tapegrad.ops.reduction_ops import (
                             argmax,
                             argmin,
                             cumsum,
                             reduce_all,
                             reduce_any,
                             reduce_logsumexp,
                             reduce_max,
                             reduce_mean,
                             reduce_min,
                             reduce_prod,
                             reduce_std,
                             reduce_sum,
                             reduce_variance,
)
from tapegrad.ops.sort_ops import argsort, sort
from tapegrad.ops.sparse_ops import IndexedSlices, gather
from tapegrad.shapes import TensorShape
from tapegrad.tape import GradientTape, UnconnectedGradients

newaxis = None

__version__ = "0.1.0"
