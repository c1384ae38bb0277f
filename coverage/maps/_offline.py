"""Make a rendered folium page self-contained: inline Leaflet and its plugins, drop the rest.

folium links Leaflet, jQuery, Bootstrap, Font Awesome and Leaflet.awesome-markers
from CDNs. Our maps draw facility symbols as inline SVG and build popups with
Leaflet itself, so only Leaflet and leaflet.markercluster are needed; they are
vendored in ``coverage/vendor`` (see its README for versions and licences).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from coverage.errors import CoverageError

VENDOR = Path(__file__).resolve().parents[1] / "vendor"

_INLINE_JS = {
    "leaflet.js": VENDOR / "leaflet" / "leaflet.js",
    "leaflet.markercluster.js": VENDOR / "leaflet.markercluster" / "leaflet.markercluster.js",
}
_INLINE_CSS = {
    "leaflet.css": VENDOR / "leaflet" / "leaflet.css",
    "MarkerCluster.css": VENDOR / "leaflet.markercluster" / "MarkerCluster.css",
    "MarkerCluster.Default.css": VENDOR / "leaflet.markercluster" / "MarkerCluster.Default.css",
}
# folium defaults our maps do not use (icon fonts, jQuery, Bootstrap): dropped offline.
_DROP = re.compile(
    r"jquery|bootstrap|glyphicons|awesome-markers|awesome_markers|fontawesome|awesome\.rotate",
    re.IGNORECASE,
)
_SCRIPT_TAG = re.compile(r"""<script\s+src=["']([^"']+)["']\s*>\s*</script>""", re.IGNORECASE)
_LINK_TAG = re.compile(r"""<link\s+rel=["']stylesheet["']\s+href=["']([^"']+)["']\s*/?>""", re.IGNORECASE)
_CSS_URL = re.compile(r"url\((['\"]?)(images/[^)'\"]+)\1\)")
_SOURCE_MAP = re.compile(r"^//# sourceMappingURL=.*$", re.MULTILINE)


def _basename(url: str) -> str:
    return url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def _css_with_data_uris(path: Path) -> str:
    css = path.read_text(encoding="utf-8")

    def embed(match: re.Match[str]) -> str:
        image = path.parent / match.group(2)
        if not image.is_file():
            return match.group(0)
        data = base64.b64encode(image.read_bytes()).decode("ascii")
        return f"url(data:image/png;base64,{data})"

    return _CSS_URL.sub(embed, css)


def inline_assets(page: str) -> str:
    """Replace external ``<script src>``/stylesheet links in ``page`` by inline copies.

    Raises
    ------
    CoverageError
        If the page links a script or stylesheet that has no vendored copy (a
        folium plugin this module does not know); the message lists the URLs.
    """
    unknown: list[str] = []

    def script(match: re.Match[str]) -> str:
        url = match.group(1)
        name = _basename(url)
        if name in _INLINE_JS:
            code = _SOURCE_MAP.sub("", _INLINE_JS[name].read_text(encoding="utf-8"))
            code = code.replace("</script", "<\\/script")
            return f"<script>/* {name}: inlined from coverage/vendor */\n{code}\n</script>"
        if _DROP.search(url):
            return ""
        unknown.append(url)
        return match.group(0)

    def stylesheet(match: re.Match[str]) -> str:
        url = match.group(1)
        name = _basename(url)
        if name in _INLINE_CSS:
            return f"<style>/* {name}: inlined from coverage/vendor */\n{_css_with_data_uris(_INLINE_CSS[name])}\n</style>"
        if _DROP.search(url):
            return ""
        unknown.append(url)
        return match.group(0)

    page = _SCRIPT_TAG.sub(script, page)
    page = _LINK_TAG.sub(stylesheet, page)
    if unknown:
        msg = (
            "cannot make the map self-contained: no vendored copy of "
            + ", ".join(unknown)
            + "; save without --offline, or vendor the file in coverage/vendor"
        )
        raise CoverageError(msg)
    return page
