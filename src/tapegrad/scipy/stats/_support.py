"""What the distributions share: standardising x by loc and scale, and
masking values outside the support without letting the masked branch's
derivative leak (the masked inputs are replaced before any op sees them)."""
import numpy as np

from tapegrad.scipy._convert import tensors


def standardize(name, x, loc, scale, *shapes):
    """(z, log(scale), shape params...) as Tensors of one dtype, z = (x - loc) / scale."""
    x, loc, scale, *rest = tensors(name, x, loc, scale, *shapes)
    return ((x - loc) / scale, np.log(scale), *rest)


def inside(mask, z, safe):
    """z where mask holds, `safe` (a point inside the support) elsewhere."""
    return np.where(mask, z, safe)


def masked(mask, value, outside):
    """value where mask holds, the constant `outside` elsewhere."""
    return np.where(mask, value, outside)
