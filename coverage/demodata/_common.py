"""What every synthetic generator shares: the local metric frame, the population raster and CSV writers.

Generators design their layout in metres east/north of an origin and convert to
WGS-84 with :class:`LocalFrame` (an exact, dependency-free local projection),
so a layout is a few numpy arrays and its files are reproducible byte for byte.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from coverage import SYNTHETIC_LABEL
from coverage._io import temp_output_path

FloatArray = npt.NDArray[np.float64]

POP_CELL_DEG = 1.0 / 1200.0  # 3 arc-seconds, the WorldPop "100 m" grid
POP_NODATA = -99999.0
NOTE = f"{SYNTHETIC_LABEL}: invented by `fcov demo-data` (coverage.demodata); not real places, roads or people"
SOURCE = "synthetic:facility-coverage demodata"

_WGS84_A_M = 6378137.0
_WGS84_E2 = (1.0 / 298.257223563) * (2.0 - 1.0 / 298.257223563)


@dataclass(frozen=True)
class LocalFrame:
    """Metres east/north of (``origin_lon``, ``origin_lat``) <-> WGS-84 degrees.

    The meridian radius is taken at ``origin_lat + centre_offset_deg`` (the middle of the
    layout), which keeps north-south distances exact to a few centimetres over 100 km.
    """

    origin_lon: float
    origin_lat: float
    centre_offset_deg: float
    meridian_radius_m: float = field(init=False)

    def __post_init__(self) -> None:
        phi_c = math.radians(self.origin_lat + self.centre_offset_deg)
        radius = _WGS84_A_M * (1.0 - _WGS84_E2) / (1.0 - _WGS84_E2 * math.sin(phi_c) ** 2) ** 1.5
        object.__setattr__(self, "meridian_radius_m", radius)

    def to_lonlat(self, x_m: npt.ArrayLike, y_m: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        x = np.asarray(x_m, dtype=np.float64)
        y = np.asarray(y_m, dtype=np.float64)
        lat = self.origin_lat + np.degrees(y / self.meridian_radius_m)
        phi = np.radians(lat)
        prime_radius_m = _WGS84_A_M / np.sqrt(1.0 - _WGS84_E2 * np.sin(phi) ** 2)
        lon = self.origin_lon + np.degrees(x / (prime_radius_m * np.cos(phi)))
        return lon, lat

    def to_local(self, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        lon_arr = np.asarray(lon, dtype=np.float64)
        lat_arr = np.asarray(lat, dtype=np.float64)
        y = np.radians(lat_arr - self.origin_lat) * self.meridian_radius_m
        phi = np.radians(lat_arr)
        prime_radius_m = _WGS84_A_M / np.sqrt(1.0 - _WGS84_E2 * np.sin(phi) ** 2)
        x = np.radians(lon_arr - self.origin_lon) * prime_radius_m * np.cos(phi)
        return x, y


def write_population_raster(path: Path, pop: npt.NDArray[np.float32], *, west: float, north: float,
                            note: str = NOTE, tiled: bool = False) -> None:
    """People per 3-arc-second cell as a deflate GeoTIFF in EPSG:4326 (nodata :data:`POP_NODATA`)."""
    import rasterio
    from affine import Affine

    profile = {"driver": "GTiff", "width": pop.shape[1], "height": pop.shape[0], "count": 1, "dtype": "float32",
               "crs": "EPSG:4326", "transform": Affine(POP_CELL_DEG, 0.0, west, 0.0, -POP_CELL_DEG, north),
               "nodata": POP_NODATA, "compress": "deflate", "predictor": 3, "tiled": tiled}
    if tiled:
        profile.update(blockxsize=256, blockysize=256)
    with temp_output_path(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(pop, 1)
        dst.update_tags(TIFFTAG_IMAGEDESCRIPTION=note, SOURCE=SOURCE, UNITS="people per cell",
                        ZONAL_METHOD="cell centre")
        dst.set_band_description(1, "population (people per 3 arc-second cell), synthetic")
        dst.update_tags(1, UNITS="people per cell")


def csv_line(values: Sequence[object]) -> str:
    """One CSV record with CRLF, quoting only what needs it (what Excel writes)."""
    cells = []
    for v in values:
        text = "" if v is None else str(v)
        if any(c in text for c in ',"\r\n'):
            text = '"' + text.replace('"', '""') + '"'
        cells.append(text)
    return ",".join(cells) + "\r\n"


def xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
