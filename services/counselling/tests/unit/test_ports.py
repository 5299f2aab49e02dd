"""The repositories (on a server, and on the in-memory database the handler tests use) answer to the ports the
handlers are typed against: every method of a port, with the same parameters."""

from __future__ import annotations

import inspect

import pytest

from tongpin.counselling import repository as r
from tongpin.counselling.memory import CounsellingStores
from tongpin.counselling.repository import ports

pytestmark = pytest.mark.unit

ANSWERS = {
    ports.CaseStore: r.CaseRepository, ports.StaffStore: r.StaffRepository, ports.NoteStore: r.NoteRepository,
    ports.NotificationStore: r.NotificationRepository, ports.BroadcastStore: r.BroadcastRepository,
    ports.BreakGlassStore: r.BreakGlassRepository,
}


def _methods(cls: type) -> dict[str, inspect.Signature]:
    return {name: inspect.signature(member) for name, member in vars(cls).items()
            if callable(member) and not name.startswith("_")}


@pytest.mark.parametrize("port", list(ANSWERS), ids=lambda port: port.__name__)
def test_each_repository_has_every_method_of_its_port_with_the_same_parameters(port: type) -> None:
    repository = ANSWERS[port]
    have = {name: inspect.signature(getattr(repository, name)) for name in _methods(port) if hasattr(repository, name)}
    assert have == _methods(port)


def test_the_in_memory_stores_are_those_repositories() -> None:
    kinds = inspect.get_annotations(CounsellingStores, eval_str=True)
    assert {kinds[name] for name in ("cases", "staff", "notes", "feed", "broadcasts", "glass")} == set(ANSWERS.values())

