"""Looking at a tape: describe(), to_dot(), render(), the Jupyter picture (issue 13, part 1)."""
import shutil
import sys

import numpy as np
import pytest

import tapegrad as tg
from tapegrad import inspect_tape

try:
    import graphviz
except ImportError:              # the optional extra is absent: render() must say so
    graphviz = None
HAVE_DOT = graphviz is not None and shutil.which("dot") is not None


def two_inputs():
    a, b = tg.constant(2.0), tg.constant(3.0)
    t = tg.GradientTape(persistent=True)
    with t:
        t.watch(a)
        t.watch(b)
        c = a * b
        d = tg.sin(c)
    return t, a, b, c, d


def test_describe_is_the_wengert_list():
    t, *_ = two_inputs()
    assert t.describe() == (
        "GradientTape (persistent, not recording): 2 ops on 4 tensors\n"
        "  v1 = watched tensor    # float32 ()\n"
        "  v2 = watched tensor    # float32 ()\n"
        "  v3 = multiply(v1, v2)  # float32 ()\n"
        "  v4 = sin(v3)           # float32 ()")


def test_describe_is_the_same_before_and_after_gradient_on_a_persistent_tape():
    t, a, b, c, d = two_inputs()
    before = t.describe()
    assert float(t.gradient(d, a)) == pytest.approx(3 * np.cos(6.0), rel=1e-6)
    assert t.describe() == before
    t.gradient(d, [a, b])
    assert t.describe() == before


def test_describe_inside_the_context_records_nothing():
    x = tg.Variable([1.0, 2.0], name="x")
    with tg.GradientTape() as t:
        y = x * x
        n = t._wengert.num_nodes
        text = t.describe()
        assert t._wengert.num_nodes == n
        assert "recording" in text and "v2 = multiply(v1, v1)" in text
        assert "v1 = watched variable 'x:0'" in text
    assert t.gradient(y, x).numpy().tolist() == [2.0, 4.0]


def test_released_and_unentered_tapes_say_so():
    t = tg.GradientTape()
    assert "not entered yet" in t.describe()
    x = tg.Variable(1.0)
    with t:
        y = x * x
    t.gradient(y, x)
    assert "released" in t.describe()
    assert "released" in t.to_dot()


def test_shapes_and_dtypes_are_derived_where_nothing_was_saved():
    # W6's step: sin saves its input, multiply by a Python float keeps only the float, add
    # saves nothing. The shapes and dtypes still follow from the watched input.
    x = tg.constant(np.ones((2, 3)))
    b = tg.constant(np.ones(3))
    with tg.GradientTape(persistent=True) as t:
        t.watch([x, b])
        y = tg.sin(x) * 1.5 + 0.25
        z = y + b                   # broadcasting add of two watched tensors
        w = tg.reduce_sum(z, axis=0)
        i = tg.cast(w, tg.float32)  # a dtype change
    text = t.describe()
    assert "v3 = sin(v1)" in text
    assert "v4 = multiply(v3, 1.5)" in text
    assert "v5 = add(v4, const)" in text        # add keeps nothing: the constant's value is unknown
    lines = dict(line.split("#") for line in text.splitlines()[1:])
    metas = [m.strip() for m in lines.values()]
    assert metas == ["float64 (2, 3)", "float64 (3,)", "float64 (2, 3)", "float64 (2, 3)", "float64 (2, 3)",
                     "float64 (2, 3)", "float64 (3,)", "float32 (3,)"]
    assert i.dtype == tg.float32


def test_multi_output_op_and_constant_values():
    x = tg.constant([[2.0, 1.0], [1.0, 3.0]])
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        sign, logdet = tg.linalg.slogdet(x)
        _ = logdet * tg.constant([10.0, 20.0])
    lines = [" ".join(line.split()) for line in t.describe().splitlines()]
    assert "v2, v3 = slogdet(v1) # float32 () float32 ()" in lines
    assert "v4 = multiply(v3, const(float32 (2,))) # float32 (2,)" in lines


def test_custom_gradient_ops_are_never_re_run():
    calls = []

    @tg.custom_gradient
    def f(x):
        calls.append(1)
        return x * 2.0, lambda dy: dy * 2.0

    x = tg.constant(1.0)
    with tg.GradientTape(persistent=True) as t:
        t.watch(x)
        y = f(x)
    assert len(calls) == 1
    t.describe()
    t.to_dot(y)
    assert len(calls) == 1
    assert "= f(v1)" in t.describe()


def test_to_dot_marks_sources_ops_and_edges():
    t, a, b, c, d = two_inputs()
    dot = t.to_dot()
    assert dot.startswith("digraph tape {") and dot.rstrip().endswith("}")
    assert dot.count("shape=box, style=\"rounded,filled,bold\"") == 2     # two watched sources
    assert 'label="multiply\\nv3: float32 ()"' in dot
    assert 'label="sin\\nv4: float32 ()"' in dot
    assert 't0 -> n0 [label="v1"];' in dot and 't1 -> n0 [label="v2"];' in dot
    assert 'n0 -> n1 [label="v3"];' in dot
    assert "#c0392b" not in dot                  # nothing highlighted without a target


def test_to_dot_with_a_target_keeps_its_path_and_highlights_the_gradient():
    x = tg.Variable(2.0, name="x")
    y = tg.Variable(3.0, name="y")
    with tg.GradientTape(persistent=True) as t:
        p = x * x
        q = y * 4.0                 # not on the path to p
    assert t.describe().splitlines()[1:] == [
        "  v1 = watched variable 'x:0'  # float32 ()",
        "  v2 = multiply(v1, v1)        # float32 ()",
        "  v3 = watched variable 'y:0'  # float32 ()",
        "  v4 = multiply(v3, 4.0)       # float32 ()"]
    dot = t.to_dot(p)
    assert "multiply\\nv2" in dot and "v4" not in dot
    assert "'y:0'" not in dot                    # y's op is not an ancestor of p
    assert 'peripheries=2' in dot                # the target
    assert 't0 -> n0 [label="v1", color="#c0392b"' in dot
    assert "The target is not on this tape" in t.to_dot(tg.constant(1.0))
    assert "'y:0'" in t.to_dot(q)


def test_to_dot_target_must_be_a_tensor():
    t, *_ = two_inputs()
    with pytest.raises(TypeError, match="Tensors or Variables"):
        t.to_dot(np.ones(2))


def test_dot_strings_are_escaped():
    assert inspect_tape._q('a "b" \\ c\nd') == '"a \\"b\\" \\\\ c\\nd"'


@pytest.mark.skipif(not HAVE_DOT, reason="needs the graphviz package and the dot program")
def test_render_writes_svg_and_png(tmp_path):
    t, a, b, c, d = two_inputs()
    svg = t.render(str(tmp_path / "tape.svg"), target=d)
    with open(svg) as fh:
        text = fh.read()
    assert "<svg" in text and "multiply" in text and "sin" in text
    png = t.render(str(tmp_path / "tape.png"), format="png")
    with open(png, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    bundle = t._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml") and "text/plain" in bundle
    assert "<svg" in t._repr_svg_()


def test_render_without_the_graphviz_package_names_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "graphviz", None)       # `import graphviz` now fails
    t, *_ = two_inputs()
    with pytest.raises(ImportError) as e:
        t.render(str(tmp_path / "x.svg"))
    assert "pip install graphviz" in str(e.value) and "'dot' program" in str(e.value)
    assert not (tmp_path / "x.svg").exists()
    # Jupyter falls back to the text form.
    assert t._repr_svg_() is None
    assert t._repr_mimebundle_() == {"text/plain": t.describe()}


@pytest.mark.skipif(graphviz is None, reason="needs the graphviz package")
def test_render_without_the_dot_program_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))                # no `dot` on PATH
    t, *_ = two_inputs()
    with pytest.raises(RuntimeError) as e:
        t.render(str(tmp_path / "x.svg"))
    assert "'dot' program was not found" in str(e.value) and "apt-get install graphviz" in str(e.value)


def test_nested_tapes_each_describe_their_own_recording():
    x = tg.Variable(1.0, name="x")
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            y = x * x * x
        inner_text = inner.describe()
        dy = inner.gradient(y, x)
    assert inner_text.count(" = multiply(") == 2
    # The outer tape recorded the forward and the inner gradient's rules (that is how it
    # gives the second derivative).
    assert outer.describe().count(" = multiply(") > 2
    assert float(outer.gradient(dy, x)) == 6.0
