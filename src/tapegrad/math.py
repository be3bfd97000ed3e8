"""tapegrad.math: TensorFlow's tf.math names."""
from tapegrad.ops.math_ops import (add, subtract, multiply, truediv, divide, floordiv, mod, pow, maximum, minimum,
                                   negative, abs, sign, exp, expm1, log, log1p, log2, sqrt, rsqrt, square, reciprocal,
                                   sin, cos, tan, asin, acos, atan, atan2, sinh, cosh, tanh, asinh, acosh, atanh,
                                   erf, sigmoid, softplus, round, floor, ceil, equal, not_equal, less, less_equal,
                                   greater, greater_equal, logical_and, logical_or, logical_not, logical_xor,
                                   is_nan, is_inf, is_finite, squared_difference, divide_no_nan)
from tapegrad.ops.reduction_ops import (reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod,
                                        reduce_logsumexp, reduce_std, reduce_variance, reduce_any, reduce_all,
                                        argmax, argmin, cumsum, cumprod, reduce_euclidean_norm)
from tapegrad.ops.array_ops import add_n
from tapegrad.ops.nn_ops import log_softmax, softmax, log_sigmoid
from tapegrad.ops.segment_ops import bincount, segment_max, segment_mean, segment_sum, unsorted_segment_sum
from tapegrad.ops.sort_ops import top_k
from tapegrad.ops.complex_ops import angle, conj, imag, real

floormod = mod
