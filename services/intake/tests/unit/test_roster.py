"""Roster import: CSV and JSON rows, rules, and the errors a person can act on."""

from __future__ import annotations

from datetime import date

import pytest

from tongpin.intake.domain.roster import RosterRow, RowError, parse_roster_csv, validate_rows

pytestmark = pytest.mark.unit

ENGLISH = (
    "external_id,name,member_kind,unit,linked_officer_external_id,supervisor_kind,active,since\n"
    "P1001,张伟,officer,chengguan_ps,,,true,2024-01-01\n"
    "A2001,李娜,auxiliary,traffic_brigade,,,,\n"
    "F3001,王芳,family,,P1001,,yes,2024/03/05\n"
    "S4001,赵敏,supervisor,,,npc_deputy,,\n"
)


def test_english_csv_parses_every_kind() -> None:
    rows, errors = parse_roster_csv(ENGLISH.encode())
    assert errors == []
    assert [r.external_id for r in rows] == ["P1001", "A2001", "F3001", "S4001"]
    officer, auxiliary, family, supervisor = rows
    assert officer == RosterRow(
        external_id="P1001", name="张伟", member_kind="officer", unit="chengguan_ps", active=True,
        since=date(2024, 1, 1),
    )
    assert auxiliary.unit == "traffic_brigade" and auxiliary.active is True and auxiliary.since is None
    assert family.linked_officer_external_id == "P1001" and family.since == date(2024, 3, 5)
    assert supervisor.supervisor_kind == "npc_deputy"
    assert [r.channel_kind for r in rows] == ["officers", "officers", "families", "supervision"]


def test_chinese_headers_values_and_bom() -> None:
    csv_text = (
        "工号,姓名,类别,单位,关联民警,监督类别,是否在册,入册日期\r\n"
        "P1001,张伟,民警,chengguan_ps,,,是,2024年1月2日\r\n"
        "A2001,欧阳·娜娜,辅警,chengguan_ps,,,否,\r\n"
        "F3001,王芳,家属,,P1001,,,\r\n"
        "S4001,赵敏,监督员,,,政协委员,,\r\n"
        "S4002,钱老师,社会监督员,,,社会人士,,\r\n"
    )
    rows, errors = parse_roster_csv(b"\xef\xbb\xbf" + csv_text.encode())
    assert errors == []
    assert [(r.member_kind, r.name) for r in rows] == [
        ("officer", "张伟"), ("auxiliary", "欧阳·娜娜"), ("family", "王芳"), ("supervisor", "赵敏"),
        ("supervisor", "钱老师"),
    ]
    assert rows[0].since == date(2024, 1, 2)
    assert rows[1].active is False
    assert rows[3].supervisor_kind == "cppcc_member"
    assert rows[4].supervisor_kind == "community_figure"


def test_bad_rows_are_reported_and_good_rows_kept() -> None:
    csv_text = (
        "external_id,name,member_kind,unit,linked_officer_external_id,supervisor_kind,active,since\n"
        "P1,张一,officer,unit_a,,,,\n"                 # 2 good
        "P2,张二,officer,,,,,\n"                       # 3 officer without unit
        "F1,家属一,family,,,,,\n"                      # 4 family without link
        "X1,某人,visitor,,,,,\n"                       # 5 unknown kind
        "S1,监督一,supervisor,,,mayor,,\n"             # 6 unknown supervisor kind
        "S2,监督二,supervisor,,,,,\n"                  # 7 supervisor without kind
        "P3,张三,officer,unit_a,,,maybe,\n"            # 8 bad bool
        "P4,张四,officer,unit_a,,,,2024-02-30\n"       # 9 impossible date
        "P 5,张五,officer,unit_a,,,,\n"                # 10 space in id
        "P6,,officer,unit_a,,,,\n"                     # 11 no name
        "P1,张一重复,officer,unit_a,,,,\n"             # 12 duplicate of row 2
        "P7,张七,officer,城关派出所,,,,\n"             # 13 unit must be a code
        "A1,辅一,auxiliary,unit_b,,npc_deputy,,\n"    # 14 supervisor kind on an auxiliary
        "F2,家属二,family,,P1,,,\n"                    # 15 good
    )
    rows, errors = parse_roster_csv(csv_text.encode())
    assert [r.external_id for r in rows] == ["P1", "F2"]
    by_row = {e.row: e for e in errors}
    assert sorted(e.row or 0 for e in errors) == list(range(3, 15))
    assert len(errors) == 12
    assert by_row[3] == RowError(3, "unit", "an officer or auxiliary must have a unit")
    assert by_row[4] == RowError(4, "linked_officer_external_id", "a family member must be linked to an officer")
    assert by_row[5].field == "member_kind" and "民警" in by_row[5].reason
    assert by_row[6].field == "supervisor_kind"
    assert by_row[7] == RowError(7, "supervisor_kind", "a supervisor must have a supervisor kind")
    assert by_row[8].field == "active"
    assert by_row[9].field == "since"
    assert by_row[10].field == "external_id"
    assert by_row[11].field == "name"
    assert by_row[12] == RowError(12, "external_id", "duplicate of row 2")
    assert by_row[13].field == "unit" and "code" in by_row[13].reason
    assert by_row[14] == RowError(14, "supervisor_kind", "only a supervisor has a supervisor kind")


def test_invalid_utf8_is_one_error_for_the_file_with_its_offset() -> None:
    data = b"external_id,name,member_kind,unit\nP1," + "张伟".encode("gbk") + b",officer,u\n"
    rows, errors = parse_roster_csv(data)
    assert rows == []
    assert len(errors) == 1
    assert errors[0].row is None
    assert "UTF-8" in errors[0].reason
    assert "byte offset 37" in errors[0].reason


def test_offset_counts_the_bom() -> None:
    _, errors = parse_roster_csv(b"\xef\xbb\xbfab\xff")
    assert "byte offset 5" in errors[0].reason


def test_utf16_file_is_named_as_such() -> None:
    _, errors = parse_roster_csv("工号,姓名,类别\n".encode("utf-16"))
    assert len(errors) == 1 and "UTF-16" in errors[0].reason


def test_missing_required_column_stops_with_header_errors() -> None:
    rows, errors = parse_roster_csv("工号,单位\nP1,unit_a\n".encode())
    assert rows == []
    assert {(e.row, e.field) for e in errors} == {(1, "name"), (1, "member_kind")}


def test_unknown_and_repeated_columns_are_reported_but_rows_still_parse() -> None:
    csv_text = "external_id,name,member_kind,unit,phone,姓名\nP1,张伟,officer,u1,138,张伟\n"
    rows, errors = parse_roster_csv(csv_text.encode())
    assert [r.external_id for r in rows] == ["P1"]
    assert RowError(1, "phone", "unknown column") in errors
    assert any(e.field == "姓名" and "twice" in e.reason for e in errors)


def test_blank_lines_are_skipped_and_row_numbers_stay_true() -> None:
    csv_text = "external_id,name,member_kind,unit\n\nP1,张伟,officer,u1\n,,,\nP2,李四,officer,\n"
    rows, errors = parse_roster_csv(csv_text.encode())
    assert [r.external_id for r in rows] == ["P1"]
    assert errors == [RowError(5, "unit", "an officer or auxiliary must have a unit")]


def test_extra_cells_and_short_rows() -> None:
    csv_text = "external_id,name,member_kind,unit\nP1,张伟,officer,u1,surplus\nP2,李四,officer\nP3,王五,officer,u1,\n"
    rows, errors = parse_roster_csv(csv_text.encode())
    assert [r.external_id for r in rows] == ["P3"]
    assert errors == [
        RowError(2, None, "row has more cells than the header"),
        RowError(3, "unit", "an officer or auxiliary must have a unit"),
    ]


def test_quoted_cells_with_commas_and_newlines() -> None:
    csv_text = 'external_id,name,member_kind,unit\nP1,"张,伟",officer,u1\nP2,"李\n四",officer,u1\nP3,王五,officer,\n'
    rows, errors = parse_roster_csv(csv_text.encode())
    assert [r.name for r in rows] == ["张,伟", "李\n四"]
    # P3 starts on physical line 5 but is the 4th record: spreadsheets show it as row 4.
    assert errors == [RowError(4, "unit", "an officer or auxiliary must have a unit")]


def test_empty_file_and_header_only() -> None:
    assert parse_roster_csv(b"") == ([], [RowError(None, None, "file is empty")])
    assert parse_roster_csv(b"external_id,name,member_kind\n") == ([], [])


def test_family_link_must_name_an_officer() -> None:
    csv_text = (
        "external_id,name,member_kind,unit,linked_officer_external_id,supervisor_kind\n"
        "S1,监督,supervisor,,,npc_deputy\n"
        "F1,家属一,family,,S1,\n"        # linked to a supervisor
        "F2,家属二,family,,P999,\n"      # unknown officer, known set given
        "F3,家属三,family,,P100,\n"      # known officer in the existing roster
        "F4,家属四,family,,F4,\n"        # linked to themselves
    )
    rows, errors = parse_roster_csv(csv_text.encode(), known_officer_ids={"P100"})
    assert [r.external_id for r in rows] == ["S1", "F3"]
    assert [(e.row, e.field) for e in errors] == [
        (3, "linked_officer_external_id"), (4, "linked_officer_external_id"), (6, "linked_officer_external_id"),
    ]
    # Without a known set, links outside the file cannot be checked and are accepted.
    rows, _ = parse_roster_csv(csv_text.encode())
    assert "F2" in [r.external_id for r in rows]


def test_max_rows() -> None:
    csv_text = "external_id,name,member_kind,unit\n" + "".join(f"P{i},名{i},officer,u\n" for i in range(5))
    rows, errors = parse_roster_csv(csv_text.encode(), max_rows=3)
    assert len(rows) == 3
    assert errors == [RowError(None, None, "file has more than 3 rows")]


def test_broken_quote_is_reported() -> None:
    csv_text = 'external_id,name,member_kind,unit\nP1,张伟,officer,u1\nP2,"李"四,officer,u1\n'
    rows, errors = parse_roster_csv(csv_text.encode())
    assert [r.external_id for r in rows] == ["P1"]
    assert len(errors) == 1 and errors[0].row == 3 and "CSV" in errors[0].reason


# --- JSON bulk API ------------------------------------------------------------------------------


def test_validate_rows_for_json() -> None:
    rows, errors = validate_rows(
        [
            {"external_id": "P1", "name": "张伟 👮", "member_kind": "officer", "unit": "u1", "since": "2024-05-01"},
            {"external_id": "F1", "name": "王芳", "member_kind": "family", "linked_officer_external_id": "P1"},
            {"external_id": "S1", "name": "赵敏", "member_kind": "supervisor", "supervisor_kind": "cppcc_member",
             "active": False},
            {"external_id": "P1", "name": "again", "member_kind": "officer", "unit": "u1"},
            {"external_id": "X", "name": "x", "member_kind": "officer", "unit": "u1", "colour": "red"},
            {"name": "无工号", "member_kind": "family", "linked_officer_external_id": "P1"},
            "not an object",
        ]
    )
    assert [r.external_id for r in rows] == ["P1", "F1", "S1"]
    assert rows[0].name == "张伟 👮" and rows[0].since == date(2024, 5, 1)
    assert rows[2].active is False
    assert errors == [
        RowError(4, "external_id", "duplicate of row 1"),
        RowError(5, "colour", "is not a roster field"),
        RowError(6, "external_id", "is required"),
        RowError(7, None, "must be an object"),
    ]


def test_validate_rows_reports_every_problem_of_a_row() -> None:
    _, errors = validate_rows([{"external_id": "", "name": "", "member_kind": "officer", "unit": "u"}])
    assert {e.field for e in errors} == {"external_id", "name"}
    assert all(e.row == 1 for e in errors)
