"""scipy.signal.convolve, differentiable in both inputs."""
from tapegrad._core import apply
from tapegrad.ops import scipy_ops as _ops
from tapegrad.scipy._convert import tensors

__all__ = ["convolve"]


def convolve(in1, in2, mode="full", method="auto"):
    """SciPy's N-dimensional convolution of two arrays of one rank (mode
    'full', 'valid' or 'same'; method 'auto', 'direct' or 'fft', which only
    changes how SciPy computes it).  The gradient for each input is a valid
    convolution of the output's gradient with the other input reversed."""
    if mode not in ("full", "valid", "same"):
        raise ValueError("acceptable mode flags are 'valid', 'same', or 'full'")
    if method not in ("auto", "direct", "fft"):
        raise ValueError("acceptable method flags are 'auto', 'direct', or 'fft'")
    a, b = tensors("convolve", in1, in2)
    if a.ndim != b.ndim:
        raise ValueError("in1 and in2 should have the same dimensionality")
    return apply(_ops.convolve, (a, b), (mode, method))
