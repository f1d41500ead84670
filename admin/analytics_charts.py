"""Server-rendered SVG charts for the analytics pages (no JavaScript, nothing from another host).

Why SVG built here: the admin app's Content-Security-Policy forbids scripts and third-party
hosts, and a province's staff may use any browser.  Colours are SVG presentation
attributes (not ``style``, which the policy's ``default-src 'self'`` would block).  Every
label is escaped: channel names and procedure names come from data.
"""

from __future__ import annotations

import math

from markupsafe import Markup, escape

PALETTE = ("#1f6feb", "#d9822b", "#2da44e", "#8250df", "#cf222e", "#57606a", "#bf8700", "#0a7ea4")
FONT = 'font-family="sans-serif" font-size="11"'


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"


def _nice_max(v: float, integer: bool = True) -> float:
    """The axis maximum: four ticks of a round step (1, 2 or 5 × 10^k; counts never get fractional ticks)."""
    if v <= 0:
        return 4.0
    raw = v / 4
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = m * mag
        if step >= raw and (not integer or step >= 1):
            return 4 * step
    return 4 * 10 * mag


def stacked_bars(labels: list[str], series: dict[str, list[float]], title: str, width: int = 760, height: int = 220,
                 testid: str = "chart") -> Markup:
    """Vertical bars per label (a day), stacked by series (a channel), with a legend."""
    left, bottom, top_pad = 40, 34, 24
    plot_w, plot_h = width - left - 10, height - bottom - top_pad
    totals = [sum(s[i] for s in series.values()) for i in range(len(labels))]
    vmax = _nice_max(max(totals, default=0))
    n = max(len(labels), 1)
    bw = plot_w / n
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}" data-testid="{escape(testid)}" {FONT}>',
           f'<title>{escape(title)}</title>']
    for k in range(5):
        y = top_pad + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - 10}" y2="{y:.1f}" stroke="#d0d7de" stroke-width="1"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">{_fmt(vmax * k / 4)}</text>')
    for i, label in enumerate(labels):
        x = left + i * bw
        y = top_pad + plot_h
        for j, (name, values) in enumerate(series.items()):
            h = plot_h * values[i] / vmax
            if h > 0:
                y -= h
                out.append(f'<rect x="{x + bw * 0.1:.1f}" y="{y:.1f}" width="{max(bw * 0.8, 1):.1f}" height="{h:.1f}" '
                           f'fill="{PALETTE[j % len(PALETTE)]}"><title>{escape(label)} · {escape(name)}: '
                           f'{_fmt(values[i])}</title></rect>')
        if n <= 16 or i % max(1, n // 8) == 0:
            out.append(f'<text x="{x + bw / 2:.1f}" y="{top_pad + plot_h + 14}" text-anchor="middle" '
                       f'fill="#57606a">{escape(label[5:] if len(label) == 10 else label)}</text>')
    lx = left
    for j, name in enumerate(series):
        out.append(f'<rect x="{lx}" y="4" width="10" height="10" fill="{PALETTE[j % len(PALETTE)]}"/>'
                   f'<text x="{lx + 14}" y="13" fill="#24292f">{escape(name)}</text>')
        lx += 22 + 7 * len(name)
    out.append("</svg>")
    return Markup("".join(out))


def line(labels: list[str], values: list[float | None], title: str, width: int = 760, height: int = 200,
         percent: bool = True, testid: str = "chart") -> Markup:
    """A line over labels (days); ``None`` where there is no data (no turns that day)."""
    left, bottom, top_pad, right = 40, 30, 14, 30
    plot_w, plot_h = width - left - right, height - bottom - top_pad
    vmax = 100.0 if percent else _nice_max(max((v for v in values if v is not None), default=0), integer=False)
    n = max(len(labels), 1)
    step = plot_w / max(n - 1, 1)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}" data-testid="{escape(testid)}" {FONT}>',
           f'<title>{escape(title)}</title>']
    for k in range(5):
        y = top_pad + plot_h - plot_h * k / 4
        out.append(f'<line x1="{left}" y1="{y:.1f}" x2="{width - right}" y2="{y:.1f}" stroke="#d0d7de" '
                   'stroke-width="1"/>')
        out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end" fill="#57606a">'
                   f'{_fmt(vmax * k / 4)}{"%" if percent else ""}</text>')
    points = []
    for i, v in enumerate(values):
        if v is None:
            continue
        x, y = left + i * step, top_pad + plot_h - plot_h * min(v, vmax) / vmax
        points.append(f"{x:.1f},{y:.1f}")
        out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="#cf222e"><title>{escape(labels[i])}: '
                   f'{v:.1f}{"%" if percent else ""}</title></circle>')
    if len(points) > 1:
        out.append(f'<polyline points="{" ".join(points)}" fill="none" stroke="#cf222e" stroke-width="2"/>')
    for i, label in enumerate(labels):
        if n <= 16 or i % max(1, n // 8) == 0:
            out.append(f'<text x="{left + i * step:.1f}" y="{top_pad + plot_h + 14}" text-anchor="middle" '
                       f'fill="#57606a">{escape(label[5:] if len(label) == 10 else label)}</text>')
    out.append("</svg>")
    return Markup("".join(out))


def hbars(items: list[tuple[str, int]], title: str, width: int = 760, testid: str = "chart") -> Markup:
    """Horizontal bars, one per item (a procedure, an aspect), longest first."""
    row, label_w = 20, 330
    height = max(row * len(items) + 10, 30)
    vmax = max((v for _, v in items), default=0) or 1
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}" data-testid="{escape(testid)}" {FONT}>',
           f'<title>{escape(title)}</title>']
    for i, (label, v) in enumerate(items):
        y = 5 + i * row
        w = (width - label_w - 60) * v / vmax
        short = label if len(label) <= 52 else label[:51] + "…"
        out.append(f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end" fill="#24292f">{escape(short)}'
                   f'<title>{escape(label)}</title></text>')
        out.append(f'<rect x="{label_w}" y="{y + 2}" width="{max(w, 1):.1f}" height="{row - 6}" fill="#1f6feb"/>')
        out.append(f'<text x="{label_w + w + 4:.1f}" y="{y + 13}" fill="#24292f">{v}</text>')
    out.append("</svg>")
    return Markup("".join(out))
