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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from coverage._io import read_toml
from coverage.errors import InputFileError

__all__ = [
    "DEFAULT_SPEEDS_PATH",
    "SpeedModel",
    "load_speed_model",
    "parse_maxspeed_kph",
    "segment_speeds_kph",
    "PERIODS",
    "TRAVEL_MODES",
    "derived_network",
    "base_mode",
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
    return read_toml(path, "speeds file", "see coverage/networks/default_speeds.toml for the format; pass it to --speeds")


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


# --------------------------------------------------------------------------- time of day and travel modes
PERIODS = ("peak", "offpeak", "night")
# modes derived from the walk network at one speed (default_speeds.toml [modes])
RIDDEN_MODES = ("bicycle", "ebike")
TRAVEL_MODES = ("walk", "bicycle", "ebike", "drive")


def period_factors(model: SpeedModel, period: str) -> dict[str, float]:
    """Speed multiplier per road class for ``period`` (peak | offpeak | night); default_speeds.toml [periods]."""
    periods = model.config.get("periods", {})
    if period not in periods:
        msg = f"unknown speed period {period!r}; use one of {', '.join(sorted(periods))} (default_speeds.toml [periods])"
        raise InputFileError(msg)
    return {k: float(v) for k, v in periods[period].items()}


def mode_kph(model: SpeedModel, mode: str) -> float:
    """Riding speed of a mode derived from the walk network (bicycle, ebike), km/h."""
    if mode == "walk":
        return model.walk_kph
    if mode not in RIDDEN_MODES:
        msg = f"unknown travel mode {mode!r}; use one of {', '.join(TRAVEL_MODES)}"
        raise InputFileError(msg)
    return float(model.config["modes"][f"{mode}_kph"])


def network_for_period(net: Any, period: str, speeds: Any = None) -> Any:
    """The drive network with its speeds multiplied per road class for ``period`` (night capped).

    Classes missing from the table use ``road``. The multiplier applies to the network's own speeds
    (maxspeed or design speed, times congestion, ambulance factor if any), so a user's speeds file
    carries through.
    """
    import dataclasses

    if net.mode != "drive":
        msg = f"speed periods apply to the drive network, not to {net.mode!r}"
        raise InputFileError(msg)
    model = load_speed_model(speeds)
    factors = period_factors(model, period)
    classes, inverse = np.unique(net.highway.astype(str), return_inverse=True)
    factor = np.array([factors.get(c, factors["road"]) for c in classes])[inverse]
    speed = net.speed_kph * factor
    if period == "night":  # faster, but never above the class's rural design speed nor night_cap.max_kph
        rural = model.design_kph("rural")
        design = np.array([rural.get(c, rural["road"]) for c in classes])[inverse]
        cap = np.maximum(np.minimum(design, float(model.config["night_cap"]["max_kph"])), net.speed_kph)
        speed = np.minimum(speed, cap)
    meta = dict(net.meta) | {"period": period, "speed_summary": f"{net.meta.get('speed_summary', '')}; period "
                             f"{period}: x " + ", ".join(f"{c} {factors.get(c, factors['road']):g}" for c in
                                                          ("primary", "secondary", "residential"))}
    return dataclasses.replace(net, speed_kph=speed, travel_time_s=net.length_m / (speed / 3.6), meta=meta)


def network_for_mode(walk_net: Any, mode: str, speeds: Any = None) -> Any:
    """The walk network at the riding speed of ``mode`` (bicycle, ebike) on every way."""
    import dataclasses

    if walk_net.mode != "walk":
        msg = f"{mode} rides the walk network, got a {walk_net.mode!r} network"
        raise InputFileError(msg)
    model = load_speed_model(speeds)
    kph = mode_kph(model, mode)
    speed = np.full(walk_net.n_edges, kph)
    meta = dict(walk_net.meta) | {"travel_mode": mode,
                                  "speed_summary": f"{mode} {kph:g} km/h on every way of the walk network "
                                                   f"(source: {model.source} [modes])"}
    return dataclasses.replace(walk_net, speed_kph=speed, travel_time_s=walk_net.length_m / (kph / 3.6), meta=meta)


def derived_network(base: Any, name: str, speeds: Any = None) -> Any:
    """The network a mode name means: ``bicycle`` / ``ebike`` from walk, ``drive@peak`` etc. from drive."""
    if "@" in name:
        return network_for_period(base, name.split("@", 1)[1], speeds)
    return network_for_mode(base, name, speeds)


def base_mode(name: str) -> str:
    """The network a (possibly derived) mode name is built from: ebike -> walk, drive@peak -> drive."""
    if "@" in name:
        return name.split("@", 1)[0]
    return "walk" if name in RIDDEN_MODES else name
