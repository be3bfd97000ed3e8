"""How tapegrad.scipy turns its arguments into operands: NumPy's dtypes, as
SciPy would see them (a Python float is float64, an integer becomes float64),
then one dtype for all of a function's operands (the first tensor's)."""
import numpy as np

from tapegrad._core import Tensor, Variable, operands


def as_float(x):
    """x as an operand: a tensor as it is, anything else as a floating ndarray."""
    if isinstance(x, (Tensor, Variable)):
        return x
    a = np.asarray(x)
    return a.astype(np.float64) if a.dtype.kind in "biu" else a


def tensors(name, *values):
    """The values as Tensors of one dtype."""
    return operands([as_float(v) for v in values], name)


def tensor(x):
    return tensors("", x)[0]
