"""The first thing the suite does is make sure `import coverage` is this project."""

from __future__ import annotations

import pytest

import coverage

if not getattr(coverage, "__facility_coverage__", False):
    pytest.exit(
        f"`import coverage` resolves to {getattr(coverage, '__file__', '?')}, not facility-coverage "
        "(probably coverage.py). Uninstall coverage/pytest-cov from this environment or use the "
        "project's .venv (`make test`).",
        returncode=2,
    )


@pytest.fixture(autouse=True, scope="session")
def _network_cache_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Built road networks are cached; keep the tests' cache out of the working tree."""
    import os

    os.environ.setdefault("FCOV_CACHE_DIR", str(tmp_path_factory.mktemp("fcov-cache")))
