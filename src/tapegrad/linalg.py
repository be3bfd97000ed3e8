"""tapegrad.linalg: TensorFlow's tf.linalg names."""
from tapegrad.ops.array_ops import matrix_transpose
from tapegrad.ops.band_ops import band_part
from tapegrad.ops.clip_ops import global_norm
from tapegrad.ops.creation import eye
from tapegrad.ops.linalg_ops import (
                                     cholesky,
                                     det,
                                     diag,
                                     diag_part,
                                     eigh,
                                     eigvalsh,
                                     einsum,
                                     inv,
                                     matmul,
                                     matvec,
                                     norm,
                                     slogdet,
                                     solve,
                                     svd,
                                     tensordot,
                                     trace,
)

adjoint = matrix_transpose
