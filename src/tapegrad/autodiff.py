"""tapegrad.autodiff: tf.autodiff names."""
from tapegrad.forward import ForwardAccumulator
from tapegrad.tape import GradientTape
