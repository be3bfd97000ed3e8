"""tapegrad.random: TensorFlow's tf.random names over NumPy's generator."""
from tapegrad.ops.creation import normal, set_seed, shuffle, truncated_normal, uniform
