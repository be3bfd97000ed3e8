"""tapegrad.Module: names, name scopes, and the variable/submodule walk, in
TensorFlow 2.21's order (observed values in docs/training.md)."""
import collections

import numpy as np
import pytest

import tapegrad as tg

from conftest import raises_exactly


def names(vs):
    return [v.name for v in vs]


def test_default_names_are_snake_case_class_names():
    class MyDenseLayer(tg.Module):
        pass

    class HTTPServer2D(tg.Module):
        pass

    assert [tg.Module().name, MyDenseLayer().name, HTTPServer2D().name] == ["module", "my_dense_layer",
                                                                            "http_server2_d"]


def test_explicit_names_must_be_identifiers():
    m = tg.Module(name="dense")
    assert m.name == "dense" and m.name_scope.name == "dense/"
    assert isinstance(m.name_scope, tg.name_scope)
    assert tg.Module(name="dense").name_scope.name == "dense/"       # not uniquified
    for bad in ["a b", "1abc", "my-mod", "", "a/b", "dense:0"]:
        with raises_exactly(ValueError, f"{bad!r} is not a valid module name. Module names must be valid Python "
                                        f"identifiers (e.g. a valid class name)."):
            tg.Module(name=bad)
    with pytest.raises(TypeError, match="expected string or bytes-like object, got 'int'"):
        tg.Module(name=3)
    with pytest.raises(AttributeError):
        m.name = "x"


def test_variables_in_sorted_attribute_order_with_nests():
    class M(tg.Module):
        def __init__(self):
            super().__init__()
            self.z = tg.Variable(1.0, name="z")
            self.a = tg.Variable(2.0, name="a", trainable=False)
            self.m = tg.Variable(3.0, name="m")
            self.lst = [tg.Variable(4.0, name="l0"), (tg.Variable(5.0, name="t0"),)]
            self.d = {"zz": tg.Variable(6.0, name="dzz"), "aa": tg.Variable(7.0, name="daa")}

    m = M()
    assert names(m.variables) == ["a:0", "daa:0", "dzz:0", "l0:0", "t0:0", "m:0", "z:0"]
    assert names(m.trainable_variables) == ["daa:0", "dzz:0", "l0:0", "t0:0", "m:0", "z:0"]
    assert names(m.non_trainable_variables) == ["a:0"]
    assert type(m.variables) is tuple and type(m.submodules) is tuple


class Leaf(tg.Module):
    def __init__(self, tag, name=None):
        super().__init__(name=name)
        self.w = tg.Variable(0.0, name=tag + "_w")


class Mid(tg.Module):
    def __init__(self, tag, name=None):
        super().__init__(name=name)
        self.leaf = Leaf(tag + "_leaf", name=tag + "_leaf")
        self.v = tg.Variable(0.0, name=tag + "_v")


def test_nested_modules_list_their_own_variables_before_descending():
    class Top(tg.Module):
        def __init__(self):
            super().__init__(name="top")
            self.b_mid = Mid("b", name="b_mid")
            self.a_mid = Mid("a", name="a_mid")
            self.c = tg.Variable(0.0, name="c")

    t = Top()
    t.a_mid.leaf.deeper = Leaf("deep", name="deep")
    assert names(t.variables) == ["c:0", "a_v:0", "a_leaf_w:0", "deep_w:0", "b_v:0", "b_leaf_w:0"]
    assert [s.name for s in t.submodules] == ["a_mid", "b_mid", "a_leaf", "deep", "b_leaf"]
    assert [s.name for s in t.a_mid.submodules] == ["a_leaf", "deep"]


def test_what_is_not_tracked():
    P = collections.namedtuple("P", ["y", "x"])

    class Holder:                                   # not a Module
        def __init__(self):
            self.v = tg.Variable(0.0, name="in_plain_object")

    class M(tg.Module):
        def __init__(self):
            super().__init__()
            self.nest = [{"b": [tg.Variable(1.0, name="nest_b")], "a": (tg.Variable(2.0, name="nest_a"),)}]
            self.nt = P(y=tg.Variable(3.0, name="nt_y"), x=tg.Variable(4.0, name="nt_x"))
            inner = tg.Module(name="in_set")
            inner.v = tg.Variable(5.0, name="var_of_module_in_set")
            self.s = {inner}
            self.fs = frozenset([inner])
            self.t = tg.constant(7.0)
            self.n = 3.0
            self.arr = np.ones(2)
            self.h = Holder()

    m = M()
    assert names(m.variables) == ["nest_a:0", "nest_b:0", "nt_y:0", "nt_x:0"]
    assert m.submodules == ()


def test_underscore_attributes_dedup_and_no_caching():
    class M(tg.Module):
        def __init__(self):
            super().__init__()
            v = tg.Variable(1.0, name="shared")
            self._private = tg.Variable(0.0, name="private")
            self.b = v
            self.a = [v, v]
            self.__mangled = tg.Variable(2.0, name="mangled")
            tg.Variable(9.0, name="dropped")

    m = M()
    assert names(m.variables) == ["mangled:0", "private:0", "shared:0"]
    m.b = tg.Variable(3.0, name="new_b")
    assert names(m.variables) == ["mangled:0", "private:0", "shared:0", "new_b:0"]
    c = tg.Module()
    sub = tg.Module(name="sub")
    c.x = sub
    c.y = [sub]
    assert [s.name for s in c.submodules] == ["sub"]


def test_cycles_terminate_and_unsortable_keys_raise():
    a, b = tg.Module(name="a"), tg.Module(name="b")
    a.child, b.parent = b, a
    a.v, b.v = tg.Variable(1.0, name="av"), tg.Variable(2.0, name="bv")
    assert names(a.variables) == ["av:0", "bv:0"]
    assert [s.name for s in a.submodules] == ["b"]
    m = tg.Module()
    m.d = {1: tg.Variable(1.0, name="i"), "k": tg.Variable(2.0, name="s")}
    with pytest.raises(ValueError, match="^Error processing property 'd' of "):
        _ = m.variables


def test_flatten_with_path_reports_every_occurrence():
    m = tg.Module()
    v = tg.Variable(1.0)
    m.a, m.b = [v, v], {"k": v}
    got = list(m._flatten(predicate=lambda x: isinstance(x, tg.Variable), with_path=True))
    assert [p for p, _ in got] == [("a", 0), ("a", 1), ("b", "k")] and all(x is v for _, x in got)


def test_name_scopes_prefix_new_variables():
    class Dense(tg.Module):
        def __init__(self, name=None):
            super().__init__(name=name)
            self.w = None

        @tg.Module.with_name_scope
        def __call__(self, x):
            if self.w is None:
                self.w = tg.Variable(tg.ones([x.shape[-1], 2]), name="w")
            return x @ self.w

    d = Dense(name="dense")
    assert Dense.__call__.__name__ == "__call__"
    d(tg.ones([1, 3]))
    assert d.w.name == "dense/w:0"
    with d.name_scope:
        v = tg.Variable(1.0, name="inside")
    assert v.name == "dense/inside:0"
    outer = tg.Module(name="outer")
    with outer.name_scope:
        inner = tg.Module(name="inner")
        with inner.name_scope:
            v2 = tg.Variable(1.0, name="x")
    assert v2.name == "outer/inner/x:0" and inner.name_scope.name == "outer/inner/"
    assert tg.Variable(1.0).name == "Variable:0"


def test_name_scope_function():
    with tg.name_scope("a") as a:
        with tg.name_scope("b") as b:
            v = tg.Variable(1.0)
            with tg.name_scope("") as root:
                r = tg.Variable(1.0, name="r")
    assert (a, b, root) == ("a/", "a/b/", "")
    assert v.name == "a/b/Variable:0" and r.name == "r:0"
    assert tg.name_scope("q").name == "q"
    with pytest.raises(ValueError, match="name for name_scope must be a string."):
        tg.name_scope(3)
