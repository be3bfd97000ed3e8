"""tapegrad.Module and tapegrad.name_scope: TensorFlow's tf.Module, the
container the "Core APIs" programs subclass to hold their variables.

A module does not register anything when attributes are set: `variables`,
`trainable_variables`, `non_trainable_variables` and `submodules` walk the
instance's attributes each time they are read (so reassigning an attribute is
seen at once), in TensorFlow's order:

* attributes in sorted name order (underscore names included), each value
  flattened as tf.nest does (lists and tuples in order, namedtuples in field
  order, dicts in sorted key order; sets, tensors, arrays, numbers and other
  objects are leaves);
* every object is reported once, where the walk first meets it (the module
  itself counts as met, so a cycle back to it is ignored);
* a module lists what its own attributes hold before the walk descends into
  the modules it found there, in the order it found them.

docs/training.md describes the behaviour with examples.
"""
import functools
import re
import threading

from tapegrad import _core
from tapegrad._core import Variable

__all__ = ["Module", "name_scope"]

# ---- name scopes -----------------------------------------------------------------------

_scopes = threading.local()       # .current: the active prefix, '' or 'outer/inner/' (per thread)


def _current_scope():
    return getattr(_scopes, "current", "")


# New Variables take the active scope as a prefix of their name (eager TensorFlow
# names variables, not ops).
_core.install_name_scope(_current_scope)


class name_scope:  # noqa: N801 - TensorFlow's name
    """tf.name_scope(name): a context manager that prefixes the names of the
    variables created inside it with ``name/``.  Scopes nest
    (``outer/inner/``); a name ending in ``/`` is taken as a complete scope,
    which is how a module re-enters its own; ``''`` is the root.  Entering
    returns the scope's full prefix."""

    def __init__(self, name):
        if not isinstance(name, str):
            raise ValueError("name for name_scope must be a string.")
        self._name = name
        self._saved = []

    @property
    def name(self):
        return self._name

    def __enter__(self):
        old = _current_scope()
        if not self._name:
            new = ""
        elif self._name.endswith("/"):
            new = self._name
        else:
            new = old + self._name + "/"
        self._saved.append(old)
        _scopes.current = new
        return new

    def __exit__(self, exc_type, exc, tb):
        _scopes.current = self._saved.pop()
        return False


# ---- tf.Module ---------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _snake_case(class_name):
    """TensorFlow's default module name: an underscore goes before a capital
    that follows a lowercase letter or digit, and before a capital (not the
    first letter) that starts a lowercase run; then all is lowercased
    (MyDenseLayer -> my_dense_layer, HTTPServer2D -> http_server2_d)."""
    out = []
    for i, c in enumerate(class_name):
        if c.isupper() and c.isascii():
            prev = class_name[i - 1] if i else ""
            nxt = class_name[i + 1] if i + 1 < len(class_name) else ""
            after_lower = prev.isascii() and (prev.islower() or prev.isdigit())
            starts_word = i > 0 and nxt.isascii() and nxt.islower()
            if after_lower or starts_word:
                out.append("_")
        out.append(c)
    return "".join(out).lower()


def _is_namedtuple(x):
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def _leaves(value, path):
    """(path, leaf) pairs of a nest in tf.nest's order; dict keys are sorted
    (TypeError if they cannot be compared, as in TensorFlow)."""
    if isinstance(value, dict):
        for key in sorted(value):
            yield from _leaves(value[key], path + (key,))
    elif isinstance(value, (list, tuple)):
        # namedtuples are tuples: walked in field order, like any tuple
        for i, item in enumerate(value):
            yield from _leaves(item, path + (i,))
    else:
        yield path, value


def _walk(module, predicate, recursive, with_path, path, seen, on_stack):
    on_stack.add(id(module))            # a module reachable from itself is not entered again
    children = []
    attributes = vars(module)
    for key in sorted(attributes):
        value = attributes[key]
        try:
            leaves = list(_leaves(value, (key,)))
        except Exception as cause:
            raise ValueError(f"Error processing property {key!r} of {value!r}") from cause
        for leaf_path, leaf in leaves:
            if not with_path:
                if id(leaf) in seen:
                    continue
                seen.add(id(leaf))
            if predicate(leaf):
                yield (path + leaf_path, leaf) if with_path else leaf
            if recursive and isinstance(leaf, Module) and id(leaf) not in on_stack:
                children.append((path + leaf_path, leaf))
    try:
        for child_path, child in children:
            yield from _walk(child, predicate, recursive, with_path, child_path, seen, on_stack)
    finally:
        on_stack.discard(id(module))


class Module:
    """tf.Module: a named container of variables and other modules.

    ``Module(name=None)``: the name defaults to the class name in snake_case
    and must otherwise be a valid Python identifier.  The name scope is fixed
    at construction (``outer/inner/`` when created inside ``outer``'s scope)."""

    def __init__(self, name=None):
        if name is None:
            name = _snake_case(type(self).__name__)
        else:
            if not isinstance(name, str):
                raise TypeError(f"expected string or bytes-like object, got '{type(name).__name__}'")
            if not _IDENTIFIER.match(name):
                raise ValueError(f"{name!r} is not a valid module name. Module names must be valid Python "
                                 f"identifiers (e.g. a valid class name).")
        self._name = name
        with name_scope(name) as full:
            self._name_scope = name_scope(full)

    @property
    def name(self):
        return self._name

    @property
    def name_scope(self):
        """The module's tapegrad.name_scope: variables created inside it are
        named ``<scope>/<name>``."""
        return self._name_scope

    @property
    def variables(self):
        """Every Variable held by this module and its submodules (a tuple)."""
        return tuple(self._flatten(predicate=_is_variable))

    @property
    def trainable_variables(self):
        return tuple(self._flatten(predicate=_is_trainable))

    @property
    def non_trainable_variables(self):
        return tuple(self._flatten(predicate=_is_non_trainable))

    @property
    def submodules(self):
        """Every module held by this one, directly or not (not itself)."""
        return tuple(self._flatten(predicate=_is_module))

    def _flatten(self, recursive=True, predicate=None, with_path=False):
        """The walk behind the properties: the objects for which
        ``predicate`` holds, deduplicated (unless ``with_path``, which yields
        ``(path, object)`` for every occurrence)."""
        predicate = predicate or (lambda _: True)
        return _walk(self, predicate, recursive, with_path, (), {id(self)}, set())

    @classmethod
    def with_name_scope(cls, method):
        """Decorator: run the method inside ``self.name_scope``."""
        @functools.wraps(method)
        def in_scope(self, *args, **kwargs):
            with self.name_scope:
                return method(self, *args, **kwargs)
        return in_scope


def _is_variable(x):
    return isinstance(x, Variable)


def _is_trainable(x):
    return isinstance(x, Variable) and x.trainable


def _is_non_trainable(x):
    return isinstance(x, Variable) and not x.trainable


def _is_module(x):
    return isinstance(x, Module)
