"""Shared plumbing for the input readers: file formats, encodings, column detection,
coordinate parsing and the collection of problems into one :class:`InputFileError`.

Row numbers in messages are what a user sees when opening the file: for CSV and
XLSX the header is row 1, so the first data record is row 2 (the Excel row
number); for vector files (GeoJSON, GeoPackage, Shapefile) features are counted
from 1 in file order.
"""

from __future__ import annotations

import csv
import io
import logging
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from coverage.errors import CrsError, InputFileError

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

logger = logging.getLogger(__name__)

TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm")
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")
# Tried in this order when no encoding is given. GB18030 is a superset of GBK
# and GB2312, which is what Chinese Excel writes for "CSV (逗号分隔)".
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
MAX_LISTED_PROBLEMS = 20

COORD_SYSTEM_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "wgs_84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "gps": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj_02": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd_09": "bd09",
    "baidu": "bd09",
}
VALID_COORD_SYSTEMS_TEXT = "wgs84, gcj02 (Amap/Gaode, Tencent), bd09 (Baidu) or EPSG:NNNN (e.g. EPSG:4490, EPSG:32651)"


def parse_coord_system(value: str) -> str:
    """Normalise a coordinate-system name to ``wgs84``, ``gcj02``, ``bd09`` or ``EPSG:NNNN``.

    Raises :class:`CrsError` listing the valid values for anything else.
    """
    text = str(value).strip()
    key = text.lower()
    if key in COORD_SYSTEM_ALIASES:
        return COORD_SYSTEM_ALIASES[key]
    match = re.fullmatch(r"(?:epsg:)?(\d{4,6})", key)
    if match:
        from pyproj import CRS
        from pyproj.exceptions import CRSError as PyprojCRSError

        code = int(match.group(1))
        try:
            CRS.from_epsg(code)
        except PyprojCRSError as err:
            msg = f"unknown coordinate system {text!r}: EPSG:{code} is not a known EPSG code; use {VALID_COORD_SYSTEMS_TEXT}"
            raise CrsError(msg) from err
        return "wgs84" if code == 4326 else f"EPSG:{code}"
    msg = f"unknown coordinate system {text!r}; use {VALID_COORD_SYSTEMS_TEXT}"
    raise CrsError(msg)


# ---------------------------------------------------------------- problems


@dataclass
class Problems:
    """Collects every problem found in one file, then raises them together."""

    path: Path
    items: list[str] = field(default_factory=list)

    def add(self, message: str) -> None:
        self.items.append(message)

    def __bool__(self) -> bool:
        return bool(self.items)

    def raise_if_any(self, *, what: str = "input file", row_convention: str | None = None) -> None:
        if not self.items:
            return
        n_items = len(self.items)
        shown = self.items[:MAX_LISTED_PROBLEMS]
        lines = [f"{what} {self.path}: {n_items} problem{'s' if n_items != 1 else ''} found"]
        if row_convention:
            lines[0] += f" ({row_convention})"
        lines += [f"  - {item}" for item in shown]
        if n_items > MAX_LISTED_PROBLEMS:
            lines.append(f"  ... and {n_items - MAX_LISTED_PROBLEMS} more")
        raise InputFileError("\n".join(lines))


ROW_CONVENTION_TABLE = "row numbers as in Excel: the header is row 1, the first record row 2"
ROW_CONVENTION_VECTOR = "features numbered from 1 in file order"


# ---------------------------------------------------------------- reading


def check_exists(path: Path, what: str) -> None:
    if not path.exists():
        msg = f"{what} {path} does not exist; check the path"
        raise InputFileError(msg)
    if path.is_dir() and path.suffix.lower() != ".gdb":
        msg = f"{what} {path} is a directory; pass a file (CSV, XLSX, GeoJSON, GeoPackage or Shapefile)"
        raise InputFileError(msg)


def decode_csv_bytes(path: Path, *, encoding: str | None) -> tuple[str, str]:
    """Decode a CSV file, detecting UTF-8 (with or without BOM) and GBK/GB18030."""
    raw = path.read_bytes()
    candidates = (encoding,) if encoding else CSV_ENCODINGS
    tried: list[str] = []
    for name in candidates:
        try:
            text = raw.decode(name)
        except LookupError as err:
            msg = f"{path}: unknown encoding {name!r}; use e.g. utf-8, gb18030 or big5 for --encoding"
            raise InputFileError(msg) from err
        except UnicodeDecodeError as err:
            tried.append(f"{name} (fails at byte {err.start}: {raw[err.start:err.start + 4]!r})")
            continue
        if name.startswith("utf-8") and text.startswith("\ufeff"):
            text = text[1:]
        return text, name
    msg = (
        f"{path}: cannot decode the text; tried {', '.join(tried)}. "
        "Re-save it as UTF-8, or name its encoding with --encoding (e.g. --encoding big5)"
    )
    raise InputFileError(msg)


def check_table_text(path: Path, text: str) -> None:
    """Refuse decoded CSV text that cannot be a table: empty, only white space, or binary (NUL bytes)."""
    if not text.strip():
        what = "empty" if not text else "only white space"
        msg = f"{path}: the file is {what}; export the table again with a header row (name, lon, lat ...) and data rows"
        raise InputFileError(msg)
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        msg = (
            f"{path}: line {line} contains NUL bytes, so this is binary data, not a text table (a workbook or "
            "database renamed .csv, or a damaged copy); save the sheet as CSV again"
        )
        raise InputFileError(msg)


def read_table(path: Path, *, encoding: str | None, layer: str | int | None) -> pd.DataFrame:
    """Read CSV/TSV/XLSX into a DataFrame of strings and Python objects (no NaN for blanks in CSV)."""
    import pandas as pd

    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        try:
            frame = pd.read_excel(path, sheet_name=layer if layer is not None else 0, dtype=object)
        except ValueError as err:  # unknown sheet name
            msg = f"{path}: {err}; name the sheet with --layer"
            raise InputFileError(msg) from err
        except Exception as err:  # openpyxl raises several types for corrupt files
            msg = f"{path}: cannot read it as an Excel workbook ({type(err).__name__}: {err}); re-save it as .xlsx"
            raise InputFileError(msg) from err
        frame.columns = [str(col) for col in frame.columns]
        return frame
    text, used = decode_csv_bytes(path, encoding=encoding)
    logger.debug("%s decoded as %s", path, used)
    check_table_text(path, text)
    sep = "\t" if suffix == ".tsv" else None
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            dtype=str,
            keep_default_na=False,
            sep=sep,
            engine="python",
            skipinitialspace=True,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as err:
        # csv.Error: the sniffer found no delimiter (one column of free text, or a lone header word)
        msg = f"{path}: cannot parse it as CSV ({err}); check the delimiter (comma) and quoting, and that row 1 is the header"
        raise InputFileError(msg) from err
    frame.columns = [str(col).strip() for col in frame.columns]
    return frame


def read_vector(path: Path, *, layer: str | int | None, encoding: str | None) -> gpd.GeoDataFrame:
    """Read a vector file with pyogrio (Shapefile ``.cpg`` is honoured by GDAL)."""
    import geopandas as gpd
    import pyogrio

    kwargs: dict[str, object] = {}
    if layer is not None:
        kwargs["layer"] = layer
    if encoding is not None:
        kwargs["encoding"] = encoding
    import shapely

    try:
        return gpd.read_file(path, engine="pyogrio", **kwargs)
    except shapely.errors.GEOSException as err:
        # GEOS refuses a geometry while parsing it (an unclosed ring, a ring of two points); find which ones
        raise _invalid_geometries(path, kwargs, err) from err
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as err:
        hint = "name the layer with --layer" if "layer" in str(err).lower() else "check that it is a valid vector file"
        if path.suffix.lower() == ".gpkg" and layer is None:
            try:
                layers = [str(name) for name in pyogrio.list_layers(path)[:, 0]]
            except Exception:  # noqa: BLE001 - only used to improve the message
                layers = []
            if len(layers) > 1:
                hint = f"it has several layers ({', '.join(layers)}); name one with --layer"
        msg = f"{path}: cannot read it ({err}); {hint}"
        raise InputFileError(msg) from err
    except UnicodeDecodeError as err:
        msg = f"{path}: attribute text is not valid {err.encoding}; add a .cpg file or pass --encoding (e.g. gb18030)"
        raise InputFileError(msg) from err
    except (pyogrio.errors.FieldError, pyogrio.errors.GeometryError, pyogrio.errors.FeatureError,
            pyogrio.errors.CRSError) as err:
        msg = f"{path}: GDAL cannot read its features ({err}); check that it is a complete, valid vector file"
        raise InputFileError(msg) from err


GEOMETRY_FIXES = (
    ("closed linestring", "the ring is not closed (its last point must repeat the first); close it in QGIS "
                          "(Vector > Geometry Tools > Fix Geometries) or in the file"),
    ("must contain 0 or >=4 elements", "a ring needs at least 4 points (3 corners and the first repeated); "
                                       "redraw the polygon or delete the feature"),
    ("Invalid number of points", "a ring needs at least 4 points (3 corners and the first repeated); "
                                 "redraw the polygon or delete the feature"),
)


def _invalid_geometries(path: Path, kwargs: dict[str, object], err: Exception) -> InputFileError:
    """An error naming every feature whose geometry GEOS cannot build, with the reason and the fix."""
    import pyogrio.raw
    import shapely

    problems = Problems(path)
    try:
        _, _, wkbs, _ = pyogrio.raw.read(path, read_geometry=True, **kwargs)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - only used to improve the message
        wkbs = []
    for i, wkb in enumerate(wkbs):
        if wkb is None:
            continue
        try:
            shapely.from_wkb(wkb)
        except shapely.errors.GEOSException as feature_err:
            text = str(feature_err).split(": ", 1)[-1]
            fix = next((fix for key, fix in GEOMETRY_FIXES if key in text), "redraw the geometry or delete the feature")
            problems.add(f"feature {i + 1}: invalid geometry ({text}); {fix}")
    if not problems:
        problems.add(f"a geometry cannot be read ({err}); repair the geometries (QGIS: Fix Geometries) and save again")
    try:
        problems.raise_if_any(what="vector file", row_convention=ROW_CONVENTION_VECTOR)
    except InputFileError as error:
        return error
    raise AssertionError("unreachable")  # pragma: no cover


# ---------------------------------------------------------------- columns


def norm_header(name: object) -> str:
    text = unicodedata.normalize("NFKC", str(name))
    return re.sub(r"[\s_\-]+", "", text).lower()


def find_column(
    columns: Sequence[str],
    candidates: Sequence[str],
    *,
    explicit: str | None,
    role: str,
    option: str,
    path: Path,
    required: bool,
) -> str | None:
    """The column for ``role``: the user's ``explicit`` name, else the first candidate present.

    Matching ignores case, whitespace, ``_`` and ``-``. Raises listing the
    columns found when an explicit column is absent or a required one is not found.
    """
    by_norm: dict[str, str] = {}
    for col in columns:
        by_norm.setdefault(norm_header(col), col)
    found = ", ".join(repr(str(col)) for col in columns) or "none"
    if explicit is not None:
        if explicit in columns:
            return explicit
        hit = by_norm.get(norm_header(explicit))
        if hit is not None:
            return hit
        msg = f"{path}: no column {explicit!r} for {role} ({option}); columns found: {found}"
        raise InputFileError(msg)
    for cand in candidates:
        hit = by_norm.get(norm_header(cand))
        if hit is not None:
            return hit
    if required:
        msg = (
            f"{path}: cannot find the {role} column; looked for {', '.join(candidates)} "
            f"(any case); columns found: {found}. Name it with {option}"
        )
        raise InputFileError(msg)
    return None


# ---------------------------------------------------------------- coordinates

_DMS_RE = re.compile(
    r"""^\s*(?P<pre>[NSEW东西南北]|东经|西经|北纬|南纬)?\s*
    (?P<deg>[+-]?\d+(?:\.\d+)?)\s*(?:°|度|d|\s)?\s*
    (?:(?P<min>\d+(?:\.\d+)?)\s*(?:'|′|分|m)\s*)?
    (?:(?P<sec>\d+(?:\.\d+)?)\s*(?:"|″|''|秒|s)\s*)?
    (?P<post>[NSEW东西南北])?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_NEGATIVE_HEMI = {"s", "w", "西", "南", "西经", "南纬"}


def parse_coordinate(value: object) -> float | None:
    """A float from a number or text such as ``121.5``, ``121.5°E``, ``东经121.5``, ``29°52'3"N``.

    Returns ``None`` when the value is empty and ``nan`` when it is not a coordinate.
    """
    import math

    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        as_float = float(value)
        return None if math.isnan(as_float) else as_float
    text = unicodedata.normalize("NFKC", str(value)).strip()
    if not text or text.lower() in ("nan", "null", "none", "na", "n/a", "-"):
        return None
    try:
        return float(text)
    except ValueError:
        pass
    match = _DMS_RE.match(text)
    if not match:
        return math.nan
    deg = float(match.group("deg"))
    minutes = float(match.group("min") or 0.0)
    seconds = float(match.group("sec") or 0.0)
    if minutes >= 60 or seconds >= 60:
        return math.nan
    result = abs(deg) + minutes / 60.0 + seconds / 3600.0
    hemi = (match.group("pre") or match.group("post") or "").lower()
    if deg < 0 or hemi in _NEGATIVE_HEMI:
        result = -result
    return result


def clean_text(value: object) -> str:
    """A display string for a cell: '' for blanks, integral floats without '.0'."""
    import math

    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if value.is_integer():
            return str(int(value))
    return str(value).strip()


def infer_numeric_columns(frame: pd.DataFrame, *, skip: Sequence[str]) -> pd.DataFrame:
    """Turn all-numeric text columns (e.g. ``beds``) into numbers; keep codes like ``001`` as text."""
    import pandas as pd

    for col in frame.columns:
        if col in skip or not (frame[col].dtype == object or pd.api.types.is_string_dtype(frame[col].dtype)):
            continue
        values = frame[col]
        if not values.map(lambda v: isinstance(v, str) or v is None, na_action="ignore").all():
            continue  # mixed Python objects (e.g. from Excel): leave as read
        text = values.astype("string").str.strip()
        blank = text.isna() | (text == "")
        non_blank = text[~blank]
        if non_blank.empty or non_blank.str.match(r"^[+-]?0\d").any():
            continue  # empty, or leading zeros: an identifier or code, not a quantity
        converted = pd.to_numeric(non_blank, errors="coerce")
        if converted.isna().any():
            continue
        frame[col] = pd.to_numeric(text.where(~blank, None), errors="coerce")
        if frame[col].notna().all() and (frame[col] % 1 == 0).all():
            frame[col] = frame[col].astype("int64")
    return frame
