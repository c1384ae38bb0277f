"""Exceptions for problems a user can fix. The CLI maps every one to exit code 2."""

from __future__ import annotations


class CoverageError(Exception):
    """Base class: a problem with the user's input or request, not a bug."""


class InputFileError(CoverageError, ValueError):
    """A file cannot be read, or its rows or columns are invalid."""


class CrsError(CoverageError, ValueError):
    """A coordinate reference system is missing, unknown or unsuitable."""


class NetworkError(CoverageError, ValueError):
    """A road network is empty, disconnected, unreadable or lacks speeds."""


class SnapError(CoverageError, ValueError):
    """A point lies farther from the network than the allowed snapping distance."""


class PopulationError(CoverageError, ValueError):
    """A population raster or table is unusable."""


class StandardError(CoverageError, ValueError):
    """An unknown standard id, a malformed standards file or a missing citation."""


class InfeasibleError(CoverageError, ValueError):
    """A siting model has no feasible solution (e.g. demand no candidate can reach)."""


class SolverError(CoverageError, RuntimeError):
    """The solver stopped without a usable solution (e.g. time limit with no incumbent)."""


class TargetNotMet(Exception):
    """Raised by check commands when a planning target is not met (exit code 1)."""
