"""tapegrad.math: TensorFlow's tf.math names."""
from tapegrad.ops.math_ops import (add, subtract, multiply, truediv, divide, floordiv, mod, pow, maximum, minimum,
                                   negative, abs, sign, exp, log, sin, cos, tan, tanh, sqrt, square, reciprocal,
                                   sigmoid, softplus, round, floor, ceil, equal, not_equal, less, less_equal,
                                   greater, greater_equal, logical_and, logical_or, logical_not, logical_xor,
                                   is_nan, is_inf, is_finite)
from tapegrad.ops.reduction_ops import (reduce_sum, reduce_mean, reduce_max, reduce_min, reduce_prod,
                                        reduce_logsumexp, reduce_std, reduce_variance, argmax, argmin)
from tapegrad.ops.array_ops import add_n
from tapegrad.ops.nn_ops import log_softmax, softmax

floormod = mod
