"""Sealed notes on a case."""

from __future__ import annotations

from fastapi import APIRouter, Request

from tongpin.counselling.api.dependencies import NoteAuditor, NoteWriter, context, workable
from tongpin.counselling.domain.sealed import can_read_note
from tongpin.counselling.handlers import notes
from tongpin.counselling.schemas.notes import NoteCreate, NoteMeta, NoteRead, NoteReadRecord
from tongpin.shared.problems import NotFound

router = APIRouter()


@router.post("/cases/{case_id}/notes", status_code=201, response_model=NoteMeta, tags=["notes"])
async def write_note(case_id: str, body: NoteCreate, request: Request, principal: NoteWriter) -> NoteMeta:
    """Write a sealed note (encrypted at rest, readable only by the author's role group)."""
    await workable(request, case_id, principal)
    ctx = context(request)
    doc = await notes.write_note(repo=ctx.cases, notes=ctx.notes, keyring=ctx.keyring, case_id=case_id, text=body.text,
                             by=principal)
    return NoteMeta.model_validate({**doc, "note_id": doc["_id"], "readable": True})


@router.get("/cases/{case_id}/notes", response_model=list[NoteMeta], tags=["notes"])
async def list_notes(case_id: str, request: Request, principal: NoteWriter) -> list[NoteMeta]:
    """The case's notes (no content), each saying whether the caller may open it."""
    await workable(request, case_id, principal)
    docs = await context(request).notes.for_case(case_id)
    return [NoteMeta.model_validate({**d, "note_id": d["_id"], "readable": can_read_note(
        reader_roles=principal.roles, note_author_group=d["author_group"])}) for d in docs]


@router.get("/cases/{case_id}/notes/{note_id}", response_model=NoteRead, tags=["notes"])
async def read_note(case_id: str, note_id: str, request: Request, principal: NoteWriter) -> NoteRead:
    """Open one note; the read is recorded (who, when, which note), a refusal is logged."""
    await workable(request, case_id, principal)
    ctx = context(request)
    doc = await notes.read_note(notes=ctx.notes, keyring=ctx.keyring, case_id=case_id, note_id=note_id, by=principal)
    return NoteRead.model_validate({**doc, "note_id": doc["_id"], "readable": True})


@router.get("/cases/{case_id}/notes/{note_id}/reads", response_model=list[NoteReadRecord], tags=["notes"])
async def note_reads(case_id: str, note_id: str, request: Request, principal: NoteAuditor) -> list[NoteReadRecord]:
    """Who opened the note and when (no content); case workers only on cases they may open."""
    if not principal.has_any(("admin", "auditor")):
        await workable(request, case_id, principal)
    ctx = context(request)
    doc = await ctx.notes.get(note_id)
    if doc is None or doc["case_id"] != case_id:
        raise NotFound("note", note_id)
    return [NoteReadRecord.model_validate(r) for r in await ctx.notes.reads_of(note_id)]

