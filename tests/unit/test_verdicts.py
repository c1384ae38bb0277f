"""The district verdict of the grid (report, map popups, fcov serve) equals the coverage table's `passes`."""

from __future__ import annotations

import pandas as pd
import pytest

from coverage.verdicts import GRID_COLUMNS, failure_texts, overview_table


def _row(district: str, target: str, status: str, group: str = "", group_status: str = "") -> dict[str, object]:
    row = dict.fromkeys(GRID_COLUMNS, None)
    row.update(district_id=district, district=district, target=target, label=target, status=status,
               explanation_zh=f"{target} 说明", explanation_en=f"{target} text", alternative_group=group,
               group_status=group_status)
    return row


def test_a_target_met_by_its_alternative_does_not_fail_the_district() -> None:
    grid = pd.DataFrame([
        # rural radius fails, but one station per township (same alternative group) passes
        _row("南镇", "rural_radius", "fail", "rural_access", "pass"),
        _row("南镇", "stations_per_township", "pass", "rural_access", "pass"),
        _row("南镇", "rural_mean", "pass"),
        # neither member of the group passes
        _row("北镇", "rural_radius", "fail", "rural_access", "fail"),
        _row("北镇", "stations_per_township", "fail", "rural_access", "fail"),
        _row("北镇", "rural_mean", "pass"),
    ], columns=list(GRID_COLUMNS))
    verdicts = failure_texts(grid).set_index("district")
    assert verdicts.loc["南镇", "verdict"] == "pass" and verdicts.loc["南镇", "fails_en"] == ""
    assert verdicts.loc["北镇", "verdict"] == "fail"
    assert "rural_radius" in verdicts.loc["北镇", "fails_en"] and "stations_per_township" in verdicts.loc["北镇", "fails_en"]
    cells, status = overview_table(grid)
    met = cells.set_index("区县 district").loc["南镇", "rural_radius"]
    assert met.startswith("✓") and "alternative" in met
    assert status.iloc[0]["rural_radius"] == "pass" and status.iloc[1]["rural_radius"] == "fail"


@pytest.mark.slow
def test_grid_verdicts_equal_the_tables_passes_before_and_after_the_demo_proposal() -> None:
    from coverage.config import load_config
    from coverage.study import Study
    from coverage.verdicts import verdict_grid
    from tests.helpers import REPO_ROOT

    config = load_config(REPO_ROOT / "configs" / "demo.toml")
    study = Study.from_config(config)
    check = study.check_stations(config.check_stations)
    for result in (check.before, check.after):
        assert result is not None
        table = result.table()
        table = table[table["district_id"].astype(str) != "TOTAL"].set_index("district")
        verdicts = failure_texts(verdict_grid(result)).set_index("district")
        for district, passes in table["passes"].items():
            expected = "n/a" if passes is None else ("pass" if passes else "fail")
            assert verdicts.loc[district, "verdict"] == expected, district
    after = check.districts.set_index("district")
    for district, verdict in failure_texts(verdict_grid(check.after)).set_index("district")["verdict"].items():
        if district in after.index:
            assert (verdict == "pass") == bool(after.loc[district, "pass_after"]), district
