"""tapegrad.nn: TensorFlow's tf.nn names."""
from tapegrad.ops.math_ops import relu, relu6, sigmoid, softplus, tanh
from tapegrad.ops.nn_ops import (log_softmax, softmax, sparse_softmax_cross_entropy_with_logits,
                                 softmax_cross_entropy_with_logits, sigmoid_cross_entropy_with_logits, l2_loss,
                                 leaky_relu, elu, selu, gelu, silu, swish, log_sigmoid, moments, dropout)
