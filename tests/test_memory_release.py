"""Memory is released when promised (issue 12), measured with the cyclic
garbage collector *disabled*: everything here must be freed by reference
counting alone, at the moment the API says."""
import gc
import os
import sys
import weakref

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import _core
from tapegrad.errors import InvalidArgumentError


@pytest.fixture(autouse=True)
def no_cyclic_gc():
    gc.collect()            # start clean; from here on only refcounting may free anything
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


needs_proc = pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="RSS read from /proc (Linux)")
# Under AddressSanitizer (tools/sanitize.sh) freed memory waits in its quarantine: RSS says nothing there.
_RSS_MEANINGFUL = os.path.exists("/proc/self/statm") and "asan" not in os.environ.get("LD_PRELOAD", "")


def _live():
    return len(gc.get_objects())


def test_a_one_shot_tape_frees_its_recording_when_gradient_returns():
    x = tg.constant(np.linspace(0.0, 1.0, 10))
    with tg.GradientTape() as t:
        t.watch(x)
        h = tg.sin(x)
        y = tg.reduce_sum(h * h)
    saved = weakref.ref(h)
    del h
    assert saved() is not None                     # multiply saved it
    g = t.gradient(y, x)                           # d sum(sin^2) = 2 sin cos
    assert saved() is None
    np.testing.assert_allclose(g.numpy(), np.sin(2 * x.numpy()), rtol=1e-6)


def test_a_persistent_tape_frees_its_recording_when_deleted():
    x = tg.constant(np.linspace(0.0, 1.0, 10))
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        h = tg.exp(x)
        y = tg.reduce_sum(h * h)
    saved, core = weakref.ref(h), weakref.ref(t._wengert)
    del h
    t.gradient(y, x)
    t.gradient(y, x)
    assert saved() is not None
    del t
    assert saved() is None and core() is None


@needs_proc
@pytest.mark.skipif(not _RSS_MEANINGFUL, reason="AddressSanitizer's quarantine keeps freed memory")
def test_a_100_mb_intermediate_goes_back_to_the_os():
    n = 100 * 2**20 // 8
    x = tg.constant(np.full(n, 0.5))
    base = _rss()
    with tg.GradientTape() as t:
        t.watch(x)
        z = tg.reduce_sum(tg.exp(x))                 # exp's 100 MB output is saved for its rule
    grown = _rss() - base
    assert grown > 90 * 2**20
    g = t.gradient(z, x)
    del g
    assert _rss() - base < 20 * 2**20                # freed, and given back (NumPy's big buffers are mmap'd)
    del z


def _leak_check(fn, n):
    fn()                                            # warm caches
    recorders = _core.active_recorders()
    objects, rss = _live(), _rss() if _RSS_MEANINGFUL else 0
    for _ in range(n):
        fn()
    assert _live() - objects < 50, "objects left behind"
    if rss:
        assert _rss() - rss < 8 * 2**20, "memory left behind"
    assert _core.active_recorders() == recorders


def test_failing_ops_inside_recording_tapes_leak_nothing():
    x = tg.constant([1.0, 2.0, 3.0])
    bad = tg.constant([1.0, 2.0])
    with tg.GradientTape(persistent=True) as outer:
        outer.watch(x)
        y = x * x

        def fail():
            with tg.GradientTape() as inner:
                inner.watch(x)
                try:
                    x + bad
                except InvalidArgumentError:
                    pass
                try:
                    tg.reshape(x * 2.0, [2])
                except InvalidArgumentError:
                    pass
        _leak_check(fail, 10_000)                  # 20,000 failing ops, inside two recording tapes
    np.testing.assert_allclose(outer.gradient(y, x).numpy(), [2.0, 4.0, 6.0])


class _Boom(Exception):
    pass


def test_tapes_left_by_exceptions_leak_nothing():
    x = tg.constant(np.ones(50))

    def abandon():
        try:
            with tg.GradientTape(persistent=True) as t:
                t.watch(x)
                tg.reduce_sum(tg.sin(x) * x)
                raise _Boom()
        except _Boom:
            pass
    _leak_check(abandon, 5_000)


def test_rejected_gradient_calls_leak_nothing():
    x = tg.constant([1.0, 2.0])
    with tg.GradientTape() as t:
        t.watch(x)
        y = x * x
    t.gradient(y, x)

    def reject():
        for call in (lambda: t.gradient(y, x), lambda: t.jacobian(y, x), lambda: t.gradient(y, [x, None])):
            try:
                call()
            except (RuntimeError, TypeError):
                pass
    _leak_check(reject, 1_000)                     # 3,000 rejected calls


def test_refcounts_of_user_values_return_to_their_baseline():
    arr = np.linspace(1.0, 2.0, 4)
    scalar = 1.2345678
    x = tg.constant(arr)
    v = tg.Variable(arr)
    before = [sys.getrefcount(o) for o in (arr, scalar, x, v)]
    for persistent in (False, True):
        with tg.GradientTape(persistent=persistent) as t:
            t.watch(x)
            y = tg.reduce_sum(x * arr * scalar + v * x)
        gx, gv = t.gradient(y, [x, v])
        np.testing.assert_allclose(gx.numpy(), arr * scalar + arr)     # d/dx = a*s + v
        np.testing.assert_allclose(gv.numpy(), arr)                    # d/dv = x
        del t, y, gx, gv
    with tg.autodiff.ForwardAccumulator(x, arr) as acc:
        z = x * scalar
    np.testing.assert_allclose(acc.jvp(z).numpy(), arr * scalar)
    del acc, z
    assert [sys.getrefcount(o) for o in (arr, scalar, x, v)] == before
