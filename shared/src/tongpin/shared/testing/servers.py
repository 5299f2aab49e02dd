"""Where the tests' servers are: MONGODB_URL / AMQP_URL if set, else testcontainers if Docker runs."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager


def docker_engine_available() -> bool:
    """True when a Docker engine answers (the client alone is not enough)."""
    if shutil.which("docker") is None:
        return False
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=10, check=False)  # noqa: S607
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


class NoServers(RuntimeError):
    pass


@contextmanager
def server_urls() -> Iterator[tuple[str, str]]:
    """Yield (mongodb_url, amqp_url) for the session."""
    mongo, amqp = os.environ.get("MONGODB_URL"), os.environ.get("AMQP_URL")
    if mongo and amqp:
        yield mongo, amqp
        return
    if not docker_engine_available():
        raise NoServers(
            "MONGODB_URL and AMQP_URL are not set and no Docker engine is running: "
            "run the tests with `make test`, which starts FerretDB and RabbitMQ locally"
        )
    from testcontainers.mongodb import MongoDbContainer
    from testcontainers.rabbitmq import RabbitMqContainer

    with MongoDbContainer("mongo:7") as mongo_c, RabbitMqContainer("rabbitmq:3.13-management") as rabbit_c:
        mongo_url = mongo_c.get_connection_url()
        params = rabbit_c.get_connection_params()
        amqp_url = f"amqp://guest:guest@{params.host}:{params.port}/"
        yield mongo or mongo_url, amqp or amqp_url
