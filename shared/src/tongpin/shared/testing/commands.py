"""The database commands a client sends, for tests that count round trips or read the filters sent."""

from __future__ import annotations

from typing import Any

from pymongo import monitoring


class SentCommands(monitoring.CommandListener):
    """Pass as ``AsyncMongoClient(..., event_listeners=[sent])``; records every command as it starts."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        self.sent.append((event.command_name, dict(event.command)))

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass

    def count(self, name: str, collection: str | None = None) -> int:
        """How many ``name`` commands were sent (to one collection, if given)."""
        return sum(1 for sent, command in self.sent
                   if sent == name and (collection is None or command.get(name) == collection))

    def update_filters(self) -> list[dict[str, Any]]:
        """The filter of every update statement sent, in order."""
        return [dict(statement["q"]) for sent, command in self.sent if sent == "update"
                for statement in command["updates"]]
