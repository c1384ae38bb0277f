"""The static PNG version of the coverage map (matplotlib, drawn in the study area's UTM zone).

Drawn without pyplot (a bare ``Figure`` with the Agg canvas), so it works
headless and leaves no global state behind. Chinese labels need a CJK font;
:func:`find_cjk_font` looks for one among the installed fonts.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage._io import temp_output_path
from coverage.crs import utm_epsg_for
from coverage.errors import CoverageError
from coverage.maps import _style as st
from coverage.maps._layers import MapLayers, for_display, normalised
from coverage.maps.web import _isochrone_groups, covered_pct, district_passes

if TYPE_CHECKING:
    from matplotlib.axes import Axes

logger = logging.getLogger(__name__)

# Preferred first. Families as matplotlib names them, then file-name fragments to scan for.
_CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Noto Sans CJK JP",
    "Noto Sans CJK TC",
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "AR PL UMing CN",
    "Droid Sans Fallback",
)
_CJK_FILE_HINTS = ("notosanscjk", "notoserifcjk", "sourcehan", "wqy", "wenquanyi", "droidsansfallback", "uming", "ukai")
_MARKERS = {"circle": "o", "square": "s", "triangle": "^", "diamond": "D", "star": "*"}

FONT_HELP = (
    "no CJK font found for the Chinese labels of the PNG map; install one, e.g. on Debian/Ubuntu "
    "`apt-get install fonts-noto-cjk` (or `make browser-deps`), on macOS/Windows any Noto Sans CJK SC "
    "or Source Han Sans SC font; or draw the PNG with --lang en"
)


def find_cjk_font() -> str:
    """The family name of an installed font with Chinese glyphs (e.g. ``Noto Sans CJK SC``).

    Looks at matplotlib's font list, then scans the system font folders for
    CJK font files not yet in matplotlib's cache and registers them.

    Raises
    ------
    CoverageError
        If there is none; the message says how to install one.
    """
    from matplotlib import font_manager

    def known() -> str | None:
        names = {font.name for font in font_manager.fontManager.ttflist}
        return next((family for family in _CJK_FAMILIES if family in names), None)

    family = known()
    if family is not None:
        return family
    for path in font_manager.findSystemFonts():
        if any(hint in Path(path).name.lower().replace("-", "").replace("_", "") for hint in _CJK_FILE_HINTS):
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError) as err:  # an unreadable font file is skipped
                logger.debug("skipping font %s: %s", path, err)
    family = known()
    if family is None:
        raise CoverageError(FONT_HELP)
    return family


def _nice_length_m(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 x 10^k metres) near a fifth of ``span_m``."""
    target = span_m / 5.0
    power = 10.0 ** math.floor(math.log10(target))
    for step in (5.0, 2.0, 1.0):
        if step * power <= target:
            return step * power
    return power


def _scale_bar(ax: Axes, lang: str) -> None:
    from matplotlib.patches import Rectangle

    x0, x1 = ax.get_xlim()
    y0, y1 = ax.get_ylim()
    length_m = _nice_length_m(x1 - x0)
    left, bottom = x0 + 0.04 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    height = 0.012 * (y1 - y0)
    for i in range(2):
        ax.add_patch(
            Rectangle(
                (left + i * length_m / 2, bottom), length_m / 2, height,
                facecolor="black" if i == 0 else "white", edgecolor="black", linewidth=0.8, zorder=20,
            )
        )
    text = f"{length_m / 1000:g} {st.label('km', lang)}" if length_m >= 1000 else f"{length_m:g} m"
    ax.text(left + length_m / 2, bottom + 1.8 * height, text, ha="center", va="bottom", fontsize=9, zorder=20)


def _north_arrow(ax: Axes, lang: str) -> None:
    ax.annotate(
        st.label("north", lang),
        xy=(0.05, 0.95), xytext=(0.05, 0.85), xycoords="axes fraction", textcoords="axes fraction",
        ha="center", va="center", fontsize=12, fontweight="bold",
        arrowprops={"facecolor": "black", "width": 4, "headwidth": 12, "headlength": 10},
        zorder=20,
    )


def save_png(
    layers: MapLayers,
    path: str | os.PathLike[str],
    *,
    lang: str = "zh",
    title: str | None = None,
    width_in: float = 11.0,
    height_in: float = 8.5,
    dpi: int = 150,
) -> Path:
    """Draw the static coverage map and write it as a PNG (atomically).

    Shows the district choropleth of percent covered (green solid outline:
    passes, red dashed: fails), isochrone outlines per threshold, gap polygons,
    facilities by type, proposed/suggested stations, a legend, a scale bar, a
    north arrow, the title and, for synthetic data, a note saying so. Drawn in
    the UTM zone of the study area so the scale bar is true.

    Raises
    ------
    CoverageError
        If no layer has data, or ``lang="zh"`` and no CJK font is installed.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import LinearSegmentedColormap, Normalize
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    lang = st.check_lang(lang)
    layers = for_display(normalised(layers))
    frames = layers.frames()
    if not frames:
        msg = "nothing to draw: every vector layer is empty or missing; pass at least --districts or --facilities"
        raise CoverageError(msg)
    import numpy as np

    bounds = np.vstack([frame.total_bounds for frame in frames.values()])
    metric_crs = utm_epsg_for(
        (bounds[:, 0].min() + bounds[:, 2].max()) / 2.0, (bounds[:, 1].min() + bounds[:, 3].max()) / 2.0
    )
    proj = {name: frame.to_crs(metric_crs) for name, frame in frames.items()}

    # Data names (districts) are usually Chinese even on an English map, so a CJK font
    # is always used when present; it is required for Chinese labels.
    try:
        font_family: str | None = find_cjk_font()
    except CoverageError:
        if lang == "zh" or layers.synthetic:
            raise
        font_family = None
        logger.warning("no CJK font installed: Chinese names on the PNG map will show as boxes (%s)", FONT_HELP)
    rc = {"font.family": [font_family, "DejaVu Sans"] if font_family else ["DejaVu Sans"], "axes.unicode_minus": False}
    with matplotlib.rc_context(rc):
        fig = Figure(figsize=(width_in, height_in), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0.02, 0.06, 0.70, 0.86))
        ax.set_axis_off()
        ax.set_aspect("equal")
        cmap = LinearSegmentedColormap.from_list("covered_pct", list(st.COVERED_PCT_COLOURS))
        norm = Normalize(vmin=0.0, vmax=100.0)
        handles: list[Any] = []

        districts = proj.get("districts")
        if districts is not None:
            pcts = [covered_pct(row) for _, row in districts.iterrows()]
            passes = [district_passes(row) for _, row in districts.iterrows()]
            fills = [st.NO_DATA_FILL if p is None else cmap(norm(p)) for p in pcts]
            districts.plot(ax=ax, color=fills, alpha=st.DISTRICT_FILL_OPACITY, linewidth=0, zorder=1)
            for verdict, colour, style in ((True, st.PASS_COLOUR, "-"), (False, st.FAIL_COLOUR, "--"), (None, st.UNKNOWN_COLOUR, "-")):
                mask = [v is verdict for v in passes]
                if any(mask):
                    districts[mask].boundary.plot(ax=ax, color=colour, linestyle=style, linewidth=1.8 if verdict is not None else 0.8, zorder=5)
            if any(p is True for p in passes):
                handles.append(Patch(facecolor="none", edgecolor=st.PASS_COLOUR, linewidth=1.8, label=st.label("pass", lang)))
            if any(p is False for p in passes):
                handles.append(Patch(facecolor="none", edgecolor=st.FAIL_COLOUR, linestyle="--", linewidth=1.8, label=st.label("fail", lang)))
            from matplotlib import patheffects

            halo = [patheffects.withStroke(linewidth=3, foreground=st.LABEL_HALO)]
            for (_, row), pct in zip(districts.iterrows(), pcts, strict=True):
                if "district" in row.index and isinstance(row["district"], str):
                    point = row.geometry.representative_point()
                    # A literal "$" would start matplotlib mathtext; names are shown verbatim.
                    text = row["district"].replace("$", r"\$") + (f"\n{pct:.0f}%" if pct is not None else "")
                    ax.text(
                        point.x, point.y, text, ha="center", va="center", fontsize=10, fontweight="bold",
                        color=st.LABEL_COLOUR, zorder=15, path_effects=halo, linespacing=1.1,
                    )

        if "isochrones" in proj:
            groups = _isochrone_groups(proj["isochrones"])
            ascending = sorted({(u, t) for t, u, _ in groups})
            # Largest area drawn first, so a smaller (e.g. distance) isochrone is not hidden under a larger one;
            # the legend lists them in the colours' order (ascending per unit), as the HTML map does.
            by_area = sorted(groups, key=lambda g: -float(g[2].geometry.area.sum()))
            for rank, (threshold, unit, part) in enumerate(by_area):
                colour = st.ISOCHRONE_COLOURS[ascending.index((unit, threshold)) % len(st.ISOCHRONE_COLOURS)]
                part.boundary.plot(ax=ax, color=colour, linewidth=1.6, zorder=6 + rank * 0.01)
            for threshold, unit, _ in sorted(groups, key=lambda g: (g[1], g[0])):
                colour = st.ISOCHRONE_COLOURS[ascending.index((unit, threshold)) % len(st.ISOCHRONE_COLOURS)]
                text = st.threshold_label(threshold, unit or "min", lang) if not math.isnan(threshold) else ""
                handles.append(Line2D([], [], color=colour, linewidth=2.5, label=f"{st.label('isochrone', lang)} {text}".strip()))

        if "gaps" in proj:
            proj["gaps"].plot(ax=ax, color=st.GAP_COLOUR, alpha=0.5, linewidth=0, zorder=4)
            handles.append(Patch(facecolor=st.GAP_COLOUR, alpha=0.5, label=st.label("gaps", lang)))

        def points(frame: Any, symbol: st.Symbol, text: str) -> None:
            ax.scatter(
                frame.geometry.x, frame.geometry.y, marker=_MARKERS.get(symbol.shape, "o"),
                s=symbol.size_px * (6.0 if symbol.shape == "star" else 2.6), facecolors="none" if symbol.hollow else symbol.colour,
                edgecolors=symbol.colour if symbol.hollow else "white", linewidths=1.2 if symbol.hollow else 0.6, zorder=10,
            )
            handles.append(
                Line2D([], [], linestyle="", marker=_MARKERS.get(symbol.shape, "o"), markersize=symbol.size_px / (1.6 if symbol.shape == "star" else 2.4),
                       markerfacecolor="none" if symbol.hollow else symbol.colour,
                       markeredgecolor=symbol.colour if symbol.hollow else "white", label=text)
            )

        if "facilities" in proj:
            facilities = proj["facilities"]
            kinds = facilities["facility_type"].astype(str) if "facility_type" in facilities.columns else None
            if kinds is not None:
                kinds = kinds.where(kinds.isin(st.FACILITY_TYPES), "other")
            for kind in st.FACILITY_TYPES:
                part = facilities if kinds is None and kind == "other" else facilities[kinds == kind] if kinds is not None else facilities.iloc[:0]
                if len(part):
                    points(part, st.FACILITY_SYMBOLS[kind], f"{st.facility_type_label(kind, lang)} ({len(part)})")
        for key, symbol in (("proposed", st.PROPOSED_SYMBOL), ("suggested", st.SUGGESTED_SYMBOL)):
            if key in proj:
                points(proj[key], symbol, f"{st.label(key, lang)} ({len(proj[key])})")

        _scale_bar(ax, lang)
        _north_arrow(ax, lang)
        if handles:
            fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.74, 0.92), fontsize=9,
                       title=st.label("legend", lang), frameon=True)
        if districts is not None:
            from matplotlib.cm import ScalarMappable

            cax = fig.add_axes((0.76, 0.10, 0.2, 0.025))
            bar = fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
            bar.set_label(st.label("covered_pct", lang), fontsize=9)
        fig.suptitle(title if title is not None else st.label("title", lang), fontsize=15, fontweight="bold")
        if layers.synthetic:
            from coverage import SYNTHETIC_LABEL

            fig.text(0.02, 0.015, SYNTHETIC_LABEL, color="#a00000", fontsize=10, style="italic")
        target = Path(path)
        with temp_output_path(target) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    logger.info("wrote %s (%s)", target, ", ".join(f"{len(f)} {n}" for n, f in frames.items()))
    return target
