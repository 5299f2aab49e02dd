"""Statistics over HTTP: the report of a period and unit (JSON or CSV), the bureau's calendar and its units."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from tongpin.oversight.api.dependencies import StatisticsRead, Stats, as_period, runtime_of, threshold_of
from tongpin.oversight.domain import statistics
from tongpin.oversight.handlers.statistics import calendar, check_unit, statistics_report
from tongpin.oversight.schemas.statistics import CalendarRead
from tongpin.shared.problems import Invalid

router = APIRouter()

STATISTICS_DOC = (
    "Months are calendar months in the bureau's time zone (`GET /statistics/calendar`). Each figure counts a "
    "fact in the month of its own business time: concerns and chatter when the concern was raised, cases when "
    "opened, resolutions when resolved, talks when booked or held, escalations when raised or decided, items "
    "when found or closed. Breakdowns add up to their totals, months to the year, units to the bureau "
    "(`unit` omitted or `*`); every breakdown by category uses the decision after the last staff override. "
    "A unit or period without data is a zero report; an unknown unit is 422. Counts below the threshold are "
    "hidden (null, named in `suppressed`), and so are enough other counts that none can be worked out from the "
    "totals, the other cells or the other units' reports (complementary suppression, decided for the period "
    "over all units at once)."
)


@router.get("/statistics/calendar", tags=["statistics"], summary="The bureau's time zone, today and its months",
            response_model=CalendarRead)
async def get_calendar(request: Request, stats: Stats, _: StatisticsRead) -> CalendarRead:
    settings = runtime_of(request).settings
    return CalendarRead.model_validate(await calendar(
        stats=stats, zone_name=settings.bureau_time_zone, zone=settings.bureau_zone))


@router.get("/statistics", tags=["statistics"], summary="Report of a period (YYYY, YYYY-Qn, YYYY-MM) and unit",
            description=STATISTICS_DOC)
async def get_statistics(
    request: Request, stats: Stats, _: StatisticsRead, period: str, unit: str | None = None,
) -> dict[str, Any]:
    scope = await check_unit(stats=stats, unit=unit)
    return await statistics_report(stats=stats, period=as_period(period), unit=scope,
                                            threshold=threshold_of(request))


@router.get("/statistics.csv", tags=["statistics"], summary="The report as CSV (every table, or one)",
            response_class=Response, description=STATISTICS_DOC)
async def get_statistics_csv(
    request: Request, stats: Stats, _: StatisticsRead, period: str, unit: str | None = None,
    table: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    scope = await check_unit(stats=stats, unit=unit)
    figures = await statistics_report(stats=stats, period=as_period(period), unit=scope,
                                               threshold=threshold_of(request))
    rows = statistics.report_rows(figures)
    if table is not None:
        rows = [row for row in rows if row["metric"].startswith(f"{table}.")]
        if not rows:
            raise Invalid("table", f"no table {table!r} in the report")
    body = statistics.to_csv(rows, columns=("metric", "value"))
    name = f"oversight-{figures['period']['key']}-{'all' if scope == statistics.ALL_UNITS else scope}.csv"
    return Response(body.encode("utf-8"), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"'})


@router.get("/statistics/units", tags=["statistics"], summary="Units that statistics can be asked for")
async def list_units(stats: Stats, _: StatisticsRead) -> dict[str, list[str]]:
    return {"units": await stats.units()}
