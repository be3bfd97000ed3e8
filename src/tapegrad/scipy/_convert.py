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
    """The values as Tensors of one dtype; real only (the rules would need
    conjugates for complex arguments)."""
    out = operands([as_float(v) for v in values], name)
    if out and out[0].dtype.is_complex:
        raise TypeError(f"tapegrad.scipy: {name or 'this function'} is differentiable for real arguments only")
    return out


def tensor(x, name):
    return tensors(name, x)[0]
