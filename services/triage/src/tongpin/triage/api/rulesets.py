"""Rule sets over HTTP: stored versions, drafts, publishing and restoring the one that ran before."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from tongpin.shared.problems import NotFound
from tongpin.triage import judgments
from tongpin.triage.api.dependencies import Limit, Offset, RuleEditor, Runtime, Staff, Version
from tongpin.triage.repository import RuleSetRepository
from tongpin.triage.schemas.rulesets import RuleSetCreate, RuleSetHeadRead, RuleSetPage, RuleSetRead

router = APIRouter(prefix="/rulesets", tags=["rule sets"])


def _ruleset_read(doc: dict[str, Any], *, running: int | None, with_document: bool) -> RuleSetRead:
    return RuleSetRead(
        version=doc["_id"], name=doc.get("name", ""), description=doc.get("description", ""),
        status=doc.get("status", "draft"), running=doc["_id"] == running, rule_count=doc.get("rule_count", 0),
        created_at=doc["created_at"], created_by=doc.get("created_by", ""), published_at=doc.get("published_at"),
        document=doc.get("document") if with_document else None,
    )


def _head_read(head: dict[str, Any]) -> RuleSetHeadRead:
    return RuleSetHeadRead(running_version=head["version"], previous_versions=head.get("history", []),
                           changed_at=head["changed_at"], changed_by=head.get("changed_by", ""))


# /rulesets/current comes before /rulesets/{version}, which would otherwise take it.
@router.get("/current", summary="The running rule set")
async def current_ruleset(runtime: Runtime, _: Staff) -> RuleSetRead:
    repo = RuleSetRepository(runtime.db)
    head = await repo.head()
    if head is None:
        raise NotFound("rule set", "current")
    doc = await repo.get(head["version"])
    if doc is None:
        raise NotFound("rule set version", str(head["version"]))
    return _ruleset_read(doc, running=head["version"], with_document=True)


@router.get("", summary="Stored rule-set versions, newest first")
async def list_rulesets(runtime: Runtime, _: Staff, limit: Limit = 50, offset: Offset = 0) -> RuleSetPage:
    repo = RuleSetRepository(runtime.db)
    running = await judgments.running_version(repo)
    items, total = await repo.page(limit=limit, offset=offset)
    return RuleSetPage(items=[_ruleset_read(d, running=running, with_document=False) for d in items],
                       running_version=running, total=total, limit=limit, offset=offset)


@router.get("/{version}", summary="One stored rule-set version")
async def get_ruleset(version: Version, runtime: Runtime, _: Staff) -> RuleSetRead:
    repo = RuleSetRepository(runtime.db)
    doc = await repo.get(version)
    if doc is None:
        raise NotFound("rule set version", str(version))
    return _ruleset_read(doc, running=await judgments.running_version(repo), with_document=True)


@router.post("", status_code=201, summary="Store a validated draft as the next version (not yet running)")
async def create_ruleset(
    body: Annotated[RuleSetCreate, Body()], runtime: Runtime, principal: RuleEditor,
) -> RuleSetRead:
    repo = RuleSetRepository(runtime.db)
    doc = await judgments.create_ruleset_draft(rulesets=repo, document=body.text(), principal=principal)
    return _ruleset_read(doc, running=await judgments.running_version(repo), with_document=True)


@router.post("/{version}/publish", summary="Make a stored version the running one")
async def publish_ruleset(version: Version, runtime: Runtime, principal: RuleEditor) -> RuleSetHeadRead:
    head = await judgments.publish_version(store=RuleSetRepository(runtime.db), kind="rule set", version=version,
                                           principal=principal)
    return _head_read(head)


@router.post("/restore", summary="Restore the version that ran before the current one")
async def restore_ruleset(runtime: Runtime, principal: RuleEditor) -> RuleSetHeadRead:
    head = await judgments.restore_version(store=RuleSetRepository(runtime.db), kind="rule set", principal=principal)
    return _head_read(head)
