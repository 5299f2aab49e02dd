"""Escalation material: validation, the printable HTML (escaped), and decisions with deadlines."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from tongpin.counselling.domain.escalation import (
    BACKGROUND_MAX,
    SUBJECT_MAX,
    Decision,
    EscalationMaterial,
    is_decision_overdue,
    render_material_html,
)

pytestmark = pytest.mark.unit

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def material(**changes: str) -> EscalationMaterial:
    fields = {
        "subject": "民警王某因无房无法结婚",
        "background": "王某入警三年，月收入较低，\n女方家庭要求婚房。",
        "actions_taken": "政工人员两次线下约谈，协调公租房未果。",
        "decision_requested": "请党委研究是否出借闲置周转房。",
    }
    return EscalationMaterial(**{**fields, **changes})


def decision(**changes: object) -> Decision:
    fields: dict[str, object] = {
        "escalation_id": "e1", "decision_code": "housing_arranged", "decided": "出借闲置周转房一套，期限两年。",
        "actor_kind": "body", "actor_id": "logistics_office", "decided_by": "cm-1", "decided_at": T0,
        "due_by": T0 + timedelta(days=30),
    }
    return Decision.model_validate({**fields, **changes})


def error_fields(exc: ValidationError) -> set[str]:
    return {str(err["loc"][0]) for err in exc.errors()}


def test_valid_material_keeps_text_exactly() -> None:
    m = material(background="  前后留白 \n 保持原样  ")
    assert m.background == "  前后留白 \n 保持原样  "


@pytest.mark.parametrize("field", ["subject", "background", "actions_taken", "decision_requested"])
@pytest.mark.parametrize("blank", ["", "   ", "\u3000\n\t", "\u200b"])
def test_blank_fields_are_refused_by_name(field: str, blank: str) -> None:
    with pytest.raises(ValidationError) as raised:
        material(**{field: blank})
    assert error_fields(raised.value) == {field}


def test_too_long_fields_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as raised:
        material(subject="字" * (SUBJECT_MAX + 1), background="x" * (BACKGROUND_MAX + 1))
    assert error_fields(raised.value) == {"subject", "background"}
    assert material(subject="字" * SUBJECT_MAX).subject == "字" * SUBJECT_MAX


def test_missing_and_unknown_fields_are_refused() -> None:
    with pytest.raises(ValidationError) as raised:
        EscalationMaterial.model_validate({"subject": "x", "background": "y", "actions_taken": "z", "extra": "!"})
    assert error_fields(raised.value) == {"decision_requested", "extra"}


def test_html_has_the_chinese_headings_and_print_css() -> None:
    page = render_material_html(material=material(), case_ref="CASE-2025-0042", prepared_at=T0)
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page
    assert '<meta charset="utf-8">' in page
    headings = re.findall(r"<h[12]>(.*?)</h[12]>", page)
    assert headings[:5] == ["上报党委材料", "事由", "基本情况", "已采取措施", "请求决定事项"]
    assert "@media print" in page
    assert "CASE-2025-0042" in page
    assert "2025-03-01" in page
    assert "王某入警三年，月收入较低，\n女方家庭要求婚房。" in page


def test_html_is_self_contained() -> None:
    page = render_material_html(material=material(), case_ref="c-1")
    assert not re.search(r"<(script|link|img|iframe)\b", page)
    assert "http://" not in page and "https://" not in page
    assert "url(" not in page


def test_all_user_text_is_escaped() -> None:
    attack = '<script>alert("x")</script>&<img src=x onerror=alert(1)>'
    m = material(subject=attack, background=attack, actions_taken=attack, decision_requested=attack)
    page = render_material_html(material=m, case_ref='"><script>1</script>', decision=decision(decided=attack))
    assert "<script" not in page
    assert "<img" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&lt;img") == 5


def test_english_headings() -> None:
    page = render_material_html(material=material(), case_ref="c-1", lang="en")
    assert '<html lang="en">' in page
    assert "<h2>Background</h2>" in page
    assert "<h2>Decision requested</h2>" in page


def test_html_shows_the_decision_or_room_for_one() -> None:
    blank = render_material_html(material=material(), case_ref="c-1")
    assert "党委意见" in blank and 'class="opinion"' in blank
    decided = render_material_html(material=material(), case_ref="c-1", decision=decision())
    assert "党委决定" in decided
    assert "出借闲置周转房一套" in decided
    assert "logistics_office" in decided and "2025-03-31" in decided


def test_decision_validation() -> None:
    assert decision().actor_kind == "body"
    assert decision(actor_kind="staff", actor_id="pw-3", due_by=None).due_by is None
    with pytest.raises(ValidationError) as raised:
        decision(due_by=T0 - timedelta(days=1))
    assert error_fields(raised.value) == {"due_by"}
    with pytest.raises(ValidationError) as raised:
        decision(decision_code="Lend Flat", actor_kind="person", decided=" ")
    assert error_fields(raised.value) == {"decision_code", "actor_kind", "decided"}


def test_is_decision_overdue() -> None:
    d = decision()
    assert d.due_by is not None
    assert not is_decision_overdue(decision=d, now=d.due_by, done=False)
    assert is_decision_overdue(decision=d, now=d.due_by + timedelta(seconds=1), done=False)
    assert not is_decision_overdue(decision=d, now=d.due_by + timedelta(days=1), done=True)
    assert not is_decision_overdue(decision=decision(due_by=None), now=T0 + timedelta(days=999), done=False)
