"""Two programs in the PyTorch tutorials' style, run by tapegrad.torch: d2l's linear
regression from scratch (minibatches, `param -= lr * param.grad` under no_grad,
`grad.zero_()`) and a small softmax classifier with `cross_entropy` / `log_softmax`.
Gradients are checked against hand-derived formulas in NumPy, names and reprs
against PyTorch 2.13's (observed by running the same programs in PyTorch)."""
import random

import numpy as np

import tapegrad.torch as torch
import tapegrad.torch.nn.functional as F


def test_d2l_linear_regression_from_scratch():
    torch.manual_seed(0)
    rng = random.Random(0)

    def synthetic_data(w, b, num_examples):
        X = torch.normal(0, 1, (num_examples, len(w)))
        y = torch.matmul(X, w) + b
        y += torch.normal(0, 0.01, y.shape)
        return X, y.reshape((-1, 1))

    true_w = torch.tensor([2, -3.4])
    true_b = 4.2
    features, labels = synthetic_data(true_w, true_b, 1000)

    def data_iter(batch_size, features, labels):
        num_examples = len(features)
        indices = list(range(num_examples))
        rng.shuffle(indices)
        for i in range(0, num_examples, batch_size):
            batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)])
            yield features[batch_indices], labels[batch_indices]

    def linreg(X, w, b):
        return torch.matmul(X, w) + b

    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2

    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param -= lr * param.grad / batch_size
                param.grad.zero_()

    w = torch.normal(0, 0.01, size=(2, 1), requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    lr, num_epochs, batch_size = 0.03, 3, 10
    first = True
    for _epoch in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels):
            if first:                                    # the first step against the hand-derived gradient
                Xn, yn = X.numpy().astype(np.float64), y.numpy().astype(np.float64)
                r = Xn @ w.detach().numpy().astype(np.float64) + float(b.item()) - yn
            batch_loss = squared_loss(linreg(X, w, b), y)   # d2l names it l
            batch_loss.sum().backward()
            if first:
                np.testing.assert_allclose(w.grad.numpy(), Xn.T @ r, rtol=1e-5, atol=1e-5)
                np.testing.assert_allclose(b.grad.numpy(), [r.sum()], rtol=1e-5, atol=1e-5)
                first = False
            sgd([w, b], lr, batch_size)
            assert w.is_leaf and w.requires_grad and repr(b.grad) == "tensor([0.])"
    with torch.no_grad():
        train_l = squared_loss(linreg(features, w, b), labels)
    assert float(train_l.mean()) < 1e-3
    err_w = true_w - w.reshape(true_w.shape)
    err_b = true_b - b
    assert repr(err_w).endswith("grad_fn=<SubBackward0>)") and repr(err_b).endswith("grad_fn=<RsubBackward1>)")
    assert np.abs(err_w.detach().numpy()).max() < 5e-3 and abs(float(err_b.detach()[0])) < 5e-3


def test_softmax_classifier_with_cross_entropy():
    torch.manual_seed(1)
    n, d, k = 30, 4, 3
    centers = torch.tensor([[2., 0., 0., 1.], [-2., 1., 0., 0.], [0., -2., 2., 0.]])
    y = torch.arange(n) % k
    X = centers[y] + 0.5 * torch.randn(n, d)
    W = torch.normal(0, 0.1, size=(d, k), requires_grad=True)
    b = torch.zeros(k, requires_grad=True)
    logits = X @ W + b
    loss = F.cross_entropy(logits, y)
    manual = -F.log_softmax(logits, dim=1)[torch.arange(n), y].mean()
    assert repr(loss.grad_fn).startswith("<NllLossBackward0") and repr(manual.grad_fn).startswith("<NegBackward0")
    # by hand: softmax(logits) - onehot(y), averaged over the batch
    Xn, Wn = X.numpy().astype(np.float64), W.detach().numpy().astype(np.float64)
    z = Xn @ Wn
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(k)[y.numpy()]
    expected_loss = -np.log(p[np.arange(n), y.numpy()]).mean()
    np.testing.assert_allclose([loss.item(), manual.item()], [expected_loss] * 2, rtol=1e-5)
    loss.backward(retain_graph=True)                     # manual shares logits' graph
    np.testing.assert_allclose(W.grad.numpy(), Xn.T @ (p - onehot) / n, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), (p - onehot).mean(0), rtol=1e-4, atol=1e-6)
    g_manual = torch.autograd.grad(manual, W)[0]
    np.testing.assert_allclose(g_manual.numpy(), W.grad.numpy(), rtol=1e-5, atol=1e-7)
    for _step in range(50):
        W.grad = None
        b.grad = None
        logits = X @ W + b
        loss = F.cross_entropy(logits, y)
        loss.backward()
        with torch.no_grad():
            W -= 0.5 * W.grad
            b -= 0.5 * b.grad
    assert loss.item() < 0.05
    assert (logits.argmax(dim=1) == y).float().mean().item() == 1.0
    probs = torch.softmax(X @ W + b, dim=1)
    sums = probs.sum(dim=1)[:3]
    assert repr(sums.grad_fn).startswith("<SliceBackward0") and np.allclose(sums.detach().numpy(), 1)
    assert repr(probs[0].grad_fn).startswith("<SelectBackward0")


def test_remainder_and_floor_division():
    a = torch.arange(5)
    assert repr((a % 3, a // 2, 7 % torch.tensor([2, 3]))) == (
        "(tensor([0, 1, 2, 0, 1]), tensor([0, 0, 1, 1, 2]), tensor([1, 1]))")
    x = torch.tensor([-3.5, 2.5], requires_grad=True)
    r = x % 2
    assert repr(r) == "tensor([0.5000, 0.5000], grad_fn=<RemainderBackward0>)"
    r.sum().backward()
    assert repr(x.grad) == "tensor([1., 1.])"
    try:
        (x // 2).sum().backward()
    except RuntimeError as e:                            # PyTorch raises this at backward
        assert str(e) == "derivative for aten::floor_divide is not implemented"
    else:
        raise AssertionError("no error")
