"""Triage's HTTP API, one module per room: thin routes that validate, call one handler and map the result."""

from __future__ import annotations

from fastapi import APIRouter

from tongpin.triage.api import decisions, models, rulesets, staff, themes

# In this order the OpenAPI document lists the paths.
routers: list[APIRouter] = [decisions.router, rulesets.router, models.router, themes.router, staff.router]
