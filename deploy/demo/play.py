"""Play a bureau's year against the running system and print its oversight report (`make demo`).

    uv run --no-sync python deploy/demo/play.py              # the source's year (seed 2017)
    uv run --no-sync python deploy/demo/play.py --if-empty   # only on a system with no data yet (make up)
    uv run --no-sync python deploy/demo/play.py --seed 5 --small

Everything goes through the services' public REST APIs. The bridge uses the first machine key of
TONGPIN_API_KEYS (the environment `deploy/local/demo.sh` loads from .run/secrets.env). The first admin
account is made once with counselling's create-admin command; its password and the demo staff's password
are kept in .run/demo.env (mode 600). Playing the same seed again changes nothing.

The year (by default the last full one) is played on a simulated clock: the services must have been
started with TONGPIN_CLOCK_FILE (deploy/local/services.sh does so), and the player writes each step's
moment into that file before acting, then removes it, so the services run on the real clock again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from player import STAFF, Credentials, FileHand, Player, PlayError, Services, differences
from scenario import BUREAU_TZ, Params, plan_year, source_year

ROOT = Path(__file__).resolve().parents[2]
ADMIN_USERNAME = "demo-admin"


def _n(value: int | None) -> str:
    """A count, or — where the report hides it (below the suppression threshold)."""
    return "—" if value is None else str(value)


def _percent(ratio: float | None) -> str:
    return "—" if ratio is None else f"{ratio * 100:.1f}".rstrip("0").rstrip(".") + "%"


def _demo_env(run_dir: Path) -> dict[str, str]:
    """The demo's own passwords, made once per checkout and never committed."""
    path = run_dir / "demo.env"
    if not path.exists():
        run_dir.mkdir(parents=True, exist_ok=True)
        values = {"DEMO_ADMIN_USERNAME": ADMIN_USERNAME, "DEMO_ADMIN_PASSWORD": secrets.token_urlsafe(18),
                  "DEMO_STAFF_PASSWORD": secrets.token_urlsafe(12)}
        path.write_text("".join(f"{k}={v}\n" for k, v in values.items()), encoding="utf-8")
        path.chmod(0o600)
    pairs = (line.split("=", 1) for line in path.read_text(encoding="utf-8").splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def _system_headers() -> dict[str, str]:
    keys = json.loads(os.environ.get("TONGPIN_API_KEYS") or "[]")
    if not keys:
        raise SystemExit("TONGPIN_API_KEYS is empty: run through deploy/local/demo.sh (it loads .run/secrets.env)")
    return {"X-API-Key": str(keys[0]).split(":", 1)[1]}


async def _admin_headers(counselling: httpx.AsyncClient, env: dict[str, str]) -> dict[str, str]:
    """Log in as the demo admin, creating the account first (counselling's create-admin command) if needed."""
    form = {"username": env["DEMO_ADMIN_USERNAME"], "password": env["DEMO_ADMIN_PASSWORD"]}
    response = await counselling.post("/auth/token", data=form)
    if response.status_code != 200:
        made = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tongpin.counselling.admin", "create-admin", "--username", form["username"],
            "--name", "演示管理员", env={**os.environ, "TONGPIN_ADMIN_PASSWORD": form["password"]},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        _, stderr = await made.communicate()
        if made.returncode != 0:
            raise SystemExit(f"could not create the demo admin: {stderr.decode(errors='replace').strip()[-500:]}")
        response = await counselling.post("/auth/token", data=form)
    if response.status_code != 200:
        raise SystemExit(f"the demo admin cannot log in ({response.status_code}); is .run/demo.env from another "
                         "database? Remove it together with the data, or fix the password.")
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


MONTH_COLUMNS = (
    ("concerns", lambda r: r["concerns"]["total"]), ("chatter", lambda r: r["chatter"]["dismissed"]),
    ("cases", lambda r: r["cases"]["opened"]), ("online", lambda r: r["cases"]["resolved"]["answered_online"]),
    ("offline", lambda r: r["cases"]["resolved"]["resolved_offline"]),
    ("committee", lambda r: r["cases"]["resolved"]["by_committee"]), ("talks", lambda r: r["talks"]["held"]),
    ("escalated", lambda r: r["escalations"]["raised"]), ("found", lambda r: r["oversight"]["found"]),
    ("closed", lambda r: r["oversight"]["resolved"]),
)


def print_months(months: list[tuple[str, dict[str, Any]]], year: dict[str, Any]) -> None:
    """The year month by month, as the dashboard asks for it (bureau months); the last row adds them up."""
    print("  month     " + "".join(f"{name:>10}" for name, _ in MONTH_COLUMNS))
    for key, report in [*months, ("year", year)]:
        cells = [get(report) for _, get in MONTH_COLUMNS]
        print(f"  {key:<9} " + "".join(f"{'—' if v is None else v:>10}" for v in cells))


def print_report(report: dict[str, Any], public: dict[str, Any], *, period: str) -> None:
    part, cases, concerns = report["participation"], report["cases"], report["concerns"]
    resolved = cases["resolved"]
    lines = [
        f"同频 Tongpin — 监督报告 oversight report, period {period} (GET /statistics?period={period})",
        "",
        f"  民警、辅警进群 officers and auxiliaries joined   {_n(part['officers']['joined']):>4} / "
        f"{_n(part['officers']['roster']):<4} {_percent(part['officers']['ratio'])}",
        f"  家属进群 families joined                      {_n(part['families']['joined']):>4} / "
        f"{_n(part['families']['roster']):<4} {_percent(part['families']['ratio'])}",
        f"  社会监督员进群 supervisors joined              {_n(part['supervision']['joined']):>4} / "
        f"{_n(part['supervision']['roster']):<4} {_percent(part['supervision']['ratio'])}",
        f"  线上引导解答 answered online                   {_n(resolved['answered_online']):>4}",
        f"  线下解决 resolved offline                      {_n(resolved['resolved_offline']):>4}",
        f"  党委研究解决 resolved by the committee         {_n(resolved['by_committee']):>4}",
        f"  家属群、监督群发现问题 found / resolved        {_n(public['found']):>4} / {_n(public['resolved'])}"
        f"   (public: GET /public/oversight?period={period})",
        "",
        f"  messages: {_n(concerns['total'])} concerns, {_n(report['chatter']['dismissed'])} chatter; "
        f"{_n(concerns['crisis'])} crises; {_n(concerns['overridden'])} triage decisions corrected by staff",
        f"  cases: {_n(cases['opened'])} opened, {_n(resolved['total'])} resolved; talks (约谈) held: "
        f"{_n(report['talks']['held'])}; escalations to the committee: {_n(report['escalations']['raised'])} raised, "
        f"{_n(report['escalations']['decided'])} decided",
    ]
    print("\n".join(lines))


async def _services_read(hand: FileHand, oversight: httpx.AsyncClient, admin: dict[str, str], *, at: datetime) -> bool:
    """Whether the services read the demo clock: set it, and ask oversight what time it is."""
    await hand.set(at)
    answer = await oversight.get("/statistics/calendar", headers=admin)
    if answer.status_code == 200 and datetime.fromisoformat(answer.json()["now"]) == at.astimezone(UTC):
        return True
    await hand.release()
    return False


async def main_async(args: argparse.Namespace) -> int:
    run_dir = Path(args.run_dir)
    env = _demo_env(run_dir)
    timeout = httpx.Timeout(60.0)
    async with (httpx.AsyncClient(base_url=args.intake, timeout=timeout) as intake,
                httpx.AsyncClient(base_url=args.triage, timeout=timeout) as triage,
                httpx.AsyncClient(base_url=args.counselling, timeout=timeout) as counselling,
                httpx.AsyncClient(base_url=args.oversight, timeout=timeout) as oversight):
        admin = await _admin_headers(counselling, env)
        if args.if_empty:
            channels = (await intake.get("/channels", headers=admin)).json().get("items", [])
            if channels:
                print(f"the system already holds data ({len(channels)} channels): the demo year is not loaded")
                return 0
        params: Params = source_year(year=args.year) if not args.small else Params(year=args.year)
        plan = plan_year(params, seed=args.seed)
        services = Services(intake=intake, triage=triage, counselling=counselling, oversight=oversight)
        credentials = Credentials(admin=admin, system=_system_headers(), staff_password=env["DEMO_STAFF_PASSWORD"])
        hand = FileHand(Path(args.clock_file))
        if not await _services_read(hand, oversight, admin, at=datetime(plan.year, 1, 1, 9, tzinfo=BUREAU_TZ)):
            print(f"the services do not read the demo clock {args.clock_file}: start them with "
                  f"TONGPIN_CLOCK_FILE={args.clock_file} (deploy/local/services.sh does)", file=sys.stderr)
            return 1
        player = Player(plan, services, credentials, clock=hand, concurrency=args.concurrency, log=print,
                        timeout=args.timeout)
        try:
            report = await player.play()
        except PlayError as exc:
            print(f"the year could not be played: {exc}", file=sys.stderr)
            return 1
        public = await player.public_figures()
        print()
        print_report(report, public, period=plan.period)
        print()
        print(f"Month by month (GET /statistics?period={plan.year}-MM; months of the bureau's time zone; "
              "— is a count hidden below the threshold):")
        months = [(f"{plan.year}-{m:02d}", await player.report(f"{plan.year}-{m:02d}")) for m in range(1, 13)]
        print_months(months, report)
        print()
        print(f"Played on a simulated clock: every message, triage decision, case, talk, escalation, resolution "
              f"and oversight item carries the day it would have happened in {plan.year}; the services are back "
              "on the real clock now.")
        print(f"Staff accounts: {', '.join(u for u, *_ in STAFF)}; password DEMO_STAFF_PASSWORD in "
              f"{run_dir / 'demo.env'}.")
        print(f"played in {player.outcome.seconds:.1f} s")
        wrong = differences(report, plan.expected)
        if wrong:
            print("\nThe report differs from what this year put in (other data in the system?):", file=sys.stderr)
            for line in wrong[:20]:
                print(f"  {line}", file=sys.stderr)
            return 1
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=2017, help="which year to play (default 2017, the source's)")
    parser.add_argument("--small", action="store_true", help="a small year instead of the source's figures")
    parser.add_argument("--if-empty", action="store_true", help="do nothing when the system already holds data")
    parser.add_argument("--run-dir", default=os.environ.get("TONGPIN_RUN_DIR", str(ROOT / ".run")))
    parser.add_argument("--concurrency", type=int, default=12)
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for any one effect")
    parser.add_argument("--year", type=int, default=None, help="the year to play (default: the last full one)")
    parser.add_argument("--clock-file", help="the services' TONGPIN_CLOCK_FILE (the simulated clock)",
                        default=os.environ.get("TONGPIN_CLOCK_FILE") or str(ROOT / ".run" / "clock.json"))
    for name, port in (("intake", 8101), ("triage", 8102), ("counselling", 8103), ("oversight", 8104)):
        parser.add_argument(f"--{name}", default=f"http://127.0.0.1:{port}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    code = asyncio.run(main_async(args))
    print(f"total {time.monotonic() - started:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
