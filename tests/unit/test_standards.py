"""Standards data: loader validation, helpers, CLI, and every citation against the seeds."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from coverage.errors import StandardError
from coverage.standards import get_standard, load_standards, load_standards_from, standards_for_city
from tests.helpers import seeds_dir

MUST_HAVE = [
    "ningbo-2025-ems-urban",
    "ningbo-2025-ems-rural",
    "ningbo-2025-ems",
    "ningbo-2025-ems-response-000",
    "ningbo-2025-ems-response-citywide",
    "ningbo-2025-ems-ambulance-000",
    "ningbo-2025-ems-ambulance-001",
    "ningbo-2025-ems-direct-stations-000",
    "ningbo-2025-ems-direct-stations-001",
    "shaoxing-2025-ems-response",
    "shaoxing-2025-ems-ambulance",
    "haimen-2025-ems-radius",
    "cixi-2020-ems-arrival",
    "ningbo-2025-phc-15min-circle",
    "cixi-2015-phc-20min-circle",
    "ningbo-2025-phc-chc-per-street",
    "ningbo-2025-phc-thc-per-township",
    "haimen-2025-phc-chc",
    "ningbo-2025-resources",
    "shaoxing-2025-resources",
    "haimen-2025-resources",
    "cixi-2020-resources",
    "ningbo-2025-beds-by-district",
    "ningbo-2025-staff-by-district",
]

# section-H rules added after the first pass (counts, ratios and shares per unit)
MUST_HAVE_H = [
    "ningbo-2025-phc-village-clinic",
    "ningbo-2025-phc-village-clinic-quality",
    "ningbo-2025-phc-village-doctor",
    "ningbo-2025-cdc",
    "ningbo-2025-mch",
    "ningbo-2025-mch-staff",
    "ningbo-2025-blood-houses",
    "ningbo-2025-occupational",
    "ningbo-2025-mental",
    "ningbo-2025-hospice",
    "ningbo-2025-continuing-care",
    "ningbo-2025-rehab-nursing",
    "ningbo-2025-geriatric-depts",
    "ningbo-2025-tcm-hospital-grade",
    "ningbo-2025-designated-hospitals",
    "ningbo-2025-fever-clinic-ct",
    "ningbo-2025-city-hospital-density",
    "ningbo-2025-county-hospital-min",
    "ningbo-2025-tertiary-per-district-000",
    "ningbo-2025-tertiary-per-district-001",
    "ningbo-2025-staffing-by-grade",
    "ningbo-2025-ph-centre-in-hospitals",
    "ningbo-2025-health-inspectors",
    "ningbo-2025-lead-hospital-grade",
    "ningbo-2025-infectious-beds",
    "ningbo-2025-ltc-beds-65plus",
    "ningbo-2025-childcare-citywide",
    "ningbo-2025-childcare-siting",
    "ningbo-2025-immunisation-by-street",
    "shaoxing-2025-phc-village",
    "shaoxing-2025-phc-thc-capability",
    "shaoxing-2025-phc-demo",
    "shaoxing-2025-ph-physicians",
    "shaoxing-2025-blood-houses",
    "shaoxing-2025-infectious-beds",
    "shaoxing-2025-hospice",
    "shaoxing-2025-geriatric-depts",
    "shaoxing-2025-childcare",
    "haimen-2025-phc-station",
    "haimen-2025-phc-village-clinic",
    "haimen-2025-phc-thc-staff",
    "haimen-2025-phc-thc-per-town",
    "haimen-2025-community-hospitals",
    "haimen-2025-rural-regional-centre",
    "haimen-2025-psychiatrists",
    "haimen-2025-geriatric-depts",
    "haimen-2025-primary-elderly-beds",
    "haimen-2025-childcare",
    "cixi-2020-psychiatrists",
    "cixi-2020-primary-network",
]

PLAN = """
[plan]
code = "001"
file = "001_cc6f72a1cc436478.txt"
city = "testcity"
city_zh = "测试市"
title_zh = "测试规划"
title_en = "Test plan"
issued = "2022-05-18"
period = "2021-2025"
target_year = 2025
source = "001_cc6f72a1cc436478.txt:23"
quote = "测试规划"
"""

STANDARD = """
[[standard]]
id = "test-2025-ems"
category = "ems"
title_zh = "测试"
title_en = "Test"
summary = "Test standard."
binding = "not_stated"
{extra_standard}

[[standard.target]]
key = "urban_radius"
kind = "travel_distance"
value = 3.5
unit = "{unit}"
comparator = "le"
statistic = "max"
area_type = "urban"
subject = "radius"
source = "{source}"
quote = "{quote}"
{extra_target}
"""


def _write(tmp_path: Path, *, unit: str = "km", source: str = "001_cc6f72a1cc436478.txt:102",
           quote: str = "城市地区服务半径不超过3.5公里", extra_standard: str = "", extra_target: str = "",
           name: str = "a.toml", plan: str = PLAN) -> Path:  # fmt: skip
    path = tmp_path / name
    body = STANDARD.format(
        unit=unit, source=source, quote=quote, extra_standard=extra_standard, extra_target=extra_target
    )
    path.write_text(plan + body, encoding="utf-8")
    return path


# ------------------------------------------------------------------ loader validation


def test_minimal_file_loads(tmp_path: Path) -> None:
    stds = load_standards_from([_write(tmp_path)])
    target = stds["test-2025-ems"].target("urban_radius")
    assert target.value == pytest.approx(3.5)
    assert target.source == "001_cc6f72a1cc436478.txt:102"
    assert target.distance_metric == "not_stated"
    assert target.mode == "not_stated"


def test_unknown_key_names_file_and_id(tmp_path: Path) -> None:
    path = _write(tmp_path, extra_target='radious = 3')
    with pytest.raises(StandardError, match=r"a\.toml, standard 'test-2025-ems', target 'urban_radius'.*unknown key.*radious"):
        load_standards_from([path])


def test_missing_quote(tmp_path: Path) -> None:
    path = _write(tmp_path, quote="")
    with pytest.raises(StandardError, match=r"test-2025-ems.*has no quote"):
        load_standards_from([path])


def test_missing_source_key(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    text = _write(tmp_path).read_text(encoding="utf-8")
    path.write_text(text.replace('source = "001_cc6f72a1cc436478.txt:102"\n', ""), encoding="utf-8")
    with pytest.raises(StandardError, match=r"b\.toml.*missing key\(s\).*source"):
        load_standards_from([path])


def test_bad_source_format(tmp_path: Path) -> None:
    path = _write(tmp_path, source="001.txt line 102")
    with pytest.raises(StandardError, match="is not FILE:LINE"):
        load_standards_from([path])


def test_bad_unit_for_kind(tmp_path: Path) -> None:
    path = _write(tmp_path, unit="m")
    with pytest.raises(StandardError, match=r"unit 'm' does not fit kind 'travel_distance'"):
        load_standards_from([path])


def test_share_above_one_rejected(tmp_path: Path) -> None:
    text = _write(tmp_path).read_text(encoding="utf-8")
    text = text.replace('kind = "travel_distance"', 'kind = "share"').replace('unit = "km"', 'unit = "share"')
    text = text.replace("value = 3.5", "value = 40")
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StandardError, match="write shares as fractions"):
        load_standards_from([path])


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    a = _write(tmp_path, name="a.toml")
    b = _write(tmp_path, name="b.toml")
    with pytest.raises(StandardError, match=r"duplicate standard id 'test-2025-ems'"):
        load_standards_from([a, b])


def test_one_sided_conflict_rejected(tmp_path: Path) -> None:
    extra = 'conflicts = [{ id = "test-2025-ems", issue = "G1", note = "x" }]'
    other = STANDARD.format(unit="km", source="001_cc6f72a1cc436478.txt:102", quote="q", extra_standard="",
                            extra_target="").replace("test-2025-ems", "test-2025-other")  # fmt: skip
    path = _write(tmp_path, extra_standard=extra.replace("test-2025-ems", "test-2025-other"))
    path.write_text(path.read_text(encoding="utf-8") + other, encoding="utf-8")
    with pytest.raises(StandardError, match=r"not declared back in 'test-2025-other'"):
        load_standards_from([path])


def test_unknown_conflict_id(tmp_path: Path) -> None:
    path = _write(tmp_path, extra_standard='conflicts = [{ id = "test-2025-emz", issue = "G1", note = "x" }]')
    with pytest.raises(StandardError, match="unknown standard 'test-2025-emz'"):
        load_standards_from([path])


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[plan\n", encoding="utf-8")
    with pytest.raises(StandardError, match=r"bad\.toml: not valid TOML"):
        load_standards_from([path])


def test_bad_range_order(tmp_path: Path) -> None:
    text = _write(tmp_path).read_text(encoding="utf-8").replace("value = 3.5", "value = [10, 8]")
    path = tmp_path / "d.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(StandardError, match="not increasing"):
        load_standards_from([path])


def test_citation_to_undeclared_file(tmp_path: Path) -> None:
    path = _write(tmp_path, source="009_0123456789abcdef.txt:5")
    with pytest.raises(StandardError, match="names a file that no \\[plan\\] declares"):
        load_standards_from([path])


def test_value_implicit_needs_value_one_and_note(tmp_path: Path) -> None:
    text = _write(tmp_path).read_text(encoding="utf-8")
    count = text.replace('kind = "travel_distance"', 'kind = "count_per_unit"').replace('unit = "km"', 'unit = "facilities"')
    count = count.replace('statistic = "max"\n', 'per_unit = "区"\n')
    path = tmp_path / "e.toml"
    path.write_text(count.replace("value = 3.5", "value = 1\nvalue_implicit = true"), encoding="utf-8")
    with pytest.raises(StandardError, match="value_implicit without a note"):
        load_standards_from([path])
    path.write_text(count.replace("value = 3.5", 'value = 2\nvalue_implicit = true\nnote = "x"'), encoding="utf-8")
    with pytest.raises(StandardError, match="value_implicit needs value = 1"):
        load_standards_from([path])
    path.write_text(text.replace("value = 3.5", 'value = 1\nvalue_implicit = true\nnote = "x"'), encoding="utf-8")
    with pytest.raises(StandardError, match="value_implicit is not allowed for kind 'travel_distance'"):
        load_standards_from([path])
    path.write_text(count.replace("value = 3.5", 'value = 1\nvalue_implicit = true\nnote = "bare noun"'), encoding="utf-8")
    target = load_standards_from([path])["test-2025-ems"].target("urban_radius")
    assert target.value_implicit and target.value == 1


def test_unit_population_condition_validation(tmp_path: Path) -> None:
    text = _write(tmp_path).read_text(encoding="utf-8")
    path = tmp_path / "f.toml"
    path.write_text(text.replace("value = 3.5", "value = 3.5\nunit_population_threshold = 400000\nunit_population_comparator = 'gt'"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(StandardError, match="only for count_per_unit targets"):
        load_standards_from([path])
    count = text.replace('kind = "travel_distance"', 'kind = "count_per_unit"').replace('unit = "km"', 'unit = "facilities"')
    count = count.replace('statistic = "max"\n', 'per_unit = "区"\n')
    path.write_text(count.replace("value = 3.5", "value = 1\nunit_population_threshold = 400000"), encoding="utf-8")
    with pytest.raises(StandardError, match="go together"):
        load_standards_from([path])
    path.write_text(count.replace("value = 3.5", "value = 1\nunit_population_threshold = 400000\nunit_population_comparator = 'lt'"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(StandardError, match="unit_population_comparator = 'lt' is not allowed"):
        load_standards_from([path])
    path.write_text(count.replace("value = 3.5", "value = 1\nunit_population_threshold = -5\nunit_population_comparator = 'gt'"),
                    encoding="utf-8")  # fmt: skip
    with pytest.raises(StandardError, match="must be positive"):
        load_standards_from([path])


# ------------------------------------------------------------------ packaged data


def test_all_must_have_ids_present() -> None:
    stds = load_standards()
    missing = [i for i in MUST_HAVE if i not in stds]
    assert missing == []


def test_all_section_h_ids_present() -> None:
    stds = load_standards()
    missing = [i for i in MUST_HAVE_H if i not in stds]
    assert missing == []


def test_population_conditions_on_units() -> None:
    mch = get_standard("ningbo-2025-mch").target("grade2_mch_hospital_large_district")
    assert (mch.unit_population_threshold, mch.unit_population_comparator) == (400000, "gt")
    assert mch.value_implicit and mch.population_base == "resident"
    assert not mch.applies_to_unit(400000)  # 超过40万: strictly more
    assert mch.applies_to_unit(400001)
    blood = get_standard("ningbo-2025-blood-houses")
    large = blood.target("blood_houses_large_district")
    assert (large.value, large.unit_population_comparator) == (2, "ge")
    assert large.applies_to_unit(1_000_000)  # 100万以上: inclusive
    assert not large.applies_to_unit(999_999)
    base = blood.target("blood_houses_per_district")
    assert not base.is_conditional and base.applies_to_unit(0)
    with pytest.raises(StandardError, match="finite number >= 0"):
        large.applies_to_unit(float("nan"))
    village = get_standard("ningbo-2025-phc-village-clinic").target("clinic_per_large_village")
    assert (village.unit_population_threshold, village.comparator) == (1000, "ge")
    assert "only units with population > 1,000" in village.value_text()


def test_city_hospital_density_envelope() -> None:
    std = get_standard("ningbo-2025-city-hospital-density")
    low = std.target("city_run_general_min_density")
    high = std.target("city_run_general_max_density")
    assert (low.value, low.per_population, low.comparator) == (1, 2_000_000, "ge")
    assert (high.value, high.per_population, high.comparator) == (2, 1_000_000, "le")
    # G20: for 940.43万 residents the envelope is 4.7 to 18.8 hospitals
    population = 9_404_300
    assert population / low.per_population * low.value == pytest.approx(4.70215)
    assert population / high.per_population * high.value == pytest.approx(18.8086)


def test_new_ratio_and_count_targets() -> None:
    cdc = get_standard("ningbo-2025-cdc")
    assert cdc.target("cdc_staff_2025").value == pytest.approx(1.75)
    assert cdc.target("cdc_standardised_share").binding == "约束性"
    mental = get_standard("ningbo-2025-mental").target("psychiatrists")
    assert (mental.value, mental.per_population, mental.population_base) == (4.5, 100000, "resident")
    assert get_standard("haimen-2025-psychiatrists").target("psychiatrists").population_base == "not_stated"
    assert get_standard("cixi-2020-psychiatrists").target("psychiatrists").value == pytest.approx(3.8)
    inspectors = get_standard("ningbo-2025-health-inspectors").target("inspectors")
    assert inspectors.value == (0.6, 1.0)
    with pytest.raises(StandardError, match="range 0.6-1 persons"):
        inspectors.pick()
    hospice = {s: get_standard(s).target("wards_per_district") for s in ("ningbo-2025-hospice", "shaoxing-2025-hospice")}
    assert {(t.value, t.unit) for t in hospice.values()} == {(2, "wards")}
    staffing = get_standard("ningbo-2025-staffing-by-grade")
    assert [staffing.target(k).value for k in ("staff_per_bed_3a", "staff_per_bed_3b", "staff_per_bed_grade2")] == [1.25, 1.15, 1]
    centre = get_standard("haimen-2025-rural-regional-centre").target("centre_per_population")
    assert (centre.per_population, centre.comparator, centre.value_implicit) == (200000, "approx", True)
    cixi = get_standard("cixi-2020-primary-network")
    assert (cixi.target("chc_thc_count").value, cixi.target("station_village_clinic_count").value) == (22, 527)
    assert get_standard("ningbo-2025-childcare-citywide").target("childcare_places").population_base == "resident"


def test_get_standard_unknown_lists_close_matches() -> None:
    with pytest.raises(StandardError, match=r"unknown standard id 'ningbo-2025-ems-urbn'.*ningbo-2025-ems-urban"):
        get_standard("ningbo-2025-ems-urbn")


def test_ningbo_urban() -> None:
    std = get_standard("ningbo-2025-ems-urban")
    radius = std.target("urban_radius")
    assert (radius.kind, radius.value, radius.unit, radius.comparator) == ("travel_distance", 3.5, "km", "le")
    assert (radius.statistic, radius.area_type, radius.distance_metric) == ("max", "urban", "not_stated")
    assert radius.threshold_m() == pytest.approx(3500.0)
    response = std.target("urban_response")
    assert (response.value, response.unit, response.comparator, response.statistic) == (11, "min", "lt", "mean")
    assert response.statistic_label == "average"
    assert response.threshold_s() == pytest.approx(660.0)
    assert response.source == "001_cc6f72a1cc436478.txt:102"
    assert "11" in response.quote


def test_rural_alternatives_and_range_requires_choice() -> None:
    std = get_standard("ningbo-2025-ems-rural")
    groups = std.alternatives()
    assert sorted(t.key for t in groups["rural_siting"]) == ["rural_radius", "rural_stations_per_township"]
    radius = std.target("rural_radius")
    assert radius.value == (8.0, 10.0)
    with pytest.raises(StandardError, match="range 8-10 km"):
        radius.threshold_m()
    assert radius.threshold_m("low") == pytest.approx(8000.0)
    assert radius.threshold_m("high") == pytest.approx(10000.0)


def test_combined_ems_has_urban_and_rural_targets() -> None:
    std = get_standard("ningbo-2025-ems")
    urban = {t.key for t in std.coverage_targets(area_type="urban")}
    rural = {t.key for t in std.coverage_targets(area_type="rural")}
    assert urban == {"urban_radius", "urban_response"}
    assert rural == {"rural_radius", "rural_response"}
    assert {t.area_type for t in std.coverage_targets()} == {"urban", "rural"}
    # the combined standard carries the same cited targets as its parts
    assert std.target("urban_response") == get_standard("ningbo-2025-ems-urban").target("urban_response")


def test_15min_circle_mode_not_stated() -> None:
    std = get_standard("ningbo-2025-phc-15min-circle")
    (circle,) = std.coverage_targets()
    assert (circle.value, circle.unit, circle.mode, circle.statistic) == (15, "min", "not_stated", "not_stated")
    assert circle.source == "001_cc6f72a1cc436478.txt:152"


def test_ratio_targets_and_multiplier() -> None:
    amb000 = get_standard("ningbo-2025-ems-ambulance-000")
    (county,) = amb000.ratio_targets()
    assert (county.per_population, county.population_multiplier) == (30000, 3.0)
    amb001 = get_standard("ningbo-2025-ems-ambulance-001")
    assert amb001.target("urban_districts_ambulances").population_multiplier is None
    sx = get_standard("shaoxing-2025-ems-ambulance").target("ambulances")
    assert (sx.per_population, sx.population_base, sx.comparator) == (30000, "resident", "ge")
    beds = get_standard("ningbo-2025-resources").target("beds")
    assert (beds.value, beds.per_population, beds.population_base) == (6.6, 1000, "resident")
    assert get_standard("ningbo-2025-resources").target("gps").population_base == "registered"


def test_district_tables_complete() -> None:
    beds = get_standard("ningbo-2025-beds-by-district")
    assert len(beds.targets) == 11
    assert beds.target("beds_haishu").value == pytest.approx(10.05)
    staff = get_standard("ningbo-2025-staff-by-district")
    assert len(staff.targets) == 22
    assert staff.target("nurses_zhenhai").value == pytest.approx(4.70)
    assert staff.target("doctors_cixi").applies_to == "慈溪市"


def test_cixi_arrival_expected_and_mixed_binding() -> None:
    std = get_standard("cixi-2020-ems-arrival")
    assert std.binding == "预期性"
    assert [(t.area_type, t.value) for t in std.coverage_targets()] == [("urban", 10), ("rural", 20)]
    res = get_standard("cixi-2020-resources")
    assert res.binding == "mixed"
    assert res.target("doctors").binding == "约束性"
    assert res.target("beds").binding == "预期性"


def test_conflicts_exist_in_pairs() -> None:
    stds = load_standards()
    pairs = {(s.id, c.other_id, c.issue) for s in stds.values() for c in s.conflicts}
    assert pairs, "no conflicts encoded"
    for a, b, issue in pairs:
        assert (b, a, issue) in pairs, f"{a} -> {b} ({issue}) not mirrored"
    issues = {issue for _, _, issue in pairs}
    assert {"G1", "G2", "G3", "G4", "G5", "G6", "G8", "G26"} <= issues
    assert ("ningbo-2025-ltc-beds-65plus", "ningbo-2025-rehab-nursing-beds-elderly", "G26") in pairs


def test_standards_for_city() -> None:
    assert set(standards_for_city("haimen")) >= {"haimen-2025-ems-radius", "haimen-2025-resources"}
    with pytest.raises(StandardError, match="unknown city 'ningbo2'.*did you mean 'ningbo'"):
        standards_for_city("ningbo2")


# ------------------------------------------------------------------ citations against the seeds

_FULLWIDTH = str.maketrans("０１２３４５６７８９．％", "0123456789.%")
_MEASURE = "个家所辆名张床"


def _numbers_in(quote: str) -> set[float]:
    """Numbers written in a quote: plain, N万 (x10,000), N% (also /100), 一个 -> 1, 8-10 -> both ends."""
    text = unicodedata.normalize("NFKC", quote).translate(_FULLWIDTH)
    text = re.sub(rf"一(?=[{_MEASURE}])", "1", text)
    found: set[float] = set()
    # spaces may separate a number from 万 or % ("3 万"), but never join two numbers ("5.02\t5.0")
    for match in re.finditer(r"(\d+(?:\.\d+)?)\s*(万|%)?", text):
        number = float(match.group(1))
        found.add(number)
        if match.group(2) == "万":
            found.add(number * 10000)
        elif match.group(2) == "%":
            found.add(number / 100)
    # a range before 万 scales both ends: "100-200 万" is 1,000,000 to 2,000,000, "3至10万" 30,000 to 100,000
    for match in re.finditer(r"(\d+(?:\.\d+)?)\s*[-—–至]\s*\d+(?:\.\d+)?\s*万", text):
        found.add(float(match.group(1)) * 10000)
    return found


def _seed_lines(seeds: Path) -> dict[str, list[str]]:
    return {p.name: p.read_text(encoding="utf-8").split("\n") for p in sorted(seeds.glob("*.txt"))}


def test_every_citation_matches_its_seed_line() -> None:
    seeds = seeds_dir()
    lines = _seed_lines(seeds)
    checked = 0
    for std in load_standards().values():
        for cit in std.all_citations():
            assert cit.file in lines, f"{std.id}: {cit.source} names a missing seed file"
            assert 1 <= cit.line <= len(lines[cit.file]), f"{std.id}: {cit.source} is past the end of the file"
            line = lines[cit.file][cit.line - 1]
            assert cit.quote in line, f"{std.id}: quote {cit.quote!r} not on {cit.source}: {line[:200]!r}"
            checked += 1
    assert checked > 300


def test_every_target_number_appears_in_its_quote() -> None:
    seeds_dir()
    for std in load_standards().values():
        for t in std.targets:
            numbers = _numbers_in(t.quote)
            values = t.value if isinstance(t.value, tuple) else (t.value,)
            if t.value_implicit:
                # stated in words ("应设置...医院", "所有"): only a 1 may be implicit, and the reading is explained
                assert t.value == 1 and t.note, f"{std.id}/{t.key}: implicit value must be 1 with a note"
                values = ()
            if t.unit_population_threshold is not None:
                assert any(t.unit_population_threshold == pytest.approx(n) for n in numbers), (
                    f"{std.id}/{t.key}: unit population threshold {t.unit_population_threshold:g} not in {t.quote!r}"
                )
            for v in values:
                assert any(v == pytest.approx(n) for n in numbers), (
                    f"{std.id}/{t.key}: value {v:g} not in quote {t.quote!r} ({t.source})"
                )
            if t.population_multiplier is not None:
                assert any(t.population_multiplier == pytest.approx(n) for n in numbers), f"{std.id}/{t.key}"
            if t.per_population is not None and t.per_population not in (1000, 10000):
                # 每千 / 每万 are words; other denominators are written as numbers (3 万, 10 万人)
                assert any(t.per_population == pytest.approx(n) for n in numbers), f"{std.id}/{t.key}"


def test_number_normaliser() -> None:
    assert _numbers_in("每 3 万人口 1 辆") >= {3.0, 30000.0, 1.0}
    assert _numbers_in("３００％估算") >= {300.0, 3.0}
    assert _numbers_in("设置一个社区卫生服务中心") == {1.0}
    assert _numbers_in("服务半径8-10公里") == {8.0, 10.0}
    assert _numbers_in("（≥人）\t5.02\t5.0 以上") == {5.02, 5.0}
    assert _numbers_in("每 100-200 万人口设置 1-2 个") == {100.0, 200.0, 2000000.0, 1000000.0, 1.0, 2.0}
    assert _numbers_in("每3至10万居民") == {3.0, 10.0, 100000.0, 30000.0}


# ------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def cli():  # noqa: ANN201 - typer app
    from coverage.cli import app, load_commands

    load_commands()
    return app


def test_cli_show_urban(cli) -> None:  # noqa: ANN001
    result = CliRunner().invoke(cli, ["standards", "show", "ningbo-2025-ems-urban"])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "3.5 km" in out and "11 min" in out
    assert "average" in out and "maximum" in out
    assert "001_cc6f72a1cc436478.txt:102" in out
    assert "城市地区服务半径不超过3.5公里" in out
    assert "ningbo-2025-ems-response-citywide" in out


def test_cli_show_conditional_target(cli) -> None:  # noqa: ANN001
    result = CliRunner().invoke(cli, ["standards", "show", "ningbo-2025-mch", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    target = next(t for t in data["targets"] if t["key"] == "grade2_mch_hospital_large_district")
    assert target["unit_population_threshold"] == 400000 and target["unit_population_comparator"] == "gt"
    assert target["value_implicit"] is True
    text = CliRunner().invoke(cli, ["standards", "show", "ningbo-2025-blood-houses"])
    assert text.exit_code == 0 and "population ≥ 1,000,000" in text.output


def test_cli_show_circle_json(cli) -> None:  # noqa: ANN001
    result = CliRunner().invoke(cli, ["standards", "show", "ningbo-2025-phc-15min-circle", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    (target,) = data["targets"]
    assert target["mode"] == "not_stated" and target["value"] == 15
    assert target["source"] == "001_cc6f72a1cc436478.txt:152"


def test_cli_list_city_filter(cli) -> None:  # noqa: ANN001
    result = CliRunner().invoke(cli, ["standards", "list", "--city", "haimen", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows and {r["city"] for r in rows} == {"haimen"}
    table = CliRunner().invoke(cli, ["standards", "list"])
    assert table.exit_code == 0
    assert "cixi-2020-ems-arrival" in table.output
    # not a terminal: one tab-separated line per standard, so `grep` and spreadsheets can use it
    lines = table.output.splitlines()
    assert lines[0] == "id\tcity\tcategory\tsummary"
    assert len(lines) == 1 + len(json.loads(CliRunner().invoke(cli, ["standards", "list", "--json"]).output))
    assert any(line.startswith("ningbo-2025-ems-urban\tningbo\tems\t") for line in lines)


# User errors go through run_app, the real `fcov` entry point, which maps StandardError to exit 2.


def test_cli_unknown_id_exit_2(cli, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from coverage.cli._app import run_app

    assert run_app(["standards", "show", "ningbo-2025-ems-urbn"]) == 2
    err = capsys.readouterr().err
    assert "unknown standard id" in err and "ningbo-2025-ems-urban" in err


def test_cli_unknown_city_and_category_exit_2(cli, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from coverage.cli._app import run_app

    assert run_app(["standards", "list", "--city", "wuhan"]) == 2
    assert "known cities" in capsys.readouterr().err
    assert run_app(["standards", "list", "--category", "ems2"]) == 2
    assert "unknown category" in capsys.readouterr().err


def test_cli_ok_exit_0_through_run_app(cli, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    from coverage.cli._app import run_app

    assert run_app(["standards", "show", "haimen-2025-ems-radius", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [t["value"] for t in data["targets"]] == [5, 10]


def test_city_filter_accepts_chinese_names() -> None:
    from coverage.standards import standards_for_city

    assert set(standards_for_city("宁波")) == set(standards_for_city("ningbo"))
    assert set(standards_for_city("海门区")) == set(standards_for_city("haimen"))
    assert set(standards_for_city("Cixi")) == set(standards_for_city("cixi"))
