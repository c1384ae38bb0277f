"""Facility-type rules: the built-in table on real-style names, its order, user override files, bad files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from coverage.errors import InputFileError
from coverage.inputs.facilities import (
    BUILTIN_TYPE_RULES_PATH,
    FACILITY_TYPES,
    TypeRules,
    load_type_rules,
    normalise_facility_type,
    read_facilities,
)

BUILTIN = load_type_rules()


def _write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- names as Chinese facility lists write them

NAMES = [
    # 120 ambulance stations and centres
    ("120-黄浦站", "ems"),
    ("120黄浦站", "ems"),
    ("120黄浦分站", "ems"),
    ("１２０－黄浦站", "ems"),  # full-width digits and hyphen, as typed in Excel
    ("120 - 黄浦站", "ems"),
    ("急救站", "ems"),
    ("急救分站", "ems"),
    ("宁波市急救中心", "ems"),
    ("宁波市急救中心江北分站", "ems"),
    ("120急救", "ems"),
    ("120急救站", "ems"),
    ("黄浦区120急救站", "ems"),
    ("浦东120分站", "ems"),
    ("奉化区溪口急救点", "ems"),
    ("院前急救", "ems"),
    ("北京紧急医疗救援中心", "ems"),
    ("上海市医疗急救中心", "ems"),
    ("宁波市急救指挥中心", "ems"),
    ("宁波市第一医院急救站", "ems"),  # a station based at a hospital is a station
    ("姜山镇卫生院急救点", "ems"),
    ("EMS station", "ems"),
    ("Huangpu Ambulance Station", "ems"),
    ("北仑急救(大碶)", "ems"),
    # EMS-network hospitals and numbered hospitals are hospitals
    ("宁波市急救网络医院", "hospital"),
    ("120急救网络医院", "hospital"),
    ("解放军第120医院", "hospital"),
    # hospitals
    ("宁波市第一医院", "hospital"),
    ("宁波市人民医院", "hospital"),
    ("宁波市中医院", "hospital"),
    ("宁波市中医医院", "hospital"),
    ("浙江省中西医结合医院", "hospital"),
    ("鄞州区妇幼保健院", "hospital"),
    ("慈溪市妇幼保健计划生育服务中心", "hospital"),
    ("宁波市妇女儿童医院", "hospital"),
    ("北部战区总医院", "hospital"),
    ("宁波市第二医院华美分院", "hospital"),
    ("浙大一院之江院区", "hospital"),
    ("上海国际医学中心", "hospital"),
    ("浙江省肿瘤医院", "hospital"),
    ("上海市精神卫生中心", "hospital"),
    ("宁波市康复医院", "hospital"),
    ("宁波眼科专科医院", "hospital"),
    ("宁波市二院", "hospital"),
    ("宁波市第一医院急诊急救部", "hospital"),  # a department, not a 120 point
    ("Ningbo No.2 Hospital", "hospital"),
    ("Shanghai Mental Health Center", "hospital"),
    # community health: stations before centres
    ("海曙区白云街道社区卫生服务中心", "chc"),
    ("海曙区白云 社区卫生服务中心", "chc"),  # stray space from an export
    ("江北区庄桥街道社区卫生服务中心(庄桥卫生院)", "chc"),
    ("福田区莲花社区健康服务中心", "chc"),
    ("Baiyun Community Health Service Centre", "chc"),
    ("望春社区卫生服务站", "chs"),
    ("白云街道社区卫生服务中心望春社区卫生服务站", "chs"),
    ("南湖社区卫生站", "chs"),
    ("Wangchun Community Health Station", "chs"),
    # township health centres
    ("鄞州区姜山镇卫生院", "thc"),
    ("余姚市梁弄中心卫生院", "thc"),
    ("海曙区石碶街道卫生院", "thc"),
    ("象山县石浦镇中心卫生院分院", "thc"),
    ("长兴县人民医院医共体泗安分院", "thc"),
    ("Shipu Township Hospital", "thc"),
    ("Jiangshan Township Health Centre", "thc"),
    # village clinics and small units
    ("走马塘村卫生室", "clinic"),
    ("姜山镇卫生院走马塘村卫生室", "clinic"),
    ("大朗村卫生站", "clinic"),
    ("石碶街道卫生所", "clinic"),
    ("张三诊所", "clinic"),
    ("宁波海曙综合门诊部", "clinic"),
    ("宁波港医务室", "clinic"),
    ("江北区120号诊所", "clinic"),
    ("固生堂中医馆", "clinic"),
    ("张三口腔门诊", "clinic"),
    ("Village Clinic", "clinic"),
    # not health facilities, or not recognised
    ("瑞鹏宠物医院(鄞州店)", "other"),
    ("Happy Paws Animal Hospital", "other"),
    ("红十字会急救培训中心", "other"),
    ("宁波市疾病预防控制中心", "other"),
    ("宁波市中心血站", "other"),
    ("1203号", "other"),
    ("Room 120", "other"),
    ("中国邮政EMS营业厅", "other"),
    ("", "other"),
]


@pytest.mark.parametrize(("name", "expected"), NAMES)
def test_builtin_rules_type_real_style_names(name: str, expected: str) -> None:
    assert normalise_facility_type(name, from_name=True) == expected


TYPE_TEXTS = [
    ("综合医院", "hospital"),
    ("专科医院", "hospital"),
    ("中医医院", "hospital"),
    ("三级甲等", "hospital"),
    ("三甲", "hospital"),
    ("解放军第120医院", "hospital"),
    ("社区卫生服务中心", "chc"),
    ("CHC", "chc"),
    ("社区卫生服务站", "chs"),
    ("乡镇卫生院", "thc"),
    ("村卫生室", "clinic"),
    ("门诊部", "clinic"),
    ("120", "ems"),
    ("120站", "ems"),
    ("120急救分站", "ems"),
    ("EMS", "ems"),
    ("Ambulance", "ems"),
    ("急救", "ems"),
    ("1203", "other"),
    ("120号诊所", "clinic"),
    ("疾控中心", "other"),
    ("Other", "other"),
]


@pytest.mark.parametrize(("text", "expected"), TYPE_TEXTS)
def test_builtin_rules_type_column_texts(text: str, expected: str) -> None:
    assert normalise_facility_type(text) == expected


@pytest.mark.parametrize(
    ("text", "is_ems"),
    [
        ("120-黄浦站", True),
        ("120黄浦站", True),
        ("120急救中心", True),
        ("120", True),
        ("宁波120中心", True),
        ("1203号", False),  # a longer number
        ("11205", False),
        ("120.5", False),  # a decimal
        ("第120医院", False),  # a numbered hospital
        ("120号楼", False),  # a house number
        ("120路公交站", False),  # a bus route
        ("江北区120号诊所", False),
        ("Room 120", False),
    ],
)
def test_bare_120_only_as_a_station_prefix(text: str, is_ems: bool) -> None:
    assert (normalise_facility_type(text, from_name=True) == "ems") is is_ems


def test_type_codes_need_word_boundaries_in_type_column() -> None:
    assert normalise_facility_type("EMS/120") == "ems"
    assert normalise_facility_type("systems") == "other"  # "ems" inside a word
    assert normalise_facility_type("chs (station)") == "chs"
    assert normalise_facility_type("chcx") == "other"


# ---------------------------------------------------------------- the built-in file itself


def test_builtin_file_lists_ordered_rules_with_examples_and_notes() -> None:
    data = tomllib.loads(BUILTIN_TYPE_RULES_PATH.read_text(encoding="utf-8"))
    assert "extends" not in data
    assert len(data["rule"]) == len(BUILTIN) >= 10
    for number, rule in enumerate(BUILTIN, start=1):
        assert rule.number == number
        assert rule.facility_type in FACILITY_TYPES
        assert rule.examples, f"{rule.label} has no examples"
        assert rule.note.strip(), f"{rule.label} has no note saying why"
    assert {rule.facility_type for rule in BUILTIN} == set(FACILITY_TYPES)


def test_builtin_examples_are_typed_by_their_rule() -> None:
    # load_type_rules checks this too; asserting it here names the failing example in the test report.
    for rule in BUILTIN:
        for example in rule.examples:
            for from_name in (True, False):
                if rule.applies(from_name=from_name):
                    assert BUILTIN.classify(example, from_name=from_name) == rule.facility_type, (rule.label, example)


def test_order_matters_where_patterns_overlap() -> None:
    def first(text: str) -> int:
        rule = BUILTIN.match(text, from_name=True)
        assert rule is not None, text
        return rule.number

    # station inside a centre's name, village clinic inside a township centre's, 120 station at a hospital
    assert first("白云街道社区卫生服务中心望春社区卫生服务站") < first("白云街道社区卫生服务中心")
    assert first("姜山镇卫生院走马塘村卫生室") < first("姜山镇卫生院")
    assert first("宁波市急救中心") < first("宁波市医疗中心")
    assert first("宁波市急救网络医院") < first("宁波市急救中心")
    assert first("宁波市卫生院分院") < first("宁波市医院分院")


def test_match_says_which_rule_decided() -> None:
    rule = BUILTIN.match("120-黄浦站", from_name=True)
    assert rule is not None and rule.facility_type == "ems"
    assert rule.label.startswith(f"rule {rule.number} of facility_types.toml")
    assert BUILTIN.match("宁波市疾病预防控制中心", from_name=True) is None


def test_builtin_rules_are_loaded_once() -> None:
    assert load_type_rules() is load_type_rules(None) is BUILTIN


# ---------------------------------------------------------------- user files


EXTENDING = """
extends = true

[[rule]]
type = "ems"
contains = ["急救网络医院"]
examples = ["宁波市急救网络医院"]
note = "our plan counts 120 network hospitals as ambulance bases"

[[rule]]
type = "thc"
regex = ['医疗集团.+分院']
applies_to = "name"
examples = ["宁海县医疗集团岔路分院"]
"""


def test_extending_file_is_tried_before_the_builtin_rules(tmp_path: Path) -> None:
    rules = load_type_rules(_write(tmp_path, EXTENDING))
    assert len(rules) == len(BUILTIN) + 2
    assert rules.sources == (tmp_path / "rules.toml", BUILTIN_TYPE_RULES_PATH)
    assert rules.classify("宁波市急救网络医院", from_name=True) == "ems"  # overridden
    assert rules.classify("宁海县医疗集团岔路分院", from_name=True) == "thc"  # added
    assert rules.classify("宁海县医疗集团岔路分院") == "hospital"  # name-only rule: type column unaffected
    assert rules.classify("宁波市第一医院", from_name=True) == "hospital"  # built-in still there
    assert rules.classify("120-黄浦站", from_name=True) == "ems"
    assert BUILTIN.classify("宁波市急救网络医院", from_name=True) == "hospital"  # built-in unchanged


def test_replacing_file_uses_only_its_own_rules(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
[[rule]]
type = "ems"
contains = ["站"]
examples = ["黄浦站"]

[[rule]]
type = "hospital"
regex = ['院$']
""",
    )
    rules = load_type_rules(path)
    assert len(rules) == 2 and rules.sources == (path,)
    assert rules.classify("黄浦站", from_name=True) == "ems"
    assert rules.classify("乙卫生院", from_name=True) == "hospital"  # no thc rule any more
    assert rules.classify("社区卫生服务中心", from_name=True) == "other"
    assert rules.classify("chc") == "chc"  # type codes are always understood


def test_read_facilities_accepts_rules_object_path_or_default(tmp_path: Path) -> None:
    csv = tmp_path / "f.csv"
    csv.write_text("名称,经度,纬度\n宁波市急救网络医院,121.55,29.87\n120-黄浦站,121.50,29.80\n宁海县医疗集团岔路分院,121.4,29.3\n",
                   encoding="utf-8")
    rules_path = _write(tmp_path, EXTENDING)
    assert read_facilities(csv)["facility_type"].tolist() == ["hospital", "ems", "hospital"]
    for given in (rules_path, str(rules_path), load_type_rules(rules_path)):
        gdf = read_facilities(csv, type_rules=given)
        assert gdf["facility_type"].tolist() == ["ems", "ems", "thc"]
    assert normalise_facility_type("宁波市急救网络医院", from_name=True, type_rules=rules_path) == "ems"


def test_read_facilities_checks_rules_before_reading(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="facility type rules file .*nope.toml does not exist"):
        read_facilities(tmp_path / "missing.csv", type_rules=tmp_path / "nope.toml")


def test_user_file_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes('\ufeff[[rule]]\ntype = "clinic"\ncontains = ["医馆"]\n'.encode())
    assert load_type_rules(path).classify("张氏医馆", from_name=True) == "clinic"


def test_empty_extending_file_equals_builtin(tmp_path: Path) -> None:
    rules = load_type_rules(_write(tmp_path, "extends = true\n"))
    assert isinstance(rules, TypeRules)
    assert rules.rules == BUILTIN.rules


# ---------------------------------------------------------------- bad files


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('[[rule]]\ntype = "hopsital"\ncontains = ["医院"]\n',
         r"rule 1 \(type = 'hopsital'\): unknown type 'hopsital'; use one of hospital, chc, chs, thc, ems, clinic, other"),
        ('[[rule]]\ncontains = ["医院"]\n', r"rule 1: no `type`; add type = one of hospital"),
        ('[[rule]]\ntype = "ems"\ncontains = ["急救"]\n\n[[rule]]\ntype = "ems"\ncontains = ["站", " "]\n',
         r"rule 2 \(type = 'ems'\): contains pattern 2 is empty .*matches every text; delete it"),
        ('[[rule]]\ntype = "ems"\nregex = [""]\n', r"rule 1 \(type = 'ems'\): regex pattern 1 is empty"),
        ("[[rule]]\ntype = \"ems\"\nregex = ['120(']\n",
         r"rule 1 \(type = 'ems'\): regex '120\(' is not a valid regular expression \(missing \).*fix it \(Python `re` syntax"),
        ("[[rule]]\ntype = \"ems\"\nregex = ['站*']\n", r"regex '站\*' matches the empty string.*at least one character"),
        ("[[rule]]\ntype = \"ems\"\nregex = ['（120）']\n", r"full-width .*'（）'.*write their half-width forms"),
        ('[[rule]]\ntype = "ems"\n', r"rule 1 \(type = 'ems'\): no patterns; add contains"),
        ('[[rule]]\ntype = "ems"\ncontain = ["站"]\n', r"unknown key `contain`; did you mean `contains`\?"),
        ('[[rule]]\ntype = "ems"\ncontains = ["站"]\napplies_to = "names"\n', r'applies_to is \'names\'; write "type"'),
        ('[[rule]]\ntype = "ems"\ncontains = "站"\nexamples = [1]\n', r"`examples` is \[1\]; write a list of strings"),
        ("extends = \"yes\"\n", r"`extends` is 'yes'; write extends = true"),
        ("rules = []\n", r"unknown top-level key\(s\) 'rules'; only `extends"),
        ("# nothing\n", r"no \[\[rule\]\] tables.*set extends = true"),
        ("[[rule]\n", r"not valid TOML"),
        ('[[rule]]\ntype = "hospital"\ncontains = ["医院"]\nexamples = ["乙卫生院"]\n',
         r"rule 1 \(type = 'hospital'\): example '乙卫生院' is typed 'other' as a name \(no rule matches it\)"),
    ],
)
def test_bad_rule_files_name_file_rule_problem_and_fix(tmp_path: Path, body: str, expected: str) -> None:
    path = _write(tmp_path, body, "bad.toml")
    with pytest.raises(InputFileError, match=expected) as info:
        load_type_rules(path)
    assert str(path) in str(info.value)


def test_shadowed_example_names_the_rule_that_wins(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'extends = true\n\n[[rule]]\ntype = "thc"\ncontains = ["分院"]\n\n'
        '[[rule]]\ntype = "hospital"\ncontains = ["总院"]\nexamples = ["宁海县医疗集团总院", "宁海县医疗集团西店分院"]\n',
    )
    message = (
        "rule 2 (type = 'hospital'): example '宁海县医疗集团西店分院' is typed 'thc' as a name "
        "(rule 1 of rules.toml matches it first); move this rule before rule 1 of rules.toml"
    )
    with pytest.raises(InputFileError, match=re.escape(message)):
        load_type_rules(path)


def test_missing_file_and_undecodable_file(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match=r"absent.toml does not exist; pass an existing TOML file"):
        load_type_rules(tmp_path / "absent.toml")
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('[[rule]]\ntype = "ems"\ncontains = ["急救站"]\n'.encode("gbk"))
    with pytest.raises(InputFileError, match=r"gbk.toml: not UTF-8 text .*save it as UTF-8"):
        load_type_rules(gbk)
