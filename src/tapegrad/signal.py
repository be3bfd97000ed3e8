"""tapegrad.signal: TensorFlow's tf.signal names (Fourier transforms over the innermost axes)."""
from tapegrad.ops.fft_ops import fft, fft2d, fft3d, ifft, ifft2d, ifft3d, irfft, rfft

__all__ = ["fft", "fft2d", "fft3d", "ifft", "ifft2d", "ifft3d", "irfft", "rfft"]
