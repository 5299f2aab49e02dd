"""Intake's HTTP API, one module per room: thin routes that validate, call one handler and map the result."""

from __future__ import annotations

from fastapi import APIRouter

from tongpin.intake.api import channels, delivery, messages, public, reading, wecom

# In this order the OpenAPI document lists the paths.
routers: list[APIRouter] = [
    channels.router, messages.router, delivery.router, public.router, wecom.router, reading.router,
]
