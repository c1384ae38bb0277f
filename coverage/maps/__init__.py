"""Coverage-gap maps: interactive HTML (folium/Leaflet) and a static PNG (matplotlib).

Both take a :class:`MapLayers` of the stage outputs (districts with metrics,
isochrones, gaps, facilities, proposed/suggested stations, a population raster).
"""

from __future__ import annotations

from coverage.maps._layers import MapLayers, layers_from_coverage_dir, read_layer, shift_to_gcj02
from coverage.maps.static import find_cjk_font, save_png
from coverage.maps.web import TILE_PRESETS, build_map, resolve_tiles, save_map

__all__ = [
    "TILE_PRESETS",
    "MapLayers",
    "build_map",
    "find_cjk_font",
    "layers_from_coverage_dir",
    "read_layer",
    "resolve_tiles",
    "save_map",
    "save_png",
    "shift_to_gcj02",
]
