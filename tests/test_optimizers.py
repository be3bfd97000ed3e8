"""tapegrad.optimizers against the published update formulas, computed here by
hand in NumPy over several steps, and against values and errors observed on
TensorFlow 2.21 / Keras 3.15.1 (docs/training.md, section 2)."""
import math
import warnings

import numpy as np
import pytest

import tapegrad as tg
from tapegrad.optimizers import schedules

from conftest import raises_exactly


def f32(a):
    """Keras casts some Python constants through float32 before using them."""
    return float(np.float32(a))


# ---- the update formulas, one function per optimizer: state dict, gradient, value -> new value ----

def ref_sgd(st, g, x, lr, t, momentum=0.0, nesterov=False, **_):
    if momentum == 0:
        return x - lr * g
    mu = f32(momentum)
    st["m"] = mu * st.get("m", 0 * x) - lr * g
    return x + (mu * st["m"] - lr * g if nesterov else st["m"])


def ref_adam(st, g, x, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, amsgrad=False, **_):
    st["m"] = st.get("m", 0 * x) + (g - st.get("m", 0 * x)) * (1 - beta_1)
    st["v"] = st.get("v", 0 * x) + (g * g - st.get("v", 0 * x)) * (1 - beta_2)
    v = st["v"]
    if amsgrad:
        st["vh"] = v = np.maximum(st.get("vh", 0 * x), v)
    alpha = lr * math.sqrt(1 - f32(beta_2) ** t) / (1 - f32(beta_1) ** t)
    return x - st["m"] * alpha / (np.sqrt(v) + epsilon)


def ref_rmsprop(st, g, x, lr, t, rho=0.9, momentum=0.0, epsilon=1e-7, centered=False, **_):
    st["v"] = rho * st.get("v", 0 * x) + (1 - rho) * g * g
    denominator = st["v"] + epsilon
    if centered:
        st["a"] = rho * st.get("a", 0 * x) + (1 - rho) * g
        denominator = st["v"] - st["a"] ** 2 + epsilon
    step = lr * g / np.sqrt(denominator)
    if momentum > 0:
        st["mo"] = momentum * st.get("mo", 0 * x) + step
        step = st["mo"]
    return x - step


def ref_adagrad(st, g, x, lr, t, initial_accumulator_value=0.1, epsilon=1e-7, **_):
    st["acc"] = st.get("acc", 0 * x + f32(initial_accumulator_value)) + g * g
    return x - lr * g / np.sqrt(st["acc"] + epsilon)


def ref_adadelta(st, g, x, lr, t, rho=0.95, epsilon=1e-7, **_):
    st["eg"] = rho * st.get("eg", 0 * x) + (1 - rho) * g * g
    delta = -np.sqrt(st.get("edx", 0 * x) + epsilon) * g / np.sqrt(st["eg"] + epsilon)
    st["edx"] = rho * st.get("edx", 0 * x) + (1 - rho) * delta * delta
    return x + lr * delta


def ref_adamax(st, g, x, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **_):
    st["m"] = st.get("m", 0 * x) + (g - st.get("m", 0 * x)) * (1 - beta_1)
    st["u"] = np.maximum(beta_2 * st.get("u", 0 * x), np.abs(g))
    return x - lr * st["m"] / ((1 - f32(beta_1) ** t) * (st["u"] + epsilon))


def ref_nadam(st, g, x, lr, t, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **_):
    st["prod"] = st.get("prod", 1.0) * beta_1 * (1 - 0.5 * 0.96 ** t)       # one scalar per optimizer
    b1, b2, d = f32(beta_1), f32(beta_2), f32(0.96)
    u_t, u_next = b1 * (1 - 0.5 * d ** t), b1 * (1 - 0.5 * d ** (t + 1))
    st["m"] = st.get("m", 0 * x) + (g - st.get("m", 0 * x)) * (1 - b1)
    st["v"] = st.get("v", 0 * x) + (g * g - st.get("v", 0 * x)) * (1 - b2)
    m_hat = u_next * st["m"] / (1 - st["prod"] * u_next) + (1 - u_t) * g / (1 - st["prod"])
    v_hat = st["v"] / (1 - b2 ** t)
    return x - lr * m_hat / (np.sqrt(v_hat) + epsilon)


REF = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adam, "RMSprop": ref_rmsprop, "Adagrad": ref_adagrad,
       "Adadelta": ref_adadelta, "Adamax": ref_adamax, "Nadam": ref_nadam}


def reference(name, lr, kw, grads, x0):
    """The formula over the steps, in float64, with Keras' decoupled weight decay first."""
    lr = f32(lr)
    wd = kw.get("weight_decay", 0.004 if name == "AdamW" else None)
    st, x = {}, x0.astype(np.float64)
    for t, g in enumerate(grads, start=1):
        if wd is not None:
            x = x - x * f32(wd) * lr
        x = REF[name](st, g.astype(np.float64), x, lr, t, **kw)
    return x


X0 = np.array([[1.0, -2.0], [3.0, 0.5]])
GRADS = [np.array([[0.1, -0.2], [0.3, 0.0]]), np.array([[-0.5, 0.4], [0.05, 1.0]]),
         np.array([[0.2, 0.2], [-0.7, 0.3]])]
CASES = [("SGD", {}), ("SGD", dict(momentum=0.9)), ("SGD", dict(momentum=0.9, nesterov=True)),
         ("SGD", dict(momentum=0.5, weight_decay=0.1)),
         ("Adam", {}), ("Adam", dict(amsgrad=True)), ("Adam", dict(weight_decay=0.1, epsilon=0.1)),
         ("AdamW", {}), ("AdamW", dict(weight_decay=0.5, amsgrad=True)),
         ("RMSprop", {}), ("RMSprop", dict(rho=0.8, momentum=0.5, centered=True)),
         ("Adagrad", {}), ("Adagrad", dict(initial_accumulator_value=0.0, epsilon=0.01)),
         ("Adadelta", {}), ("Adadelta", dict(rho=0.5)),
         ("Nadam", {}), ("Adamax", {}), ("Adamax", dict(beta_2=0.5))]
# After the three steps, float64, default arguments: the values TensorFlow 2.21 printed (rounded to 6 digits).
OBSERVED = {"SGD": [1.02, -2.04, 3.035, 0.37], "Adam": [0.979558, -1.988535, 2.85616, 0.352129],
            "AdamW": [0.978414, -1.986202, 2.852673, 0.351559], "RMSprop": [0.873449, -2.105446, 2.92351, 0.088426],
            "Adagrad": [1.021559, -2.053877, 3.004511, 0.377153], "Adadelta": [0.999509, -2.001502, 3.0001, 0.497997],
            "Nadam": [0.959878, -2.029385, 2.964229, 0.358898], "Adamax": [0.955643, -1.9657, 2.865522, 0.403044]}


def run(name, kw, dtype, lr):
    var = tg.Variable(X0.astype(dtype))
    opt = getattr(tg.optimizers, name)(learning_rate=lr, **kw)
    for g in GRADS:
        opt.apply_gradients([(tg.constant(g.astype(dtype)), var)])
    return var.numpy()


@pytest.mark.parametrize("name,kw", CASES, ids=[f"{n}-{kw}" for n, kw in CASES])
def test_three_steps_match_the_published_formula(name, kw):
    lr = 1.0 if name == "Adadelta" else 0.1
    want = reference(name, lr, kw, GRADS, X0)
    got64 = run(name, kw, np.float64, lr)
    assert got64.dtype == np.float64
    np.testing.assert_allclose(got64, want, rtol=0, atol=1e-12)
    got32 = run(name, kw, np.float32, lr)
    assert got32.dtype == np.float32
    np.testing.assert_allclose(got32, want, rtol=0, atol=1e-6)
    if not kw:
        np.testing.assert_allclose(got64.ravel(), OBSERVED[name], rtol=0, atol=6e-7)


def test_hand_computed_adam_first_step():
    # t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is lr * sign(g) * (1 - tiny)
    v = tg.Variable(np.array([1.0, 2.0]))
    tg.optimizers.Adam(learning_rate=0.1).apply_gradients([(tg.constant([0.5, -0.5], tg.float32), v)])
    alpha = f32(0.1) * math.sqrt(1 - f32(0.999)) / (1 - f32(0.9))
    step = 0.05 * alpha / (math.sqrt(0.001 * 0.25) + 1e-7)
    np.testing.assert_allclose(v.numpy(), [1 - step, 2 + step], rtol=0, atol=1e-15)
    assert v.dtype == tg.float64
    np.testing.assert_allclose(v.numpy(), [0.9000013, 2.0999987], atol=5e-8)     # TensorFlow's print


def test_nadam_product_advances_once_per_step():
    x0 = np.array([1.0, 2.0], np.float32)
    a, b, c = tg.Variable(x0), tg.Variable(x0), tg.Variable(x0)
    opt, opt2 = tg.optimizers.Nadam(learning_rate=0.1), tg.optimizers.Nadam(learning_rate=0.1)
    for g in ([0.3, -0.1], [0.2, 0.5]):
        opt.apply_gradients([(tg.constant(g), a), (tg.constant(g), b)])
        opt2.apply_gradients([(tg.constant(g), c)])
    for v in (a, b, c):
        np.testing.assert_allclose(v.numpy(), [0.8310304, 2.0075076], atol=1e-6)
    assert opt.variables[-1].name == "variable:0"
    np.testing.assert_allclose(float(opt.variables[-1]), 0.22711101, rtol=1e-6)
    # the running product by hand: 0.9 (1 - 0.5 * 0.96) * 0.9 (1 - 0.5 * 0.96^2)
    assert float(opt.variables[-1]) == pytest.approx(0.9 * (1 - 0.48) * 0.9 * (1 - 0.5 * 0.9216), rel=1e-6)


# ---- apply_gradients, apply, minimize ----------------------------------------------------------

def test_apply_gradients_returns_iterations_and_accepts_subsets():
    w, b = tg.Variable([1.0, 2.0], name="w"), tg.Variable(0.5, name="b")
    opt = tg.optimizers.SGD(learning_rate=0.1)
    r = opt.apply_gradients(zip([tg.constant([1.0, 1.0]), tg.constant(1.0)], [w, b]))
    assert r is opt.iterations and r.dtype == tg.int64 and int(r) == 1
    np.testing.assert_allclose(w.numpy(), [0.9, 1.9])
    assert b.numpy() == pytest.approx(0.4)
    opt.apply_gradients([(tg.constant(2.0), b)])
    assert b.numpy() == pytest.approx(0.2) and int(opt.iterations) == 2
    opt.apply([tg.constant([1.0, 1.0]), tg.constant(1.0)])
    np.testing.assert_allclose(w.numpy(), [0.8, 1.8], rtol=1e-6)
    assert b.numpy() == pytest.approx(0.1) and int(opt.iterations) == 3
    c = tg.Variable(1.0, name="c")
    with pytest.raises(ValueError, match=r"^Unknown variable: <tapegrad.Variable 'c:0' .*This optimizer can only "
                                         r"be called for the variables it was originally built with\. When working "
                                         r"with a new set of variables, you should recreate a new optimizer "
                                         r"instance\.$"):
        opt.apply_gradients([(tg.constant(1.0), c)])
    with raises_exactly(ValueError, "not enough values to unpack (expected 2, got 0)"):
        opt.apply_gradients([])
    with raises_exactly(ValueError, "When passing `grads` as a list of gradient tensors, the gradients must match "
                                    "`optimizer.variables` one-to-on. Received a list of 1 gradients, but the "
                                    "optimizer is tracking 2 trainable variables."):
        opt.apply([tg.constant(1.0)])


def test_none_gradients_are_skipped_with_a_warning():
    a, b, c = tg.Variable(1.0, name="a"), tg.Variable(2.0, name="b"), tg.Variable(3.0, name="c")
    opt = tg.optimizers.Adam(learning_rate=0.1)
    with pytest.warns(UserWarning) as rec:
        opt.apply_gradients([(None, a), (tg.constant(1.0), b), (None, c)])
    assert [str(w.message) for w in rec] == [
        "Gradients do not exist for variables ['a:0', 'c:0'] when minimizing the loss. If using `model.compile()`, "
        "did you forget to provide a `loss` argument?"]
    assert (a.numpy(), c.numpy()) == (1.0, 3.0)
    assert b.numpy() == pytest.approx(1.900001, abs=1e-6)
    assert int(opt.iterations) == 1 and len(opt.variables) == 8       # slots exist for the skipped ones too
    with raises_exactly(ValueError, "No gradients provided for any variable."):
        opt.apply_gradients([(None, a), (None, b)])
    assert int(opt.iterations) == 1


def test_minimize_with_a_callable_loss_and_with_a_tape():
    w = tg.Variable([1.0, -2.0])
    opt = tg.optimizers.SGD(learning_rate=0.25)
    opt.minimize(lambda: tg.reduce_sum(w * w), [w])                # gradient 2w
    np.testing.assert_allclose(w.numpy(), [0.5, -1.0])
    with tg.GradientTape() as tape:
        loss = tg.reduce_sum(w * w)
    assert opt.minimize(loss, [w], tape=tape) is opt.iterations
    np.testing.assert_allclose(w.numpy(), [0.25, -0.5])
    with pytest.raises(ValueError, match=r"^`tape` is required when a `Tensor` loss is passed\. Received: "):
        opt.minimize(loss, [w])
    pairs = opt.compute_gradients(lambda: tg.reduce_sum(3.0 * w), lambda: [w])
    assert pairs[0][1] is w and pairs[0][0].numpy().tolist() == [3.0, 3.0]


# ---- construction -----------------------------------------------------------------------------

def test_constructor_validation_and_names():
    lr_text = ("Argument `learning_rate` should be float, or an instance of LearningRateSchedule, or a callable "
               "(that takes in the current iteration value and returns the corresponding learning rate value). "
               "Received instead: learning_rate=")
    with raises_exactly(ValueError, lr_text + "1"):
        tg.optimizers.SGD(learning_rate=1)
    with raises_exactly(ValueError, lr_text + "0.1"):
        tg.optimizers.SGD(learning_rate="0.1")
    for m in (1, 1.5, -0.1):
        with raises_exactly(ValueError, "`momentum` must be a float between [0, 1]."):
            tg.optimizers.SGD(momentum=m)
    with raises_exactly(ValueError, "Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                                    "Received: clipnorm=1.0, clipvalue=1.0, global_clipnorm=None"):
        tg.optimizers.SGD(clipnorm=1.0, clipvalue=1.0)
    with raises_exactly(ValueError, "Argument(s) not recognized: {'beta1': 0.9}"):
        tg.optimizers.Adam(beta1=0.9)
    with raises_exactly(ValueError, "Argument `weight_decay` must be a float. Received: weight_decay=None"):
        tg.optimizers.AdamW(weight_decay=None)
    with pytest.warns(UserWarning, match="^Argument `decay` is no longer supported and will be ignored.$"):
        tg.optimizers.SGD(decay=0.1)
    names = [tg.optimizers.RMSprop().name, tg.optimizers.RMSprop().name, tg.optimizers.AdamW().name]
    assert names[0].startswith("rm_sprop") and names[2].startswith("adam_w")
    base = names[0]
    assert names[1] == ("rm_sprop_1" if base == "rm_sprop" else f"rm_sprop_{int(base.split('_')[-1]) + 1}")
    assert tg.optimizers.SGD(name="mine").name == "mine"
    o = tg.optimizers.Adam(learning_rate=0.5)
    assert o.learning_rate.dtype == tg.float32 and float(o.learning_rate) == 0.5
    assert o.iterations.dtype == tg.int64 and int(o.iterations) == 0
    assert (o.epsilon, o.beta_1, o.beta_2, o.amsgrad, o.weight_decay, o.clipnorm, o.clipvalue,
            o.global_clipnorm, o.use_ema) == (1e-07, 0.9, 0.999, False, None, None, None, None, False)


def test_slot_variables_names_shapes_dtypes():
    w = tg.Variable(tg.ones([2, 2]), name="dense/kernel")
    b = tg.Variable(tg.zeros([2], tg.float64), name="b")
    opt = tg.optimizers.Adam(amsgrad=True)
    assert [v.name for v in opt.variables] == ["iteration:0", "learning_rate:0"]
    opt.apply_gradients([(tg.ones([2, 2]), w), (tg.zeros([2], tg.float64), b)])
    got = [(v.name, tuple(v.shape), v.dtype.name, v.trainable) for v in opt.variables]
    assert got == [("iteration:0", (), "int64", False), ("learning_rate:0", (), "float32", False),
                   ("dense_kernel_0_momentum:0", (2, 2), "float32", False),
                   ("dense_kernel_0_velocity:0", (2, 2), "float32", False),
                   ("b_0_momentum:0", (2,), "float64", False), ("b_0_velocity:0", (2,), "float64", False),
                   ("dense_kernel_0_velocity_hat:0", (2, 2), "float32", False),
                   ("b_0_velocity_hat:0", (2,), "float64", False)]
    expected = {("SGD", (("momentum", 0.9),)): ["dense_kernel_0_momentum"], ("SGD", ()): [],
                ("RMSprop", (("momentum", 0.5), ("centered", True))): [
                    "dense_kernel_0_velocity", "dense_kernel_0_momentum", "dense_kernel_0_average_gradient"],
                ("Adagrad", ()): ["dense_kernel_0_accumulator"],
                ("Adadelta", ()): ["dense_kernel_0_accumulated_grad", "dense_kernel_0_accumulated_delta_var"],
                ("Adamax", ()): ["dense_kernel_0_momentum", "dense_kernel_0_norm"],
                ("Nadam", ()): ["dense_kernel_0_momentum", "dense_kernel_0_velocity", "variable"],
                ("AdamW", ()): ["dense_kernel_0_momentum", "dense_kernel_0_velocity"]}
    for (cls, kw), slots in expected.items():
        o = getattr(tg.optimizers, cls)(**dict(kw))
        o.build([w])
        assert [v.name for v in o.variables] == ["iteration:0", "learning_rate:0"] + [s + ":0" for s in slots]
        first = float(np.ravel(o.variables[-1].numpy())[0])
        assert first == {"Adagrad": f32(0.1), "Nadam": 1.0}.get(cls, 0.0 if slots else f32(0.01))
    o = tg.optimizers.SGD(learning_rate=schedules.ExponentialDecay(0.1, 10, 0.5), momentum=0.9)
    o.build([w])
    assert [v.name for v in o.variables] == ["iteration:0", "dense_kernel_0_momentum:0"]


def test_optimizer_variables_ignore_the_callers_name_scope():
    with tg.name_scope("outer"):
        o = tg.optimizers.SGD(momentum=0.5)
    o.build([tg.Variable(1.0, name="w")])
    assert [v.name for v in o.variables] == ["iteration:0", "learning_rate:0", "w_0_momentum:0"]


# ---- clipping, weight decay, EMA, loss scaling ---------------------------------------------------

def sgd_step(**kw):
    a, b = tg.Variable([0.0, 0.0]), tg.Variable([0.0])
    tg.optimizers.SGD(learning_rate=1.0, **kw).apply_gradients([(tg.constant([3.0, 4.0]), a),
                                                                (tg.constant([12.0]), b)])
    return (-a.numpy()).tolist(), (-b.numpy()).tolist()


def test_clipping():
    assert sgd_step() == ([3.0, 4.0], [12.0])
    np.testing.assert_allclose(np.concatenate(sgd_step(clipnorm=1.0)), [0.6, 0.8, 1.0], rtol=1e-6)
    assert sgd_step(clipnorm=0.0) == ([3.0, 4.0], [12.0])
    assert sgd_step(global_clipnorm=6.5) == ([1.5, 2.0], [6.0])          # global norm 13
    assert sgd_step(global_clipnorm=100.0) == ([3.0, 4.0], [12.0])
    assert sgd_step(clipvalue=3.5) == ([3.0, 3.5], [3.5])
    a, b = tg.Variable([0.0, 0.0]), tg.Variable([0.0])
    tg.optimizers.SGD(learning_rate=1.0, global_clipnorm=1.0).apply_gradients(
        [(tg.constant([np.inf, 1.0]), a), (tg.constant([1.0]), b)])
    assert np.isnan(a.numpy()).all() and np.isnan(b.numpy()).all()


def test_weight_decay_is_decoupled_and_can_exclude_variables():
    a, b = tg.Variable([1.0], name="kernel"), tg.Variable([1.0], name="bias")
    opt = tg.optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    opt.exclude_from_weight_decay(var_names=["bias"])
    opt.apply_gradients([(tg.constant([0.0]), a), (tg.constant([0.0]), b)])
    assert a.numpy().tolist() == [np.float32(0.95)] and b.numpy().tolist() == [1.0]
    with raises_exactly(ValueError, "`exclude_from_weight_decay()` can only be configued before the optimizer is "
                                    "built."):
        opt.exclude_from_weight_decay(var_list=[a])
    c = tg.Variable([2.0])
    o2 = tg.optimizers.SGD(learning_rate=0.1, weight_decay=0.5)
    o2.exclude_from_weight_decay(var_list=[c])
    o2.apply_gradients([(tg.constant([1.0]), c)])
    assert c.numpy() == pytest.approx(1.9)


def test_moving_averages_and_loss_scale():
    v = tg.Variable([1.0])
    opt = tg.optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5)
    seen = []
    for _ in range(3):
        opt.apply_gradients([(tg.constant([1.0]), v)])
        seen.append((v.numpy()[0], [(s.name, s.numpy()[0]) for s in opt.variables[2:]]))
    assert seen == [(0.0, [("Variable_0_average:0", 0.0)]), (-1.0, [("Variable_0_average:0", -0.5)]),
                    (-2.0, [("Variable_0_average:0", -1.25)])]
    v = tg.Variable([1.0])
    opt = tg.optimizers.SGD(learning_rate=1.0, use_ema=True, ema_momentum=0.5, ema_overwrite_frequency=2)
    got = []
    for _ in range(3):
        opt.apply_gradients([(tg.constant([1.0]), v)])
        got.append(v.numpy()[0])
    assert got == [0.0, -0.5, -1.5]
    v = tg.Variable([1.0])
    o = tg.optimizers.SGD(learning_rate=1.0, loss_scale_factor=4.0)
    o.apply_gradients([(tg.constant([2.0]), v)])
    assert v.numpy()[0] == 0.5 and o.scale_loss(3.0) == 12.0
    with raises_exactly(ValueError, "`ema_momentum` must be in the range [0, 1]. Received: ema_momentum=2.0"):
        tg.optimizers.SGD(use_ema=True, ema_momentum=2.0)
    with pytest.raises(NotImplementedError, match="gradient_accumulation_steps"):
        tg.optimizers.SGD(gradient_accumulation_steps=2)


def test_gradient_dtype_is_cast_and_shape_checked():
    v = tg.Variable(np.zeros(2))
    tg.optimizers.SGD(learning_rate=0.5).apply_gradients([(np.array([1.0, 2.0], np.float32), v)])
    assert v.dtype == tg.float64 and v.numpy().tolist() == [-f32(0.5), -2 * f32(0.5)]
    with pytest.raises(tg.errors.InvalidArgumentError, match=r"Incompatible shapes: \[3\] vs. \[2\]"):
        tg.optimizers.SGD().apply_gradients([(tg.ones([3]), v)])


def test_gradients_from_a_tape_into_an_optimizer_inside_a_tape_are_not_recorded():
    w = tg.Variable([1.0, 2.0])
    opt = tg.optimizers.Adam(0.1)
    with tg.GradientTape() as outer:
        with tg.GradientTape() as tape:
            loss = tg.reduce_sum(w * w)
        opt.apply_gradients(zip(tape.gradient(loss, [w]), [w]))
        y = tg.reduce_sum(w)
    assert outer.gradient(y, w).numpy().tolist() == [1.0, 1.0]


# ---- learning-rate schedules ------------------------------------------------------------------

STEPS = [0, 1, 5, 10, 15, 20, 30]
SCHEDULES = {
    "exp": (lambda: schedules.ExponentialDecay(0.1, 10, 0.5),
            [0.1, 0.0933033, 0.0707107, 0.05, 0.0353553, 0.025, 0.0125]),
    "exp_stair": (lambda: schedules.ExponentialDecay(0.1, 10, 0.5, staircase=True),
                  [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.0125]),
    "inv": (lambda: schedules.InverseTimeDecay(0.1, 10, 0.5),
            [0.1, 0.0952381, 0.08, 0.0666667, 0.0571429, 0.05, 0.04]),
    "inv_stair": (lambda: schedules.InverseTimeDecay(0.1, 10, 0.5, staircase=True),
                  [0.1, 0.1, 0.1, 0.0666667, 0.0666667, 0.05, 0.04]),
    "pw": (lambda: schedules.PiecewiseConstantDecay([5, 15], [1.0, 0.5, 0.1]), [1.0, 1.0, 1.0, 0.5, 0.5, 0.1, 0.1]),
    "cos": (lambda: schedules.CosineDecay(0.1, 20, alpha=0.1),
            [0.1, 0.099446, 0.0868198, 0.055, 0.0231802, 0.01, 0.01]),
    "cos_warm": (lambda: schedules.CosineDecay(0.0, 20, warmup_target=0.1, warmup_steps=10),
                 [0.0, 0.01, 0.05, 0.1, 0.0853553, 0.05, 0.0]),
}


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedules_values(name):
    make, observed = SCHEDULES[name]
    s = make()
    got = [s(step) for step in STEPS]
    assert all(g.dtype == tg.float32 for g in got)
    np.testing.assert_allclose([float(g) for g in got], observed, rtol=0, atol=6e-8)


def test_schedule_formulas_by_hand():
    def cosine(step, lr0=0.1, decay=20, alpha=0.1):
        s = min(step, decay) / decay
        return lr0 * ((1 - alpha) * 0.5 * (1 + math.cos(math.pi * s)) + alpha)
    s = schedules.CosineDecay(0.1, 20, alpha=0.1)
    for step in range(0, 40, 3):
        assert float(s(step)) == pytest.approx(cosine(step), rel=1e-6)
    e = schedules.ExponentialDecay(0.3, 7, 0.8)
    for step in range(0, 40, 3):
        assert float(e(tg.constant(step))) == pytest.approx(0.3 * 0.8 ** (step / 7), rel=1e-6)
    pw = schedules.PiecewiseConstantDecay([5, 15], [1.0, 0.5, 0.1])
    assert float(pw(tg.constant(5))) == 1.0 and float(pw(5.5)) == 0.5
    with raises_exactly(ValueError, "The length of boundaries should be 1 less than the length of values. Received: "
                                    "boundaries=[5, 15] of length 2, and values=[1.0, 0.5] of length 2."):
        schedules.PiecewiseConstantDecay([5, 15], [1.0, 0.5])


def test_optimizer_evaluates_the_schedule_before_incrementing():
    v = tg.Variable(0.0)
    opt = tg.optimizers.SGD(learning_rate=schedules.ExponentialDecay(1.0, 1, 0.5))
    seen = []
    for _ in range(3):
        seen.append(float(opt.learning_rate))
        opt.apply_gradients([(tg.constant(1.0), v)])
    assert seen == [1.0, 0.5, 0.25] and v.numpy() == -1.75 and float(opt.learning_rate) == 0.125
    with raises_exactly(TypeError, "This optimizer was created with a `LearningRateSchedule` object as its "
                                   "`learning_rate` constructor argument, hence its learning rate is not settable. If "
                                   "you need the learning rate to be settable, you should instantiate the optimizer "
                                   "with a float `learning_rate` argument."):
        opt.learning_rate = 0.1
    o2 = tg.optimizers.SGD(learning_rate=0.1)
    o2.learning_rate = 0.5
    assert float(o2.learning_rate) == 0.5


def test_callable_learning_rate_takes_no_arguments():
    v = tg.Variable(0.0)
    rates = iter([0.5, 0.25])
    opt = tg.optimizers.SGD(learning_rate=lambda: next(rates))
    opt.apply_gradients([(tg.constant(1.0), v)])
    opt.apply_gradients([(tg.constant(1.0), v)])
    assert v.numpy() == -0.75 and [x.name for x in opt.variables] == ["iteration:0"]


def test_adam_weight_decay_uses_the_scheduled_rate():
    sched = schedules.PiecewiseConstantDecay([0], [0.2, 0.1])
    v = tg.Variable(np.array([1.0, -1.0]))
    opt = tg.optimizers.Adam(learning_rate=sched, weight_decay=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for g in GRADS[:2]:
            opt.apply_gradients([(tg.constant(g[0]), v)])
    st, x = {}, np.array([1.0, -1.0])
    for t, g in enumerate(GRADS[:2], start=1):
        lr = f32(0.2 if t == 1 else 0.1)
        x = x - x * f32(0.5) * lr
        x = ref_adam(st, g[0], x, lr, t)
    np.testing.assert_allclose(v.numpy(), x, rtol=0, atol=1e-12)
