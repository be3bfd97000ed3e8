"""TensorFlow-style dtype objects over NumPy dtypes.

``tapegrad.float32 == np.float32`` is true and tensors report their dtype as
these objects, so code written against ``tf.float32`` runs unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np


class DType:
    """An element type (``tapegrad.float32``, ...), TensorFlow's DType over a NumPy dtype.

    ``name`` is the NumPy name (``'float32'``); a DType compares equal to the
    NumPy dtype and type of the same name."""
    __slots__ = ("_np", "name")

    def __init__(self, np_dtype: Any) -> None:
        self._np = np.dtype(np_dtype)
        self.name = self._np.name

    @property
    def as_numpy_dtype(self) -> type:
        """The NumPy scalar type, e.g. ``numpy.float32``."""
        return self._np.type

    @property
    def type(self) -> type:
        """The NumPy scalar type, as ``numpy.dtype.type`` (SciPy's optimizers
        call ``fx.dtype.type(...)`` on a function's value, a tensor here)."""
        return self._np.type

    @property
    def is_floating(self) -> bool:
        """Whether this is a real floating-point type (the dtypes that get gradients)."""
        return self._np.kind == "f"

    @property
    def is_integer(self) -> bool:
        """Whether this is a signed or unsigned integer type."""
        return self._np.kind in "iu"

    @property
    def is_complex(self) -> bool:
        """Whether this is complex64 or complex128."""
        return self._np.kind == "c"

    @property
    def is_bool(self) -> bool:
        """Whether this is bool."""
        return self._np.kind == "b"

    @property
    def base_dtype(self) -> DType:
        """The dtype itself (TensorFlow's reference dtypes do not exist here)."""
        return self

    @property
    def size(self) -> int:
        """Bytes per element."""
        return self._np.itemsize

    def __eq__(self, other):
        if isinstance(other, DType):
            return self._np == other._np
        try:
            return self._np == np.dtype(other)
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return hash(self._np)

    def __repr__(self):
        return f"tapegrad.{self.name}"

    def __str__(self):
        return f"<dtype: '{self.name}'>"


_BY_NUMPY = {}


def _register(np_dtype):
    d = DType(np_dtype)
    _BY_NUMPY[d._np] = d
    return d


float16 = half = _register(np.float16)
float32 = _register(np.float32)
float64 = double = _register(np.float64)
int8 = _register(np.int8)
int16 = _register(np.int16)
int32 = _register(np.int32)
int64 = _register(np.int64)
uint8 = _register(np.uint8)
uint16 = _register(np.uint16)
uint32 = _register(np.uint32)
uint64 = _register(np.uint64)
bool = _register(np.bool_)  # noqa: A001 - TensorFlow's name
complex64 = _register(np.complex64)
complex128 = _register(np.complex128)


def as_dtype(type_value: Any) -> DType:
    """A DType from a DType, a NumPy dtype/type or a name ('float32')."""
    if isinstance(type_value, DType):
        return type_value
    if type_value is None:
        raise TypeError("Cannot convert the argument `type_value`: None to a tapegrad DType.")
    try:
        np_dtype = np.dtype(type_value)
    except TypeError:
        raise TypeError(f"Cannot convert the argument `type_value`: {type_value!r} to a tapegrad DType.") from None
    try:
        return _BY_NUMPY[np_dtype]
    except KeyError:
        raise TypeError(f"tapegrad has no dtype for NumPy dtype {np_dtype}.") from None


def numpy_dtype(dtype: Any) -> np.dtype | None:
    """The NumPy dtype of a DType / NumPy dtype / name, or None for None."""
    if dtype is None:
        return None
    if isinstance(dtype, DType):
        return dtype._np
    return as_dtype(dtype)._np
