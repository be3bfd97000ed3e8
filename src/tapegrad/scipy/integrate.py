"""scipy.integrate.odeint, differentiable in y0, t and args by the adjoint
method: the gradient integrates the adjoint ODE backwards between
consecutive output times with SciPy's odeint (the same rtol, atol and other
keywords), using vector-Jacobian products of func taken with a tape.

func(y, t, *args) must be written with NumPy functions (or tapegrad ops):
the forward solve calls it on ndarrays, the adjoint on tensors.  Second
derivatives and forward mode through odeint are not implemented: they raise
NotImplementedError rather than return a wrong value."""
import numpy as np
import scipy.integrate

from tapegrad._core import Tensor, Variable
from tapegrad.custom import custom_gradient
from tapegrad.ops.creation import constant
from tapegrad.tape import GradientTape

__all__ = ["odeint"]


def _raw(x):
    return np.asarray(x.numpy() if isinstance(x, (Tensor, Variable)) else x, dtype=np.float64)


def _operand(x):
    """A float64 operand: tensors as they are, anything else as an ndarray (a
    Python float would otherwise become a float32 constant)."""
    return x if isinstance(x, (Tensor, Variable)) else np.asarray(x, dtype=np.float64)


def odeint(func, y0, t, args=(), **kwargs):
    """scipy.integrate.odeint(func, y0, t, args=(), ...): the solution at the
    times t, shape (len(t), len(y0)), as a Tensor recorded on the active tapes.
    Keywords (rtol, atol, mxstep, ...) go to SciPy; full_output is not
    supported."""
    if kwargs.get("full_output"):
        raise TypeError("tapegrad.scipy.integrate.odeint: full_output is not supported")
    if kwargs.get("Dfun") is not None:
        raise TypeError("tapegrad.scipy.integrate.odeint: Dfun is not supported (the adjoint uses func's tape)")
    if not isinstance(args, tuple):
        args = (args,)
    return _solver(func, kwargs)(_operand(y0), _operand(t), *(_operand(a) for a in args))


def _solver(func, kwargs):
    @custom_gradient
    def odeint(y0, t, *args):
        y0r, tr, ar = _raw(y0), _raw(t), tuple(_raw(a) for a in args)
        ys = scipy.integrate.odeint(_raw_func(func, ar), np.atleast_1d(y0r).ravel(), tr, **kwargs)

        def grad_fn(g):
            return _adjoint(func, kwargs, ys)(g, y0, t, *args)
        return ys, grad_fn
    return odeint


def _raw_func(func, args):
    return lambda y, t: np.asarray(func(y, t, *args), dtype=np.float64).ravel()


def _adjoint(func, kwargs, ys):
    """The gradient as one more custom op: its own gradient (a second
    derivative of odeint) is refused instead of being taken as zero."""
    @custom_gradient
    def odeint_gradient(g, y0, t, *args):
        grads = _adjoint_solve(func, kwargs, ys, _raw(g), _raw(t), [_raw(a) for a in args])
        shapes = [np.shape(_raw(y0)), np.shape(_raw(t))] + [np.shape(_raw(a)) for a in args]
        grads = tuple(np.reshape(gr, s) for gr, s in zip(grads, shapes))

        def no_second_order(*upstreams):
            raise NotImplementedError("tapegrad.scipy.integrate.odeint: second derivatives and forward mode are "
                                      "not implemented (its gradient is an adjoint ODE solve)")
        return grads, no_second_order
    return odeint_gradient


def _adjoint_solve(func, kwargs, ys, g, t, args):
    n_t, d = ys.shape
    sizes = [a.size for a in args]

    def vjps(y, tt, u):
        """func(y, tt, *args) and u^T times its Jacobians in y, tt and args."""
        ins = [constant(y), constant(np.float64(tt))] + [constant(a) for a in args]
        with GradientTape() as tape:
            tape.watch(ins)
            f = func(ins[0], ins[1], *ins[2:])
            f = np.reshape(f, (d,))
        grads = tape.gradient(f, ins, output_gradients=constant(u), unconnected_gradients="zero")
        return np.asarray(f.numpy()), [np.asarray(gr.numpy()).ravel() for gr in grads]

    def augmented(state, tt):
        # state = (y, a, a_t, a_args): dy/dt = f, and the adjoints' dynamics -a^T df/d(y, t, args)
        f, (gy, gt, *gargs) = vjps(state[:d], tt, -state[d:2 * d])
        return np.concatenate([f, gy, gt] + gargs)

    g = np.reshape(g, (n_t, d))
    a_y, a_t0, a_args = g[-1], 0.0, np.zeros(sum(sizes))
    t_grads = []
    for i in range(n_t - 1, 0, -1):
        f_i = np.asarray(_raw_func(func, args)(ys[i], t[i]))
        t_grads.append(float(np.dot(f_i, g[i])))
        a_t0 -= t_grads[-1]
        state = np.concatenate([ys[i], a_y, [a_t0], a_args])
        state = scipy.integrate.odeint(augmented, state, np.array([t[i], t[i - 1]]), **kwargs)[-1]
        a_y, a_t0, a_args = state[d:2 * d] + g[i - 1], state[2 * d], state[2 * d + 1:]
    t_grads.append(a_t0)
    out, k = [], 0
    for size in sizes:
        out.append(a_args[k:k + size])
        k += size
    return [a_y, np.array(t_grads[::-1])] + out
