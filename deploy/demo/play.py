"""Play a bureau's year against the running system and print its oversight report (`make demo`).

    uv run --no-sync python deploy/demo/play.py              # the source's year (seed 2017)
    uv run --no-sync python deploy/demo/play.py --if-empty   # only on a system with no data yet (make up)
    uv run --no-sync python deploy/demo/play.py --seed 5 --small

Everything goes through the services' public REST APIs. The bridge uses the first machine key of
TONGPIN_API_KEYS (the environment `deploy/local/demo.sh` loads from .run/secrets.env). The first admin
account is made once with counselling's create-admin command; its password and the demo staff's password
are kept in .run/demo.env (mode 600). Playing the same seed again changes nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from player import STAFF, Credentials, Player, PlayError, Services, differences
from scenario import Params, plan_year, source_year

ROOT = Path(__file__).resolve().parents[2]
ADMIN_USERNAME = "demo-admin"


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


def print_report(report: dict[str, Any], public: dict[str, Any], *, period: str) -> None:
    part, cases, concerns = report["participation"], report["cases"], report["concerns"]
    resolved = cases["resolved"]
    lines = [
        f"同频 Tongpin — 监督报告 oversight report, period {period} (GET /statistics?period={period})",
        "",
        f"  民警、辅警进群 officers and auxiliaries joined   {part['officers']['joined']:>4} / "
        f"{part['officers']['roster']:<4} {_percent(part['officers']['ratio'])}",
        f"  家属进群 families joined                      {part['families']['joined']:>4} / "
        f"{part['families']['roster']:<4} {_percent(part['families']['ratio'])}",
        f"  社会监督员进群 supervisors joined              {part['supervision']['joined']:>4} / "
        f"{part['supervision']['roster']:<4} {_percent(part['supervision']['ratio'])}",
        f"  线上引导解答 answered online                   {resolved['answered_online']:>4}",
        f"  线下解决 resolved offline                      {resolved['resolved_offline']:>4}",
        f"  党委研究解决 resolved by the committee         {resolved['by_committee']:>4}",
        f"  家属群、监督群发现问题 found / resolved        {public['found']:>4} / {public['resolved']}"
        f"   (public: GET /public/oversight?period={period})",
        "",
        f"  messages: {concerns['total']} concerns, {report['chatter']['dismissed']} chatter; "
        f"{concerns['crisis']} crises; {concerns['overridden']} triage decisions corrected by staff",
        f"  cases: {cases['opened']} opened, {resolved['total']} resolved; talks (约谈) held: "
        f"{report['talks']['held']}; escalations to the committee: {report['escalations']['raised']} raised, "
        f"{report['escalations']['decided']} decided",
    ]
    print("\n".join(lines))


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
        params: Params = source_year() if not args.small else Params()
        plan = plan_year(params, seed=args.seed)
        services = Services(intake=intake, triage=triage, counselling=counselling, oversight=oversight)
        credentials = Credentials(admin=admin, system=_system_headers(), staff_password=env["DEMO_STAFF_PASSWORD"])
        player = Player(plan, services, credentials, concurrency=args.concurrency, log=print, timeout=args.timeout)
        try:
            report = await player.play()
        except PlayError as exc:
            print(f"the year could not be played: {exc}", file=sys.stderr)
            return 1
        public = await player.public_figures()
        print()
        print_report(report, public, period=plan.period)
        print()
        print(f"Back-dated: roster dates, joins and leaves, and every message's sent_at, spread over {plan.year} up "
              "to now. Not back-dated: triage decisions, cases, talks, escalations and oversight items, which the "
              f"services stamp as they happen — so the year is reported as {plan.period}.")
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
    for name, port in (("intake", 8101), ("triage", 8102), ("counselling", 8103), ("oversight", 8104)):
        parser.add_argument(f"--{name}", default=f"http://127.0.0.1:{port}")
    args = parser.parse_args(argv)
    started = time.monotonic()
    code = asyncio.run(main_async(args))
    print(f"total {time.monotonic() - started:.1f} s")
    return code


if __name__ == "__main__":
    sys.exit(main())
