from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tongpin.shared.testing.services import delete_test_topology


@pytest.fixture
async def clean_run(amqp_url: str, run_id: str, drop_databases: None) -> AsyncIterator[str]:
    """The test's run id; its queues, exchanges and databases are removed afterwards."""
    yield run_id
    await delete_test_topology(amqp_url, run_id=run_id, retry_delays=[0.2, 0.4], extra=("probe",))


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path
