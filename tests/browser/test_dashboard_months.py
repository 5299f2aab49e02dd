"""Issue 12: the dashboard asks for the bureau's months, whatever the browser's clock and time zone, and says
which time zone it uses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlparse

from tongpin.shared.clock import write_clock_file

from .conftest import Stack, screenshot, sign_in_with_token

# The last evening of November in London is already the first of December at the bureau (UTC+8).
LAST_EVENING = datetime(2026, 11, 30, 18, 30, tzinfo=UTC)


def test_on_the_last_evening_of_a_month_the_dashboard_shows_the_bureaus_months(stack: Stack, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 1000}, locale="zh-CN",
                                  timezone_id="Europe/London")
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url) if "/api/oversight/statistics?" in request.url
            else None)
    write_clock_file(stack.clock_file, LAST_EVENING)
    try:
        page.clock.set_fixed_time(LAST_EVENING)
        assert page.evaluate("new Date().getMonth() + 1") == 11  # the browser still thinks it is November
        sign_in_with_token(page, stack, "auditor", name="审计员李")
        page.goto(f"{stack.url}/#/dashboard")
        page.wait_for_selector("main[data-page='dashboard'][aria-busy='false']")
        zone = page.locator("#time-zone")
        assert zone.get_attribute("data-zone") == "Asia/Shanghai"
        assert "Asia/Shanghai" in zone.inner_text() and "UTC+08:00" in zone.inner_text()
        assert "2026-12-01" in zone.inner_text()
        months = {parse_qs(urlparse(url).query)["period"][0] for url in asked}
        # The bureau's twelve months of 2026 (December included) and the year: never the browser's November.
        assert months == {"2026", *(f"2026-{m:02d}" for m in range(1, 13))}, sorted(months)
        options = page.locator("#dashboard-month option").evaluate_all("els => els.map(e => e.value)")
        assert options[-1] == "2026-12"
        screenshot(page, "dashboard-bureau-months")
        # One month's figures, chosen by the bureau's month.
        page.select_option("#dashboard-month", "2026-12")
        page.wait_for_function("location.hash.includes('month=2026-12')")
        page.wait_for_selector("main[data-page='dashboard'][aria-busy='false'] #figures-period")
        assert page.locator("#dashboard-month").input_value() == "2026-12"
    finally:
        stack.clock_file.unlink(missing_ok=True)
        context.close()
    assert not problems, problems


def test_a_hidden_time_target_count_is_never_read_as_zero(stack: Stack, page: Any) -> None:
    """When one met/missed count of the time targets is hidden, the dashboard says so instead of a rate
    computed as if the hidden count were zero; the chatter staff corrected is shown beside the concerns'."""

    def hide_one(route: Any) -> None:
        report = route.fetch().json()
        report["targets"] = {"first_response": {"met": None, "missed": 4, "rate": None},
                             "resolution": {"met": 6, "missed": 0, "rate": 1.0}}
        report["chatter"]["dismissed"], report["chatter"]["overridden"] = 20, 7
        report["suppressed"] = ["targets.first_response.met"]
        route.fulfill(json=report)

    page.route("**/api/oversight/statistics?*", hide_one)
    sign_in_with_token(page, stack, "auditor", name="审计员李")
    page.goto(f"{stack.url}/#/dashboard")
    page.wait_for_selector("main[data-page='dashboard'][aria-busy='false'] #figures-period")
    sla = page.locator("#sla")
    sla.locator(".suppressed").wait_for()
    assert sla.locator(".big-number").count() == 0  # 6 of 10 would be 60%: not what happened
    assert "%" not in sla.inner_text()
    rows = [row.split("\t") for row in page.locator("#figures tbody tr").all_inner_texts()]
    chatter = [cells[-1].strip() for cells in rows if "闲聊" in cells[0]]
    assert chatter == ["20", "7"], rows
