"""Oversight's HTTP API, one module per room: thin routes over the handlers. Every auditor-facing read is recorded."""

from __future__ import annotations

from fastapi import APIRouter

from tongpin.oversight.api import audit, items, ledger, public, statistics

# In this order the OpenAPI document lists the paths.
routers: list[APIRouter] = [public.router, items.router, ledger.router, statistics.router, audit.router]
