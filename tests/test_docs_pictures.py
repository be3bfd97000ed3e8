"""The pictures of docs/what-a-tape-is.md are what GradientTape.to_dot() draws today: each
committed docs/images/<name>.dot must equal the DOT text docs/pictures.py makes now (run
`python docs/pictures.py` to redraw them after changing to_dot or the programs)."""
import importlib.util
import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
_spec = importlib.util.spec_from_file_location("docs_pictures", DOCS / "pictures.py")
pictures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(pictures)


@pytest.mark.parametrize("name", sorted(pictures.PICTURES))
def test_committed_picture_is_current(name):
    _, _, dot = pictures.dot_of(name)
    assert (DOCS / "images" / f"{name}.dot").read_text() == dot, "run `python docs/pictures.py`"
    svg = (DOCS / "images" / f"{name}.svg").read_text()
    assert "<svg" in svg
    # The SVG was drawn from that DOT: every node label's first line is in it.
    ops = re.findall(r'^  n\d+ \[label="([a-z_]+)\\n', dot, flags=re.M)
    assert ops
    for op in ops:
        assert f">{op}</text>" in svg


def test_every_picture_is_on_the_page():
    page = (DOCS / "what-a-tape-is.md").read_text()
    for name in pictures.PICTURES:
        assert f"images/{name}.svg" in page
