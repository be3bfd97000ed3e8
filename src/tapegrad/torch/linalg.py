"""torch.linalg: vector norms."""
from tapegrad.torch._tensor import norm as _norm


def norm(x, ord=None, dim=None, keepdim=False):  # noqa: A002 (PyTorch's argument name)
    return _norm(x, 2 if ord is None else ord, dim, keepdim)


vector_norm = norm
