"""Draws the pictures of docs/what-a-tape-is.md with GradientTape.to_dot / render.

    python docs/pictures.py        # needs the graphviz package and Graphviz's dot program

Writes docs/images/<name>.dot (the DOT text) and docs/images/<name>.svg (the picture). Both are
committed, so building the site needs neither graphviz nor dot; tests/test_docs_pictures.py
checks that each committed .dot is what to_dot() gives today, so a change to the pictures'
code or to to_dot() shows up as a failing test until this script is run again.
"""
import pathlib

import tapegrad as tg

IMAGES = pathlib.Path(__file__).resolve().parent / "images"


def hands_on_ml():
    """f(x, y) = x*x*y + y + 2, the function of Hands-On ML's autodiff notebook."""
    x = tg.Variable(3.0, name="x")
    y = tg.Variable(4.0, name="y")
    with tg.GradientTape(persistent=True) as tape:
        f = x * x * y + y + 2
    return tape, f


def stop_gradient():
    """d2l's detaching example: u = stop_gradient(y) is a constant to the tape. The whole tape
    (no target): y's op and the constant that replaced it are both in the picture."""
    x = tg.Variable(tg.range(4, dtype=tg.float32), name="x")
    with tg.GradientTape(persistent=True) as tape:
        y = x * x
        u = tg.stop_gradient(y)
        _ = u * x
    return tape, None


def second_derivative():
    """The outer tape of d2(sin(x) * x)/dx2: it recorded the forward pass and the first
    derivative's own ops."""
    x = tg.Variable(1.5, name="x")
    with tg.GradientTape() as outer:
        with tg.GradientTape() as inner:
            y = tg.sin(x) * x
        dy = inner.gradient(y, x)
    return outer, dy


PICTURES = {"tape_hands_on_ml": hands_on_ml, "tape_stop_gradient": stop_gradient,
            "tape_second_derivative": second_derivative}


def dot_of(name):
    tape, target = PICTURES[name]()
    return tape, target, tape.to_dot(target)


def main():
    IMAGES.mkdir(exist_ok=True)
    for name in PICTURES:
        tape, target, dot = dot_of(name)
        (IMAGES / f"{name}.dot").write_text(dot)
        tape.render(str(IMAGES / f"{name}.svg"), target=target)
        print(f"wrote docs/images/{name}.dot and .svg")


if __name__ == "__main__":
    main()
