"""torch.nn: the functional API (no Module layers)."""
from tapegrad.torch.nn import functional

__all__ = ["functional"]
