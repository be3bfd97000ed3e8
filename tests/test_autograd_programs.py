"""Small programs written the way autograd's examples are (issue 10, item 6), run through
tapegrad.autograd with only the imports changed: an MLP whose parameters are a list of (W, b)
tuples, an RNN with dict parameters, a Gaussian mixture model and a user primitive with
defvjp.  Every gradient is checked against central finite differences, and the MLP and the
mixture are trained with misc.optimizers.  The primitive, the finite differences, the MLP and the
mixture's likelihood are examples/autograd_style.py's own functions, so the example and these
tests run one program."""
import importlib.util
import sys
from pathlib import Path

import numpy
import pytest

import tapegrad.autograd.numpy as np
import tapegrad.autograd.numpy.random as npr
from tapegrad.autograd import elementwise_grad, grad, value_and_grad
from tapegrad.autograd.misc.flatten import flatten
from tapegrad.autograd.misc.optimizers import adam, sgd
from tapegrad.autograd.test_util import check_grads

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def _load_example(name):
    # The example imports its sibling module _figures, so examples/ is on the path while it loads.
    sys.path.insert(0, str(EXAMPLES))
    try:
        spec = importlib.util.spec_from_file_location(f"examples_{name}", EXAMPLES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(EXAMPLES))
    return module


example = _load_example("autograd_style")
logsumexp, mlp_predict, mlp_loss = example.logsumexp, example.mlp_predict, example.mlp_loss
gmm_log_likelihood = example.gmm_log_likelihood


def assert_grad_matches_finite_differences(f, params, rtol=1e-6, atol=1e-8):
    g = grad(f)(params)
    assert type(g) is type(params)
    numpy.testing.assert_allclose(flatten(g)[0], example.finite_differences(f, params), rtol=rtol, atol=atol)
    return g


# ---- a user primitive with defvjp and defjvp: logsumexp over the last axis -----------------

def test_user_primitive_with_defvjp_and_defjvp():
    x = npr.RandomState(0).randn(3, 4)
    numpy.testing.assert_allclose(logsumexp(x), numpy.log(numpy.exp(x).sum(-1)), rtol=1e-14)
    g = elementwise_grad(logsumexp)(x)
    numpy.testing.assert_allclose(g, numpy.exp(x) / numpy.exp(x).sum(-1, keepdims=True), rtol=1e-12)
    npr.seed(1)
    check_grads(logsumexp, modes=["fwd", "rev"], order=2)(x)


# ---- an MLP classifier, parameters a list of (W, b) tuples ---------------------------------

def init_mlp(layer_sizes, scale, rs):
    return [(scale * rs.randn(m, n), scale * rs.randn(n)) for m, n in zip(layer_sizes[:-1], layer_sizes[1:])]


def _blobs(rs, n=60, classes=3):
    centers = 3.0 * rs.randn(classes, 2)
    labels = rs.randint(classes, size=n)
    inputs = centers[labels] + 0.5 * rs.randn(n, 2)
    return inputs, numpy.eye(classes)[labels]


def test_mlp_gradient_matches_finite_differences_and_training_fits_the_data():
    rs = npr.RandomState(0)
    inputs, targets = _blobs(rs)
    params = init_mlp([2, 8, 3], 0.5, rs)
    g = assert_grad_matches_finite_differences(lambda p: mlp_loss(p, inputs, targets), params)
    assert [type(layer) for layer in g] == [tuple, tuple] and g[0][0].shape == (2, 8)

    def objective(p, i):
        return mlp_loss(p, inputs, targets)
    before = objective(params, 0)
    trained = adam(grad(objective), params, num_iters=150, step_size=0.05)
    assert objective(trained, 0) < 0.3 * before
    accuracy = numpy.mean(numpy.argmax(mlp_predict(trained, inputs), 1) == numpy.argmax(targets, 1))
    assert accuracy > 0.9


# ---- an RNN with dict parameters ------------------------------------------------------------

def init_rnn(n_in, n_hidden, n_out, rs):
    return {"init": 0.1 * rs.randn(1, n_hidden), "change": 0.3 * rs.randn(n_in + n_hidden, n_hidden),
            "change_b": 0.1 * rs.randn(n_hidden), "predict": 0.3 * rs.randn(n_hidden, n_out),
            "predict_b": 0.1 * rs.randn(n_out)}


def rnn_loss(params, seqs):
    """Mean squared error of one-step-ahead predictions; seqs: (time, batch, features)."""
    hidden = params["init"] * np.ones((seqs.shape[1], 1))
    total = 0.0
    for t in range(seqs.shape[0] - 1):
        both = np.concatenate([seqs[t], hidden], axis=1)
        hidden = np.tanh(np.dot(both, params["change"]) + params["change_b"])
        prediction = np.dot(hidden, params["predict"]) + params["predict_b"]
        total = total + np.sum((prediction - seqs[t + 1]) ** 2)
    return total / (seqs.shape[0] - 1)


def test_rnn_with_dict_parameters_matches_finite_differences():
    rs = npr.RandomState(1)
    time = numpy.linspace(0, 3, 7)
    seqs = numpy.stack([numpy.sin(time + phase) for phase in rs.rand(4)], axis=1)[:, :, None]
    params = init_rnn(1, 5, 1, rs)
    g = assert_grad_matches_finite_differences(lambda p: rnn_loss(p, seqs), params)
    assert list(g) == list(params) and g["change"].shape == (6, 5)
    loss0, _ = value_and_grad(rnn_loss)(params, seqs)
    trained = sgd(lambda p, i: grad(rnn_loss)(p, seqs), params, num_iters=60, step_size=0.2)
    assert rnn_loss(trained, seqs) < loss0


# ---- a Gaussian mixture model, maximum likelihood --------------------------------------------

def test_mixture_model_gradient_and_fit():
    rs = npr.RandomState(2)
    data = numpy.concatenate([rs.randn(150) * 0.5 - 2.0, rs.randn(100) * 0.8 + 3.0])
    params = {"log_weights": numpy.zeros(2), "means": numpy.array([-0.5, 0.5]), "log_stds": numpy.zeros(2)}
    assert_grad_matches_finite_differences(lambda p: gmm_log_likelihood(p, data), params, rtol=1e-5)
    fitted = adam(lambda p, i: grad(lambda q: -gmm_log_likelihood(q, data) / data.size)(p), params,
                  num_iters=400, step_size=0.05)
    order = numpy.argsort(fitted["means"])
    numpy.testing.assert_allclose(fitted["means"][order], [-2.0, 3.0], atol=0.25)
    numpy.testing.assert_allclose(numpy.exp(fitted["log_stds"][order]), [0.5, 0.8], atol=0.15)
    weights = numpy.exp(fitted["log_weights"] - numpy.log(numpy.exp(fitted["log_weights"]).sum()))
    assert weights[order] == pytest.approx([0.6, 0.4], abs=0.05)
