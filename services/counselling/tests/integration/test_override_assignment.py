"""An override from triage never hands a case to someone who does not work cases (pen-test finding 2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tongpin.shared.events import ConcernTriaged
from tongpin.shared.testing.services import eventually

pytestmark = pytest.mark.integration


async def test_an_override_naming_an_auditor_changes_the_case_but_not_its_assignee(counselling):
    worker = await counselling.add_staff("political_worker", name="张干事")
    auditor = await counselling.add_staff("auditor", name="孙纪检")
    concern_id = await counselling.raise_concern(assignee_id=worker["staff_id"])
    case_id = f"case-{concern_id}"
    assert (await counselling.case(case_id))["assignee_id"] == worker["staff_id"]

    await counselling.publish(ConcernTriaged(
        concern_id=concern_id, channel_id="officers-unit-01", channel_kind="officers", category="housing",
        severity="high", route="answer_online", assignee_role="political_worker", assignee_id=auditor["staff_id"],
        ruleset_version=1, triaged_at=datetime.now(UTC), overridden=True,
    ), subject=concern_id)

    async def severity_applied() -> dict | None:
        case = await counselling.case(case_id)
        return case if case["severity"] == "high" else None

    case = await eventually(severity_applied)
    assert case["assignee_id"] == worker["staff_id"]
    assert await counselling.feed(auditor["staff_id"], "auditor") == []
