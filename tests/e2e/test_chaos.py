"""A bounded chaos run (the full one is `make chaos`): 120 concerns at 6/s while each service is SIGKILLed and
restarted, RabbitMQ restarts and FerretDB is killed; every stage is counted exactly afterwards."""

from __future__ import annotations

import pytest

from tongpin.shared.testing.chaos import local_servers_running, run_chaos

pytestmark = pytest.mark.e2e


@pytest.mark.timeout(900)
async def test_nothing_is_lost_doubled_or_stuck_through_kills_and_restarts(mongodb_url, amqp_url, tmp_path):
    if not local_servers_running(mongodb_url, amqp_url):
        pytest.skip("needs the servers deploy/local/servers.sh runs for this checkout (make test starts them): "
                    "the test kills and restarts them")
    report = await run_chaos(mongodb_url=mongodb_url, amqp_url=amqp_url, concerns=120, rate=6.0,
                             log_dir=tmp_path / "logs", settle_seconds=420, stall_seconds=60)
    assert report.problems == [], report.counts
    counts = report.counts
    assert counts["accepted"] == counts["messages"] == counts["decisions"] == 120
    assert counts["cases"] == 120 - counts["dismissed"]
    assert counts["ledger_entries"] == counts["ledger_expected"] == counts["ledger_verified"]
    assert counts["figures_concerns"] == 120 and counts["oversight_refused"] == 0
    assert not any(counts["queued_after_stop"].values())
