"""tapegrad.autodiff: tf.autodiff names."""
from tapegrad.tape import GradientTape
from tapegrad.forward import ForwardAccumulator
