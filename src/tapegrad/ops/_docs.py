"""Docstrings and signatures of the public ops, built from their declarations.

Every public op is either an `Op` instance declared in one line (``tg.sin``:
`unary`, `binary` or `nondiff` with ``doc=``, ``grad=``, ``example=``) or a
Python function decorated with `op_doc`.  Both give the same fields, which
`render` turns into one docstring layout:

    summary (and notes)
    Equivalents: NumPy and TensorFlow names
    Args:        each parameter with its type and default
    Returns:
    Derivative:  one line
    Dtypes:      what the op accepts
    Example:     a doctest (tests/test_ops_docs.py runs every one)

`DOCS` keeps the fields per public op for the reference in docs/ops.md
(tapegrad.ops._coverage).  An Op instance gets its docstring, signature and
names in its instance ``__dict__``, so ``help(tg.sin)`` and
``inspect.signature(tg.sin)`` describe the op, not the Op class.
"""
import inspect
import re
import textwrap

DOCS = {}        # public object -> its fields (dict), in declaration order

# Parameter names that mean the same thing wherever they appear: (type, description).
TENSOR = "Tensor, Variable or array-like"
GLOSSARY = {
    "x": (TENSOR, "the input."),
    "y": (TENSOR, "the second input; broadcasts against x."),
    "input": (TENSOR, "the input."),
    "input_": (TENSOR, "the input."),
    "input_tensor": (TENSOR, "the tensor to reduce."),
    "tensor": (TENSOR, "the input."),
    "t": (TENSOR, "the input."),
    "a": (TENSOR, "the input."),
    "value": (TENSOR, "the input."),
    "features": (TENSOR, "the pre-activations."),
    "logits": (TENSOR, "unnormalised log-probabilities, classes on the last axis."),
    "axis": ("int, list of ints or None", "the axes to reduce; None reduces over all of them; negative "
                                         "values count from the end."),
    "keepdims": ("bool", "keep the reduced axes with length 1."),
    "dtype": ("DType, NumPy dtype or None", "the result's dtype."),
    "shape": ("list or tuple of ints, or a 1-d integer Tensor", "the result's shape."),
    "seed": ("int or None", "seed for this call; None draws from the generator seeded by "
                            "tapegrad.random.set_seed."),
    "name": ("str or None", "accepted for TensorFlow compatibility; ignored."),
}


def _param_lines(sig, args):
    lines = []
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD and p.name not in args:
            continue
        typ, text = args.get(p.name) or GLOSSARY.get(p.name) or (None, None)
        if text is None:
            raise ValueError(f"parameter {p.name!r} is neither in the glossary nor described")
        star = "*" if p.kind is p.VAR_POSITIONAL else "**" if p.kind is p.VAR_KEYWORD else ""
        default = "" if p.default is p.empty else f", default {_default_text(p.default)}"
        head = f"{star}{p.name} ({typ}{default}): " if typ else f"{star}{p.name}: "
        lines.append(textwrap.fill(head + text, 96, subsequent_indent="    "))
    return lines


def _default_text(value):
    if isinstance(value, type):
        return f"numpy.{value.__name__}" if value.__module__ == "numpy" else value.__name__
    return repr(value)


def _section(title, body):
    body = textwrap.dedent(body).strip("\n")
    return f"{title}:\n" + textwrap.indent(body, "    ")


def render(fields, sig):
    """The docstring of one op from its fields and its signature."""
    parts = [fields["summary"].strip()]
    if fields.get("notes"):
        parts.append(textwrap.dedent(fields["notes"]).strip())
    parts.append(f"Equivalents: NumPy {fields['numpy']}; TensorFlow {fields['tf']}.")
    parts.append(_section("Args", "\n".join(_param_lines(sig, fields.get("args", {})))))
    parts.append(_section("Returns", textwrap.fill(fields["returns"], 96)))
    if fields.get("raises"):
        parts.append(_section("Raises", fields["raises"]))
    derivative = fields["derivative"]
    if re.search(r"\bg\b", derivative):
        derivative += " (g: the gradient arriving at the output.)"
    parts.append(_section("Derivative", textwrap.fill(derivative, 96)))
    parts.append(_section("Dtypes", textwrap.fill(fields["dtypes"], 96)))
    parts.append(_section("Example", fields["example"]))
    return "\n\n".join(parts) + "\n"


def op_doc(*, tf, numpy, derivative, dtypes, example, returns, args=None, raises=None, notes=None, summary=None):
    """Decorator for a public op written as a Python function: its own
    docstring is the summary (or `summary`, for functions made by a
    factory); the fields complete it (see `render`)."""
    def deco(f):
        fields = dict(summary=summary or inspect.getdoc(f) or "", notes=notes, tf=tf, numpy=numpy,
                      derivative=derivative, dtypes=dtypes, example=example, returns=returns, args=args or {},
                      raises=raises)
        if not fields["summary"]:
            raise ValueError(f"{f.__name__}: an op function needs a docstring (its summary)")
        f.__doc__ = render(fields, inspect.signature(f))
        DOCS[f] = fields
        return f
    return deco


# Texts several op functions share.
NUMERIC = "every numeric dtype; only floating (and complex) inputs get gradients."
FLOATING = "float16, float32, float64; integer inputs raise an error or, where NumPy allows, compute without " \
           "gradients."
ANY = "any dtype (the values are moved, not computed on); only floating inputs get gradients."
REDUCED = ("A Tensor: the input reduced over `axis` (a scalar when axis is None), keeping the reduced axes "
           "with length 1 if keepdims.")


# ---- Op instances (unary, binary, nondiff) -----------------------------------------------------

_P = inspect.Parameter
_UNARY_SIG = inspect.Signature([_P("x", _P.POSITIONAL_OR_KEYWORD), _P("name", _P.POSITIONAL_OR_KEYWORD, default=None)])
_BINARY_SIG = inspect.Signature([_P("x", _P.POSITIONAL_OR_KEYWORD), _P("y", _P.POSITIONAL_OR_KEYWORD),
                                 _P("name", _P.POSITIONAL_OR_KEYWORD, default=None)])

# What each dtype class accepts: the probe dtypes tests/test_ops_docs.py runs the op on (it must run on
# exactly these), and the sentence the docstring shows.
DTYPES = {
    "float_complex": (("float16", "float32", "float64", "complex64"),
                      "float16, float32, float64, complex64, complex128 (gradients are checked for float32 and "
                      "float64); integer and bool tensors raise an error, as in TensorFlow."),
    "float": (("float16", "float32", "float64"),
              "float16, float32, float64; complex, integer and bool tensors raise an error."),
    "numeric": (("float16", "float32", "float64", "complex64", "int32"),
                "every numeric dtype: floating, complex and integer (an integer result stays integer and has "
                "no gradient)."),
    "real": (("float16", "float32", "float64", "int32"),
             "floating and integer dtypes (integers give no gradient); complex tensors raise an error."),
    "real_to_float": (("float16", "float32", "float64", "int32"),
                      "float16, float32, float64; integer inputs give float64 (NumPy's rule); complex tensors "
                      "raise an error."),
    "divide": (("float16", "float32", "float64", "complex64", "int32"),
               "every numeric dtype; integer / integer gives float64, as in TensorFlow."),
    "any_to_bool": (("float16", "float32", "float64", "complex64", "int32", "bool"),
                    "any dtype; the result is bool."),
}


def _literal(value):
    return repr(value).replace("nan", "float('nan')").replace("inf", "float('inf')")


def _example(op, path, at, gives):
    """The doctest of an Op instance: its value (and its gradient, if it has one) at `at`."""
    if not op.differentiable:
        args = _literal(at) if op.kind == 1 else ", ".join(_literal(a) for a in at)
        return f">>> {path}({args}).numpy()\n{gives}"
    if op.kind == 1:
        return (f">>> x = tg.constant({at!r})\n"
                f">>> with tg.GradientTape() as tape:\n"
                f"...     tape.watch(x)\n"
                f"...     y = {path}(x)\n"
                f">>> print(y.numpy(), tape.gradient(y, x).numpy())     # the value, then the derivative\n"
                f"{gives}")
    return (f">>> x, y = tg.constant({at[0]!r}), tg.constant({at[1]!r})\n"
            f">>> with tg.GradientTape() as tape:\n"
            f"...     tape.watch([x, y])\n"
            f"...     z = {path}(x, y)\n"
            f">>> dx, dy = tape.gradient(z, [x, y])\n"
            f">>> print(z.numpy(), dx.numpy(), dy.numpy())     # the value, d/dx, d/dy\n"
            f"{gives}")


def document_op(op, module, *, doc, grad, at, gives, dtypes, tf=None, numpy=None, notes=None):
    """Give an Op instance its docstring, signature and names (in its __dict__).

    grad: for one input, the derivative's expression (``cos(x)``); for two,
    the whole line (``d/dx = y, d/dy = x``).  at / gives: the example's
    input(s) and the output it prints.  tf: TensorFlow's name, by default
    ``tf.math.<name>`` (``tf.nn.<name>`` in nn_ops)."""
    unary = op.kind == 1
    sig = _UNARY_SIG if unary else _BINARY_SIG
    family = module.rsplit(".", 1)[-1]
    tf = tf or f"tf.{'nn' if family == 'nn_ops' else 'math'}.{op.name}"
    if not op.differentiable:
        derivative = "none: not differentiable; gradients through it are None, as in TensorFlow."
    elif unary:
        derivative = f"d/dx {op.name}(x) = {grad}"
    else:
        derivative = grad
    args = {} if unary else {"x": (TENSOR, "the first input."),
                             "y": (TENSOR, "the second input; x and y broadcast against each other. A "
                                           "non-tensor operand takes the other's dtype; two tensors of "
                                           "different dtypes raise InvalidArgumentError.")}
    returns = ("A Tensor of x's shape." if unary else "A Tensor of the broadcast shape of x and y.")
    fields = dict(summary=textwrap.fill(doc, 96), notes=notes and textwrap.fill(notes, 96), tf=f"``{tf}``",
                  numpy=f"``{numpy}``" if numpy else "has none",
                  derivative=derivative, dtypes=DTYPES[dtypes][1], dtype_class=dtypes,
                  example=_example(op, "tg." + tf.split(".", 1)[1], at, gives), returns=returns, args=args)
    op.__doc__ = render(fields, sig)
    op.__signature__ = sig
    op.__name__ = op.__qualname__ = op.name
    op.__module__ = module
    op.derivative = derivative
    DOCS[op] = fields
    return op
