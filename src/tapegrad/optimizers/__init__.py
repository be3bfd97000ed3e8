"""tapegrad.optimizers: Keras 3's optimizers as TensorFlow programs call them
(``tf.keras.optimizers.Adam`` ports to ``tapegrad.optimizers.Adam``), and
their learning-rate schedules (``tapegrad.optimizers.schedules``)."""
from tapegrad.optimizers import schedules
from tapegrad.optimizers.optimizer import SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, Nadam, Optimizer, RMSprop

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Nadam", "Adamax", "schedules"]
