"""One self-contained HTML page for a report: tables, plots and example pictures, no network.

``pathreason demo``, ``pathreason eval`` and ``pathreason ablate-budget`` each write an ``index.html``
beside their JSON and Markdown: a page a browser opens from disk, with every picture embedded as a
``data:`` URI so that the file can be mailed or archived alone. The page is built from plain data
(:class:`Section` s of text, tables and images), so it knows nothing of how the numbers were made.

    >>> page = render_page("demo", [Section("VQA", table=Table(["row", "accuracy"], [["SFT", 0.5]]))])
    >>> "<table>" in page and "0.500" in page
    True
"""

from __future__ import annotations

import base64
import html
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Section", "Table", "render_page", "write_page"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #1d1d1f; padding: 0 1em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { font-size: 1.25em; margin-top: 1.6em; border-bottom: 1px solid #ddd; }
p.meta { color: #666; margin-top: 0; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; }
th { background: #f2f2f4; } td:first-child, th:first-child { text-align: left; }
p.note { background: #fff8e1; border-left: 4px solid #f0b400; padding: 0.5em 0.8em; }
figure { display: inline-block; margin: 0.5em 1em 0.5em 0; vertical-align: top; }
figure img { max-width: 100%; border: 1px solid #ddd; } figcaption { font-size: 0.85em; color: #555; }
pre { background: #f6f6f8; padding: 0.6em; overflow-x: auto; font-size: 0.85em; }
"""


@dataclass
class Table:
    """A table: a header and rows of cells (floats are shown with three decimals, None as "-")."""

    header: Sequence[str]
    rows: Sequence[Sequence[Any]]


@dataclass
class Section:
    """A heading with, in order: paragraphs, notes (highlighted sentences), a table, images, code."""

    heading: str
    paragraphs: Sequence[str] = ()
    notes: Sequence[str] = ()
    table: Table | None = None
    images: Sequence[tuple[str | Path, str]] = ()
    """(path of a PNG/JPEG, caption); embedded in the page."""
    code: str = ""
    extra_tables: Sequence[tuple[str, Table]] = field(default_factory=list)
    """(caption, table) shown after the main table."""


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return html.escape(str(value))


def _table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in table.header)
    rows = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in table.rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


def _image(path: str | Path, caption: str) -> str:
    p = Path(path)
    if not p.is_file():
        return f"<p class='note'>missing picture: {html.escape(str(p))}</p>"
    mime = "image/jpeg" if p.suffix.lower() in (".jpg", ".jpeg") else "image/png"
    data = base64.b64encode(p.read_bytes()).decode("ascii")
    return (f"<figure><img alt='{html.escape(caption)}' src='data:{mime};base64,{data}'>"
            f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def render_page(title: str, sections: Sequence[Section], subtitle: str = "") -> str:
    """The page as a string (see the module docstring)."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    if subtitle:
        parts.append(f"<p class='meta'>{html.escape(subtitle)}</p>")
    for section in sections:
        parts.append(f"<section><h2>{html.escape(section.heading)}</h2>")
        parts += [f"<p>{html.escape(p)}</p>" for p in section.paragraphs]
        parts += [f"<p class='note'>{html.escape(n)}</p>" for n in section.notes]
        if section.table is not None:
            parts.append(_table(section.table))
        for caption, table in section.extra_tables:
            parts.append(f"<p class='meta'>{html.escape(caption)}</p>{_table(table)}")
        parts += [_image(path, caption) for path, caption in section.images]
        if section.code:
            parts.append(f"<pre>{html.escape(section.code)}</pre>")
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_page(path: str | Path, title: str, sections: Sequence[Section], subtitle: str = "") -> Path:
    """Write the page atomically (a temporary file, then a rename) and return its path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(render_page(title, sections, subtitle), encoding="utf-8")
    os.replace(tmp, out)
    return out
