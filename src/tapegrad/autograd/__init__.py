"""tapegrad.autograd: HIPS autograd's public API on tapegrad's engine.

An autograd program ports by changing its imports::

    import tapegrad.autograd.numpy as np          # NumPy itself
    from tapegrad.autograd import grad, elementwise_grad, jacobian
    from tapegrad.autograd.extend import primitive, defvjp
    from tapegrad.autograd.misc.optimizers import adam

Inside a differentiated function the arguments are tapegrad tensors; NumPy's
functions record themselves on them through NumPy's dispatch protocols, so
``tapegrad.autograd.numpy`` needs no wrapper: it *is* ``numpy``.  Results come
back as NumPy values.  What differs from autograd is listed in
docs/guides/autograd.md.
"""
import sys

import numpy
import numpy.fft  # noqa: F401 - loaded so that its module can be aliased below
import numpy.linalg  # noqa: F401
import numpy.random  # noqa: F401

from tapegrad.autograd import builtins, extend, misc, test_util
from tapegrad.autograd.builtins import dict, isinstance, list, tuple, type  # noqa: A004 - autograd's names
from tapegrad.autograd.differential_operators import (
    checkpoint,
    deriv,
    elementwise_grad,
    grad,
    grad_and_aux,
    grad_named,
    hessian,
    hessian_tensor_product,
    hessian_vector_product,
    jacobian,
    make_ggnvp,
    make_hvp,
    make_jvp,
    make_vjp,
    multigrad_dict,
    tensor_jacobian_product,
    value_and_grad,
    vector_jacobian_product,
)
from tapegrad.autograd.extend import defjvp, defjvp_argnum, defvjp, defvjp_argnum, primitive

# tapegrad.autograd.numpy is NumPy: its submodules are NumPy's, under both names (so
# `import tapegrad.autograd.numpy.random as npr` finds NumPy's global random state, not a copy).
for _sub in ("", ".random", ".linalg", ".fft"):
    sys.modules[f"{__name__}.numpy{_sub}"] = sys.modules[f"numpy{_sub}"]
del _sub

__all__ = ["grad", "elementwise_grad", "value_and_grad", "grad_and_aux", "jacobian", "hessian", "make_vjp",
           "make_jvp", "make_hvp", "deriv", "hessian_tensor_product", "hessian_vector_product",
           "tensor_jacobian_product", "vector_jacobian_product", "make_ggnvp", "multigrad_dict", "checkpoint",
           "grad_named", "primitive", "defvjp", "defvjp_argnum", "defjvp", "defjvp_argnum", "extend", "misc",
           "test_util", "builtins", "list", "tuple", "dict", "isinstance", "type"]
