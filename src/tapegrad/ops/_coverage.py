"""The op reference and coverage tables, generated from the op declarations (docs/ops.md):

    python -m tapegrad.ops._coverage > docs/ops.md

tests/test_ops_docs.py fails when docs/ops.md is not what this prints."""
import inspect

import numpy as np

import tapegrad
from tapegrad import _core
from tapegrad.ops import (
    _docs,
    _registry,
    array_ops,
    band_ops,
    complex_ops,
    conv_ops,
    fft_ops,
    linalg_ops,
    math_ops,
    nn_ops,
    numpy_math,
    reduction_ops,
    scipy_ops,
    segment_ops,
    sort_ops,
    sparse_ops,
)

FAMILIES = [("Elementwise math", math_ops), ("Reductions and scans", reduction_ops),
            ("Shape and indexing", array_ops), ("Linear algebra", linalg_ops), ("Neural networks", nn_ops),
            ("Segments and counting", segment_ops), ("Sorting", sort_ops), ("Matrix bands", band_ops),
            ("Sparse gradients", sparse_ops), ("Convolution and pooling", conv_ops),
            ("NumPy's elementwise functions", numpy_math),
            ("SciPy functions (tapegrad.scipy)", scipy_ops), ("Complex numbers", complex_ops),
            ("Fourier transforms", fft_ops)]
NAMESPACES = [("tapegrad", tapegrad), ("tapegrad.math", tapegrad.math), ("tapegrad.linalg", tapegrad.linalg),
              ("tapegrad.nn", tapegrad.nn), ("tapegrad.random", tapegrad.random), ("tapegrad.signal", tapegrad.signal)]
_SAVED = {0: "nothing", _core.SAVE_INPUTS: "inputs", _core.SAVE_ANS: "output",
          _core.SAVE_INPUTS | _core.SAVE_ANS: "inputs, output"}


def _kind(op):
    return {_core.CALL_VARIADIC: "variadic", _core.CALL_UNARY: "elementwise",
            _core.CALL_BINARY: "broadcasting"}.get(op.calling, "general")


def _numpy_names(op):
    names = [f"`numpy.{u.__name__}`" for u, f in _registry.UFUNCS.items() if f is op]
    names += [f"`scipy.special.{name}`" for name, f in _registry.SCIPY_UFUNCS.items() if f is op]
    return ", ".join(sorted(names))


def _yes(flag):
    return "yes" if flag else "no"


def op_rows(module):
    rows = []
    for name, op in vars(module).items():
        if isinstance(op, _core.Op) and _registry.OPS.get(op.name) is op and name == _binding(module, op):
            if op.differentiable:
                modes = ["yes", _yes(all(j is not None for j in op.jvps)), "yes", _yes(op.batching)]
            else:
                modes = ["—", "—", "—", "—"]
            rows.append(f"| `{op.name}` | {_kind(op)} | {' | '.join(modes)} | {_SAVED[op.save]} | "
                        f"{_numpy_names(op)} |")
    return rows


def _binding(module, op):
    """The first module-level name of an op (aliases such as divide = truediv
    list the op once)."""
    for name, value in vars(module).items():
        if value is op:
            return name
    return None


def public_ops():
    """Every public op once, in namespace order: (object, [its public names])."""
    found = {}
    for prefix, ns in NAMESPACES:
        for name in sorted(vars(ns)):
            obj = getattr(ns, name)
            if name.startswith("_") or inspect.ismodule(obj) or isinstance(obj, type):
                continue
            if isinstance(obj, _core.Op) or (callable(obj) and obj.__module__.startswith("tapegrad.ops")):
                found.setdefault(id(obj), (obj, []))[1].append(f"{prefix}.{name}")
    return list(found.values())


_REFERENCE_FAMILIES = [("math_ops", "Elementwise math"), ("reduction_ops", "Reductions and scans"),
                       ("array_ops", "Shape and indexing"), ("linalg_ops", "Linear algebra"),
                       ("nn_ops", "Neural networks"), ("conv_ops", "Convolution, pooling and normalization"),
                       ("segment_ops", "Segments and counting"), ("sort_ops", "Sorting"),
                       ("band_ops", "Matrix bands"), ("clip_ops", "Clipping by norm"),
                       ("sparse_ops", "Gathering with sparse gradients"),
                       ("creation", "Creation, conversion and random"),
                       ("complex_ops", "Complex numbers"), ("fft_ops", "Fourier transforms")]


def _one_line(text):
    return " ".join(text.split()).replace("|", "\\|")


def reference():
    """One entry per public op: its signature, what it computes, its derivative and dtypes."""
    out = []
    ops = public_ops()
    for module, title in _REFERENCE_FAMILIES:
        out += [f"### {title}", ""]
        for obj, names in ops:
            if obj.__module__.rsplit(".", 1)[-1] != module:
                continue
            fields = _docs.DOCS[obj]
            out.append(f"#### `{names[0]}{inspect.signature(obj)}`")
            out.append("")
            if len(names) > 1:
                out += ["Also " + ", ".join(f"`{n}`" for n in names[1:]) + ".", ""]
            out += [_one_line(fields["summary"].split("\n\n")[0]), ""]
            out.append(f"* **Derivative:** {_one_line(fields['derivative'])}")
            out.append(f"* **Dtypes:** {_one_line(fields['dtypes'])}")
            out.append(f"* **Equivalents:** NumPy {fields['numpy']}; TensorFlow {fields['tf']}.")
            out.append("")
    return out


def numpy_rows():
    rows = []
    for func, target in list(_registry.UFUNCS.items()) + list(_registry.FUNCTIONS.items()):
        module = "numpy" if isinstance(func, np.ufunc) else func.__module__
        what = f"op `{target.name}`" if isinstance(target, _core.Op) else "a tapegrad function"
        rows.append(f"| `{module}.{func.__name__}` | {what} |")
    return sorted(set(rows))


def numpy_namespace():
    """Every public function and ufunc of numpy, numpy.linalg and numpy.fft, as
    (qualified name, whether tapegrad has a rule for it on tensors), sorted."""
    rows = {}
    for prefix, ns in (("numpy", np), ("numpy.linalg", np.linalg), ("numpy.fft", np.fft)):
        for name in dir(ns):
            obj = getattr(ns, name, None)
            if name.startswith("_") or isinstance(obj, type) or inspect.ismodule(obj) or not callable(obj):
                continue
            if not isinstance(obj, np.ufunc) and not getattr(obj, "__module__", "").startswith("numpy"):
                continue
            rows[f"{prefix}.{name}"] = obj in _registry.UFUNCS or obj in _registry.FUNCTIONS
    return sorted(rows.items())


# What follows this heading depends on the installed NumPy's namespace (tests/test_ops_docs.py).
NUMPY_SECTION = "## NumPy functions on Tensors"


def render():
    out = ["# Ops", "",
           "Generated from the op declarations by `python -m tapegrad.ops._coverage > docs/ops.md`; "
           "tests/test_ops_docs.py checks it is current. Every op below has the same text in its docstring "
           "(`help(tapegrad.sin)`), with its arguments and an example that the test suite runs.", "",
           "## Reference", "",
           "One entry per public op: its signature, what it computes, its derivative and the dtypes it accepts. "
           "A derivative marked *none* means gradients through the op are None, as in TensorFlow.", ""]
    out += reference()
    out += ["## Coverage of the registered ops", "",
            "Every differentiable op below has a record in tests/op_records.py, checked against finite "
            "differences at first and second order, JVP against VJP, and (where batching is yes) with batched "
            "cotangents. Public functions that are not listed here are compositions of these ops, "
            "differentiable through them.", "",
            "Columns: **reverse** has VJP rules; **forward** has JVP rules; **higher order**: the rules are "
            "written with registered ops, so they are differentiable again; **batching**: VJP rules accept a "
            "cotangent with extra leading axes (a Jacobian is one batched sweep); **saves**: what a node "
            "keeps for its rules. Ops marked — are not differentiable (their outputs are integers, booleans "
            "or piecewise constant): gradients through them are None, as in TensorFlow.", ""]
    head = ["| op | kind | reverse | forward | higher order | batching | saves | NumPy names |",
            "|---|---|---|---|---|---|---|---|"]
    for title, module in FAMILIES:
        out += [f"### {title}", ""] + head + op_rows(module) + [""]
    covered = {op.name for _, m in FAMILIES for op in vars(m).values() if isinstance(op, _core.Op)}
    missing = sorted(set(_registry.OPS) - covered)
    if missing:
        raise RuntimeError(f"ops outside the families: {missing}")
    out += [NUMPY_SECTION, "",
            f"As NumPy {np.__version__} names them (NumPy adds and removes aliases between releases). "
            "These NumPy functions, called on a Tensor, run tapegrad and are recorded; any other NumPy function "
            "runs on plain values unless a tracked tensor reaches it (below).", "", "| NumPy name | runs |",
            "|---|---|"] + numpy_rows() + [""]
    with_rule = [name for name, ok in numpy_namespace() if ok]
    out += ["## NumPy's namespace", "",
            "The public names of numpy, numpy.linalg and numpy.fft that have a rule on tensors (aliases included), "
            "found by walking NumPy's namespace (tests/test_numpy_functions.py walks it too). Any other NumPy "
            "function runs on the plain values when no tape or accumulator tracks its inputs, and raises a "
            "TypeError naming it when one does.", "",
            f"{len(with_rule)} names: " + ", ".join(f"`{n}`" for n in with_rule) + ".", ""]
    return "\n".join(out)


if __name__ == "__main__":
    print(render(), end="")
