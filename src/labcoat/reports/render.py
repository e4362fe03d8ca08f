"""What every report shares: the page template, Plotly embedded once, figures, number formats.

A report is one HTML file that opens offline: plotly.js is inlined once in the page head
(about 4.8 MB) and each figure is a ``<div>`` filled by ``Plotly.newPlot`` from JSON inlined
next to it. Nothing is fetched from the network; MathJax is not used.
"""
from __future__ import annotations

import json
import math
import uuid
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jinja2
    from markupsafe import Markup
    from plotly.graph_objects import Figure  # plotly ships no types: Any to the checker

#: Plotly options common to every figure: no logo, no link to Plotly's cloud, resizes with the page.
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showLink": False,
                 "modeBarButtonsToRemove": ["lasso2d", "select2d", "autoScale2d"]}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    import jinja2

    env = jinja2.Environment(loader=jinja2.PackageLoader("labcoat.reports", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = fmt
    env.filters["pct"] = pct
    env.filters["interval"] = interval
    return env


@lru_cache(maxsize=1)
def plotly_js() -> str:
    """The plotly.js bundle shipped with the ``plotly`` package (no network)."""
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def render_page(template: str, **context: Any) -> str:
    """Render ``templates/<template>`` with the shared page parts (CSS, plotly.js, footer)."""
    from markupsafe import Markup

    from labcoat import __version__

    env = _environment()
    created = datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M")
    return env.get_template(template).render(plotly_js=Markup(plotly_js()), labcoat_version=__version__,
                                             created=created, **context)


def write_page(out_dir: str | Path, name: str, html: str) -> Path:
    """Write the page ``html`` as ``out_dir/name`` (the folder made if needed); returns its path."""
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(html, encoding="utf-8")
    return path


def figure(fig: Figure, *, height: int | None = None, compact: bool = False) -> Markup:
    """The HTML of one Plotly figure: a container ``<div>`` and a script queueing its drawing.

    Figures are drawn once the page is laid out (``DOMContentLoaded``, see ``base.html.j2``),
    so each takes the width of its final place in the grid. ``compact`` figures (the small
    per-column plots of the profile) have no toolbar.
    """
    from markupsafe import Markup

    if height is not None:
        fig.update_layout(height=height)
    div = f"plot-{uuid.uuid4().hex[:12]}"
    config = {**PLOTLY_CONFIG, **({"displayModeBar": False} if compact else {})}
    # Inlined in a <script>: no "</script>" or "<!--" may appear, even inside a string.
    payload = fig.to_json().replace("</", "<\\/").replace("<!--", "<\\!--")
    px = fig.layout.height or 380
    return Markup(
        f'<div class="plot{" compact" if compact else ""}"><div id="{div}" class="plotly-graph-div" '
        f'style="height:{int(px)}px;width:100%"></div></div>\n'
        f'<script>labcoatFigures.push({{id:"{div}",figure:{payload},config:{json.dumps(config)}}});</script>')


# ---------------------------------------------------------------------- number formats
def _missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def fmt(value: Any, digits: int = 4) -> str:
    """A number for people: 4 significant digits, thousands separators, "–" for missing."""
    if _missing(value):
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) < 1e15):
        return f"{int(value):,}"
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    if v != 0 and (abs(v) >= 1e6 or abs(v) < 1e-3):
        return f"{v:.{digits - 1}e}"
    text = f"{v:,.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}g}"
    return text


def pct(value: Any, digits: int = 1) -> str:
    """A share in [0, 1] as a percentage."""
    if _missing(value):
        return "–"
    v = 100 * float(value)
    if 0 < v < 10 ** -digits:
        return f"< {10 ** -digits:g}%"
    return f"{v:.{digits}f}%"


def interval(pair: Any) -> str:
    """``(low, high)`` as "[low, high]", empty when either end is missing."""
    if not pair or len(pair) != 2 or _missing(pair[0]) or _missing(pair[1]):
        return ""
    return f"[{fmt(pair[0])}, {fmt(pair[1])}]"


def parse_finding(text: str) -> dict[str, str]:
    """Split a finding's string ``"[high] leakage: column 'x': evidence fix"`` into its parts
    (severity, check, text) for display; anything else is kept whole as low severity."""
    text = str(text).strip()
    severity, check, rest = "info", "", text
    if text.startswith("[") and "]" in text:
        severity, rest = text[1:text.index("]")].strip().lower(), text[text.index("]") + 1:].strip()
    if ":" in rest:
        head, tail = rest.split(":", 1)
        if len(head) <= 40 and "'" not in head:
            check, rest = head.strip(), tail.strip()
    return {"severity": severity, "check": check, "text": rest}
