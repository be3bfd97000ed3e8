"""Type aliases for annotations (imported only by type checkers: ``if TYPE_CHECKING``)."""
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from tapegrad._core import Tensor, Variable

#: What an op accepts: tensors, variables, and anything ``tapegrad.constant`` converts.
TensorLike = Tensor | Variable | float | int | bool | complex | np.generic | npt.NDArray[Any] | Sequence[Any]
#: A tensor or variable, or a nest (list, tuple, dict) of them: gradient()'s sources and targets.
Nest = Any
#: A function of tensors.
Function = Callable[..., Any]
