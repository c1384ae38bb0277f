"""Unit tests for coverage.networks: reader, filters, one-way rules, simplification, speeds, I/O."""

from __future__ import annotations

import logging
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from coverage.errors import InputFileError, NetworkError
from coverage.networks.build import build_network, oneway_direction, way_filter
from coverage.networks.io import load_network, network_to_networkx, save_network
from coverage.networks.model import RoadNetwork
from coverage.networks.osm import read_osm_file
from coverage.networks.speeds import load_speed_model, parse_maxspeed_kph
from tests.helpers import TEST_DATA

TINY = TEST_DATA / "tiny_network.osm"
URBAN = {"area_type": {"method": "urban"}}  # fixed area type: hand-checkable speeds


def _osm_to_pbf(src: Path, dst: Path) -> Path:
    import osmium

    with osmium.SimpleWriter(str(dst)) as writer:
        for obj in osmium.FileProcessor(str(src)):
            writer.add(obj)
    return dst


def _edges(net: RoadNetwork) -> dict[tuple[int, int], int]:
    return {
        (int(net.node_osmid[u]), int(net.node_osmid[v])): e
        for e, (u, v) in enumerate(zip(net.edge_u.tolist(), net.edge_v.tolist(), strict=True))
    }


def _edge_table(net: RoadNetwork) -> np.ndarray:
    rows = np.column_stack(
        [net.node_osmid[net.edge_u], net.node_osmid[net.edge_v], np.round(net.length_m, 6), np.round(net.travel_time_s, 6)]
    )
    return rows[np.lexsort(rows.T[::-1])]


def _assert_same_edges(a: RoadNetwork, b: RoadNetwork) -> None:
    """Same nodes and edges, in any order (networkx/GraphML reorders edges)."""
    assert sorted(a.node_osmid.tolist()) == sorted(b.node_osmid.tolist())
    assert_allclose(_edge_table(a), _edge_table(b), rtol=1e-9)
    assert sorted(a.highway.tolist()) == sorted(b.highway.tolist())
    assert a.crs == b.crs and a.n_edges == b.n_edges
    assert a.geom_x_m.shape == b.geom_x_m.shape


def _assert_same(a: RoadNetwork, b: RoadNetwork) -> None:
    assert_array_equal(a.node_osmid, b.node_osmid)
    assert_array_equal(a.edge_u, b.edge_u)
    assert_array_equal(a.edge_v, b.edge_v)
    assert_allclose(a.length_m, b.length_m, rtol=1e-9)
    assert_allclose(a.travel_time_s, b.travel_time_s, rtol=1e-9)
    assert_array_equal(a.highway.astype(str), b.highway.astype(str))
    assert_array_equal(a.geom_offsets, b.geom_offsets)
    assert_allclose(a.geom_x_m, b.geom_x_m, atol=1e-6)
    assert a.crs == b.crs


@pytest.fixture(scope="module")
def raw():
    return read_osm_file(TINY)


@pytest.fixture(scope="module")
def drive(raw):
    return build_network(raw, mode="drive", speeds=URBAN)


class TestDriveNetwork:
    def test_nodes_are_intersections_and_dead_ends(self, drive):
        # 7 and 2 sit inside way 101, 5 and 6 inside the one-way chain 3->6->5->4, 10 joins two ways
        assert sorted(drive.node_osmid.tolist()) == [1, 3, 4, 11]
        assert drive.meta["n_dropped_nodes"] == 3  # the disconnected way 20-21-22
        assert drive.crs == "EPSG:32651"

    def test_oneway_and_reverse(self, drive):
        edges = _edges(drive)
        # way 102 oneway=yes (3->6) joined with way 103 oneway=-1 (6->5->4): one edge 3->4, no 4->3
        assert (3, 4) in edges and (4, 3) not in edges
        assert {(1, 3), (3, 1), (1, 4), (4, 1), (1, 11), (11, 1)} <= set(edges)
        assert drive.n_edges == 7

    def test_filters_drop_footway_parking_private_and_buildings(self, drive):
        assert set(drive.highway.tolist()) == {"residential", "tertiary", "secondary"}
        assert 8 not in drive.node_osmid and 9 not in drive.node_osmid

    def test_lengths_speeds_and_times_by_hand(self, drive):
        edges = _edges(drive)
        # 1-7-2-3: 0.002 deg of longitude at 29.87N = 193.2 m; residential maxspeed 30 x urban congestion 0.7
        e = edges[(1, 3)]
        assert drive.length_m[e] == pytest.approx(193.19, abs=0.05)
        assert drive.speed_kph[e] == pytest.approx(21.0)
        assert drive.travel_time_s[e] == pytest.approx(193.19 / (21.0 / 3.6), abs=0.01)
        # 4-1: 0.001 deg latitude = 110.8 m; tertiary, no maxspeed: design 30 x 0.65
        assert drive.speed_kph[edges[(1, 4)]] == pytest.approx(19.5)
        # 3->6 primary "50 km/h" x 0.6 = 30 km/h over 110.8 m, then 6->5->4 secondary 40 x 0.6 = 24 over 193.2 m
        e = edges[(3, 4)]
        assert drive.travel_time_s[e] == pytest.approx(110.83 / (30 / 3.6) + 193.19 / (24 / 3.6), abs=0.02)
        assert drive.highway[e] == "secondary"  # the class covering most of its length
        # 1-10 "30 mph" = 48.28 km/h x 0.7, 10-11 road with maxspeed "none" -> class default 30 x 0.7
        e = edges[(1, 11)]
        assert drive.travel_time_s[e] == pytest.approx(110.83 / (48.28032 * 0.7 / 3.6) + 110.83 / (21 / 3.6), abs=0.02)
        assert drive.meta["n_maxspeed_rejected"] == 1

    def test_geometry_keeps_way_nodes(self, drive):
        e = _edges(drive)[(1, 3)]
        xs, ys = drive.edge_coords(e)
        assert xs.shape == (4,)  # 1, 7, 2, 3
        i1, i3 = (int(np.flatnonzero(drive.node_osmid == k)[0]) for k in (1, 3))
        assert (xs[0], ys[0]) == (drive.x_m[i1], drive.y_m[i1])
        assert (xs[-1], ys[-1]) == (drive.x_m[i3], drive.y_m[i3])
        rev = _edges(drive)[(3, 1)]
        assert_allclose(drive.edge_coords(rev)[0], xs[::-1])
        length = np.hypot(np.diff(xs), np.diff(ys)).sum()
        assert drive.length_m[e] == pytest.approx(length)

    def test_keep_all_components(self, raw):
        net = build_network(raw, mode="drive", keep_largest_component=False)
        assert {20, 22} <= set(net.node_osmid.tolist())
        assert net.meta["n_dropped_nodes"] == 0

    def test_networkx_shortest_paths(self, drive):
        graph = network_to_networkx(drive)
        node = {int(o): i for i, o in enumerate(drive.node_osmid)}
        t = nx.shortest_path_length(graph, node[4], node[3], weight="travel_time")
        edges = _edges(drive)
        assert t == pytest.approx(drive.travel_time_s[edges[(4, 1)]] + drive.travel_time_s[edges[(1, 3)]])
        # 3 -> 4 uses the one-way edge; 4 -> 3 must go round through 1
        assert nx.shortest_path(graph, node[4], node[3], weight="length") == [node[4], node[1], node[3]]


class TestWalkNetwork:
    def test_walk_uses_footways_both_ways(self, raw):
        net = build_network(raw, mode="walk")
        edges = _edges(net)
        assert (2, 5) in edges and (5, 2) in edges  # footway
        assert (5, 3) in edges and (3, 5) in edges  # one-way streets walked both ways
        assert (3, 8) in edges  # parking aisles are walkable
        assert 9 not in net.node_osmid  # access=private
        assert_allclose(net.speed_kph, 4.5)
        assert net.meta["component"] == "weak"

    def test_ambulance_only_for_drive(self, raw):
        with pytest.raises(NetworkError, match="ambulance"):
            build_network(raw, mode="walk", ambulance=True)


class TestRules:
    @staticmethod
    def _tags(**cols):
        n = len(next(iter(cols.values())))
        from coverage.networks.osm import WAY_TAGS

        out = {}
        for tag in WAY_TAGS:
            arr = np.empty(n, dtype=object)
            arr[:] = cols.get(tag, [None] * n)
            out[tag] = arr
        return out

    def test_oneway_rules(self):
        tags = self._tags(
            highway=["primary", "primary", "primary", "primary", "motorway", "motorway", "residential", "primary"],
            oneway=[None, "yes", "-1", "reversible", None, "no", None, "1"],
            junction=[None, None, None, None, None, None, "roundabout", None],
        )
        assert oneway_direction(tags, "drive").tolist() == [0, 1, -1, 0, 1, 0, 1, 1]
        assert oneway_direction(tags, "walk").tolist() == [0] * 8

    def test_access_hierarchy(self):
        tags = self._tags(
            highway=["residential"] * 5 + ["motorway", "cycleway", "cycleway", "track"],
            access=["private", "no", "private", None, "yes", None, None, None, None],
            motor_vehicle=[None, "yes", None, "no", None, None, None, None, None],
            foot=["yes", None, None, None, None, None, None, "designated", None],
        )
        assert way_filter(tags, "drive").tolist() == [False, True, False, False, True, True, False, False, False]
        assert way_filter(tags, "walk").tolist() == [True, False, False, True, True, False, False, True, True]


class TestSpeeds:
    @pytest.mark.parametrize(
        ("text", "kph"),
        [
            ("50", 50.0),
            ("50 km/h", 50.0),
            ("60kmh", 60.0),
            ("30 mph", 48.28032),
            ("60;80", 60.0),
            ("CN:urban", 50.0),
            ("3", np.nan),  # below 5 km/h: not sane
            ("200", np.nan),  # above 150 km/h
            ("none", np.nan),
            ("walk", np.nan),
            (None, np.nan),
        ],
    )
    def test_parse_maxspeed(self, text, kph):
        model = load_speed_model()
        got = parse_maxspeed_kph(text, model)
        if np.isnan(kph):
            assert np.isnan(got)
        else:
            assert got == pytest.approx(kph)

    def test_list_rule_mean(self):
        model = load_speed_model({"maxspeed": {"list_rule": "mean"}})
        assert parse_maxspeed_kph("60;80", model) == pytest.approx(70.0)

    def test_unknown_key_is_named(self, tmp_path):
        path = tmp_path / "speeds.toml"
        path.write_text("[drive.urban]\nprimary = 45\nprimery = 40\n", encoding="utf-8")
        with pytest.raises(InputFileError, match=r"drive\.urban\.primery"):
            load_speed_model(path)

    def test_bad_value_and_bad_toml(self, tmp_path):
        with pytest.raises(InputFileError, match="positive number"):
            load_speed_model({"walk": {"speed_kph": -1}})
        bad = tmp_path / "bad.toml"
        bad.write_text("[walk\n", encoding="utf-8")
        with pytest.raises(InputFileError, match="not valid TOML"):
            load_speed_model(bad)
        with pytest.raises(InputFileError, match="does not exist"):
            load_speed_model(tmp_path / "missing.toml")

    def test_override_changes_speeds(self, raw):
        net = build_network(raw, speeds={"area_type": {"method": "urban"}, "drive": {"urban": {"tertiary": 40}}})
        assert net.speed_kph[_edges(net)[(1, 4)]] == pytest.approx(40 * 0.65)
        assert net.meta["speed_model"]["drive"]["urban"]["tertiary"] == 40.0

    def test_ambulance_factor_capped_at_limit(self, raw, drive):
        amb = build_network(raw, speeds=URBAN, ambulance=True)
        e = _edges(drive)[(1, 4)]
        # tertiary 30 x 0.65 = 19.5 -> x1.2 = 23.4 (below the 30 km/h limit)
        assert amb.speed_kph[_edges(amb)[(1, 4)]] == pytest.approx(23.4)
        assert amb.travel_time_s[_edges(amb)[(1, 4)]] < drive.travel_time_s[e]
        fast = build_network(raw, speeds=URBAN | {"ambulance": {"factor": 3.0}}, ambulance=True)
        assert fast.speed_kph[_edges(fast)[(1, 4)]] == pytest.approx(30.0)  # capped at the design speed

    def test_rural_defaults_by_density(self, raw):
        # the tiny network has 2 intersections in its 1 km cell: below 25/km2, so rural speeds
        net = build_network(raw)
        assert net.speed_kph[_edges(net)[(1, 4)]] == pytest.approx(40 * 0.85)
        assert net.meta["urban_segment_share"] == 0.0


class TestFormatsAndSources:
    def test_osm_and_pbf_give_the_same_network(self, tmp_path):
        pbf = _osm_to_pbf(TINY, tmp_path / "tiny.osm.pbf")
        a = load_network(TINY, use_cache=False, speeds=URBAN)
        b = load_network(pbf, use_cache=False, speeds=URBAN)
        _assert_same(a, b)

    def test_npz_round_trip(self, drive, tmp_path):
        path = save_network(drive, tmp_path / "net.npz")
        back = load_network(path)
        _assert_same(drive, back)
        assert_allclose(back.speed_kph, drive.speed_kph)
        assert back.meta["n_dropped_nodes"] == 3
        with pytest.raises(NetworkError, match="'walk' was requested"):
            load_network(path, mode="walk")

    def test_corrupt_saved_file_is_refused(self, drive, tmp_path):
        path = save_network(drive, tmp_path / "net.npz")
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
        with pytest.raises(NetworkError, match="net.npz"):
            load_network(path)

    def test_cache_hit_and_corrupt_cache_rebuilt(self, tmp_path, caplog):
        cache = tmp_path / "cache"
        first = load_network(TINY, cache_dir=cache)
        files = list(cache.glob("network-*.npz"))
        assert len(files) == 1
        second = load_network(TINY, cache_dir=cache)
        assert second.meta["cache"] == str(files[0])
        _assert_same(first, second)
        # another mode or speed model is another cache entry
        load_network(TINY, cache_dir=cache, mode="walk")
        assert len(list(cache.glob("network-*.npz"))) == 2
        data = bytearray(files[0].read_bytes())
        data[-200] ^= 0x01
        files[0].write_bytes(bytes(data))
        with caplog.at_level(logging.WARNING, logger="coverage.networks.io"):
            third = load_network(TINY, cache_dir=cache)
        assert "deleting it and rebuilding" in caplog.text
        _assert_same(first, third)
        assert load_network(TINY, cache_dir=cache).meta["cache"] == str(files[0])  # rebuilt cache is valid

    def test_graphml_is_osmnx_readable_and_round_trips(self, drive, tmp_path):
        import osmnx as ox

        path = save_network(drive, tmp_path / "net.graphml")
        graph = ox.load_graphml(path)
        assert graph.number_of_nodes() == drive.n_nodes and graph.number_of_edges() == drive.n_edges
        node = graph.nodes[3]
        assert node["x"] == pytest.approx(121.542) and node["y"] == pytest.approx(29.87)
        u, v, data = next((u, v, d) for u, v, d in graph.edges(data=True) if (u, v) == (3, 4))
        e = _edges(drive)[(3, 4)]
        assert data["length"] == pytest.approx(drive.length_m[e])
        assert data["travel_time"] == pytest.approx(drive.travel_time_s[e])
        assert data["oneway"] is True
        assert data["geometry"].coords[0] == pytest.approx((121.542, 29.87))
        back = load_network(path)
        assert back.mode == "drive"
        _assert_same_edges(drive, back)

    def test_osmnx_own_graphml(self, tmp_path):
        import osmnx as ox

        graph = ox.graph_from_xml(TINY, simplify=True, retain_all=False)
        path = tmp_path / "osmnx.graphml"
        ox.save_graphml(graph, path)
        net = load_network(path, speeds=URBAN, keep_largest_component=False)
        assert net.n_edges == graph.number_of_edges()
        assert np.all(net.travel_time_s > 0) and np.all(np.isfinite(net.travel_time_s))
        assert net.meta["n_edges_speed_from_model"] == net.n_edges
        # residential with maxspeed 30 -> 21 km/h (urban congestion 0.7)
        residential = net.highway == "residential"
        assert residential.any()

    def test_gpkg_layers(self, drive, tmp_path):
        import pyogrio

        path = save_network(drive, tmp_path / "net.gpkg")
        layers = {name for name, _ in pyogrio.list_layers(path)}
        assert layers == {"nodes", "edges"}
        edges = pyogrio.read_dataframe(path, layer="edges")
        assert len(edges) == drive.n_edges and edges.crs.to_epsg() == 4326
        assert_allclose(np.sort(edges["travel_time_s"].to_numpy()), np.sort(drive.travel_time_s))

    def test_bad_inputs(self, tmp_path):
        with pytest.raises(InputFileError, match="does not exist"):
            load_network(tmp_path / "missing.osm.pbf")
        junk = tmp_path / "junk.osm.pbf"
        junk.write_bytes(b"not a pbf at all" * 10)
        with pytest.raises(InputFileError, match="junk.osm.pbf"):
            load_network(junk, use_cache=False)
        other = tmp_path / "roads.shp"
        other.write_bytes(b"x")
        with pytest.raises(InputFileError, match="cannot load"):
            load_network(other)
        paths = tmp_path / "paths.osm"
        paths.write_text(
            "<?xml version='1.0'?><osm version='0.6'>"
            "<node id='1' lat='29.87' lon='121.54'/><node id='2' lat='29.871' lon='121.54'/>"
            "<way id='1'><nd ref='1'/><nd ref='2'/><tag k='highway' v='footway'/></way></osm>",
            encoding="utf-8",
        )
        with pytest.raises(NetworkError, match="no road usable for mode 'drive'"):
            load_network(paths, use_cache=False)
        with pytest.raises(InputFileError, match="graphml"):
            save_network(build_network(read_osm_file(paths), mode="walk"), tmp_path / "out.shp")

    def test_ring_without_junctions(self, tmp_path):
        ring = tmp_path / "ring.osm"
        ring.write_text(
            "<?xml version='1.0'?><osm version='0.6'>"
            "<node id='1' lat='29.870' lon='121.540'/><node id='2' lat='29.870' lon='121.541'/>"
            "<node id='3' lat='29.871' lon='121.541'/>"
            "<way id='1'><nd ref='1'/><nd ref='2'/><nd ref='3'/><nd ref='1'/>"
            "<tag k='highway' v='residential'/><tag k='junction' v='roundabout'/></way></osm>",
            encoding="utf-8",
        )
        net = load_network(ring, use_cache=False)
        assert net.n_nodes == 1 and net.n_edges == 1  # one one-way self-loop
        assert net.edge_u[0] == net.edge_v[0]
        assert np.diff(net.geom_offsets)[0] == 4


class TestDownloadPath:
    """The post-download code path, fed by osmnx from a local XML instead of Overpass."""

    def _fake(self, monkeypatch, calls):
        import osmnx as ox

        def fake(query, **kwargs):
            calls.append((query, kwargs, ox.settings.all_oneway, list(ox.settings.useful_tags_way)))
            return ox.graph_from_xml(TINY, simplify=kwargs["simplify"], retain_all=kwargs["retain_all"])

        monkeypatch.setattr(ox, "graph_from_place", fake)
        monkeypatch.setattr(ox, "graph_from_polygon", fake)

    def test_place_equals_local_file(self, monkeypatch, tmp_path):
        import osmnx as ox

        from coverage.networks.io import network_from_place

        calls: list = []
        self._fake(monkeypatch, calls)
        before = ox.settings.all_oneway
        net = network_from_place("海曙区, 宁波市", speeds=URBAN, cache_dir=tmp_path)
        assert ox.settings.all_oneway == before  # settings restored
        query, kwargs, all_oneway, tags = calls[0]
        assert query == "海曙区, 宁波市" and all_oneway is True and "maxspeed" in tags and "access" in tags
        assert kwargs["simplify"] is False and kwargs["retain_all"] is True
        _assert_same(net, load_network(TINY, speeds=URBAN, use_cache=False))
        assert net.meta["place"] == "海曙区, 宁波市"

    def test_boundary_is_buffered_in_metres(self, monkeypatch, tmp_path):
        import geopandas as gpd
        from shapely.geometry import box

        from coverage.networks.io import network_from_boundary

        calls: list = []
        self._fake(monkeypatch, calls)
        area = gpd.GeoDataFrame({"district": ["x"]}, geometry=[box(121.54, 29.87, 121.542, 29.871)], crs=4326)
        net = network_from_boundary(area, margin_m=1000.0, mode="walk", cache_dir=tmp_path)
        polygon = calls[0][0]
        projected = gpd.GeoSeries([polygon], crs=4326).to_crs(32651).iloc[0]
        core = area.to_crs(32651).iloc[0].geometry
        assert projected.area == pytest.approx(core.buffer(1000.0).area, rel=0.01)
        assert net.mode == "walk"

    def test_download_failure_is_a_network_error(self, monkeypatch, tmp_path):
        import osmnx as ox

        from coverage.networks.io import network_from_place

        def broken(*args, **kwargs):
            raise ConnectionError("no route to host")

        monkeypatch.setattr(ox, "graph_from_place", broken)
        with pytest.raises(NetworkError, match="could not download.*--osm"):
            network_from_place("Nowhere", cache_dir=tmp_path)


class TestCli:
    @pytest.fixture
    def runner(self):
        from typer.testing import CliRunner

        from coverage.cli import load_commands

        load_commands()
        return CliRunner()

    def test_network_command(self, runner, tmp_path, monkeypatch):
        from coverage.cli import app

        monkeypatch.setenv("FCOV_CACHE_DIR", str(tmp_path / "cache"))
        out = tmp_path / "net.graphml"
        result = runner.invoke(app, ["network", "--osm", str(TINY), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert "nodes\t4" in result.stdout and "edges\t7" in result.stdout and "EPSG:32651" in result.stdout
        assert out.is_file()
        assert list((tmp_path / "cache").glob("network-*.npz"))

    @pytest.mark.parametrize(
        ("args", "match"),
        [
            (["--osm", "missing.osm.pbf"], "does not exist"),
            ([], "give one of"),
            (["--osm", str(TINY), "--place", "x"], "give one of"),
        ],
    )
    def test_user_errors_exit_2(self, args, match, tmp_path, capsys):
        from coverage.cli._app import run_app
        from coverage.cli import load_commands

        load_commands()
        code = run_app(["network", *args, "--out", str(tmp_path / "x.graphml"), "--no-cache"])
        assert code == 2
        assert match in capsys.readouterr().err.replace("\n", " ")
