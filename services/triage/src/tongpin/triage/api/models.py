"""Models over HTTP: proposals from retraining, their figures and files, publishing, discarding and restoring."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from tongpin.shared.problems import NotFound
from tongpin.triage import judgments
from tongpin.triage.api.dependencies import Limit, ModelProposer, ModelPublisher, Offset, Runtime, Staff, Version
from tongpin.triage.repository import ModelRepository
from tongpin.triage.schemas.models import ModelCreate, ModelHeadRead, ModelPage, ModelRead

router = APIRouter(prefix="/models", tags=["models"])


def _model_read(doc: dict[str, Any], *, running: int | None) -> ModelRead:
    meta = doc.get("meta") or {}
    return ModelRead(
        version=doc["_id"], name=doc.get("name", ""), status=doc.get("status", "draft"), source=doc.get("source", ""),
        running=doc["_id"] == running, sha256=doc["sha256"], size=doc.get("size", 0), created_at=doc["created_at"],
        created_by=doc.get("created_by", ""), published_at=doc.get("published_at"),
        discarded_at=doc.get("discarded_at"), discarded_by=doc.get("discarded_by"), note=doc.get("note", ""),
        trained_on=meta.get("trained_on"), features=meta.get("features"),
        crisis_recall_target=meta.get("crisis_recall_target"), figures=doc.get("figures") or {},
    )


def _model_head_read(head: dict[str, Any]) -> ModelHeadRead:
    return ModelHeadRead(running_version=head["version"], previous_versions=head.get("history", []),
                         changed_at=head["changed_at"], changed_by=head.get("changed_by", ""))


@router.get("", summary="Stored model versions, newest first (figures beside each)")
async def list_models(runtime: Runtime, _: Staff, limit: Limit = 50, offset: Offset = 0) -> ModelPage:
    repo = ModelRepository(runtime.db)
    running = await judgments.running_version(repo)
    items, total = await repo.page(limit=limit, offset=offset)
    return ModelPage(items=[_model_read(d, running=running) for d in items], running_version=running, total=total,
                     limit=limit, offset=offset)


# /models/current comes before /models/{version}, which would otherwise take it.
@router.get("/current", summary="The running model")
async def current_model(runtime: Runtime, _: Staff) -> ModelRead:
    repo = ModelRepository(runtime.db)
    head = await repo.head()
    if head is None:
        raise NotFound("model", "current")
    doc = await repo.get(head["version"], bulky=False)
    if doc is None:
        raise NotFound("model version", str(head["version"]))
    return _model_read(doc, running=head["version"])


@router.get("/{version}", summary="One model version with its figures")
async def get_model(version: Version, runtime: Runtime, _: Staff) -> ModelRead:
    repo = ModelRepository(runtime.db)
    doc = await repo.get(version, bulky=False)
    if doc is None:
        raise NotFound("model version", str(version))
    return _model_read(doc, running=await judgments.running_version(repo))


@router.get("/{version}/blob", summary="A model's file (for the retraining command's side-by-side figures)",
            response_class=Response, responses={200: {"content": {"application/octet-stream": {}}}})
async def model_blob(version: Version, runtime: Runtime, _: ModelProposer) -> Response:
    doc = await ModelRepository(runtime.db).get(version)
    if doc is None:
        raise NotFound("model version", str(version))
    return Response(content=bytes(doc["blob"]), media_type="application/octet-stream",
                    headers={"X-Model-SHA256": doc["sha256"]})


@router.post("", status_code=201, summary="Propose a retrained model (a draft: it runs only once published)")
async def propose_model(body: ModelCreate, runtime: Runtime, principal: ModelProposer) -> ModelRead:
    repo = ModelRepository(runtime.db)
    doc = await judgments.create_model_draft(models=repo, blob_base64=body.blob, sha256=body.sha256,
                                             figures=body.figures, note=body.note, principal=principal)
    return _model_read(doc, running=await judgments.running_version(repo))


@router.post("/{version}/publish", summary="Run a proposed model (centre coordinator)")
async def publish_model(version: Version, runtime: Runtime, principal: ModelPublisher) -> ModelHeadRead:
    head = await judgments.publish_version(store=ModelRepository(runtime.db), kind="model", version=version,
                                           principal=principal)
    return _model_head_read(head)


@router.post("/{version}/discard", summary="Set a proposed model aside for good (centre coordinator)")
async def discard_model(version: Version, runtime: Runtime, principal: ModelPublisher) -> ModelRead:
    repo = ModelRepository(runtime.db)
    doc = await judgments.discard_model(models=repo, version=version, principal=principal)
    return _model_read(doc, running=await judgments.running_version(repo))


@router.post("/restore", summary="Run the model that ran before the current one (centre coordinator)")
async def restore_model(runtime: Runtime, principal: ModelPublisher) -> ModelHeadRead:
    head = await judgments.restore_version(store=ModelRepository(runtime.db), kind="model", principal=principal)
    return _model_head_read(head)
