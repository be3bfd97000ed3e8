"""autograd.misc: ``flatten`` and the submodules ``flatten``, ``optimizers``
and ``fixed_points``."""
from tapegrad.autograd.misc import fixed_points, optimizers
from tapegrad.autograd.misc.flatten import flatten

__all__ = ["flatten", "fixed_points", "optimizers"]
