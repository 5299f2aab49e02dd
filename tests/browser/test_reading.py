"""The reading list and the queue in Debian's Chromium: every message read by a person, crises first."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from .conftest import Stack, screenshot, sign_in_with_token

pytestmark = pytest.mark.browser

ORDINARY = "这个月连着值了六个夜班，孩子开家长会也去不了，有点扛不住。"
CRISIS = "他这两天把自己的东西都分给了同事，还跟我说以后别等他吃饭了"
LATER = "单位食堂晚上能不能多留一个窗口，夜班回来都没饭吃"


def _post(stack: Stack, text: str, channel_kind: str) -> str:
    channel_id = f"{channel_kind}-read-{stack.run_id}"
    coordinator = {"Authorization": f"Bearer {stack.token('centre_coordinator')}"}
    with stack.api("intake") as client:
        created = client.post("/channels", headers=coordinator, json={
            "id": channel_id, "kind": channel_kind, "name": channel_id, "external_group_id": f"grp-{channel_id}"})
        assert created.status_code in (201, 409), created.text
        answer = client.post("/messages", headers={"X-API-Key": stack.bridge_key}, json={
            "channel_id": channel_id, "channel_kind": channel_kind, "anonymous": True,
            "source_message_id": f"read-{uuid.uuid4().hex}", "text": text, "sent_at": datetime.now(UTC).isoformat()})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _listed(stack: Stack, concern_id: str, **query: Any) -> dict[str, Any]:
    worker = {"Authorization": f"Bearer {stack.token('political_worker')}"}
    deadline = time.monotonic() + 30
    with stack.api("intake") as client:
        while time.monotonic() < deadline:
            page = client.get("/reading", headers=worker, params={"status": "all", "limit": 200, **query}).json()
            found = [i for i in page["items"] if i["concern_id"] == concern_id]
            if found:
                return found[0]
            time.sleep(0.3)
    pytest.fail(f"{concern_id} never reached the reading list")


def test_reading_list_shows_text_records_reads_and_flags_overdue(stack: Stack, page: Any) -> None:
    ordinary = _post(stack, ORDINARY, "officers")
    crisis = _post(stack, CRISIS, "families")
    assert _listed(stack, ordinary)["status"] == "unread"
    assert _listed(stack, crisis)["crisis"] is True
    # The browser stack's crisis target is a few seconds (see conftest): wait until it is overdue.
    deadline = time.monotonic() + 30
    while not _listed(stack, crisis)["overdue"] and time.monotonic() < deadline:
        time.sleep(0.5)

    sign_in_with_token(page, stack, "political_worker", name="张干事", sub="pw-reader")
    page.goto(f"{stack.url}/#/reading")
    page.wait_for_selector(f"main[data-page='reading'][aria-busy='false'] tr[data-concern='{crisis}']")
    assert page.locator("main h1").inner_text() == "待阅消息"
    rows = page.locator("tr[data-concern]").evaluate_all("rows => rows.map(r => r.dataset.crisis)")
    assert rows.index("true") < rows.index("false"), "crises come first"
    crisis_row = page.locator(f"tr[data-concern='{crisis}']")
    assert CRISIS in crisis_row.inner_text() and crisis_row.get_attribute("data-overdue") == "true"
    assert "超时" in crisis_row.inner_text()
    assert ORDINARY in page.locator(f"tr[data-concern='{ordinary}']").inner_text()
    assert "未读" in page.locator("#reading-counts").inner_text()
    screenshot(page, "reading-list")

    page.locator(f"tr[data-concern='{ordinary}'] button.mark-read").click()
    page.wait_for_selector("#notice:text('已记录您的阅读')")
    page.wait_for_selector(f"tr[data-concern='{ordinary}']", state="detached")
    entry = _listed(stack, ordinary)
    assert entry["status"] == "read" and entry["reads"][0]["staff_id"] == "pw-reader"
    assert entry["within_target"] is True
    page.goto(f"{stack.url}/#/reading?status=read")
    page.wait_for_selector(f"main[data-page='reading'][aria-busy='false'] tr[data-concern='{ordinary}']")
    assert "张干事" in page.locator(f"tr[data-concern='{ordinary}']").inner_text()
    screenshot(page, "reading-list-read")
    assert not page.problems, page.problems


def test_a_message_raised_to_crisis_from_the_reading_list_leads_the_queue(stack: Stack, page: Any) -> None:
    later = _post(stack, LATER, "officers")
    assert _listed(stack, later)["crisis"] is False
    sign_in_with_token(page, stack, "centre_coordinator", name="李主任", sub="coord-raise")
    page.goto(f"{stack.url}/#/reading")
    row = page.locator(f"tr[data-concern='{later}']")
    page.wait_for_selector(f"main[data-page='reading'][aria-busy='false'] tr[data-concern='{later}']")
    row.locator("summary").click()
    row.get_by_label("升为危机的理由（必填）").fill("电话回访时发现其情绪极差，有轻生念头。")
    screenshot(page, "reading-raise-form")
    row.get_by_role("button", name="升为危机").click()
    page.wait_for_selector("#notice:text('已升为危机')")
    deadline = time.monotonic() + 30
    while not _listed(stack, later)["crisis"] and time.monotonic() < deadline:
        time.sleep(0.3)
    assert _listed(stack, later)["target"] == "crisis"

    page.goto(f"{stack.url}/#/queue")
    page.wait_for_selector(f"main[data-page='queue'][aria-busy='false'] tr[data-concern='{later}']")
    crises = page.locator("tr[data-concern]").evaluate_all("rows => rows.map(r => r.dataset.crisis)")
    assert crises == sorted(crises, reverse=True), "crises lead the queue"
    queue_row = page.locator(f"tr[data-concern='{later}']")
    assert queue_row.get_attribute("data-crisis") == "true"
    assert LATER[:20] in queue_row.inner_text(), "the preview shows the start of the text"
    screenshot(page, "queue-preview-crisis-first")
    assert not page.problems, page.problems


def test_admin_sees_the_queue_without_text(stack: Stack, page: Any) -> None:
    concern_id = _post(stack, ORDINARY + "（管理员视图）", "officers")
    _listed(stack, concern_id)
    sign_in_with_token(page, stack, "admin", name="系统管理员")
    page.goto(f"{stack.url}/#/queue")
    page.wait_for_selector(f"main[data-page='queue'][aria-busy='false'] tr[data-concern='{concern_id}']")
    assert ORDINARY not in page.locator("main").inner_text()
    assert page.locator("#nav a[data-route='reading']").count() == 0
    assert not page.problems, page.problems
