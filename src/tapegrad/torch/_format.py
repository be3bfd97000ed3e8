"""PyTorch's tensor repr: ``tensor([ 0.,  4.,  8., 12.], grad_fn=<MulBackward0>)``.

The rules (precision 4, threshold 1000, edge items 3, line width 80): floats whose
finite non-zero values are all integral print as ``N.``; otherwise fixed point with 4
decimals; scientific ``%.4e`` for every element when the ratio of the largest to the
smallest finite non-zero magnitude exceeds 1000, the largest exceeds 1e8, or (non-integral
values only) the smallest is below 1e-4.  Elements are right-aligned to a common width.
"""
import math

import numpy as np

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80


class _Formatter:
    def __init__(self, values, kind):
        self.kind = kind                 # "f" float, "c" complex, "i" int, "b" bool
        self.int_mode = True
        self.sci_mode = False
        if kind == "b":
            self.width = max((len(str(bool(v))) for v in values), default=0)
            return
        if kind == "i":
            self.width = max((len(str(int(v))) for v in values), default=0)
            return
        finite = [float(v) for v in values if math.isfinite(float(v)) and float(v) != 0]
        for v in finite:
            if v != math.ceil(v):
                self.int_mode = False
                break
        if finite:
            lo = min(abs(v) for v in finite)
            hi = max(abs(v) for v in finite)
            if self.int_mode:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8
            else:
                self.sci_mode = hi / lo > 1000.0 or hi > 1.0e8 or lo < 1.0e-4
        # PyTorch sizes the column on the finite non-zero values only.
        self.width = max([1] + [len(self._fmt(v)) for v in finite])

    def _fmt(self, v):
        if not math.isfinite(v):
            return str(v)                # nan, inf, -inf
        if self.sci_mode:
            return f"{v:.{PRECISION}e}"
        if self.int_mode:
            return f"{v:.0f}."
        return f"{v:.{PRECISION}f}"

    def format(self, v):
        if self.kind == "b":
            s = str(bool(v))
        elif self.kind == "i":
            s = str(int(v))
        else:
            s = self._fmt(float(v))
        return s.rjust(self.width)


def _shown(a, summarize):
    """The elements the formatter sizes itself on (the edges when summarized)."""
    if a.ndim == 0:
        return a.reshape(-1)
    rows = list(range(a.shape[0]))
    if summarize and len(rows) > 2 * EDGEITEMS:
        rows = rows[:EDGEITEMS] + rows[-EDGEITEMS:]
    if a.ndim == 1:
        return a[rows]
    return np.concatenate([_shown(a[i], summarize) for i in rows])


def _str(a, indent, fmt, summarize):
    if a.ndim == 0:
        return fmt.format(a[()])
    if a.ndim == 1:
        n = a.shape[0]
        if summarize and n > 2 * EDGEITEMS:
            items = [fmt.format(v) for v in a[:EDGEITEMS]] + [" ..."] + [fmt.format(v) for v in a[-EDGEITEMS:]]
        else:
            items = [fmt.format(v) for v in a]
        per_line = max(1, int(math.floor((LINEWIDTH - indent) / (fmt.width + 2))))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    n = a.shape[0]
    if summarize and n > 2 * EDGEITEMS:
        rows = ([_str(a[i], indent + 1, fmt, summarize) for i in range(EDGEITEMS)] + ["..."]
                + [_str(a[i], indent + 1, fmt, summarize) for i in range(n - EDGEITEMS, n)])
    else:
        rows = [_str(a[i], indent + 1, fmt, summarize) for i in range(n)]
    sep = "," + "\n" * (a.ndim - 1) + " " * (indent + 1)
    return "[" + sep.join(rows) + "]"


def _kind(dt):
    if dt.kind == "b":
        return "b"
    if dt.kind in "iu":
        return "i"
    if dt.kind == "c":
        return "c"
    return "f"


def tensor_repr(value, dtype_name, default_dtype_name, requires_grad, grad_fn_name):
    a = np.asarray(value)
    suffixes = []
    indent = len("tensor(")
    if a.size == 0:
        data = "[]"
        if a.ndim != 1:
            suffixes.append(f"size={tuple(a.shape)}")
    else:
        summarize = a.size > THRESHOLD
        kind = _kind(a.dtype)
        if kind == "c":
            data = np.array2string(a, separator=", ", precision=PRECISION)
        else:
            fmt = _Formatter(_shown(a, summarize).tolist(), kind)
            data = _str(a, indent, fmt, summarize)
    implicit = (default_dtype_name,) if a.size == 0 else (default_dtype_name, "int64", "bool", "complex64")
    if dtype_name not in implicit:
        suffixes.append(f"dtype=torch.{dtype_name}")
    if grad_fn_name is not None:
        suffixes.append(f"grad_fn=<{grad_fn_name}>")
    elif requires_grad:
        suffixes.append("requires_grad=True")
    return "tensor(" + ", ".join([data] + suffixes) + ")"
