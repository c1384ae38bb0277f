"""The network cache uses an entry only when it records being built from exactly what is asked for."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from coverage.networks import cache as netcache
from coverage.networks.io import load_network
from coverage.networks.saved import _save_npz, read_header

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny_network.osm"


def _entries(cache: Path) -> list[Path]:
    return sorted(cache.glob("network-*.npz"))


def _entry_of(cache: Path, net) -> Path:
    return Path(net.meta["cache"])


def test_entry_records_its_identity(tmp_path):
    net = load_network(TINY, cache_dir=tmp_path)
    identity = read_header(_entry_of(tmp_path, net))["identity"]
    assert identity["mode"] == "drive" and identity["clip"] is None
    assert identity["options"] == {"ambulance": False, "include_service": True, "keep_largest_component": True,
                                   "metric_crs": None}
    assert len(identity["source_sha256"]) == 64 and len(identity["speed_model_sha256"]) == 64
    assert identity["code_version"] == netcache.code_version() and "+" in identity["code_version"]
    assert identity["format_version"] == 1


def test_walk_entry_copied_under_the_drive_key_is_rebuilt(tmp_path, caplog):
    drive = load_network(TINY, cache_dir=tmp_path)
    walk = load_network(TINY, cache_dir=tmp_path, mode="walk")
    drive_entry, walk_entry = _entry_of(tmp_path, drive), _entry_of(tmp_path, walk)
    assert drive_entry != walk_entry
    shutil.copyfile(walk_entry, drive_entry)  # a valid file (checksum passes) under the wrong key
    with caplog.at_level(logging.WARNING, logger="coverage.networks.cache"):
        again = load_network(TINY, cache_dir=tmp_path)
    assert "does not match this request" in caplog.text and "mode 'walk' (wanted 'drive')" in caplog.text
    assert again.mode == "drive" and again.n_edges == drive.n_edges
    np.testing.assert_allclose(again.travel_time_s, drive.travel_time_s)
    # rebuilt in place, atomically: the entry now records drive, and is used from now on
    assert read_header(drive_entry)["identity"]["mode"] == "drive"
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage.networks.cache"):
        load_network(TINY, cache_dir=tmp_path)
    assert "does not match" not in caplog.text
    assert _entries(tmp_path) == sorted([drive_entry, walk_entry])


def test_entry_of_another_source_speed_model_or_code_is_rebuilt(tmp_path, caplog, monkeypatch):
    other_src = tmp_path / "other.osm"
    other_src.write_text(TINY.read_text(encoding="utf-8").replace("</osm>", "<!-- edited -->\n</osm>"),
                         encoding="utf-8")
    cache = tmp_path / "cache"
    wanted = _entry_of(cache, load_network(TINY, cache_dir=cache))
    for kwargs, reason in (
        ({"source": other_src}, "source_sha256"),
        ({"speeds": {"area_type": {"method": "rural"}}}, "speed_model_sha256"),
        ({"ambulance": True}, "options"),
    ):
        source = kwargs.pop("source", TINY)
        built = _entry_of(cache, load_network(source, cache_dir=cache, **kwargs))
        shutil.copyfile(built, wanted)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="coverage.networks.cache"):
            load_network(TINY, cache_dir=cache)
        assert reason in caplog.text, reason
    # an entry written by other code (another code version) under this key
    monkeypatch.setattr(netcache, "code_version", lambda: "0.0.0+feedfacecafe")
    entry = _entry_of(cache, load_network(TINY, cache_dir=cache))
    stale = read_header(entry)["identity"]
    assert stale["code_version"] == "0.0.0+feedfacecafe"
    monkeypatch.undo()
    shutil.copyfile(entry, wanted)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="coverage.networks.cache"):
        load_network(TINY, cache_dir=cache)
    assert "code_version '0.0.0+feedfacecafe'" in caplog.text


def test_entry_without_identity_is_rebuilt(tmp_path, caplog):
    net = load_network(TINY, cache_dir=tmp_path)
    entry = _entry_of(tmp_path, net)
    _save_npz(load_network(TINY, use_cache=False), entry)  # valid, but records nothing
    with caplog.at_level(logging.WARNING, logger="coverage.networks.cache"):
        load_network(TINY, cache_dir=tmp_path)
    assert "does not record what it was built from" in caplog.text
    assert "identity" in read_header(entry)


def test_clip_area_is_part_of_the_identity(tmp_path):
    import geopandas as gpd
    from shapely.geometry import box

    from coverage.networks.clip import clip_area

    area = gpd.GeoDataFrame(geometry=[box(121.540, 29.868, 121.545, 29.872)], crs=4326)
    whole = load_network(TINY, cache_dir=tmp_path)
    clipped = load_network(TINY, cache_dir=tmp_path, clip=clip_area(area, 500.0))
    assert _entry_of(tmp_path, whole) != _entry_of(tmp_path, clipped)
    recorded = read_header(_entry_of(tmp_path, clipped))["identity"]["clip"]
    assert recorded["margin_m"] == 500.0 and len(recorded["key"]) == 24
    assert load_network(TINY, cache_dir=tmp_path, clip=clip_area(area, 500.0)).meta["clip"]["margin_m"] == 500.0


def test_failed_cache_write_leaves_the_old_entry(tmp_path, caplog, monkeypatch):
    drive = load_network(TINY, cache_dir=tmp_path)
    walk = load_network(TINY, cache_dir=tmp_path, mode="walk")
    entry = _entry_of(tmp_path, drive)
    shutil.copyfile(_entry_of(tmp_path, walk), entry)
    before = entry.read_bytes()

    def broken(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with caplog.at_level(logging.WARNING, logger="coverage.networks.cache"):
        net = load_network(TINY, cache_dir=tmp_path)
    assert net.mode == "drive" and "could not write the network cache" in caplog.text
    assert entry.read_bytes() == before  # never a half-written entry over the old one
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in _entries(tmp_path))


def test_corrupt_entry_is_deleted_and_rebuilt(tmp_path, caplog):
    net = load_network(TINY, cache_dir=tmp_path)
    entry = _entry_of(tmp_path, net)
    data = bytearray(entry.read_bytes())
    data[len(data) // 2] ^= 0xFF
    entry.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="coverage.networks.cache"):
        again = load_network(TINY, cache_dir=tmp_path)
    assert "unusable" in caplog.text or "does not match" in caplog.text
    assert again.n_edges == net.n_edges and read_header(entry)["identity"]["mode"] == "drive"


@pytest.mark.parametrize("mode", ["drive", "walk"])
def test_mode_mismatch_in_saved_file_is_still_an_error(tmp_path, mode):
    from coverage.errors import NetworkError
    from coverage.networks.io import save_network

    path = save_network(load_network(TINY, use_cache=False, mode=mode), tmp_path / "net.npz")
    other = "walk" if mode == "drive" else "drive"
    with pytest.raises(NetworkError, match=f"'{other}' was requested"):
        load_network(path, mode=other)
