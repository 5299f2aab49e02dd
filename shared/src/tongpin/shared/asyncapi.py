"""The event catalogue as an AsyncAPI 3.0 document (`make asyncapi` writes docs/asyncapi.json)."""

from __future__ import annotations

import json
from typing import Any

from tongpin.shared.envelope import CloudEvent
from tongpin.shared.events import CATALOGUE, CONSUMES, SERVICES


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {"CloudEventEnvelope": CloudEvent.model_json_schema()}
    operations: dict[str, Any] = {}
    for key, model in CATALOGUE.items():
        name = key.replace(".", "_")
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        for def_name, definition in schema.pop("$defs", {}).items():
            schemas[def_name] = definition
        schemas[name] = schema
        messages[name] = {
            "name": key,
            "title": model.__name__,
            "contentType": "application/cloudevents+json",
            "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
            "payload": {
                "allOf": [
                    {"$ref": "#/components/schemas/CloudEventEnvelope"},
                    {"type": "object", "properties": {
                        "type": {"const": key},
                        "data": {"$ref": f"#/components/schemas/{name}"},
                    }},
                ]
            },
            "x-carries-text": model.carries_text,
            "x-publisher": model.publisher,
            "x-consumers": [s for s in SERVICES if key in CONSUMES[s]],
        }
        channels[name] = {
            "address": key,
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
            "description": f"Routing key {key} on the topic exchange",
        }
        operations[f"{model.publisher}_publishes_{name}"] = {
            "action": "send", "channel": {"$ref": f"#/channels/{name}"},
        }
        for consumer in (s for s in SERVICES if key in CONSUMES[s]):
            operations[f"{consumer}_consumes_{name}"] = {
                "action": "receive", "channel": {"$ref": f"#/channels/{name}"},
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Tongpin 同频 events",
            "version": "1.0.0",
            "description": "Every event passed between Tongpin's services over the topic exchange. "
            "Only concern.raised, reply.requested and broadcast.requested carry text people wrote.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def main() -> None:
    print(json.dumps(document(), ensure_ascii=False, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
