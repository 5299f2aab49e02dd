"""A refused channel update changes nothing, and the channel list keeps answering (pen-test finding 6)."""

from __future__ import annotations

import pytest

from tongpin.intake.testing import intake, setup_channel

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("change", [{"delivery": None}, {"name": None}, {"external_group_id": None},
                                    {"delivery": {"adapter": "webhook"}}, {"name": ""}])
async def test_a_bad_channel_update_is_refused_before_anything_is_written(intake_settings, clean_run, signing_key,
                                                                          mongo_client, change):
    async with intake(intake_settings()) as client:
        admin = signing_key.headers("admin")
        created = await setup_channel(client, admin)
        refused = await client.patch("/channels/officers-01", headers=admin, json={"version": 1, **change})
        assert refused.status_code == 422, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        field = next(iter(change))
        assert any(e["field"].startswith(field) for e in refused.json()["errors"]), refused.json()
        stored = await mongo_client[f"{clean_run}_intake"]["channels"].find_one({"_id": "officers-01"})
        assert stored["version"] == 1 and stored["name"] == created["name"] and stored["delivery"] is not None
        listing = await client.get("/channels", headers=signing_key.headers("auditor"))
        assert listing.status_code == 200 and listing.json()["items"][0]["name"] == created["name"]
        # Clearing the unit is a real change, and allowed.
        cleared = await client.patch("/channels/officers-01", headers=admin, json={"version": 1, "unit": None})
        assert cleared.status_code == 200 and cleared.json()["unit"] is None and cleared.json()["version"] == 2


async def test_a_channel_stored_with_a_null_field_does_not_break_the_list(intake_settings, clean_run, signing_key,
                                                                         mongo_client):
    async with intake(intake_settings()) as client:
        await setup_channel(client, signing_key.headers("admin"))
        # As an earlier version could leave it after a refused-but-saved update.
        await mongo_client[f"{clean_run}_intake"]["channels"].update_one(
            {"_id": "officers-01"}, {"$set": {"delivery": None, "name": None}})
        listing = await client.get("/channels", headers=signing_key.headers("auditor"))
        assert listing.status_code == 200, listing.text
        item = listing.json()["items"][0]
        assert item["name"] == "officers-01" and item["delivery"]["adapter"] == "none"
