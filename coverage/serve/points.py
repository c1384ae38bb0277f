"""Proposed stations from a request, read by the same reader as ``fcov check-stations --proposed``; and back out.

The request's stations are written to a CSV in a private temporary folder
(never a client-supplied path) and read with :meth:`Study.read_points`, so the
coordinate checks, the GCJ-02/BD-09 conversion and the extent check are the
CLI's. Their messages name the file as ``stations`` and the row as the
station's position in the request.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from coverage.errors import CoverageError

if TYPE_CHECKING:
    import geopandas as gpd

    from coverage.study import Study

REQUEST_FILE = "stations.csv"


class RequestError(CoverageError):
    """A request's stations the reader rejected; the message names the station, the value and the fix."""


def _station_label(match: re.Match[str]) -> str:
    row = int(match.group(1))
    return f"stations[{row - 2}]" if row >= 2 else match.group(0)


# the reader's note on spreadsheet row numbers means nothing for a JSON list
_ROW_NOTE = re.compile(r" \(row numbers as in Excel[^)]*\)")


def read_request_points(study: Study, stations: Sequence[dict[str, Any]], *, crs: str) -> gpd.GeoDataFrame:
    """``stations`` (dicts with ``id``, ``name``, ``lon``, ``lat`` in ``crs``) as the CLI reads a proposed-stations file."""
    import pandas as pd

    rows = [{"id": s.get("id") or f"S{i + 1}", "name": s.get("name") or f"新站 {i + 1}", "lon": s["lon"],
             "lat": s["lat"]} for i, s in enumerate(stations)]
    if not rows:
        import geopandas as gpd

        return gpd.GeoDataFrame({"facility_id": [], "name": [], "facility_type": []}, geometry=[], crs="EPSG:4326")
    with tempfile.TemporaryDirectory(prefix="fcov-serve-") as folder:
        path = Path(folder) / REQUEST_FILE
        # lon/lat written as given (repr keeps every digit), so the reader sees exactly the request's numbers
        pd.DataFrame(rows).to_csv(path, index=False, encoding="utf-8", float_format="%.17g")
        try:
            return study.read_points(path, crs=crs)
        except CoverageError as err:
            text = str(err).replace(str(path), "stations").replace(folder, "")
            text = re.sub(r"\brow (\d+)\b", _station_label, _ROW_NOTE.sub("", text))
            raise RequestError(text) from err


def stations_csv(stations: gpd.GeoDataFrame, *, crs: str) -> bytes:
    """The stations as a proposed-stations CSV (``name,lon,lat``) in ``crs``, like the config's input file.

    UTF-8 with BOM and formula-like names quoted (:func:`coverage.outputs.save_csv`), so
    ``fcov check-stations --proposed FILE --proposed-crs CRS`` reads it back to the same points.
    """
    import numpy as np
    import pandas as pd

    from coverage.outputs import save_csv

    lon = stations.geometry.x.to_numpy(dtype=float)
    lat = stations.geometry.y.to_numpy(dtype=float)
    system = crs.lower()
    if system in ("gcj02", "bd09"):
        from coverage.inputs.chinacoords import convert_coords

        lon, lat = convert_coords(lon, lat, from_system="wgs84", to_system=system)
    elif system != "wgs84":
        from pyproj import Transformer

        lon, lat = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(lon, lat)
    frame = pd.DataFrame({"name": stations["name"].astype(str).to_numpy(), "lon": np.round(lon, 7),
                          "lat": np.round(lat, 7)})
    with tempfile.TemporaryDirectory(prefix="fcov-serve-") as folder:
        path = Path(folder) / "proposed_stations.csv"
        save_csv(frame, path)
        return path.read_bytes()


def check_crs(crs: str) -> str:
    """The coordinate system name the readers take (wgs84, gcj02, bd09 or EPSG:NNNN), or an error naming them."""
    from coverage.inputs.facilities import parse_coord_system

    try:
        return parse_coord_system(crs)
    except CoverageError as err:
        raise RequestError(f"crs: {err}") from err
