"""Inline SVG charts, nothing fetched and no JavaScript: histograms and bar charts."""

from __future__ import annotations

from html import escape

import numpy as np

WIDTH, HEIGHT = 440, 210
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 28, 34
BAR = "#4a78a8"
MARK = "#c0392b"


def _svg(title: str, body: list[str], height: int = HEIGHT) -> str:
    return (f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
            f'aria-label="{escape(title)}"><title>{escape(title)}</title>'
            f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>'
            + "".join(body) + "</svg>")


def _text(x: float, y: float, text, anchor: str = "middle", size: int = 10,
          fill: str = "#333") -> str:
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}">{escape(str(text))}</text>')


def _number(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"


def histogram(values, title: str, bins: int = 20, threshold: float | None = None,
              threshold_label: str = "", unit: str = "") -> str:
    """Counts of the finite `values` in equal bins over their range, widened to the threshold."""
    data = np.asarray(values, dtype=np.float64)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return _svg(title, [_text(WIDTH / 2, HEIGHT / 2, "no data")])
    low, high = float(data.min()), float(data.max())
    if threshold is not None:
        low, high = min(low, threshold), max(high, threshold)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(data, bins=bins, range=(low, high))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(value: float) -> float:
        return LEFT + (value - low) / (high - low) * plot_w

    top = max(int(counts.max()), 1)
    body = [f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" '
            'stroke="#999"/>']
    for count, start, end in zip(counts, edges[:-1], edges[1:], strict=True):
        h = count / top * plot_h
        body.append(f'<rect class="bar" x="{x_of(start) + 0.5:.1f}" y="{TOP + plot_h - h:.1f}" '
                    f'width="{max(x_of(end) - x_of(start) - 1, 1):.1f}" height="{h:.1f}" '
                    f'fill="{BAR}"><title>{_number(start)}-{_number(end)}: {count}</title></rect>')
    body += [_text(LEFT, HEIGHT - 18, _number(low), "start"),
             _text(LEFT + plot_w, HEIGHT - 18, _number(high), "end"),
             _text(LEFT + plot_w / 2, HEIGHT - 4, f"{unit} (n={data.size})"),
             _text(LEFT - 4, TOP + 8, top, "end")]
    if threshold is not None:
        x = x_of(threshold)
        body += [f'<line class="threshold" x1="{x:.1f}" y1="{TOP - 4}" x2="{x:.1f}" '
                 f'y2="{TOP + plot_h}" stroke="{MARK}" stroke-width="2" stroke-dasharray="4 3"/>',
                 _text(x + 4 if x < LEFT + plot_w / 2 else x - 4, TOP + 10,
                       threshold_label or _number(threshold),
                       "start" if x < LEFT + plot_w / 2 else "end", fill=MARK)]
    return _svg(title, body)


def bars(pairs: list[tuple[str, float]], title: str, unit: str = "") -> str:
    """One horizontal bar per (label, value), in the order given."""
    if not pairs:
        return _svg(title, [_text(WIDTH / 2, 60, "none")], height=80)
    row, label_w = 20, 150
    height = TOP + row * len(pairs) + 8
    top = max(max(v for _, v in pairs), 1e-9)
    plot_w = WIDTH - label_w - 70
    body = []
    for i, (label, value) in enumerate(pairs):
        y = TOP + i * row
        w = value / top * plot_w
        body += [_text(label_w - 6, y + 13, label, "end", 11),
                 f'<rect class="bar" x="{label_w}" y="{y + 3}" width="{max(w, 1):.1f}" '
                 f'height="{row - 6}" fill="{BAR}"/>',
                 _text(label_w + w + 4, y + 13, f"{_number(value)}{unit}", "start", 11)]
    return _svg(title, body, height=height)
