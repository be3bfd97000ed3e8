"""tapegrad.nn: TensorFlow's tf.nn names."""
from tapegrad.ops.math_ops import relu, relu6, sigmoid, softplus, tanh
from tapegrad.ops.nn_ops import (log_softmax, softmax, sparse_softmax_cross_entropy_with_logits,
                                 softmax_cross_entropy_with_logits, sigmoid_cross_entropy_with_logits, l2_loss,
                                 leaky_relu, elu, selu, gelu, silu, swish, log_sigmoid, moments, dropout)
from tapegrad.ops.conv_ops import (avg_pool, avg_pool1d, avg_pool2d, batch_normalization, bias_add, conv1d, conv2d,
                                   conv2d_transpose, depthwise_conv2d, max_pool, max_pool1d, max_pool2d)
from tapegrad.ops.sort_ops import top_k
from tapegrad.ops.sparse_ops import embedding_lookup
