"""Small helpers with TensorFlow names that are plain compositions
(clip_by_norm lives with the reductions, in tapegrad.ops.reduction_ops)."""
import functools


def function(func=None, input_signature=None, autograph=True, jit_compile=None, reduce_retracing=False,
             experimental_relax_shapes=None, **kwargs):
    """tf.function: tapegrad runs eagerly, so this returns the function
    unchanged (TensorFlow's traced graph gives the same values)."""
    if func is None:
        return lambda f: function(f)
    functools.update_wrapper(func, func)
    return func
