"""tapegrad.autograd.scipy is tapegrad.scipy (SciPy's functions,
differentiable), under autograd's module names: ``import
tapegrad.autograd.scipy.stats.norm as norm`` and ``from
tapegrad.autograd.scipy.special import logsumexp`` work as in autograd."""
import sys

import tapegrad.scipy

for _name, _module in list(sys.modules.items()):
    if _name.startswith("tapegrad.scipy."):
        sys.modules["tapegrad.autograd.scipy." + _name[len("tapegrad.scipy."):]] = _module
for _attr in ("integrate", "linalg", "signal", "special", "stats"):
    globals()[_attr] = getattr(tapegrad.scipy, _attr)
del _name, _module, _attr
