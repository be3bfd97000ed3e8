"""autograd's extension API on tapegrad's engine: ``primitive``, ``defvjp``,
``defvjp_argnum``, ``defjvp``, ``defjvp_argnum``, ``def_linear`` and
``notrace_primitive``.

``primitive(f)`` makes one engine op (a `tapegrad._core.Op` with a joint rule)
for ``f``.  A call whose positional arguments hold tensors (the values a
transform traces) runs ``f`` on their NumPy values and is recorded like any
tapegrad op: reverse mode calls the ``defvjp`` rules, forward mode the
``defjvp`` rules, and when another tape records the sweep (higher order) the
rules run on tensors and are recorded too, so a rule written with NumPy
functions is itself differentiable.  A call without tensors is a plain call.

Rule conventions are autograd's:

* ``defvjp(f, maker_0, maker_1, ...)``: ``maker_i(ans, *args, **kwargs)``
  returns ``lambda g: <gradient for positional argument i>``; ``None`` means
  zeros.  ``defvjp_argnum(f, maker)``: ``maker(argnum, ans, args, kwargs)``.
* ``defjvp(f, jvp_0, ...)``: ``jvp_i(g, ans, *args, **kwargs)`` returns the
  output tangent for argument i's tangent ``g``; ``None`` means zero,
  ``"same"`` means f is linear in that argument.
  ``defjvp_argnum(f, maker)``: ``maker(argnum, g, ans, args, kwargs)``.

Only positional arguments are traced (as in autograd); an argument may be a
list, tuple or dict of arrays, and its gradient then has that structure.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from tapegrad import _core, _nest
from tapegrad._core import SAVE_ANS, SAVE_INPUTS, Op, Tensor, Variable

__all__ = ["primitive", "defvjp", "defvjp_argnum", "defjvp", "defjvp_argnum", "def_linear",
           "notrace_primitive"]


def _traced(x):
    return isinstance(x, (Tensor, Variable))


class _Call:
    """One call of a primitive: where its traced leaves sit among the
    positional arguments (one op input per traced leaf)."""
    __slots__ = ("args", "kwargs", "slots", "argnums")

    def __init__(self, args, kwargs, slots, argnums):
        self.args = args            # the positional arguments, traced leaves included
        self.kwargs = kwargs
        self.slots = slots          # per op input: (argument position, leaf index or None)
        self.argnums = argnums      # positions holding traced leaves, in order

    def rebuild(self, values):
        """The positional arguments with the traced leaves replaced by `values`."""
        args = list(self.args)
        by_arg = {}
        for (pos, leaf), v in zip(self.slots, values):
            if leaf is None:
                args[pos] = v
            else:
                by_arg.setdefault(pos, {})[leaf] = v
        for pos, repl in by_arg.items():
            flat = _nest.flatten(self.args[pos])
            args[pos] = _nest.pack_sequence_as(self.args[pos], [repl.get(k, x) for k, x in enumerate(flat)])
        return args

    def inputs_of(self, pos):
        return [k for k, (p, _) in enumerate(self.slots) if p == pos]


class Primitive:
    """A function tapegrad records as one op, with autograd-style rules."""

    def __init__(self, fun: Callable[..., Any]):
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.vjpmakers: dict[int, Any] = {}
        self.vjp_argnum: Any = None
        self.jvprules: dict[int, Any] = {}
        self.jvp_argnum: Any = None
        name = getattr(fun, "__name__", type(fun).__name__)
        self.op = Op(name, self._forward, (self._vjp,), jvps=(self._jvp,), joint=True, batching=False,
                     save=SAVE_INPUTS | SAVE_ANS)

    def __repr__(self):
        return f"<tapegrad.autograd primitive {self.op.name}>"

    def __get__(self, instance, owner):          # a primitive stored on a class stays a function
        return self if instance is None else functools.partial(self, instance)

    def __call__(self, *args, **kwargs):
        slots, inputs, argnums = [], [], []
        for pos, a in enumerate(args):
            if _traced(a):
                slots.append((pos, None))
                inputs.append(a)
                argnums.append(pos)
            elif _nest.is_nested(a):
                found = False
                for k, leaf in enumerate(_nest.flatten(a)):
                    if _traced(leaf):
                        slots.append((pos, k))
                        inputs.append(leaf)
                        found = True
                if found:
                    argnums.append(pos)
        if not inputs:
            return self.fun(*args, **kwargs)
        call = _Call(args, kwargs, tuple(slots), tuple(argnums))
        return _core.apply(self.op, inputs, (call,))

    # ---- the op's forward and its joint rules --------------------------------------------------
    def _forward(self, *raws_and_call):
        call = raws_and_call[-1]
        out = self.fun(*call.rebuild(raws_and_call[:-1]), **call.kwargs)
        if _nest.is_nested(out):
            raise TypeError(f"primitive {self.op.name} returned a {type(out).__name__}: a tapegrad.autograd "
                            f"primitive returns one array or number")
        return out

    def _vjp(self, g, ans, needs, ins, call):
        args = call.rebuild(ins)
        grads = [None] * len(ins)
        for pos in call.argnums:
            ks = [k for k in call.inputs_of(pos) if needs[k]]
            if not ks:
                continue
            if pos in self.vjpmakers:
                maker = self.vjpmakers[pos]
                gp = _zeros(args[pos]) if maker is None else maker(ans, *args, **call.kwargs)(g)
            elif self.vjp_argnum is not None:
                gp = self.vjp_argnum(pos, ans, args, call.kwargs)(g)
            else:
                raise NotImplementedError(f"VJP of {self.op.name} wrt argnum {pos} not defined")
            leaves = [gp] if call.slots[ks[0]][1] is None else _nest.flatten(gp)
            for k in ks:
                leaf = call.slots[k][1]
                grads[k] = _like(leaves[0 if leaf is None else leaf], ins[k])
        return grads

    def _jvp(self, tangents, ans, ins, call):
        args = call.rebuild(ins)
        total = None
        for pos in call.argnums:
            ks = call.inputs_of(pos)
            if all(tangents[k] is None for k in ks):
                continue
            if call.slots[ks[0]][1] is None:
                t = tangents[ks[0]]
            else:
                flat = [_zeros(x) for x in _nest.flatten(args[pos])]
                for k in ks:
                    if tangents[k] is not None:
                        flat[call.slots[k][1]] = tangents[k]
                t = _nest.pack_sequence_as(args[pos], flat)
            if pos in self.jvprules:
                rule = self.jvprules[pos]
                if rule is None:
                    continue
                if rule == "same":                      # linear in this argument: f of the tangent
                    out = self(*[t if i == pos else a for i, a in enumerate(args)], **call.kwargs)
                else:
                    out = rule(t, ans, *args, **call.kwargs)
            elif self.jvp_argnum is not None:
                out = self.jvp_argnum(pos, t, ans, args, call.kwargs)
            else:
                raise NotImplementedError(f"JVP of {self.op.name} wrt argnums ({pos},) not defined")
            total = out if total is None else total + out
        return total


def _zeros(x):
    if isinstance(x, (Tensor, Variable)):
        v = _core.as_tensor(x)._value
        return np.zeros(np.shape(v), np.result_type(v))
    if _nest.is_nested(x):
        return _nest.pack_sequence_as(x, [_zeros(e) for e in _nest.flatten(x)])
    return np.zeros(np.shape(x), np.result_type(x))


def _like(g, x):
    """A rule's gradient for input x in x's shape and dtype (a broadcast
    scalar gradient is expanded; raw values stay raw, tensors stay tensors)."""
    if g is None:
        return None
    xv = x._value if isinstance(x, Tensor) else x
    shape, dt = np.shape(xv), np.result_type(xv)
    if isinstance(g, (Tensor, Variable)):
        gv = _core.as_tensor(g)
        if np.shape(gv._value) != shape:
            gv = np.broadcast_to(gv, shape)
        return gv
    g = np.asarray(g)
    if g.dtype != dt and not (g.dtype.kind == "c" and dt.kind != "c"):
        g = g.astype(dt)
    if g.shape != shape:
        g = np.broadcast_to(g, shape)
    return g


def primitive(f_raw: Callable[..., Any]) -> Primitive:
    """Wrap f_raw as one differentiable op; give it rules with defvjp/defjvp."""
    return Primitive(f_raw)


def _check_primitive(fun):
    if not isinstance(fun, Primitive):
        raise TypeError(f"{getattr(fun, '__name__', fun)!r} is not a tapegrad.autograd primitive: wrap it with "
                        f"primitive() first")


def defvjp(fun: Primitive, *vjpmakers: Any, argnums: Any = None) -> None:
    """One VJP maker per positional argument (or for `argnums`):
    ``maker(ans, *args, **kwargs) -> (lambda g: gradient)``; None: zeros."""
    _check_primitive(fun)
    for argnum, maker in zip(range(len(vjpmakers)) if argnums is None else argnums, vjpmakers):
        if maker is not None and not callable(maker):
            raise Exception(f"Bad VJP '{maker}' for '{fun.__name__}'")
        fun.vjpmakers[argnum] = maker


def defvjp_argnum(fun: Primitive, vjpmaker: Callable[..., Any]) -> None:
    """One VJP maker for every argument: ``vjpmaker(argnum, ans, args, kwargs)``."""
    _check_primitive(fun)
    fun.vjp_argnum = vjpmaker


def defjvp(fun: Primitive, *jvpfuns: Any, argnums: Any = None) -> None:
    """One JVP rule per positional argument: ``jvp(g, ans, *args, **kwargs)``
    -> output tangent; None: zero; "same": fun is linear in that argument."""
    _check_primitive(fun)
    for argnum, rule in zip(range(len(jvpfuns)) if argnums is None else argnums, jvpfuns):
        if rule is not None and rule != "same" and not callable(rule):
            raise Exception(f"Bad JVP '{rule}' for '{fun.__name__}'")
        fun.jvprules[argnum] = rule


def defjvp_argnum(fun: Primitive, jvpmaker: Callable[..., Any]) -> None:
    """One JVP rule for every argument: ``jvpmaker(argnum, g, ans, args, kwargs)``."""
    _check_primitive(fun)
    fun.jvp_argnum = jvpmaker


def def_linear(fun: Primitive) -> None:
    """fun is linear in every argument (forward mode: the tangent is fun of
    the tangent; reverse mode still needs defvjp, as in autograd)."""
    _check_primitive(fun)
    fun.jvp_argnum = lambda argnum, g, ans, args, kwargs: fun(
        *[g if i == argnum else a for i, a in enumerate(args)], **kwargs)


def notrace_primitive(f_raw: Callable[..., Any]) -> Callable[..., Any]:
    """f_raw called on the NumPy values of its arguments, its result a
    constant (not recorded): for integer or boolean helpers."""
    @functools.wraps(f_raw)
    def f_wrapped(*args, **kwargs):
        return f_raw(*[_raw(a) for a in args], **{k: _raw(v) for k, v in kwargs.items()})
    return f_wrapped


def _raw(x):
    if isinstance(x, (Tensor, Variable)):
        return _core.as_tensor(x)._value
    if _nest.is_nested(x):
        return _nest.pack_sequence_as(x, [_raw(e) for e in _nest.flatten(x)])
    return x
