"""tapegrad.random: TensorFlow's tf.random names over NumPy's generator."""
from tapegrad.ops.creation import set_seed, normal, uniform, truncated_normal, shuffle
