"""The page every standalone HTML report of custody is built on (the audit summary, the inventory report, the drill
report, the evidence pack): one self-contained document with a head that lets nothing run and nothing load, the
CSS they share, escaping, and the table.

The shared look: system fonts; figures as tiles (``.cards``); tables in a box of their own that scrolls sideways
when it must, so the page never does; a table of class ``stack`` turns into one block of labelled cells per row
below 900 px; identifiers (``.id``, ``td.id``) never break, a name or path breaks only after a "/" (``slashed``),
free text (``.free``) breaks anywhere; one set of status colours (``.pill`` with ``pass``, ``fail``, ``open``,
``not-applicable``, ``critical``, ``high``, ``medium``, ``low``); print rules that show whole tables.

Nothing but string work from the standard library: the audit command imports this on every run."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

# No script, no fetch of anything (fonts, images, styles, frames), the document's own inline styles only; no
# <base> to redirect its links, no form to post anywhere. (frame-ancestors needs a header: the console sends one.)
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

# A stacked row's cell is a table of two cells: its label, then all its content in one anonymous cell (a grid or
# a flexbox would make a cell of every text run and element in it, splitting "pypi/acme" at its slash).
CSS = """
:root{--ink:#1f2933;--soft:#5b6675;--rule:#d8dde4;--paper:#f5f7fa}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--ink);background:#fff;
margin:0 auto;padding:24px 32px;max-width:1500px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:var(--soft);margin:4px 0 12px}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:8px 12px;margin:8px 0}
nav{margin:12px 0}nav a{margin-right:12px;display:inline-block}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:14px 0}
.card{border:1px solid var(--rule);border-radius:8px;padding:8px 14px;background:var(--paper);min-width:120px}
.card strong{display:block;font-size:20px}.card span{color:var(--soft);font-size:12px}
.scroll{overflow-x:auto;max-width:100%;border:1px solid var(--rule);border-radius:6px;margin:8px 0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;vertical-align:top;padding:6px 10px;border-bottom:1px solid var(--rule)}
th{background:var(--paper);font-weight:600;white-space:nowrap}
td{overflow-wrap:break-word}tr:last-child td{border-bottom:none}
.id,td.id,.seg{white-space:nowrap;overflow-wrap:normal}.free{overflow-wrap:anywhere}
.pill{display:inline-block;border-radius:10px;padding:0 8px;font-size:12px;font-weight:600;white-space:nowrap}
.pass{background:#e3f9e5;color:#0e5a1a}.fail{background:#ffe3e3;color:#8a1c1c}
.open{background:#fff3c4;color:#5c4813}.not-applicable{background:#eceff3;color:#4a5563}
.critical{background:#a40e26;color:#fff}.high{background:#cf3a12;color:#fff}
.medium{background:#ffd54f;color:#3a2d00}.low{background:#dde3e8;color:#263238}
@media (max-width:900px){body{padding:14px}th,td{padding:5px 6px}.card{min-width:96px}}
@media (max-width:900px){table.stack thead{display:none}
table.stack,table.stack tbody,table.stack tr{display:block;width:auto;min-width:0}
table.stack tr{border-bottom:2px solid var(--rule);padding:4px 0}
table.stack td{border:0;display:table;table-layout:fixed;width:100%;white-space:normal;
border-collapse:separate;padding:2px 8px}
table.stack td::before{content:attr(data-label);display:table-cell;width:9em;padding-right:8px;color:var(--soft);
font-size:12px}}
@media print{body{max-width:none;padding:0}.scroll{overflow:visible;border:none}h2,h3{break-after:avoid}
.cards,tr{break-inside:avoid}nav{display:none}}
"""

_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#x27;"})


def esc(value: object) -> str:
    """``value`` as HTML text, quotes included (what ``html.escape(str(value))`` gives); ``None`` as nothing."""
    return "" if value is None else str(value).translate(_ESCAPES)


def slashed(text: str) -> str:
    """A name or path that may break after a "/", never inside a segment (``pypi/acme-tools``, ``custody-kv``)."""
    return "/<wbr>".join(f'<span class="seg">{esc(part)}</span>' for part in text.split("/"))


def cards(figures: Iterable[tuple[object, str]]) -> str:
    """Figures as a row of tiles: the number large, what it counts below."""
    return '<div class="cards">' + "".join(f'<div class="card"><strong>{esc(n)}</strong><span>{esc(what)}</span></div>'
                                           for n, what in figures) + "</div>"


def words(text: str) -> str:
    """Text that may break between its words, never inside one (``ISO/IEC 27001:2022``)."""
    return " ".join(f'<span class="seg">{esc(word)}</span>' for word in text.split())


Cell = str | tuple[str, str]  # a cell's HTML (escaped already: some carry markup), or (the cell's class, its HTML)


def table(head: Sequence[str], rows: Iterable[Sequence[Cell]], cls: str = "", empty: str = "") -> str:
    """A table in its own sideways-scrolling box; each cell labelled with its column (what a ``stack`` table shows
    on a narrow window). No rows: ``empty`` as a paragraph, or nothing."""
    labels = [f' data-label="{esc(h)}"' for h in head]

    def td(label: str, cell: Cell) -> str:
        if isinstance(cell, tuple):
            return f'<td class="{esc(cell[0])}"{label}>{cell[1]}</td>'
        return f"<td{label}>{cell}</td>"

    body = "".join("<tr>" + "".join(td(label, c) for label, c in zip(labels, row, strict=True)) + "</tr>"
                   for row in rows)
    if not body:
        return f'<p class="meta">{esc(empty)}</p>' if empty else ""
    heads = "".join(f"<th>{esc(h)}</th>" for h in head)
    attr = f' class="{esc(cls)}"' if cls else ""
    return f'<div class="scroll"><table{attr}><thead><tr>{heads}</tr></thead><tbody>{body}</tbody></table></div>'


def document(title: str, body: str, css: str = "") -> str:
    """The whole page: the shared head and CSS, then ``css`` (the report's own rules, which come later and so win),
    then ``body`` (HTML)."""
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
            f"<title>{esc(title)}</title><style>{CSS}{css}</style></head>\n<body>\n{body}\n</body></html>\n")
