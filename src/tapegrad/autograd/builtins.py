"""autograd.builtins: ``list``, ``tuple``, ``dict``, ``isinstance``, ``type``.

autograd needs its own containers to trace a tuple of boxes as one value.
tapegrad traces tensors, and containers of tensors are pytrees every
transform understands, so the containers are Python's own.  ``isinstance``
and ``type`` see a tensor as the ndarray (or NumPy scalar) it holds, as
autograd's see through boxes."""
import builtins as _py

from tapegrad._core import Tensor, Variable

list = _py.list  # noqa: A001 - autograd's names
tuple = _py.tuple  # noqa: A001
dict = _py.dict  # noqa: A001

__all__ = ["list", "tuple", "dict", "isinstance", "type"]


def type(obj):  # noqa: A001
    """The type of the value a tensor holds (Python's type otherwise)."""
    if _py.isinstance(obj, Variable):
        obj = obj.value()
    return _py.type(obj._value) if _py.isinstance(obj, Tensor) else _py.type(obj)


def isinstance(obj, classinfo):  # noqa: A001
    """isinstance that sees a tensor as the ndarray or NumPy scalar it holds."""
    if _py.isinstance(obj, (Tensor, Variable)):
        v = (obj.value() if _py.isinstance(obj, Variable) else obj)._value
        return _py.isinstance(obj, classinfo) or _py.isinstance(v, classinfo)
    return _py.isinstance(obj, classinfo)
