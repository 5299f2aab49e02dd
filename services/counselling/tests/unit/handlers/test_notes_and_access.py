"""Sealed notes stay sealed (ciphertext stored, opened only by the author's group, every read and refusal
recorded); a case is open to its assignee, team and coordinator, and anyone else breaks the glass."""

from __future__ import annotations

import base64
import json

import pytest

from tongpin.counselling.domain.sealed import KeyRing
from tongpin.counselling.handlers import access, notes
from tongpin.shared.problems import NotFound, Problem

pytestmark = pytest.mark.unit

KEYS = KeyRing.from_setting(f"k1:{base64.b64encode(bytes(range(32))).decode()}")
CANARY = "心理评估：金丝雀-7731"


async def test_a_note_is_stored_sealed_and_opened_only_by_its_authors_group(world) -> None:
    psychologist = await world.add_staff("psy-1", "psychologist")
    other_psychologist = await world.add_staff("psy-2", "psychologist")
    worker = await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1")
    meta = await notes.write_note(repo=world.cases, notes=world.notes, keyring=KEYS, case_id="case-c-1",
                                  text=CANARY, by=psychologist)
    assert "sealed" not in meta and meta["author_group"] == "psychologist"
    stored = world.docs("sealed_notes")[meta["_id"]]
    assert CANARY not in json.dumps(stored, default=str, ensure_ascii=False)
    assert set(stored["sealed"]) == {"kid", "nonce", "ciphertext"}

    opened = await notes.read_note(notes=world.notes, keyring=KEYS, case_id="case-c-1", note_id=meta["_id"],
                                   by=other_psychologist)
    assert opened["text"] == CANARY
    assert [r["reader_id"] for r in await world.notes.reads_of(meta["_id"])] == ["psy-2"]

    with pytest.raises(Problem) as refused:
        await notes.read_note(notes=world.notes, keyring=KEYS, case_id="case-c-1", note_id=meta["_id"], by=worker)
    assert refused.value.status == 403
    assert [(d["what"], d["subject"]) for d in world.rows("access_denials")] == [("sealed_note", "pw-1")]
    assert len(world.rows("note_reads")) == 1, "a refusal is no read"
    assert CANARY not in json.dumps([e.model_dump(mode="json") for e in world.staged()], ensure_ascii=False)


async def test_a_note_under_the_wrong_case_or_unknown_is_a_404(world) -> None:
    psychologist = await world.add_staff("psy-1", "psychologist")
    await world.open_case("c-1")
    with pytest.raises(NotFound):
        await notes.write_note(repo=world.cases, notes=world.notes, keyring=KEYS, case_id="case-nope", text="x",
                               by=psychologist)
    meta = await notes.write_note(repo=world.cases, notes=world.notes, keyring=KEYS, case_id="case-c-1", text="x",
                                  by=psychologist)
    for case_id, note_id in (("case-other", meta["_id"]), ("case-c-1", "note-nope")):
        with pytest.raises(NotFound):
            await notes.read_note(notes=world.notes, keyring=KEYS, case_id=case_id, note_id=note_id, by=psychologist)


async def test_without_keys_notes_are_refused_and_only_note_writing_roles_write(world) -> None:
    psychologist = await world.add_staff("psy-1", "psychologist")
    committee = await world.add_staff("cm-1", "committee_member")
    await world.open_case("c-1")
    with pytest.raises(Problem) as unconfigured:
        await notes.write_note(repo=world.cases, notes=world.notes, keyring=None, case_id="case-c-1", text="x",
                               by=psychologist)
    assert unconfigured.value.status == 503
    with pytest.raises(Problem) as refused:
        await notes.write_note(repo=world.cases, notes=world.notes, keyring=KEYS, case_id="case-c-1", text="x",
                               by=committee)
    assert refused.value.status == 403
    assert world.docs("sealed_notes") == {}


async def test_a_case_opens_to_its_assignee_team_in_its_unit_and_the_coordinator(world) -> None:
    await world.add_staff("pw-1", "political_worker")
    await world.open_case("c-1", assignee_id="pw-1")
    allowed = [await world.add_staff("pw-1", "political_worker"),
               await world.add_staff("pw-team", "political_worker", unit="unit-a"),
               await world.add_staff("coord-1", "centre_coordinator", unit=None)]
    for who in allowed:
        doc = await access.case_for(repo=world.cases, staff=world.staff, notes=world.notes, case_id="case-c-1",
                                    by=who)
        assert doc["_id"] == "case-c-1"
    outsiders = [await world.add_staff("pw-b", "political_worker", unit="unit-b"),
                 await world.add_staff("psy-a", "psychologist", unit="unit-a")]
    for who in outsiders:
        with pytest.raises(access.NeedToKnow) as refused:
            await access.case_for(repo=world.cases, staff=world.staff, notes=world.notes, case_id="case-c-1", by=who)
        assert refused.value.status == 403
    assert [d["subject"] for d in world.rows("access_denials")] == ["pw-b", "psy-a"]
    with pytest.raises(NotFound):
        await access.case_for(repo=world.cases, staff=world.staff, notes=world.notes, case_id="case-x", by=allowed[0])


async def test_breaking_the_glass_is_recorded_told_to_coordinators_and_counted(world) -> None:
    await world.add_staff("coord-1", "centre_coordinator")
    reader = await world.add_staff("pw-b", "political_worker", unit="unit-b")
    await world.open_case("c-1")
    doc = await access.break_glass(repo=world.cases, glass=world.glass, staff=world.staff, feed=world.feed,
                                   case_id="case-c-1", reason="值班时接到家属电话", by=reader, webhook=False)
    assert doc["_id"] == "case-c-1"
    [read] = world.rows("break_glass_reads")
    assert (read["staff_id"], read["reason"], read["month"]) == ("pw-b", "值班时接到家属电话", "2026-03")
    [told] = await world.feed_of("coord-1")
    assert told["kind"] == "break_glass" and "值班时接到家属电话" not in json.dumps(told, default=str)
    assert await access.break_glass_summary(glass=world.glass) == {
        "total": 1, "by_month": [{"month": "2026-03", "reads": 1}]}
