"""Markdown tables: rows of dicts printed as a table, and a table of the results page read back.

``markdown_table`` is how every ``python -m llmrec_ref bench TOPIC`` and the grader print their
rows; ``read_table`` is its inverse, used by chapters 00, 06 and 11 to read a section of
``docs/results.md`` (e.g. the baseline table) instead of copying its numbers.
"""

from __future__ import annotations

from typing import Sequence

__all__ = ["markdown_table", "read_table"]


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


def markdown_table(rows: Sequence[dict], columns: Sequence[str] | None = None) -> str:
    """Render ``rows`` (dicts) as a markdown table; columns default to the first row's keys."""
    if not rows:
        return "(no rows)"
    if columns is None:
        columns = list(rows[0].keys())
        for row in rows[1:]:
            columns += [c for c in row if c not in columns]
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def read_table(markdown: str, heading: str) -> list[dict]:
    """The first markdown table after the line that starts with ``heading`` (e.g. a section
    of ``docs/results.md``), as one dict of strings per row: the inverse of ``markdown_table``."""
    lines = markdown.splitlines()
    try:
        start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    except StopIteration:
        raise ValueError(f"no line starts with {heading!r}; give the section heading, e.g. '## Baselines'") from None
    table = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif table:
            break
    if len(table) < 2:
        raise ValueError(f"no markdown table follows {heading!r}")
    return [dict(zip(table[0], row, strict=True)) for row in table[2:]]
