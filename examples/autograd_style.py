"""Programs written the way HIPS autograd's examples are, run on tapegrad by changing only the
imports (``autograd`` -> ``tapegrad.autograd``): a user primitive with its own VJP and JVP, an
MLP classifier whose parameters are a list of (W, b) tuples, an RNN with dict parameters, and a
Gaussian mixture fitted by maximum likelihood.  Every gradient is checked against central finite
differences before it is used.

    python examples/autograd_style.py [--figures DIR]   (no figures)
"""
import numpy
from _figures import figure_dir, section

import tapegrad.autograd.numpy as np  # NumPy itself
import tapegrad.autograd.numpy.random as npr
from tapegrad.autograd import grad
from tapegrad.autograd.extend import defjvp, defvjp, primitive
from tapegrad.autograd.misc.flatten import flatten
from tapegrad.autograd.misc.optimizers import adam
from tapegrad.autograd.test_util import check_grads


@primitive
def logsumexp(x):
    """log(sum(exp(x), axis=-1)), computed stably; one op on the tape."""
    m = numpy.max(x, axis=-1, keepdims=True)
    return numpy.log(numpy.sum(numpy.exp(x - m), axis=-1)) + m[..., 0]


defvjp(logsumexp, lambda ans, x: lambda g: g[..., None] * np.exp(x - ans[..., None]))
defjvp(logsumexp, lambda g, ans, x: np.sum(g * np.exp(x - ans[..., None]), axis=-1))


def finite_differences(f, params, eps=1e-6):
    """Central differences of scalar f over every entry of a pytree, as one flat vector."""
    flat, unflatten = flatten(params)
    out = numpy.zeros_like(flat)
    for i in range(flat.size):
        e = numpy.zeros_like(flat)
        e[i] = eps
        out[i] = (f(unflatten(flat + e)) - f(unflatten(flat - e))) / (2 * eps)
    return out


def checked_grad(f, params):
    g = grad(f)(params)
    err = numpy.max(numpy.abs(flatten(g)[0] - finite_differences(f, params)))
    print(f"  gradient: {type(g).__name__} of {len(g)}, max |analytic - finite differences| = {err:.1e}")
    assert err < 1e-6
    return g


def mlp_predict(params, inputs):
    for W, b in params:
        outputs = np.dot(inputs, W) + b
        inputs = np.tanh(outputs)
    return outputs - logsumexp(outputs)[:, None]


def mlp_loss(params, inputs, targets):
    return -np.sum(mlp_predict(params, inputs) * targets) / inputs.shape[0]


def rnn_loss(params, seqs):
    hidden = params["init"] * np.ones((seqs.shape[1], 1))
    total = 0.0
    for t in range(seqs.shape[0] - 1):
        hidden = np.tanh(np.dot(np.concatenate([seqs[t], hidden], axis=1), params["change"]) + params["bias"])
        total = total + np.sum((np.dot(hidden, params["predict"]) - seqs[t + 1]) ** 2)
    return total / (seqs.shape[0] - 1)


def gmm_log_likelihood(params, data):
    log_weights = params["log_weights"] - logsumexp(params["log_weights"])
    z = (data[:, None] - params["means"]) / np.exp(params["log_stds"])
    return np.sum(logsumexp(-0.5 * z ** 2 - params["log_stds"] - 0.5 * numpy.log(2 * numpy.pi) + log_weights))


def main() -> None:
    figure_dir(description=__doc__)
    rs = npr.RandomState(0)

    section("A primitive with defvjp and defjvp")
    x = rs.randn(3, 4)
    print("  logsumexp:", logsumexp(x))
    check_grads(logsumexp, modes=["fwd", "rev"], order=2)(x)
    print("  check_grads(logsumexp, modes=['fwd', 'rev'], order=2): passed")

    section("An MLP: parameters as a list of (W, b) tuples")
    centers = 3.0 * rs.randn(3, 2)
    labels = rs.randint(3, size=60)
    inputs, targets = centers[labels] + 0.5 * rs.randn(60, 2), numpy.eye(3)[labels]
    params = [(0.5 * rs.randn(2, 8), 0.5 * rs.randn(8)), (0.5 * rs.randn(8, 3), 0.5 * rs.randn(3))]
    checked_grad(lambda p: mlp_loss(p, inputs, targets), params)
    trained = adam(lambda p, i: grad(mlp_loss)(p, inputs, targets), params, num_iters=150, step_size=0.05)
    accuracy = numpy.mean(numpy.argmax(mlp_predict(trained, inputs), 1) == labels)
    print(f"  loss {mlp_loss(params, inputs, targets):.3f} -> {mlp_loss(trained, inputs, targets):.3f}, "
          f"training accuracy {accuracy:.0%}")
    assert accuracy > 0.9

    section("An RNN with dict parameters")
    time = numpy.linspace(0, 3, 7)
    seqs = numpy.stack([numpy.sin(time + phase) for phase in rs.rand(4)], axis=1)[:, :, None]
    rnn = {"init": 0.1 * rs.randn(1, 5), "change": 0.3 * rs.randn(6, 5), "bias": 0.1 * rs.randn(5),
           "predict": 0.3 * rs.randn(5, 1)}
    g = checked_grad(lambda p: rnn_loss(p, seqs), rnn)
    print("  gradient keys:", list(g))

    section("A Gaussian mixture, maximum likelihood")
    data = numpy.concatenate([rs.randn(150) * 0.5 - 2.0, rs.randn(100) * 0.8 + 3.0])
    gmm = {"log_weights": numpy.zeros(2), "means": numpy.array([-0.5, 0.5]), "log_stds": numpy.zeros(2)}
    checked_grad(lambda p: gmm_log_likelihood(p, data) / data.size, gmm)
    fitted = adam(lambda p, i: grad(lambda q: -gmm_log_likelihood(q, data) / data.size)(p), gmm,
                  num_iters=400, step_size=0.05)
    order = numpy.argsort(fitted["means"])
    means, stds = fitted["means"][order], numpy.exp(fitted["log_stds"][order])
    print(f"  means {numpy.round(means, 2)} (data: -2, 3), standard deviations {numpy.round(stds, 2)} (0.5, 0.8)")
    assert numpy.allclose(means, [-2.0, 3.0], atol=0.25) and numpy.allclose(stds, [0.5, 0.8], atol=0.15)


if __name__ == "__main__":
    main()
