"""A static HTML site of the course: ``python -m llmrec_ref site OUT_DIR``.

Every chapter notebook (``notebooks/NN_*.ipynb``) is rendered by nbconvert's ``lab``
template with its stored outputs and figures (PNG data URIs), and ``index.html`` holds the
chapter map. Links are relative, so the folder can be opened from disk or served by any
static server, and nothing is fetched from the network (not even a favicon): the template's require.js,
MathJax and mermaid scripts are left out; formulas (``$...$``, ``$$...$$``) are drawn at
build time by matplotlib's mathtext as SVG images (their TeX is the ``alt`` text; a formula
mathtext cannot parse stays as TeX); a ``flowchart`` mermaid block that is a single chain
becomes a row of boxes, any other stays as its source text.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from functools import lru_cache
from pathlib import Path

__all__ = ["build_site", "chapter_map", "chapter_notebooks", "render_math", "replace_math"]

REPO = Path(__file__).resolve().parents[1]
# TeX that mathtext lacks, rewritten to what it has (sizes of delimiters are dropped)
TEX_FIXES = [(r"\\[Bb]igg?[lr]?(?![a-zA-Z])", ""), (r"\\[lr]Vert(?![a-zA-Z])", r"\\Vert"),
             (r"\\[lr]vert(?![a-zA-Z])", "|"), (r"\\(le|ge|ne)(?![a-zA-Z])", r"\\\1q")]
# code spans and fenced blocks are left alone; then $$display$$ and $inline$ math (pandoc's rule:
# no space just inside the dollars, no digit right after the closing one; \$ is a dollar sign)
CODE = re.compile(r"(```.*?```|`[^`\n]+`)", re.S)
MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?![\s$])((?:[^$\n]|\n(?!\s*\n))+?)(?<![\s\\])\$(?!\d)", re.S)
MERMAID = re.compile(r"```mermaid\n(.*?)```", re.S)
NODE = re.compile(r"^\s*(\w+)\s*(?:\[\(?|\(\[?|\{)\s*\"?(.*?)\"?\s*(?:\)?\]|\]?\)|\})\s*$")

CSS = """
nav.site { display: flex; gap: 1.5em; padding: 0.6em 1em; margin-bottom: 1em;
           border-bottom: 1px solid #ccc; font-family: sans-serif; font-size: 14px; }
nav.site a { text-decoration: none; } nav.site .next { margin-left: auto; }
img.math { display: inline; margin: 0; }
span.math-display { display: block; text-align: center; margin: 0.8em 0; }
.chain { display: flex; flex-wrap: wrap; align-items: center; gap: 0.4em; margin: 1em 0; }
.chain .box { border: 1px solid #4a6fa5; border-radius: 6px; padding: 0.4em 0.7em; background: #eef3fb; }
"""
TEMPLATE = """{%- extends 'index.html.j2' -%}
{% block html_head_js %}{% endblock html_head_js %}
{% block jupyter_widgets %}{% endblock jupyter_widgets %}
{% block html_head_js_mathjax %}{% endblock html_head_js_mathjax %}
{% block html_head_js_mermaidjs %}{% endblock html_head_js_mermaidjs %}
{% block extra_css %}<link rel="icon" href="data:,"><style type="text/css">{{ resources.site_css }}</style>{% endblock extra_css %}
{% block body_header %}{{ super() }}{{ resources.site_nav }}{% endblock body_header %}
{% block body_footer %}{{ resources.site_nav }}{{ super() }}{% endblock body_footer %}
"""


def chapter_notebooks(source: str | os.PathLike | None = None) -> list[Path]:
    """The chapter notebooks ``NN_*.ipynb`` in ``source`` (default: the repo's ``notebooks/``)."""
    folder = Path(source) if source is not None else REPO / "notebooks"
    if not folder.is_dir():
        raise FileNotFoundError(f"notebook folder {folder} does not exist; pass the course's notebooks/")
    return sorted(folder.glob("[0-9][0-9]_*.ipynb"))


@lru_cache(maxsize=None)
def render_math(tex: str, display: bool = False) -> str | None:
    """``<img>`` of a TeX formula drawn by matplotlib's mathtext (SVG data URI), or None.

    The image is sized in ``em`` so it scales with the text around it, and shifted down by
    the formula's depth so its baseline sits on the line. Returns None when mathtext
    cannot parse ``tex`` (it knows a large subset of TeX, not all of it).
    """
    import matplotlib
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties
    from matplotlib.mathtext import MathTextParser

    fixed = " ".join(tex.split())  # mathtext reads one line
    for pattern, new in TEX_FIXES:
        fixed = re.sub(pattern, new, fixed)
    size = 13.0 if display else 12.0
    prop = FontProperties(size=size)
    with matplotlib.rc_context({"mathtext.fontset": "cm", "svg.hashsalt": "llmrec"}):
        try:
            width, height, depth, _, _ = MathTextParser("path").parse(f"${fixed}$", dpi=72, prop=prop)
            fig = Figure(figsize=(width / 72, height / 72))
            fig.text(0, depth / height, f"${fixed}$", fontproperties=prop)
            buf = io.BytesIO()
            fig.savefig(buf, format="svg", transparent=True, metadata={"Date": None})
        except (ValueError, RuntimeError):
            return None
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    img = (f'<img class="math" alt="{html.escape(" ".join(tex.split()))}" src="data:image/svg+xml;base64,{data}" '
           f'style="height: {height / size:.3f}em; vertical-align: -{depth / size:.3f}em">')
    return f'<span class="math-display">{img}</span>' if display else img


def replace_math(markdown: str) -> str:
    """Replace the ``$inline$`` and ``$$display$$`` formulas of a markdown text by images."""
    def one(match: re.Match) -> str:
        display = match.group(1) is not None
        return render_math(match.group(1) if display else match.group(2), display) or match.group(0)

    parts = CODE.split(markdown)  # odd positions are code: keep them as they are
    return "".join(p if i % 2 else MATH.sub(one, p) for i, p in enumerate(parts))


def mermaid_chain(source: str) -> str | None:
    """HTML boxes for a mermaid flowchart that is one chain ``A[..] --> B[..] --> ...``, else None."""
    lines = [s.strip() for s in source.strip().splitlines() if s.strip() and not s.strip().startswith("%%")]
    if not lines or not re.match(r"(flowchart|graph)\s+(LR|RL|TD|TB)\b", lines[0]):
        return None
    labels, order = {}, []
    for line in lines[1:]:
        for step in re.split(r"\s*-->\s*(?:\|[^|]*\|\s*)?", line.rstrip(";")):
            node = NODE.match(step) or re.match(r"^\s*(\w+)\s*()$", step)
            if node is None:
                return None
            name, label = node.groups()
            labels[name] = label or labels.get(name, name)
            if not order or order[-1] != name:
                order.append(name)
    if not order or len(set(order)) != len(order):
        return None  # a branch or a loop: not a single chain
    boxes = " <span>&rarr;</span> ".join(f'<span class="box">{html.escape(labels[n])}</span>' for n in order)
    return f'\n<div class="chain">{boxes}</div>\n'


def _markdown_for_site(markdown: str) -> str:
    markdown = MERMAID.sub(lambda m: mermaid_chain(m.group(1)) or m.group(0), markdown)
    markdown = re.sub(r"\]\((?:\.\./notebooks/)?(\d\d_[\w-]+)\.ipynb", r"](\1.html", markdown)
    return replace_math(markdown)


def _markdown_text(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def _chapter_info(path: Path, nb) -> dict:
    import nbformat

    text = _markdown_text(nb)
    title = re.search(r"^#\s+(.+)$", text, re.M)
    learn = re.search(r"What you will learn\**:?\**\s*\n((?:\s*[-*] .*\n?|  +\S.*\n?)+)", text)
    need = re.search(r"\*\*What you need:?\*\*:?\s*(.+?)(?:\n\s*\n|$)", text, re.S)
    exercise = path.parent.parent / "exercises" / path.name
    tasks = _markdown_text(nbformat.read(exercise, as_version=4)) if exercise.exists() else ""
    minutes = [int(m) for m in re.findall(r"^#+ Exercise \d+.*?\((\d+) min[,)]", tasks, re.M)]
    return {"number": path.name[:2], "page": path.with_suffix(".html").name,
            "title": title.group(1).strip() if title else path.stem,
            "goals": learn.group(1) if learn else "", "needs": need.group(1).strip() if need else "",
            "exercise": exercise.name if exercise.exists() else "",
            "minutes": sum(minutes), "n_exercises": len(minutes)}


def chapter_map(source: str | os.PathLike | None = None) -> list[dict]:
    """One dict per chapter notebook in ``source``, read from its markdown (for an index or overview).

    Keys: ``number`` ("01"), ``title`` (the notebook's ``#`` heading), ``page`` (its HTML file
    name), ``goals`` (the "What you will learn" bullets, markdown), ``needs`` (the "What you
    need" paragraph, markdown), ``exercise`` (the exercise notebook's file name, or ""),
    ``n_exercises`` and ``minutes`` (the sum of the "(N min)" or "(N min, ...)" in the exercise headings).
    """
    import nbformat

    return [_chapter_info(p, nbformat.read(p, as_version=4)) for p in chapter_notebooks(source)]


def _nav(chapters: list[dict], i: int) -> str:
    def link(c: dict, cls: str, text: str) -> str:
        return f'<a class="{cls}" href="{c["page"]}">{text}</a>'

    links = ['<a href="index.html">Course index</a>']
    if i > 0:
        links.append(link(chapters[i - 1], "prev", "&larr; " + html.escape(chapters[i - 1]["title"])))
    if i + 1 < len(chapters):
        links.append(link(chapters[i + 1], "next", html.escape(chapters[i + 1]["title"]) + " &rarr;"))
    return '<nav class="site">' + " ".join(links) + "</nav>"


INDEX = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>llmrec: the course</title>
<link rel="icon" href="data:,"><meta name="viewport" content="width=device-width, initial-scale=1.0">
<style>
body { font-family: sans-serif; max-width: 75em; margin: 2em auto; padding: 0 1em; line-height: 1.45; }
table { border-collapse: collapse; } th { background: #eef3fb; } td p, td ul { margin: 0.2em 0; }
td, th { border: 1px solid #ccc; padding: 0.4em 0.6em; vertical-align: top; text-align: left; }
CSS</style></head>
<body><h1>llmrec: how language-model techniques help a recommender understand context</h1>
<p>A notebook-first course: each chapter derives an idea in small cells, checks it against the
finished version in the <code>llmrec_ref</code> package, then runs it on MovieLens-100k or the
synthetic shop. Read the chapters here with their stored outputs, or open
<code>notebooks/NN_*.ipynb</code> in JupyterLab to run them; the exercises are in
<code>exercises/</code>.</p>
<table><thead><tr><th>#</th><th>Chapter</th><th>What you will learn</th><th>What you need</th>
<th>Exercises</th></tr></thead>
<tbody>
ROWS
</tbody></table></body></html>
"""


def _index(chapters: list[dict]) -> str:
    from nbconvert.filters.markdown import markdown2html

    def cell(markdown: str) -> str:
        return f"<td>{markdown2html(_markdown_for_site(markdown))}</td>"

    rows = []
    for c in chapters:
        work = (f'{c["n_exercises"]} exercises, about {c["minutes"]} min<br>'
                f'<code>exercises/{c["exercise"]}</code>') if c["exercise"] else ""
        rows.append(f'<tr><td>{c["number"]}</td><td><a href="{c["page"]}">{html.escape(c["title"])}</a>'
                    f'</td>{cell(c["goals"])}{cell(c["needs"])}<td>{work}</td></tr>')
    return INDEX.replace("CSS", CSS).replace("ROWS", "\n".join(rows))


def build_site(out_dir: str | os.PathLike, source: str | os.PathLike | None = None) -> Path:
    """Render every chapter notebook in ``source`` to ``out_dir`` plus ``index.html``; returns its path.

    Pages are rendered from the notebooks' stored outputs (nothing is executed), so the
    committed ``.ipynb`` must be executed first, as CI checks.
    """
    import jinja2
    import nbformat
    from nbconvert import HTMLExporter

    paths = chapter_notebooks(source)
    if not paths:
        raise FileNotFoundError(f"no NN_*.ipynb chapter notebooks in {source or REPO / 'notebooks'}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    notebooks = [nbformat.read(p, as_version=4) for p in paths]
    chapters = [_chapter_info(p, nb) for p, nb in zip(paths, notebooks, strict=True)]
    exporter = HTMLExporter(template_name="lab", theme="light", embed_images=True,
                            extra_loaders=[jinja2.DictLoader({"llmrec_site.html.j2": TEMPLATE})],
                            template_file="llmrec_site.html.j2")
    for i, (path, nb) in enumerate(zip(paths, notebooks, strict=True)):
        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = _markdown_for_site(cell.source)
        resources = {"metadata": {"name": chapters[i]["title"], "path": str(path.parent)},
                     "site_nav": _nav(chapters, i), "site_css": CSS}
        body, _ = exporter.from_notebook_node(nb, resources=resources)
        (out / chapters[i]["page"]).write_text(body, "utf-8")
    index = out / "index.html"
    index.write_text(_index(chapters), "utf-8")
    return index
