"""Flatten and rebuild nests of lists, tuples and dicts (tf.nest's rules:
dict entries in sorted-key order; everything else is a leaf)."""


def flatten(structure):
    out = []
    stack = [structure]
    while stack:                          # iterative: nests may be deep
        s = stack.pop()
        if isinstance(s, dict):
            stack.extend(s[k] for k in reversed(sorted(s)))
        elif isinstance(s, (list, tuple)):
            stack.extend(reversed(s))
        else:
            out.append(s)
    return out


def pack_sequence_as(structure, flat):
    return _build(structure, iter(flat))


def _build(s, it):
    # A module-level function, not a closure: a closure that calls itself is a
    # reference cycle, which kept every gradient list alive until the cyclic GC ran.
    if isinstance(s, dict):
        built = {k: _build(s[k], it) for k in sorted(s)}
        return {k: built[k] for k in s} if type(s) is dict else type(s)((k, built[k]) for k in s)
    if isinstance(s, tuple) and hasattr(s, "_fields"):
        return type(s)(*[_build(e, it) for e in s])
    if isinstance(s, (list, tuple)):
        return type(s)([_build(e, it) for e in s])
    return next(it)


def is_nested(x):
    return isinstance(x, (list, tuple, dict))
