"""Looking inside a GradientTape: what it recorded, and why a gradient is None.

* ``describe()``: the recording as a Wengert list, ``v3 = multiply(v1, v2)``, one line per op.
* ``to_dot(target=None)`` / ``render(path)`` / Jupyter: the same as a Graphviz graph.
* ``explain(target, sources)``: for each source, why ``gradient()`` gives None, or through
  which ops the source is connected.

Names: every tensor a tape knows has a *slot* (a dense index, in the order the tape met the
tensors); slot s is called ``v{s+1}`` here, as Hands-On ML names the nodes of a Wengert list.

All of this reads a snapshot of the compiled tape (``WengertList.inspect_nodes``), taken on request.
The tape itself stores no more than it needs for the backward sweep, so recording costs
nothing extra; what it does not store is derived here:

* output dtypes and shapes come from the values the rules saved, from the variables and
  watched tensors, and otherwise are propagated forward (an elementwise op keeps its input's
  shape, a broadcasting op's shape follows from its inputs) or, for other ops, by running the
  op's NumPy forward on zeros of its inputs' shapes;
* *when* a tensor was made (before the tape was entered, while it recorded, under
  ``stop_recording()``, after it exited) comes from tensor ids, which grow by one per new
  tensor: the GradientTape notes the id clock each time it starts or stops recording.
"""
from __future__ import annotations

import collections
import os
import threading
import weakref
from collections.abc import Sequence

import numpy as np

from tapegrad import _callsite, _core, _nest
from tapegrad._core import BINARY, SAVE_ANS, SAVE_INPUTS, UNARY, Tensor, Variable, WengertList

__all__ = ["Explanation", "REASONS", "describe", "to_dot", "render", "explain"]

Meta = tuple[tuple[int, ...], np.dtype]

# (first id, last id, weakref to the GradientTape) of the tensors made by each gradient() or
# jacobian() that ran while another tape recorded (nested tapes; GradientTape appends them):
# explain() recognises a derivative computed from constants only by them.  Bounded: only
# recent nested gradients matter to a learner asking why.
NESTED_GRADIENT_SPANS: collections.deque = collections.deque(maxlen=256)


class _Cut:
    """A value a tape tracked left it (the core's note, see install_cut_hook): how (`kind`, a
    key of REASONS), through what (`detail`: the op, or the conversion), which slot, the tensor
    it made (its id, or None), where in the user's code, and the id clock then."""
    __slots__ = ("kind", "detail", "slot", "result_id", "where", "clock", "thread")

    def __init__(self, kind, detail, slot, result_id, where, clock, thread):
        self.kind, self.detail, self.slot, self.result_id = kind, detail, slot, result_id
        self.where, self.clock, self.thread = where, clock, thread


# Per tape (its WengertList), the first _MAX_CUTS distinct cuts: a loop that prints
# loss.numpy() at every step adds one note, not one per step.
CUTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_MAX_CUTS = 32


def _note_cut(wengert: WengertList, kind: str, detail, tracked_id: int, result) -> None:
    notes = CUTS.get(wengert)
    if notes is None:
        notes = CUTS[wengert] = []
    if len(notes) >= _MAX_CUTS:
        return
    frame = _callsite.user_frame()
    where = "?" if frame is None else f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
    slot = wengert.slot_of_id(tracked_id)
    if any(c.kind == kind and c.detail == detail and c.slot == slot and c.where == where for c in notes):
        return
    result_id = result._id if isinstance(result, Tensor) else None
    notes.append(_Cut(kind, detail, slot, result_id, where, WengertList.id_clock(),
                      threading.current_thread().name))


_core.install_cut_hook(_note_cut)


MISSING_GRAPHVIZ = (
    "GradientTape.render() and the Jupyter picture of a tape need the optional 'graphviz' Python "
    "package and Graphviz's 'dot' program: `pip install graphviz`, and install Graphviz itself "
    "(Debian/Ubuntu: `apt-get install graphviz`; macOS: `brew install graphviz`). "
    "GradientTape.to_dot() gives the DOT text without either.")
MISSING_DOT = (
    "Graphviz's 'dot' program was not found on PATH (the 'graphviz' Python package is installed, but "
    "it only calls 'dot'): install Graphviz (Debian/Ubuntu: `apt-get install graphviz`; macOS: "
    "`brew install graphviz`). GradientTape.to_dot() gives the DOT text without it.")


# --------------------------------------------------------------------------------------------
# The snapshot


class _Node:
    __slots__ = ("k", "op", "ins", "outs", "saved_ins", "saved_ans", "params")

    def __init__(self, k, op, ins, outs, saved, params):
        self.k, self.op, self.ins, self.outs, self.params = k, op, ins, outs, params
        self.saved_ins = self.saved_ans = None
        if saved is not None:
            if op.save == SAVE_INPUTS:
                self.saved_ins = saved
            elif op.save == SAVE_ANS:
                self.saved_ans = saved
            elif op.save == SAVE_INPUTS | SAVE_ANS:
                self.saved_ans, self.saved_ins = saved

    def saved_input(self, i):
        """The value input i had (a Tensor or a raw number), or None if not saved."""
        if self.saved_ins is None or i >= len(self.saved_ins):
            return None
        return self.saved_ins[i]

    def flows(self, i):
        """Does a gradient flow back to input i (the op has a rule for it)?"""
        op = self.op
        if op.joint or op.n_in < 0:
            return True
        return i < len(op.vjps) and op.vjps[i] is not None


def _meta_of(value) -> Meta | None:
    if isinstance(value, Tensor):
        value = value._value
    elif isinstance(value, Variable):
        value = value._value
    if isinstance(value, (np.ndarray, np.generic)):
        return tuple(value.shape), value.dtype
    return None                       # a Python number: no dtype of its own (it adopts the tensor's)


_DTYPE_CACHE: dict[tuple[str, tuple[str, ...]], np.dtype] = {}


def _result_dtype(op, dtypes: Sequence[np.dtype]) -> np.dtype:
    """The dtype an elementwise op returns for inputs of these dtypes: its forward run once on
    ones (cached per op and dtypes), since most keep the input dtype but some do not
    (abs of complex is real)."""
    key = (op.name, tuple(d.str for d in dtypes))
    dt = _DTYPE_CACHE.get(key)
    if dt is None:
        try:
            with np.errstate(all="ignore"):
                dt = np.result_type(op.forward(*[np.ones((), d) for d in dtypes]))
        except Exception:               # noqa: BLE001 - an op that rejects ones: keep the input's dtype
            dt = dtypes[0]
        _DTYPE_CACHE[key] = dt
    return dt


class _Snapshot:
    """One GradientTape's recording, with a name, dtype and shape for every tensor on it."""

    def __init__(self, gtape):
        self.gtape = gtape
        core = gtape._wengert
        self.core = core
        self.persistent = gtape._persistent
        if core is None:
            self.state = "released" if gtape._released else "unentered"
        else:
            self.state = "recording" if gtape._recording else "stopped"
        raw = core.inspect_nodes() if core is not None else []
        self.nodes = [_Node(k, *n) for k, n in enumerate(raw)]
        self.n_slots = core.num_slots if core is not None else 0
        self.producer: dict[int, _Node] = {}
        for node in self.nodes:
            for s in node.outs:
                self.producer[s] = node
        self.meta: dict[int, Meta] = {}
        self.variables: dict[int, Variable] = {}      # slot -> watched variable
        if core is not None:
            for vid, var in core.watched_variables_by_id().items():
                s = core.slot_of_id(vid)
                if s >= 0:
                    self.variables[s] = var
                    self.meta[s] = _meta_of(var)
            for tid, meta in gtape._watched_meta.items():
                s = core.slot_of_id(tid)
                if s >= 0:
                    self.meta.setdefault(s, (tuple(meta[0]), meta[1]))
        self._infer_meta()

    # ---- dtypes and shapes
    def _infer_meta(self):
        meta = self.meta
        for node in self.nodes:           # what the rules saved
            for i, s in enumerate(node.ins):
                if s >= 0 and s not in meta:
                    m = _meta_of(node.saved_input(i))
                    if m is not None:
                        meta[s] = m
            if node.saved_ans is not None:
                answers = node.saved_ans if isinstance(node.saved_ans, tuple) else (node.saved_ans,)
                for s, a in zip(node.outs, answers):
                    m = _meta_of(a)
                    if m is not None:
                        meta[s] = m
        for node in self.nodes:           # the rest, forward in execution order
            if all(s in meta for s in node.outs):
                continue
            inferred = self._infer(node)
            if inferred is not None:
                for s, m in zip(node.outs, inferred):
                    if m is not None:
                        meta.setdefault(s, m)

    def input_meta(self, node, i) -> Meta | None:
        m = _meta_of(node.saved_input(i))
        if m is None and node.ins[i] >= 0:
            m = self.meta.get(node.ins[i])
        return m

    def _infer(self, node) -> list[Meta | None] | None:
        op = node.op
        metas = [self.input_meta(node, i) for i in range(len(node.ins))]
        if op.kind == UNARY:
            if metas[0] is None:
                return None
            return [(metas[0][0], _result_dtype(op, [metas[0][1]]))]
        if op.kind == BINARY:
            return [self._infer_binary(node, metas)]
        if op.joint or op.forward is None:
            return None                   # a custom gradient's function: never re-run user code
        args = []
        for i in range(len(node.ins)):
            v = node.saved_input(i)
            if isinstance(v, Tensor):
                v = v._value
            if v is None:
                if metas[i] is None:
                    return None
                v = np.zeros(metas[i][0], metas[i][1])
            args.append(v)
        try:
            with np.errstate(all="ignore"):
                out = op.forward(*args, *(node.params or ()))
        except Exception:                 # noqa: BLE001 - zeros may be outside the op's domain
            return None
        outs = out if op.n_out > 1 else (out,)
        return [(tuple(np.shape(o)), np.result_type(o)) for o in outs]

    def _infer_binary(self, node, metas) -> Meta | None:
        # The core keeps an input's shape in params[i] only where it was broadcast; an on-tape
        # input without one had the output's shape.
        params = node.params
        shapes = []
        for i in range(2):
            if metas[i] is not None:
                shapes.append(metas[i][0])
            elif params is not None and params[i] is not None:
                shapes.append(tuple(params[i]))
            else:
                shapes.append(None)
        shape = None
        if shapes[0] is not None and shapes[1] is not None:
            try:
                shape = tuple(np.broadcast_shapes(shapes[0], shapes[1]))
            except ValueError:
                shape = None
        if shape is None:
            for i in range(2):
                if node.ins[i] >= 0 and (params is None or params[i] is None) and shapes[i] is not None:
                    shape = shapes[i]
        dtypes = [m[1] for m in metas if m is not None]
        if shape is None or not dtypes:
            return None
        tensor_dtype = next((metas[i][1] for i in range(2) if node.ins[i] >= 0 and metas[i] is not None),
                            dtypes[0])
        # A Python-number operand adopts the tensor's dtype (TensorFlow's rule).
        return shape, _result_dtype(node.op, [m[1] if m is not None else tensor_dtype for m in metas])

    # ---- names and text
    @staticmethod
    def name(s: int) -> str:
        return f"v{s + 1}"

    def meta_text(self, s: int) -> str:
        m = self.meta.get(s)
        if m is None:
            return "?"
        return f"{m[1].name} {_shape_text(m[0])}"

    def const_text(self, node, i) -> str:
        """An input this tape did not know: its value if small and saved, else 'const'."""
        v = node.saved_input(i)
        if v is None:
            return "const"
        if isinstance(v, Tensor):
            v = v._value
        if type(v) in (int, float, complex):           # a Python operand, as the user wrote it
            return repr(v)
        if np.size(v) == 1:
            return _number_text(np.asarray(v).reshape(()).item())
        return f"const({np.result_type(v).name} {_shape_text(np.shape(v))})"

    def arg_text(self, node, i) -> str:
        s = node.ins[i]
        return self.name(s) if s >= 0 else self.const_text(node, i)

    def params_text(self, node) -> str:
        if node.op.kind in (UNARY, BINARY) or not node.params:
            return ""               # binary params are broadcast bookkeeping, not the user's arguments
        parts = [_short(p) for p in node.params]
        return "; " + ", ".join(parts) if parts else ""

    def op_line(self, node) -> str:
        outs = ", ".join(self.name(s) for s in node.outs)
        args = ", ".join(self.arg_text(node, i) for i in range(len(node.ins)))
        return f"{outs} = {node.op.name}({args}{self.params_text(node)})"

    def root_line(self, s: int) -> str:
        var = self.variables.get(s)
        if var is not None:
            what = f"watched variable {var.name!r}"
            if not var.trainable:
                what += " (not trainable: watched explicitly)"
        else:
            what = "watched tensor"     # by watch(), or by a functional transform or custom_gradient
        return f"{self.name(s)} = {what}"

    def root_slots(self) -> list[int]:
        return [s for s in range(self.n_slots) if s not in self.producer]

    # ---- paths
    def grad_reach(self, targets: Sequence[int]) -> tuple[set, set, set]:
        """Backwards from the target slots: (slots the gradient reaches, nodes it runs rules
        of, edges (node k, input i) it flows along)."""
        slots, nodes, edges = set(targets), set(), set()
        for node in reversed(self.nodes):
            if not any(s in slots for s in node.outs):
                continue
            nodes.add(node.k)
            for i, s in enumerate(node.ins):
                if s >= 0 and node.flows(i):
                    slots.add(s)
                    edges.add((node.k, i))
        return slots, nodes, edges

    def ancestors(self, targets: Sequence[int]) -> tuple[set, set]:
        """Slots and nodes the targets were computed from (any input on the tape)."""
        slots, nodes = set(targets), set()
        for node in reversed(self.nodes):
            if any(s in slots for s in node.outs):
                nodes.add(node.k)
                slots.update(s for s in node.ins if s >= 0)
        return slots, nodes

    def forward_reach(self, source: int) -> tuple[set, set]:
        slots, nodes = {source}, set()
        for node in self.nodes:
            if any(s >= 0 and s in slots and node.flows(i) for i, s in enumerate(node.ins)):
                nodes.add(node.k)
                slots.update(node.outs)
        return slots, nodes


def _shape_text(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _number_text(x) -> str:
    if isinstance(x, float):
        text = f"{x:.6g}"
        return text if any(c in text for c in ".eni") else text + ".0"     # 1.0, not 1
    return repr(x)


def _short(p) -> str:
    if isinstance(p, np.dtype):
        return p.name
    if isinstance(p, np.ndarray):
        return f"array{_shape_text(p.shape)}" if p.size > 4 else repr(p.tolist())
    text = repr(p)
    return text if len(text) <= 40 else text[:37] + "..."


def _header(snap: _Snapshot) -> str:
    kind = "persistent" if snap.persistent else "non-persistent"
    if snap.state == "unentered":
        return f"GradientTape ({kind}): not entered yet, nothing recorded."
    if snap.state == "released":
        return (f"GradientTape ({kind}): released. gradient() (or jacobian()) was called, and a "
                f"non-persistent tape frees its recording then; create the tape with persistent=True "
                f"to look at it afterwards.")
    n = len(snap.nodes)
    status = "recording" if snap.state == "recording" else "not recording"
    return f"GradientTape ({kind}, {status}): {n} op{'s' if n != 1 else ''} on {snap.n_slots} tensors"


# --------------------------------------------------------------------------------------------
# describe


def describe(gtape) -> str:
    snap = _Snapshot(gtape)
    lines = [_header(snap)]
    if snap.state in ("unentered", "released"):
        return lines[0]
    # In slot order, which is the order the tape met the tensors: a variable read half-way
    # through appears where it was first read.
    rows = [(s, snap.root_line(s), snap.meta_text(s)) for s in snap.root_slots()]
    rows += [(min(node.outs), snap.op_line(node), "  ".join(snap.meta_text(s) for s in node.outs))
             for node in snap.nodes]
    rows = [r[1:] for r in sorted(rows, key=lambda r: r[0])]
    if not rows:
        lines.append("  (nothing watched: call tape.watch(x) for tensors; trainable variables are "
                     "watched when read inside the tape)")
    width = min(max((len(r[0]) for r in rows), default=0), 60)
    for text, meta in rows:
        lines.append(f"  {text.ljust(width)}  # {meta}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# Graphviz

_HOT = "#c0392b"


def _q(text: str) -> str:
    """A DOT double-quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def to_dot(gtape, target=None) -> str:
    snap = _Snapshot(gtape)
    out = ["digraph tape {",
           '  graph [rankdir=TB, fontname="Helvetica", fontsize=12, labelloc=t, label=' + _q(_header(snap)) + "];",
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=9, color="#555555", fontcolor="#555555"];']
    if snap.state in ("unentered", "released"):
        out.append("  note [shape=note, label=" + _q(_header(snap)) + "];")
        out.append("}")
        return "\n".join(out) + "\n"
    show_nodes = {n.k for n in snap.nodes}
    show_roots = set(snap.root_slots())
    hot_nodes, hot_edges, hot_slots, target_slots = set(), set(), set(), []
    if target is not None:
        target_slots = _target_slots(snap, target)
        if not target_slots:
            out.append("  note [shape=note, label=" + _q(
                "The target is not on this tape: nothing recorded leads to it.\n"
                "tape.explain(target, sources) says why.") + "];")
            out.append("}")
            return "\n".join(out) + "\n"
        anc_slots, show_nodes = snap.ancestors(target_slots)
        show_roots = {s for s in show_roots if s in anc_slots}
        hot_slots, hot_nodes, hot_edges = snap.grad_reach(target_slots)
    for s in sorted(show_roots):
        label = snap.root_line(s) + "\n" + snap.meta_text(s)
        style = "rounded,filled,bold"
        extra = ""
        if s in target_slots:
            extra = ", peripheries=2"
        out.append(f"  t{s} [shape=box, style={_q(style)}, fillcolor=\"#fde68a\", label={_q(label)}{extra}];")
    for node in snap.nodes:
        if node.k not in show_nodes:
            continue
        label = node.op.name + "".join(f"\n{snap.name(s)}: {snap.meta_text(s)}" for s in node.outs)
        params = snap.params_text(node)
        if params:
            label += "\n" + params[2:]
        attrs = [f"label={_q(label)}", "shape=box", 'style="rounded,filled"']
        attrs.append('fillcolor="#fadbd8"' if node.k in hot_nodes else 'fillcolor="#eef2f7"')
        if any(s in target_slots for s in node.outs):
            attrs.append("peripheries=2")
        out.append(f"  n{node.k} [{', '.join(attrs)}];")
        for i, s in enumerate(node.ins):
            hot = (node.k, i) in hot_edges
            style = f", color=\"{_HOT}\", fontcolor=\"{_HOT}\", penwidth=2" if hot else ""
            if s >= 0:
                producer = snap.producer.get(s)
                src = f"n{producer.k}" if producer is not None else f"t{s}"
                out.append(f"  {src} -> n{node.k} [label={_q(snap.name(s))}{style}];")
            else:
                out.append(f"  c{node.k}_{i} [shape=plaintext, fontcolor=\"#777777\", "
                           f"label={_q(snap.const_text(node, i))}];")
                out.append(f"  c{node.k}_{i} -> n{node.k} [style=dashed, color=\"#999999\"];")
    if target is not None:
        out.append("  legend [shape=plaintext, fontsize=9, fontcolor=\"" + _HOT + "\", label=" + _q(
            "red: the path the gradient of the target flows back along") + "];")
    out.append("}")
    return "\n".join(out) + "\n"


def _flat(structure) -> list:
    if isinstance(structure, (Tensor, Variable)):
        return [structure]
    return _nest.flatten(structure)


def _target_slots(snap: _Snapshot, target) -> list[int]:
    slots = []
    for t in _flat(target):
        if not isinstance(t, (Tensor, Variable)):
            raise TypeError(f"to_dot(target=...) takes tapegrad Tensors or Variables, not {type(t).__name__}")
        s = snap.core.slot_of_id(t._id) if snap.core is not None else -1
        if s >= 0:
            slots.append(s)
    return slots


def _graphviz_pipe(dot: str, format: str) -> bytes:  # noqa: A002 - graphviz's own argument name
    try:
        import graphviz
    except ImportError as e:
        raise ImportError(MISSING_GRAPHVIZ) from e
    try:
        return graphviz.Source(dot).pipe(format=format)
    except graphviz.ExecutableNotFound as e:
        raise RuntimeError(MISSING_DOT) from e


def render(gtape, path, target=None, format="svg"):  # noqa: A002 - graphviz's own argument name
    data = _graphviz_pipe(to_dot(gtape, target), format)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def svg_or_none(gtape) -> str | None:
    try:
        return _graphviz_pipe(to_dot(gtape), "svg").decode("utf-8")
    except (ImportError, RuntimeError):
        return None


def mimebundle(gtape) -> dict[str, str]:
    bundle = {"text/plain": describe(gtape)}
    svg = svg_or_none(gtape)
    if svg is not None:
        bundle["image/svg+xml"] = svg
    return bundle


# --------------------------------------------------------------------------------------------
# explain

#: Every reason `explain` can give, with what it means.
REASONS = {
    "connected": "the gradient is not None: the ops listed connect the source to the target",
    "same_tensor": "the target is the source itself (its gradient is ones)",
    "integer_dtype": "the source or the target has an integer or bool dtype: only floating-point "
                     "and complex tensors carry gradients",
    "not_a_tensor": "the target is not a tapegrad tensor (a NumPy array or a Python number): "
                    "the value left tapegrad",
    "never_entered": "the tape was never entered, so it recorded nothing",
    "released": "a non-persistent tape freed its recording when gradient() ran; only what was "
                "kept outside the recording can be checked",
    "not_watched": "the source is a tensor the tape never watched (a constant to it)",
    "not_trainable": "the source is a variable with trainable=False, which tapes do not watch "
                     "unless told to",
    "not_auto_watched": "the tape was created with watch_accessed_variables=False and the "
                        "variable was not passed to watch()",
    "variable_not_read": "the source is a trainable variable that no op read while the tape was "
                         "recording",
    "before_tape": "the target was computed before the tape was entered",
    "stop_recording": "the target was computed under tape.stop_recording()",
    "after_exit": "the target was computed after the tape stopped recording",
    "target_is_variable": "the target is a variable: assigning to a variable is not recorded, so "
                          "its value has no history",
    "constant_derivative": "the target is a derivative another tape computed inside this one "
                           "from constants only: it does not depend on the source (e.g. the "
                           "second derivative of linear code)",
    "no_path": "both are on the tape, but no recorded op leads from the source to the target",
    "stop_gradient": "stop_gradient() was applied to a value computed from the source, and the "
                     "target was computed from its result",
    "non_differentiable": "a non-differentiable op (round, floor, ceil, sign, argmax, a comparison, "
                          "a cast to an integer) was applied to a value computed from the source, on "
                          "the way to the target",
    "via_numpy": "a value computed from the source left tapegrad (x.numpy(), np.asarray(x), "
                 "float(x), x.item()) and the target was computed from what came back",
    "other_thread": "the target was computed from the source by a thread other than the one that "
                    "entered the tape: a tape records only its own thread",
    "unrecorded": "the target was computed while the tape recorded, but by no op the tape "
                  "recorded: nothing it came from was watched, or the path was cut",
}

_CUTS = ("stop_gradient() on the path; a non-differentiable op (argmax, round/floor/ceil, a "
         "cast to an integer, a comparison); the value went through NumPy or Python and came "
         "back (x.numpy(), float(x), then tg.constant(...)); or the op ran in another thread (a "
         "tape records only the thread that entered it)")


class Explanation:
    """Why the gradient of a target with respect to one source is None, or that it is not.

    ``reason`` is one of the keys of :data:`REASONS`; ``message`` says it for this program;
    ``ops`` lists the Wengert lines of the ops that connect the source to the target (when
    ``connected``).  Printing an Explanation prints its message."""

    __slots__ = ("source", "connected", "reason", "message", "ops")

    def __init__(self, source: str, connected: bool, reason: str, message: str, ops: tuple[str, ...] = ()) -> None:
        self.source = source
        self.connected = connected
        self.reason = reason
        self.message = message
        self.ops = ops

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"<Explanation {self.source}: {self.reason}>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Explanation) and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]


def _source_label(snap: _Snapshot, src) -> str:
    if isinstance(src, Variable):
        return f"variable {src.name!r}"
    s = snap.core.slot_of_id(src._id) if snap.core is not None else -1
    meta = f"{np.result_type(src._value).name} {_shape_text(np.shape(src._value))}"
    return f"{snap.name(s)} ({meta})" if s >= 0 else f"a {meta} tensor"


def _when(gtape, tid: int) -> str:
    """When the tensor with id `tid` was made, relative to this tape's recording."""
    last = None
    for clock, event in gtape._events:
        if clock < tid:
            last = event
        else:
            break
    if last is None:
        return "before"
    if last in ("enter", "resume"):
        return "recording"
    return last                        # exit, stop_recording, gradient


def _nested_span(gtape, tid: int, other_tapes_only: bool = True):
    """The tape whose gradient() (run while another tape recorded) made tensor `tid`, or None."""
    for start, end, ref in reversed(NESTED_GRADIENT_SPANS):
        if start < tid <= end and not (other_tapes_only and ref() is gtape):
            return ref()
    return None


def explain(gtape, target, flat_sources) -> list[Explanation]:
    snap = _Snapshot(gtape)
    targets = _flat(target) if target is not None else []
    out = []
    for src in flat_sources:
        label = _source_label(snap, src)
        per_target = [_explain_one(snap, t, src, label) for t in targets]
        if not per_target:
            out.append(Explanation(label, False, "no_path", "There is no target (an empty nest): "
                                                             "gradient() returns None."))
            continue
        linked = [e for e in per_target if e.connected]
        if linked:
            ops = tuple(dict.fromkeys(op for e in linked for op in e.ops))
            first = linked[0]
            out.append(Explanation(first.source, True, first.reason, first.message, ops))
        elif len(per_target) == 1:
            out.append(per_target[0])
        else:
            text = "\n".join(f"target {i}: {e.message}" for i, e in enumerate(per_target))
            out.append(Explanation(label, False, per_target[0].reason, text))
    return out


def _explain_one(snap: _Snapshot, t, src, label: str) -> Explanation:
    gtape = snap.gtape

    def no(reason, message):
        return Explanation(label, False, reason, message)

    sdt = np.result_type(src._value)
    if sdt.kind not in "fc":
        return no("integer_dtype", f"The source ({label}) has dtype {sdt.name}: only floating-point and "
                                   f"complex tensors get gradients. Use a float tensor, e.g. "
                                   f"tg.cast(x, tg.float32) before the computation (not after it).")
    if not isinstance(t, (Tensor, Variable)):
        return no("not_a_tensor", f"The target is a {type(t).__module__}.{type(t).__name__}, not a tapegrad "
                                  f"tensor: the value left tapegrad (x.numpy(), np.asarray(x), float(x) or a "
                                  f"math-module function), so there is no record of how it was computed. "
                                  f"Keep the computation on tapegrad tensors (NumPy functions applied to "
                                  f"tensors are recorded).")
    if t._id == src._id:
        return Explanation(label, True, "same_tensor", f"The target is the source ({label}) itself: its "
                                                       f"gradient is ones.")
    tdt = np.result_type(t._value)
    if tdt.kind not in "fc":
        return no("integer_dtype", f"The target has dtype {tdt.name}: integer and bool results carry no "
                                   f"gradient. Comparisons, argmax/argmin and casts to an integer make "
                                   f"them, and are not differentiable.")
    if snap.state == "unentered":
        return no("never_entered", "The tape was never entered (`with tape:`), so it recorded nothing.")

    watched_by_user = src._id in gtape._watched_meta
    if isinstance(src, Variable):
        if snap.state == "released":
            watched = any(v._id == src._id for v in gtape._last_watched_variables)
        else:
            watched = snap.core.slot_of_id(src._id) >= 0
    else:
        watched = watched_by_user or (snap.core is not None and snap.core.slot_of_id(src._id) >= 0)

    target_when = _when(gtape, t._id)
    if target_when != "recording" and not isinstance(t, Variable):
        reason = _timing_reason(t, target_when)
        if reason is not None:
            return no(*reason)
    if not watched:
        return no(*_unwatched_reason(gtape, src, label))
    if snap.state == "released":
        return no("released", "This tape was non-persistent and gradient() has freed its recording, so "
                              "whether an op path leads from the source to the target can no longer be "
                              "checked (the source was watched, and the target was computed while the tape "
                              "recorded). Record again with tg.GradientTape(persistent=True) and call "
                              "explain() (before or after gradient()).")
    s_src = snap.core.slot_of_id(src._id)
    s_tgt = snap.core.slot_of_id(t._id)
    if s_tgt < 0:
        if isinstance(t, Variable):
            return no("target_is_variable", _variable_target(t))
        inner = _nested_span(gtape, t._id)
        if inner is not None:
            return no("constant_derivative",
                      f"The target is a gradient another tape computed inside this one, and its "
                      f"derivative rules used constants only: the first derivative does not depend on "
                      f"{label} (the function is linear in it, e.g. f(a) = k * a), so the second "
                      f"derivative is None. Pass unconnected_gradients='zero' to get 0 instead.")
        cut = _cut_on_the_way(snap, src, s_src, label, [t._id], t._id)
        if cut is not None:
            return no(*cut)
        return no("unrecorded",
                  f"The target was computed while the tape recorded, but by no op it recorded: none "
                  f"of the values it came from was watched by this tape. Either it does not depend on "
                  f"{label}, or the dependence was cut: {_CUTS}.{_unrecorded_evidence(snap, t, src, label)}")
    if isinstance(t, Variable) and s_tgt not in snap.producer and s_tgt != s_src:
        return no("target_is_variable", _variable_target(t))
    hot_slots, _, _ = snap.grad_reach([s_tgt])
    if s_src in hot_slots:
        fwd_slots, fwd_nodes = snap.forward_reach(s_src)
        _, back_nodes, _ = snap.grad_reach([s_tgt])
        path = [snap.nodes[k] for k in sorted(fwd_nodes & back_nodes)]
        ops = tuple(snap.op_line(n) for n in path)
        names = ", ".join(dict.fromkeys(n.op.name for n in path))
        return Explanation(label, True, "connected",
                           f"Connected: the gradient flows from the target {snap.name(s_tgt)} back to "
                           f"{label} through {len(path)} op{'s' if len(path) != 1 else ''} ({names}).", ops)
    if _nested_span(gtape, t._id, other_tapes_only=False) is not None:
        cut = (" The target is itself a derivative, computed while this tape recorded, and the source "
               "does not appear in it (as d(x*x*y)/dy = x*x has no y): the next derivative is None.")
    else:
        cut = _cut_on_the_way(snap, src, s_src, label, _recent_constants(snap, s_tgt), t._id)
        if cut is not None:
            return no(*cut)
        cut = _cut_hint(snap, s_tgt)
    return no("no_path",
              f"The target {snap.name(s_tgt)} does not depend on {label}: both are on the tape, but no "
              f"recorded op leads from one to the other.{cut}")


def _variable_target(t) -> str:
    return (f"The target is the variable {t.name!r}. A tape sees only reads of a variable; assign(), "
            f"assign_add() and item assignment are not recorded (state stops gradients), so its value has "
            f"no history. Compute the target as a tensor from the source instead of storing it in a "
            f"variable.")


def _timing_reason(t, when):
    if when == "before":
        return ("before_tape", "The target was computed before the tape was entered (or reset): only ops "
                               "run inside `with tape:` are recorded. Compute it inside the with block.")
    if when == "stop_recording":
        return ("stop_recording", "The target was computed inside `with tape.stop_recording():`, where this "
                                  "tape records nothing.")
    if when in ("exit", "gradient"):
        after = "the with block ended" if when == "exit" else "gradient() had used this non-persistent tape"
        return ("after_exit", f"The target was computed after {after}: the tape was no longer recording. "
                              f"Compute it inside the with block.")
    return None


def _unwatched_reason(gtape, src, label):
    if isinstance(src, Variable):
        if not src.trainable:
            return ("not_trainable", f"The source ({label}) has trainable=False: tapes watch only trainable "
                                     f"variables by themselves. Call tape.watch({src.name.split(':')[0]}) "
                                     f"inside the tape, or make it trainable.")
        if not gtape._watch_accessed_variables:
            return ("not_auto_watched", f"The tape was created with watch_accessed_variables=False, and "
                                        f"{label} was not passed to tape.watch().")
        return ("variable_not_read", f"No op read {label} while the tape was recording (reads before the "
                                     f"with block, after it, or under stop_recording() are not seen; "
                                     f"assign()/assign_add() change a variable without a recorded read, "
                                     f"and state stops gradients).")
    return ("not_watched", f"The source ({label}) is a tensor this tape never watched: a constant to it. "
                           f"Call tape.watch(x) inside the with block before using x, or make x a "
                           f"tg.Variable (watched automatically). A common cause: a variable replaced by "
                           f"a tensor (x = x + 1 instead of x.assign_add(1)).")


def _unrecorded_evidence(snap: _Snapshot, t, src, label) -> str:
    """What the snapshot can add about an unrecorded target: facts, each checked."""
    notes = []
    # stop_gradient(x) and tg.constant(x) return a new tensor sharing x's very value.
    if src._value is t._value:
        notes.append(f"The target holds the very value of {label} as a new tensor: that is what "
                     f"stop_gradient({label}) (or tg.constant) returns.")
    else:
        for node in snap.nodes:
            for i, s in enumerate(node.ins):
                v = node.saved_input(i)
                if s >= 0 and isinstance(v, Tensor) and v._value is t._value and v._id != t._id:
                    notes.append(f"The target holds the very value of {snap.name(s)} as a new tensor: "
                                 f"that is what stop_gradient({snap.name(s)}) (or tg.constant) returns.")
                    break
            if notes:
                break
    s_src = snap.core.slot_of_id(src._id)
    if s_src >= 0 and not any(s_src in node.ins for node in snap.nodes):
        notes.append(f"No recorded op used {label} at all.")
    value = np.asarray(t._value)
    if value.dtype.kind == "f" and value.size and np.all(np.isfinite(value)) and np.all(value == np.rint(value)) \
            and np.any(value != 0):
        notes.append("Its values are all whole numbers, as round, floor and ceil give.")
    return "".join(" " + n for n in notes)


def _recent_constants(snap: _Snapshot, s_tgt: int) -> list[int]:
    """Ids of the tensors the target's ops took in as constants although they were made while
    the tape recorded: where a path from a watched value may have been cut."""
    _, nodes = snap.ancestors([s_tgt])
    ids = []
    for node in snap.nodes:
        if node.k in nodes:
            for i, s in enumerate(node.ins):
                v = node.saved_input(i)
                if s < 0 and isinstance(v, Tensor) and _when(snap.gtape, v._id) == "recording":
                    ids.append(v._id)
    return ids


def _cut_on_the_way(snap: _Snapshot, src, s_src: int, label: str, entry_ids: list[int], target_id: int):
    """(reason, message) when the tape noted a cut (see _note_cut) of a value computed from the
    source before one of `entry_ids` (the target's own id when it is off the tape, else the
    constants its ops took in) was made; None when it noted none."""
    notes = CUTS.get(snap.core) if snap.core is not None else None
    if not notes or s_src < 0 or not entry_ids:
        return None
    reach, _ = snap.forward_reach(s_src)
    found = [c for c in notes if c.slot in reach
             and (c.result_id in entry_ids or any(c.clock < e for e in entry_ids))]
    if not found:
        return None
    exact = [c for c in found if c.result_id is not None and c.result_id in entry_ids]
    cut = exact[-1] if exact else found[-1]        # else the last one before the target
    others = [c for c in found if c is not cut]
    text = _cut_text(snap, cut, s_src, label, target_id)
    if not exact:
        text += (" (What was computed after the cut was not recorded, so this is the last cut of a "
                 "value computed from the source before the target was made, not a proven link.)")
    if others:
        text += " Also: " + "; ".join(_cut_text(snap, c, s_src, label, target_id, short=True)
                                      for c in others[-3:]) + "."
    return cut.kind, text


def _cut_text(snap: _Snapshot, c: _Cut, s_src: int, label: str, target_id: int, short: bool = False) -> str:
    value = label if c.slot == s_src else f"{snap.name(c.slot)} (computed from {label})"
    made = "the target" if c.result_id == target_id else "its result"
    if c.kind == "stop_gradient":
        what = f"stop_gradient() of {value} at {c.where}"
        fix = (f" Tapes see no path through stop_gradient: {made} is a constant to them. Remove it where "
               f"the gradient should flow.")
    elif c.kind == "non_differentiable":
        if " to " in c.detail:
            what = f"{c.detail.split(' to ')[0]} of {value} to {c.detail.split(' to ')[1]} at {c.where}"
            fix = (" Integer and bool results carry no gradient. Keep floats on the path (cast to an integer "
                   "only what needs no gradient).")
        else:
            what = f"{c.detail}() of {value} at {c.where}"
            fix = (f" {c.detail} is not differentiable (its gradient is None, as in TensorFlow), so {made} is "
                   f"a constant to the tape. Use a differentiable expression on the path, or "
                   f"tg.custom_gradient to give it the derivative you want (a straight-through "
                   f"estimator, for example).")
    elif c.kind == "via_numpy":
        what = f"a conversion of {value} to NumPy or Python ({c.detail}) at {c.where}"
        fix = (" What is computed from a NumPy array or a Python number is a constant to the tape. Stay "
               "on tensors (NumPy functions applied to tensors are recorded, SciPy's through "
               "tapegrad.scipy).")
    else:
        what = f"{c.detail}() of {value} in thread {c.thread!r} at {c.where}"
        fix = (f" A tape records only the thread that entered it, so {made} was not recorded. Compute it in "
               f"that thread, or enter a tape in the worker thread and pass gradients back.")
    if short:
        return what
    return f"The path from {label} to the target was cut by {what}.{fix}"


def _cut_hint(snap: _Snapshot, s_tgt: int) -> str:
    """Inputs of the target's ops that were constants to the tape although they were made while
    it recorded: where a path from a watched value may have been cut."""
    _, nodes = snap.ancestors([s_tgt])
    found = []
    for node in snap.nodes:
        if node.k not in nodes:
            continue
        for i, s in enumerate(node.ins):
            v = node.saved_input(i)
            if (s < 0 and isinstance(v, Tensor) and _when(snap.gtape, v._id) == "recording"
                    and _nested_span(snap.gtape, v._id, other_tapes_only=False) is None):
                found.append(f"{snap.const_text(node, i)} in {snap.op_line(node)}")
    if not found:
        return ""
    return (" Its ops used values made while the tape recorded but not recorded ("
            + "; ".join(found[:3]) + "): if one came from the source, its path was cut by " + _CUTS + ".")

