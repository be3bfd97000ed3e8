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
    it = iter(flat)

    def build(s):
        if isinstance(s, dict):
            built = {k: build(s[k]) for k in sorted(s)}
            return type(s)((k, built[k]) for k in s) if type(s) is not dict else {k: built[k] for k in s}
        if isinstance(s, tuple) and hasattr(s, "_fields"):
            return type(s)(*[build(e) for e in s])
        if isinstance(s, (list, tuple)):
            return type(s)(build(e) for e in s)
        return next(it)

    return build(structure)


def is_nested(x):
    return isinstance(x, (list, tuple, dict))
