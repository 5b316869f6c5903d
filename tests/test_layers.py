"""The benchmark layer is a leaf: only the command line imports ``llmrec_ref.bench``.

Chapters, exercises and package modules import what they need (settings, quality measures,
markdown tables) from the package proper; the benchmarks import it from there too, so a
chapter never depends on a benchmark's internals.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def bench_imports(path: Path) -> list[str]:
    """The import statements of ``path`` that reach ``llmrec_ref.bench`` (inside functions too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"), str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        if any(n == "llmrec_ref.bench" or n.startswith("llmrec_ref.bench.") for n in names):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def importers() -> dict[str, list[str]]:
    files = [p for p in (ROOT / "llmrec_ref").rglob("*.py")
             if "bench" not in p.relative_to(ROOT / "llmrec_ref").parts[:1] and p.name != "__main__.py"]
    files += sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")) + sorted((ROOT / "exercises").glob("[0-9][0-9]_*.py"))
    out = {}
    for path in files:
        hits = bench_imports(path)
        if hits:
            out[path.relative_to(ROOT).as_posix()] = hits
    return out


def test_only_the_command_line_imports_the_benchmarks():
    offenders = importers()
    assert not offenders, (
        f"{offenders}: move what these files need out of llmrec_ref.bench (into the package module of "
        "its concept, e.g. llmrec_ref.tables, llmrec_ref.embeddings, llmrec_ref.recipes) and import it from there")


def test_the_scan_sees_every_form_of_import(tmp_path):
    src = tmp_path / "x.py"
    src.write_text("import llmrec_ref.bench.course\nfrom llmrec_ref import bench\n"
                   "from llmrec_ref.bench.model import build\nfrom llmrec_ref import tables\n"
                   "def f():\n    from llmrec_ref.bench import timed\n")
    assert [h.split(":")[0] for h in bench_imports(src)] == ["line 1", "line 2", "line 3", "line 6"]
