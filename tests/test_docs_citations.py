"""Citations of TensorFlow's behaviour point inside the repository, and at things that exist:
docs/tensorflow_semantics.md's sections, and the test modules it names."""
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "tensorflow_semantics.md"
CITING = [p for d in ("src", "tests", "benchmarks", "docs") for p in sorted((ROOT / d).rglob("*"))
          if p.suffix in (".py", ".pyx", ".pxd", ".md")] + [ROOT / "README.md"]


def _sections():
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)\.? ", DOC.read_text(), flags=re.M))


def test_no_citation_of_files_outside_the_repository():
    outside = re.compile(r"TF_SEMANTICS|DESIGN\.md|shared/")
    hits = [f"{p.relative_to(ROOT)}:{n}" for p in CITING if p != pathlib.Path(__file__).resolve()
            for n, line in enumerate(p.read_text().splitlines(), 1) if outside.search(line)]
    assert hits == []


def test_the_test_modules_the_doc_names_exist():
    named = set(re.findall(r"tests/(test_\w+\.py)", DOC.read_text()))
    assert named, "the doc names no test module"
    assert sorted(n for n in named if not (ROOT / "tests" / n).exists()) == []


def test_section_citations_name_sections_of_the_doc():
    sections = _sections()
    assert {"2.1", "6.1", "14", "20"} <= sections, sorted(sections)
    bad = []
    for p in sorted((ROOT / "tests").glob("test_*.py")):
        for n, line in enumerate(p.read_text().splitlines(), 1):
            # section headings of the test modules, and "docs/tensorflow_semantics.md §N" in prose
            cited = re.findall(r"§(\d+(?:\.\d+)?)", line) if line.startswith("# === ") else []
            cited += re.findall(r"tensorflow_semantics\.md[^§\n]*((?:§\d+(?:\.\d+)?[ ,]*)+)", line)
            for c in re.findall(r"\d+(?:\.\d+)?", " ".join(cited)):
                if c not in sections:
                    bad.append(f"{p.name}:{n}: §{c}")
    assert bad == []
