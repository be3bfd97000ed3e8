"""`python -m tapegrad.demo` teaches: every step says what it shows, results are labelled, and
the pitfall (rebinding a Variable) is shown next to its fix."""
import re

from tapegrad import demo


def test_the_demo_explains_each_step_and_shows_a_pitfall_with_its_fix(capsys):
    demo.main()
    out = capsys.readouterr().out
    steps = re.findall(r"^(\d+)\. (.+)\n  (.+)$", out, flags=re.M)
    assert [int(n) for n, _, _ in steps] == list(range(1, len(steps) + 1)) and len(steps) >= 6
    assert all(sentence.endswith(".") for _, _, sentence in steps)
    assert "Pitfall" in out and "assign_sub" in out
    assert re.search(r"gradients, with w = w - 0\.1 \* g\s+\[4\.0, None\]", out)
    assert re.search(r"gradients, with w\.assign_sub\(0\.1 \* g\)\s+\[4\.0, 3\.2\]", out)
    assert "d/a" not in out                   # the old unlabelled ratio
