"""Paths shared by the tests: the repository, ../shared and the real samples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FCOV_SHARED", REPO_ROOT.parent / "shared"))
SHARED_DATA = Path(os.environ.get("FCOV_TEST_DATA", SHARED / "data"))
SEEDS = SHARED / "seeds"
TEST_DATA = Path(__file__).resolve().parent / "data"


def shared_file(name: str) -> Path:
    """Path of a real sample in ../shared/data, or skip the test with a reason."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(f"real sample {name} not found in {SHARED_DATA} (set FCOV_TEST_DATA)")
    return path


def seeds_dir() -> Path:
    """The seed plans in ../shared/seeds, or skip the test with a reason."""
    if not SEEDS.is_dir():
        pytest.skip(f"seed plans not found in {SEEDS} (set FCOV_SHARED)")
    return SEEDS
