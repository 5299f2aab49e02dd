"""Sealed notes: written under the current key, opened only by the author's role group."""

from __future__ import annotations

from typing import Any

from tongpin.counselling.domain.sealed import KeyRing, NoteUnreadable, author_group_for, can_read_note
from tongpin.counselling.handlers.common import business_now, new_id
from tongpin.counselling.repository.ports import CaseStore, NoteStore
from tongpin.shared.auth import Principal
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import NotFound, Problem

log = get_logger(__name__)


async def write_note(
    *, repo: CaseStore, notes: NoteStore, keyring: KeyRing | None, case_id: str, text: str, by: Principal
) -> dict[str, Any]:
    """Seal a note under the current key; only ciphertext is stored and nothing of it is logged."""
    if keyring is None:
        raise Problem(503, "sealed notes are not configured (TONGPIN_SEALED_NOTE_KEYS)")
    if await repo.get_case(case_id) is None:
        raise NotFound("case", case_id)
    group = author_group_for(by.roles)
    if group is None:
        raise Problem(403, "only psychologists, political workers and the coordinator write sealed notes")
    note_id = new_id("note")
    sealed = keyring.encrypt(plaintext=text, note_id=note_id, case_id=case_id, author_group=group)
    document = {"_id": note_id, "case_id": case_id, "author_id": by.subject, "author_group": group,
                "created_at": business_now(), "sealed": sealed}
    await notes.insert(document)
    log.info("note.sealed", note_id=note_id, case_id=case_id, author_group=group, kid=sealed["kid"])
    return {k: v for k, v in document.items() if k != "sealed"}


async def read_note(
    *, notes: NoteStore, keyring: KeyRing | None, case_id: str, note_id: str, by: Principal
) -> dict[str, Any]:
    """Open a note for a reader its author's group admits; every read and every refusal is recorded."""
    doc = await notes.get(note_id)
    if doc is None or doc["case_id"] != case_id:
        raise NotFound("note", note_id)
    at = business_now()
    if not can_read_note(reader_roles=by.roles, note_author_group=doc["author_group"]):
        await notes.record_denial({"_id": new_id("denial"), "what": "sealed_note", "note_id": note_id,
                                   "case_id": case_id, "subject": by.subject, "roles": sorted(by.roles), "at": at})
        log.warning("note.read_refused", note_id=note_id, case_id=case_id, subject=by.subject,
                    roles=sorted(by.roles))
        raise Problem(403, "this note is sealed to its author's role group")
    if keyring is None:
        raise Problem(503, "sealed notes are not configured (TONGPIN_SEALED_NOTE_KEYS)")
    try:
        text = keyring.decrypt(sealed=doc["sealed"], note_id=note_id, case_id=case_id,
                               author_group=doc["author_group"])
    except NoteUnreadable as exc:
        log.error("note.unreadable", note_id=note_id, error=type(exc).__name__)
        raise Problem(500, "the note cannot be opened with the configured keys") from exc
    await notes.record_read({"_id": new_id("read"), "note_id": note_id, "case_id": case_id, "reader_id": by.subject,
                             "reader_roles": sorted(by.roles), "at": at})
    log.info("note.read", note_id=note_id, case_id=case_id, reader_id=by.subject)
    return {**{k: v for k, v in doc.items() if k != "sealed"}, "text": text}
