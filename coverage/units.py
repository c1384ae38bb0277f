"""The few unit conversions and named constants. Work in metres and seconds."""

from __future__ import annotations

SECONDS_PER_MINUTE = 60.0
METRES_PER_KM = 1000.0
KMH_PER_MPS = 3.6


def minutes_to_seconds(minutes: float) -> float:
    return float(minutes) * SECONDS_PER_MINUTE


def seconds_to_minutes(seconds: float) -> float:
    return float(seconds) / SECONDS_PER_MINUTE


def km_to_m(km: float) -> float:
    return float(km) * METRES_PER_KM


def m_to_km(metres: float) -> float:
    return float(metres) / METRES_PER_KM


def kmh_to_mps(speed_kmh: float) -> float:
    return float(speed_kmh) / KMH_PER_MPS
