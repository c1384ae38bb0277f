"""Request bodies of the API (pydantic): validated and size-limited before any point reaches the reader."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

MAX_STATIONS = 200
"""Most proposed stations in one scenario."""
MAX_SUGGEST = 10
"""Most sites one suggestion asks for."""


class Station(BaseModel):
    """A proposed station: longitude and latitude in the scenario's ``crs``."""

    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=40, pattern=r"^[A-Za-z0-9_.\-]+$", description="Station id (optional).")
    name: str = Field("", max_length=100, description="Name shown on the page and in the export.")
    lon: float = Field(..., allow_inf_nan=False, description="Longitude (degrees), or x in metres for EPSG:NNNN.")
    lat: float = Field(..., allow_inf_nan=False, description="Latitude (degrees), or y in metres for EPSG:NNNN.")


class Scenario(BaseModel):
    """Proposed stations checked against one emergency standard, the existing stations kept."""

    model_config = ConfigDict(extra="forbid")
    stations: list[Station] = Field(default_factory=list, max_length=MAX_STATIONS)
    crs: str = Field("wgs84", max_length=24, description="wgs84 | gcj02 | bd09 | EPSG:NNNN (as --proposed-crs).")
    standard: str | None = Field(None, max_length=80, description="Standard id (default: the config's "
                                                                  "[check_stations] standard).")


class Suggest(Scenario):
    """A scenario and how many more sites MCLP should suggest."""

    n: int = Field(1, ge=1, le=MAX_SUGGEST, description="New sites to suggest (MCLP).")
