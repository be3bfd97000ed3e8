"""tapegrad.linalg: TensorFlow's tf.linalg names."""
from tapegrad.ops.linalg_ops import matmul, matvec, tensordot, trace
from tapegrad.ops.reduction_ops import norm
from tapegrad.ops.creation import eye
