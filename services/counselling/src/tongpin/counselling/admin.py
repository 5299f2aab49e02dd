"""Command line: create the first admin account (`python -m tongpin.counselling.admin create-admin ...`)."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

import structlog

from tongpin.counselling import repository
from tongpin.counselling.context import build_context
from tongpin.counselling.handlers import common, staff
from tongpin.counselling.settings import CounsellingSettings
from tongpin.shared.mongo import ensure_indexes, make_client
from tongpin.shared.problems import Problem


async def create_admin(*, settings: CounsellingSettings, username: str, name: str, password: str) -> str:
    """Create an admin account in the service's database; its staff.updated goes out with the service's relay."""
    client = make_client(settings)
    try:
        database = client[settings.database_name]
        await ensure_indexes(database, repository.INDEXES)
        ctx = build_context(settings, database)
        doc = await staff.create_staff(
            staff=ctx.staff, hasher=ctx.hasher, username=username, name=name, password=password, roles=["admin"],
            skills=[], unit=None, on_call=False, staff_id=None, trace=common.Trace(),
        )
        return str(doc["_id"])
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tongpin-counselling-admin", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-admin", help="create an admin account")
    create.add_argument("--username", required=True)
    create.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    # Logs go to stderr so stdout carries only the new account's id.
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    password = os.environ.get("TONGPIN_ADMIN_PASSWORD") or getpass.getpass("password: ")
    if len(password) < 8:
        print("the password must have at least 8 characters", file=sys.stderr)
        return 2
    try:
        staff_id = asyncio.run(create_admin(settings=CounsellingSettings(), username=args.username, name=args.name,
                                            password=password))
    except Problem as exc:
        print(exc.detail, file=sys.stderr)
        return 1
    print(staff_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
