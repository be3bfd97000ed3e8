"""tapegrad.linalg: TensorFlow's tf.linalg names."""
from tapegrad.ops.linalg_ops import (matmul, matvec, tensordot, einsum, trace, inv, det, slogdet, solve, cholesky,
                                     eigh, eigvalsh, svd, diag_part, diag, norm, multi_dot, pinv, eig, eigvals,
                                     qr)
from tapegrad.ops.array_ops import matrix_transpose
from tapegrad.ops.band_ops import band_part
from tapegrad.ops.clip_ops import global_norm
from tapegrad.ops.creation import eye

adjoint = matrix_transpose
