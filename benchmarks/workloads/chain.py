"""The chain ``y = sin(y) * 1.0001 + 0.1`` repeated ``iters`` times (3 ops per step), optionally
followed by ``reduce_sum``: shared by W1 (scalar), W2 (16-vector), W3 (recording only) and W6
(deep chains, memory).

Every builder returns a dict of closures over inputs made outside the timed region:

  forward()        run the chain while recording (tape / graph / vjp trace) -> state
  backward(state)  reverse pass -> d(y or sum(y))/dx
  value(state)     the forward result held by state
  plain()          the same forward with no recording at all
  grad()           backward(forward()): one full forward+backward

``jax_jit`` only has ``grad`` (a compiled function has no separate recording phase).
"""
import numpy as np

from .. import peers
from ..common import Unavailable

A = 1.0001
B = 0.1


# ------------------------------------------------------------------ reference values
def closed_form(x0, iters, reduce, a=A, b=B):
    """Forward-mode recurrence (independent of any reverse pass): y and dy/dx."""
    y = np.array(x0, dtype=np.float64)
    d = np.ones_like(y)
    for _ in range(iters):
        d = a * np.cos(y) * d
        y = a * np.sin(y) + b
    if reduce:
        return np.sum(y), d
    return y, d


# ------------------------------------------------------------------ the floor
def floor(x0, iters, reduce, a=A, b=B):
    """Hand-written NumPy: forward that saves what each op's derivative needs, then a reverse
    pass applying each op's chain rule in turn (add: pass through; mul by A: g*A; sin: g*cos(y))."""
    sin, cos = np.sin, np.cos
    x = x0

    def forward():
        saved = []  # the "tape": the input of every sin, in execution order
        append = saved.append
        y = x
        for _ in range(iters):
            append(y)
            y = sin(y) * a + b
        if reduce:
            return saved, y, np.sum(y)
        return saved, y, y

    def backward(state):
        saved, y, _ = state
        g = np.ones_like(y) if reduce else np.float64(1.0)  # reduce_sum's VJP broadcasts 1
        for yi in reversed(saved):
            g = g * a  # mul by constant
            g = g * cos(yi)  # sin
        return g

    def plain():
        y = x
        for _ in range(iters):
            y = sin(y) * a + b
        return np.sum(y) if reduce else y

    return dict(forward=forward, backward=backward, value=lambda s: s[2], plain=plain,
                grad=lambda: backward(forward()))


# ------------------------------------------------------------------ tapegrad and TensorFlow
def tf_api(tf, x0, iters, reduce, a=A, b=B):
    """The chain in TensorFlow's API, for ``tf`` = tapegrad or tensorflow: a GradientTape watching
    x records it.  x0 is float64 (a NumPy scalar or array), which both modules keep."""
    x = tf.constant(x0)
    xp = tf.constant(x0)  # the unrecorded run's input: never watched by any tape
    sin, rsum, Tape = tf.sin, tf.reduce_sum, tf.GradientTape

    def forward():
        tape = Tape()
        with tape:
            tape.watch(x)
            y = x
            for _ in range(iters):
                y = sin(y) * a + b
            if reduce:
                y = rsum(y)
        return tape, y

    def backward(state):
        tape, y = state
        return tape.gradient(y, x)

    def plain():
        y = xp
        for _ in range(iters):
            y = sin(y) * a + b
        return rsum(y) if reduce else y

    return dict(forward=forward, backward=backward, value=lambda s: s[1], plain=plain,
                grad=lambda: backward(forward()))


# ------------------------------------------------------------------ PyTorch
def torch(x0, iters, reduce, a=A, b=B, module="torch"):
    th = peers.get(module)
    x = th.tensor(x0, dtype=th.float64, requires_grad=True)
    xp = th.tensor(x0, dtype=th.float64)  # no requires_grad: nothing is recorded
    sin, rsum, grad = th.sin, th.sum, th.autograd.grad

    def forward():
        y = x
        for _ in range(iters):
            y = sin(y) * a + b
        if reduce:
            y = rsum(y)
        return y

    def backward(y):
        return grad(y, x)[0]

    def plain():
        y = xp
        for _ in range(iters):
            y = sin(y) * a + b
        return rsum(y) if reduce else y

    return dict(forward=forward, backward=backward, value=lambda s: s, plain=plain,
                grad=lambda: backward(forward()))


# ------------------------------------------------------------------ JAX
def _jax_f(iters, reduce, a, b):
    jax = peers.get("jax")
    jnp = jax.numpy
    sin, rsum = jnp.sin, jnp.sum

    def f(y):
        for _ in range(iters):
            y = sin(y) * a + b
        return rsum(y) if reduce else y

    return jax, jnp, f


def jax(x0, iters, reduce, a=A, b=B):
    jax_, jnp, f = _jax_f(iters, reduce, a, b)
    x = jnp.asarray(x0, dtype=jnp.float64)
    one = jnp.asarray(1.0, dtype=jnp.float64)
    block = jax_.block_until_ready

    def forward():
        return jax_.vjp(f, x)  # (y, vjp_fn): the linearised trace is JAX's tape

    def backward(state):
        return block(state[1](one)[0])

    def plain():
        return block(f(x))

    return dict(forward=forward, backward=backward, value=lambda s: block(s[0]), plain=plain,
                grad=lambda: backward(forward()))


def jax_jit(x0, iters, reduce, a=A, b=B):
    jax_, jnp, f = _jax_f(iters, reduce, a, b)
    x = jnp.asarray(x0, dtype=jnp.float64)
    g = jax_.jit(jax_.grad(f))
    block = jax_.block_until_ready
    return dict(grad=lambda: block(g(x)))


# ------------------------------------------------------------------ HIPS autograd
def autograd(x0, iters, reduce, a=A, b=B):
    ag = peers.get("autograd")
    anp = ag.numpy
    make_vjp = ag.make_vjp
    sin, rsum = anp.sin, anp.sum
    x = x0

    def f(y):
        for _ in range(iters):
            y = sin(y) * a + b
        return rsum(y) if reduce else y

    def forward():
        return make_vjp(f)(x)  # (vjp, ans)

    def backward(state):
        return state[0](np.float64(1.0))

    return dict(forward=forward, backward=backward, value=lambda s: s[1], plain=lambda: f(x),
                grad=lambda: backward(forward()))


def _tf_api_builder(impl):
    def build(x0, iters, reduce, a=A, b=B):
        return tf_api(peers.get(peers.IMPL_MODULE[impl]), x0, iters, reduce, a, b)
    return build


def tapegrad_torch(x0, iters, reduce, a=A, b=B):
    """The PyTorch code above, run by tapegrad.torch."""
    return torch(x0, iters, reduce, a, b, module="tapegrad_torch")


BUILDERS = dict(floor=floor, torch=torch, tapegrad_torch=tapegrad_torch, jax=jax, jax_jit=jax_jit, autograd=autograd,
                **{impl: _tf_api_builder(impl) for impl in peers.TF_API})


def build(impl, x0, iters, reduce, a=A, b=B):
    try:
        return BUILDERS[impl](x0, iters, reduce, a, b)
    except KeyError:
        raise Unavailable(f"no chain builder for {impl}") from None
