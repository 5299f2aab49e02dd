"""The demo year's dashboard, month by month, as screenshots (after `make demo`).

    uv run --no-sync python deploy/demo/screenshots.py --year 2025 --out test-artifacts/demo-dashboard

Signs in to the staff console as the demo's auditor (jw-sun, password from .run/demo.env) through the login
page, opens the oversight dashboard for the whole year and for each of its twelve months (the bureau's
months), and saves a full-page screenshot of each: <out>/<year>.png and <out>/<year>-<MM>.png. Uses
Debian's Chromium through Playwright.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from play import ROOT, _demo_env
from scenario import last_full_year

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--year", type=int, default=last_full_year())
    parser.add_argument("--out", default=str(ROOT / "test-artifacts" / "demo-dashboard"))
    parser.add_argument("--console", default=f"http://127.0.0.1:{os.environ.get('TONGPIN_WEB_PORT', '8080')}")
    parser.add_argument("--run-dir", default=os.environ.get("TONGPIN_RUN_DIR", str(ROOT / ".run")))
    parser.add_argument("--unit", default="", help="one unit's dashboard instead of the whole bureau's")
    args = parser.parse_args(argv)
    env = _demo_env(Path(args.run_dir))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.goto(f"{args.console}/#/login")
        page.fill("input[name='username']", "jw-sun")
        page.fill("input[name='password']", env["DEMO_STAFF_PASSWORD"])
        page.click("button[type='submit']")
        page.wait_for_selector("main[data-page='dashboard'][aria-busy='false']")
        unit = f"&unit={args.unit}" if args.unit else ""
        suffix = f"-{args.unit}" if args.unit else ""
        for month in [None, *range(1, 13)]:
            period = f"month={args.year}-{month:02d}" if month else ""
            page.goto(f"{args.console}/#/dashboard?year={args.year}&{period}{unit}")
            page.wait_for_function(f"location.hash.includes('year={args.year}')")
            page.wait_for_selector("main[data-page='dashboard'][aria-busy='false'] #figures-period")
            page.wait_for_selector("main[data-page='dashboard'][aria-busy='false'] svg.chart")
            name = f"{args.year}-{month:02d}" if month else f"{args.year}"
            path = out / f"{name}{suffix}.png"
            page.screenshot(path=str(path), full_page=True)
            print(path)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
