"""Speed model: OSM ``maxspeed`` where usable, else Chinese design speeds by road class.

The defaults and the source of every value are in ``default_speeds.toml``
next to this module. :func:`load_speed_model` merges a user TOML over them
(unknown keys are refused with the key name), and :func:`segment_speeds_kph`
turns per-segment road classes, maxspeed tags and area types into km/h.

Rules (drive mode)::

    limit_kph = maxspeed if 5 <= maxspeed <= 150 km/h else design speed of the class
    speed_kph = limit_kph * congestion[area][class]
    ambulance: speed_kph = min(speed_kph * ambulance.factor, limit_kph)

Walk mode uses ``walk.speed_kph`` on every way. Classes missing from the table
(e.g. ``busway``) use the ``road`` value.
"""

from __future__ import annotations

import copy
import logging
import math
import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from coverage.errors import InputFileError

__all__ = [
    "DEFAULT_SPEEDS_PATH",
    "SpeedModel",
    "load_speed_model",
    "parse_maxspeed_kph",
    "segment_speeds_kph",
]

logger = logging.getLogger(__name__)

DEFAULT_SPEEDS_PATH = Path(__file__).with_name("default_speeds.toml")
MPH_TO_KPH = 1.609344
KNOTS_TO_KPH = 1.852


@dataclass(frozen=True)
class SpeedModel:
    """The resolved speed assumptions (the merged TOML as a plain dict)."""

    config: dict[str, Any]
    source: str

    def design_kph(self, area: str) -> dict[str, float]:
        return dict(self.config["drive"][area])

    def congestion(self, area: str) -> dict[str, float]:
        return dict(self.config["congestion"][area])

    @property
    def walk_kph(self) -> float:
        return float(self.config["walk"]["speed_kph"])

    @property
    def ambulance_factor(self) -> float:
        return float(self.config["ambulance"]["factor"])

    def as_dict(self) -> dict[str, Any]:
        """A JSON-serialisable copy, stored in ``RoadNetwork.meta["speed_model"]``."""
        return copy.deepcopy(self.config) | {"source": self.source}

    def summary(self, *, mode: str, ambulance: bool) -> str:
        """One line stating the assumptions, for the INFO log and the CLI."""
        if mode == "walk":
            return f"walk {self.walk_kph:g} km/h on every way (source: {self.source})"
        urban, rural = self.design_kph("urban"), self.design_kph("rural")
        cong = self.congestion("urban")
        parts = [
            f"maxspeed if {self.config['maxspeed']['min_kph']:g}-{self.config['maxspeed']['max_kph']:g} km/h, "
            f"else design speed (urban/rural km/h): "
            + ", ".join(f"{c} {urban[c]:g}/{rural[c]:g}" for c in ("motorway", "trunk", "primary", "secondary", "tertiary", "residential"))
            + f"; x congestion (urban primary {cong['primary']:g})",
            f"area type by {self.config['area_type']['method']}",
        ]
        if ambulance:
            parts.append(f"ambulance x{self.ambulance_factor:g} capped at the limit")
        return "; ".join(parts) + f" (source: {self.source})"


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError as err:
        msg = f"speeds file {str(path)!r} does not exist; pass an existing TOML file to --speeds"
        raise InputFileError(msg) from err
    except tomllib.TOMLDecodeError as err:
        msg = f"speeds file {str(path)!r} is not valid TOML: {err}"
        raise InputFileError(msg) from err


def _merge(base: dict[str, Any], override: dict[str, Any], *, where: str, path: str) -> None:
    for key, value in override.items():
        dotted = f"{where}.{key}" if where else key
        if key not in base:
            allowed = ", ".join(sorted(base))
            msg = f"speeds file {path!r}: unknown key {dotted!r}; allowed here: {allowed}"
            raise InputFileError(msg)
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                msg = f"speeds file {path!r}: {dotted!r} must be a table, got {value!r}"
                raise InputFileError(msg)
            _merge(base[key], value, where=dotted, path=path)
            continue
        if isinstance(base[key], str):
            if not isinstance(value, str):
                msg = f"speeds file {path!r}: {dotted!r} must be a string, got {value!r}"
                raise InputFileError(msg)
        elif isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
            msg = f"speeds file {path!r}: {dotted!r} must be a positive number, got {value!r}"
            raise InputFileError(msg)
        else:
            value = float(value)
        base[key] = value


def _check(config: dict[str, Any], path: str) -> None:
    rule = config["maxspeed"]["list_rule"]
    if rule not in ("min", "mean"):
        msg = f"speeds file {path!r}: maxspeed.list_rule must be 'min' or 'mean', got {rule!r}"
        raise InputFileError(msg)
    method = config["area_type"]["method"]
    if method not in ("density", "urban", "rural"):
        msg = f"speeds file {path!r}: area_type.method must be 'density', 'urban' or 'rural', got {method!r}"
        raise InputFileError(msg)
    for area in ("urban", "rural"):
        for cls, factor in config["congestion"][area].items():
            if factor > 1.0:
                msg = f"speeds file {path!r}: congestion.{area}.{cls} = {factor} is above 1 (a factor slows traffic)"
                raise InputFileError(msg)
    if config["maxspeed"]["min_kph"] >= config["maxspeed"]["max_kph"]:
        msg = f"speeds file {path!r}: maxspeed.min_kph must be below maxspeed.max_kph"
        raise InputFileError(msg)


def load_speed_model(speeds: str | os.PathLike[str] | dict[str, Any] | SpeedModel | None = None) -> SpeedModel:
    """The default speed model, with ``speeds`` (a TOML path or a dict) merged over it.

    Raises
    ------
    InputFileError
        Unreadable TOML, an unknown key (named in the message) or a bad value.
    """
    if isinstance(speeds, SpeedModel):
        return speeds
    config = _read_toml(DEFAULT_SPEEDS_PATH)
    source = "default_speeds.toml"
    if speeds is not None:
        if isinstance(speeds, dict):
            override, label = speeds, "<dict>"
        else:
            override, label = _read_toml(Path(speeds)), str(speeds)
        _merge(config, override, where="", path=label)
        source = f"default_speeds.toml + {label}"
        _check(config, label)
    return SpeedModel(config=config, source=source)


_NUMBER_UNIT = re.compile(r"^\s*([0-9]+(?:[.,][0-9]+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$", re.IGNORECASE)


def parse_maxspeed_kph(value: str | None, model: SpeedModel) -> float:
    """Parse an OSM ``maxspeed`` value into km/h; ``nan`` when absent or unusable.

    Accepts ``"50"``, ``"50 km/h"``, ``"30 mph"``, ``"10 knots"``, zone values
    listed in ``[maxspeed]`` of the model (e.g. ``"CN:urban"``) and lists
    ``"60;80"`` (combined by ``maxspeed.list_rule``: min or mean). Values
    outside ``[min_kph, max_kph]`` and anything else (``"none"``, ``"walk"``,
    ``"signals"``) give ``nan`` so the class default is used.
    """
    if value is None:
        return math.nan
    table = model.config["maxspeed"]
    values: list[float] = []
    for part in str(value).split(";"):
        part = part.strip()
        if part in table and not isinstance(table[part], str) and part not in ("min_kph", "max_kph"):
            values.append(float(table[part]))
            continue
        match = _NUMBER_UNIT.match(part)
        if not match:
            return math.nan
        number = float(match.group(1).replace(",", "."))
        unit = (match.group(2) or "km/h").lower()
        factor = MPH_TO_KPH if unit == "mph" else KNOTS_TO_KPH if unit == "knots" else 1.0
        values.append(number * factor)
    if not values:
        return math.nan
    kph = min(values) if table["list_rule"] == "min" else sum(values) / len(values)
    if not table["min_kph"] <= kph <= table["max_kph"]:
        return math.nan
    return kph


def segment_speeds_kph(
    highway: npt.NDArray[np.object_],
    maxspeed_kph: npt.NDArray[np.float64],
    urban: npt.NDArray[np.bool_],
    model: SpeedModel,
    *,
    mode: str,
    ambulance: bool = False,
) -> npt.NDArray[np.float64]:
    """Speeds in km/h for arrays of road class, parsed maxspeed (nan = none) and area type.

    Vectorised over the unique classes: ``highway`` may be long (one entry per segment).
    """
    n = highway.shape[0]
    if mode == "walk":
        return np.full(n, model.walk_kph, dtype=np.float64)
    classes, inverse = np.unique(highway.astype(str), return_inverse=True)
    limit = np.empty(n, dtype=np.float64)
    factor = np.empty(n, dtype=np.float64)
    for area, mask in (("urban", urban), ("rural", ~urban)):
        design = model.design_kph(area)
        cong = model.congestion(area)
        fallback_kph, fallback_cong = design["road"], cong["road"]
        class_kph = np.array([design.get(c, fallback_kph) for c in classes], dtype=np.float64)
        class_cong = np.array([cong.get(c, fallback_cong) for c in classes], dtype=np.float64)
        limit[mask] = class_kph[inverse[mask]]
        factor[mask] = class_cong[inverse[mask]]
    has_max = np.isfinite(maxspeed_kph)
    limit[has_max] = maxspeed_kph[has_max]
    speed = limit * factor
    if ambulance:
        speed = np.minimum(speed * model.ambulance_factor, limit)
    return speed
