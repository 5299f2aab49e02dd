"""The judgment triage runs: rule-set and model versions, stored, published and restored.

A judgment version names both halves (``r3-m2``). Rule sets and models are versioned the same way:
numbered versions, a draft that runs only once published, and a head pointing at the running one
that can be restored to the previous version.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tongpin.shared.auth import Principal
from tongpin.shared.logging import get_logger
from tongpin.shared.problems import Conflict, NotFound, Problem
from tongpin.triage.domain import RuleSet, default_ruleset, parse_ruleset
from tongpin.triage.domain.model import Model, ModelError, checksum
from tongpin.triage.repository import HEAD_ID, ModelRepository, RuleSetRepository, _VersionStore

log = get_logger(__name__)

PACKAGED_MODEL = Path(__file__).resolve().parent / "models" / "default.model"
MAX_MODEL_BYTES = 30 * 1024 * 1024


class RuleBook:
    """The running rule set, read from the database per decision and parsed once per version."""

    def __init__(self, *, repo: RuleSetRepository) -> None:
        self._repo = repo
        self._parsed: dict[int, RuleSet] = {}

    async def current(self) -> RuleSet:
        """The rule set decisions use now."""
        head = await self._repo.head()
        if head is None:
            return default_ruleset()
        version = int(head["version"])
        if version not in self._parsed:
            stored = await self._repo.get(version)
            if stored is None:
                return default_ruleset()
            self._parsed[version] = parse_ruleset(stored["document"]).with_version(version)
        return self._parsed[version]


class ModelBook:
    """The running model: loaded once per version, checked against its checksum.

    A version that fails to load or fails its checksum never judges: the last good model goes on
    running, and the problem shows on /readyz and in the logs until a good version is published.
    """

    def __init__(self, *, repo: ModelRepository) -> None:
        self._repo = repo
        self._good: Model | None = None
        self._failed: dict[int, str] = {}
        self._wanted: int | None = None

    async def current(self) -> Model | None:
        """The model decisions use now (None: no usable model has ever been published; rules alone judge)."""
        head = await self._repo.head()
        if head is None:
            return self._good
        version = int(head["version"])
        self._wanted = version
        if self._good is not None and self._good.version == version:
            return self._good
        if version in self._failed:
            return self._good
        stored = await self._repo.get(version)
        try:
            if stored is None:
                raise ModelError(f"model version {version} is not stored")
            model = Model.from_bytes(bytes(stored["blob"]), expected_checksum=stored.get("sha256"))
        except ModelError as exc:
            self._failed[version] = str(exc)
            log.error("triage.model_unusable", version=version, problem=str(exc),
                      running=self._good.version if self._good else None)
            return self._good
        self._good = model.with_version(version)
        log.info("triage.model_loaded", version=version, features=len(model.vocabulary))
        return self._good

    def report(self) -> dict[str, Any]:
        """What /readyz says about the model."""
        running = self._good.version if self._good else None
        problem = self._failed.get(self._wanted) if self._wanted is not None else None
        if running is None and problem is None and self._wanted is None:
            problem = "no model has been published: the rules judge alone"
        return {"model_version": running, "published_version": self._wanted, "degraded": problem is not None,
                "problem": problem}


async def running_version(store: _VersionStore) -> int | None:
    """The version that runs now (rule set or model), or None before one runs."""
    head = await store.head()
    return head["version"] if head else None


# --- rule sets ---------------------------------------------------------------------------------


async def ensure_default_ruleset(*, rulesets: RuleSetRepository) -> None:
    """Store the packaged rule set as version 1 and make it the running one, unless a version already runs."""
    packaged = default_ruleset()
    now = datetime.now(UTC)
    await rulesets.insert({
        "_id": packaged.version, "name": packaged.name, "description": packaged.description,
        "document": packaged.to_json(), "status": "published", "created_at": now, "created_by": "system",
        "published_at": now, "rule_count": len(packaged.rules),
    })
    await rulesets.create_head({"_id": HEAD_ID, "version": packaged.version, "history": [], "seq": 0,
                                "changed_at": now, "changed_by": "system"})


async def create_ruleset_draft(*, rulesets: RuleSetRepository, document: str, principal: Principal) -> dict[str, Any]:
    """Validate a rule-set document and store it as the next version's draft; the running version is untouched."""
    from tongpin.triage.domain import RuleSetError

    try:
        parsed = parse_ruleset(document)
    except RuleSetError as exc:
        raise Problem(
            422, f"document: 规则集无效（{len(exc.errors)} 处问题）", title="Invalid rule set",
            errors=[{"field": "document", "line": line, "reason": reason} for line, reason in exc.errors],
        ) from None
    for _ in range(5):
        version = await rulesets.latest_version() + 1
        stored = parsed.with_version(version)
        doc = {
            "_id": version, "name": stored.name, "description": stored.description, "document": stored.to_json(),
            "status": "draft", "created_at": datetime.now(UTC), "created_by": principal.subject,
            "rule_count": len(stored.rules),
        }
        if await rulesets.insert(doc):
            return doc
    raise Conflict("another draft was stored at the same moment; try again")


async def publish_version(*, store: _VersionStore, kind: str, version: int, principal: Principal) -> dict[str, Any]:
    """Make a stored version (rule set or model) the running one; the one it replaces can be restored."""
    stored = await store.get(version, bulky=False)
    if stored is None:
        raise NotFound(f"{kind} version", str(version))
    if stored.get("status") == "discarded":
        raise Conflict(f"{kind} version {version} was discarded; it cannot be published")
    head = await store.head()
    if head is None:
        raise Conflict(f"no running {kind} yet; the service is still starting")
    if head["version"] == version:
        return head
    now = datetime.now(UTC)
    moved = await store.move_head(expected_seq=head["seq"], update={"$set": {
        "version": version, "history": [*head.get("history", []), head["version"]],
        "changed_at": now, "changed_by": principal.subject,
    }})
    if moved is None:
        raise Conflict(f"the running {kind} changed meanwhile; reload and try again")
    await store.mark(version, {"status": "published", "published_at": now, "published_by": principal.subject})
    log.info(f"{kind.replace(' ', '_')}.published", version=version, previous=head["version"], by=principal.subject)
    return moved


async def restore_version(*, store: _VersionStore, kind: str, principal: Principal) -> dict[str, Any]:
    """Go back to the version that ran before the current one."""
    head = await store.head()
    if head is None or not head.get("history"):
        raise Conflict(f"there is no previous {kind} version to restore")
    history = list(head["history"])
    previous = history.pop()
    moved = await store.move_head(expected_seq=head["seq"], update={"$set": {
        "version": previous, "history": history, "changed_at": datetime.now(UTC), "changed_by": principal.subject,
        "restored_from": head["version"],
    }})
    if moved is None:
        raise Conflict(f"the running {kind} changed meanwhile; reload and try again")
    log.info(f"{kind.replace(' ', '_')}.restored", version=previous, replaced=head["version"], by=principal.subject)
    return moved


# --- models ------------------------------------------------------------------------------------


def packaged_model(path: Path = PACKAGED_MODEL) -> tuple[bytes, str] | None:
    """The model built at install (bytes and checksum), or None with the reason logged."""
    if not path.exists():
        log.error("triage.packaged_model_missing", path=str(path),
                  remedy="build it with `python -m tongpin.triage.train` (make install does)")
        return None
    blob = path.read_bytes()
    digest_file = path.with_suffix(".sha256")
    expected = digest_file.read_text(encoding="utf-8").strip() if digest_file.exists() else None
    try:
        Model.from_bytes(blob, expected_checksum=expected)
    except ModelError as exc:
        log.error("triage.packaged_model_unusable", path=str(path), problem=str(exc))
        return None
    return blob, checksum(blob)


async def ensure_default_model(*, models: ModelRepository, path: Path = PACKAGED_MODEL) -> None:
    """Store the packaged model and run it, unless a staff-published model runs.

    A newer packaged model (after an upgrade) replaces an older packaged one as the running version; a
    model a coordinator published stays running until they choose otherwise.
    """
    packaged = packaged_model(path)
    if packaged is None:
        return
    blob, sha = packaged
    existing = await models.by_checksum(sha)
    now = datetime.now(UTC)
    if existing is None:
        model = Model.from_bytes(blob)
        for _ in range(5):
            version = await models.latest_version() + 1
            if await models.insert({
                "_id": version, "name": model.name, "sha256": sha, "size": len(blob), "blob": blob,
                "status": "published", "source": "packaged", "created_at": now, "created_by": "system",
                "published_at": now, "meta": model.meta, "figures": {},
            }):
                break
        existing = await models.by_checksum(sha)
    if existing is None:
        return
    version = int(existing["_id"])
    if await models.create_head({"_id": HEAD_ID, "version": version, "history": [], "seq": 0,
                                 "changed_at": now, "changed_by": "system"}):
        return
    head = await models.head()
    if head is None or head["version"] == version:
        return
    running = await models.get(int(head["version"]), bulky=False)
    if running is not None and running.get("source") == "packaged" and int(head["version"]) < version:
        await models.move_head(expected_seq=head["seq"], update={"$set": {
            "version": version, "history": [*head.get("history", []), head["version"]],
            "changed_at": now, "changed_by": "system"}})
        log.info("triage.packaged_model_upgraded", version=version, previous=head["version"])


async def create_model_draft(
    *, models: ModelRepository, blob_base64: str, sha256: str, figures: dict[str, Any], note: str,
    principal: Principal,
) -> dict[str, Any]:
    """Store a proposed model (from the retraining command) as the next version's draft; it runs only once published."""
    try:
        blob = base64.b64decode(blob_base64, validate=True)
    except ValueError:
        raise Problem(422, "blob: not valid base64", errors=[{"field": "blob", "reason": "not valid base64"}]) \
            from None
    if len(blob) > MAX_MODEL_BYTES:
        raise Problem(422, "blob: the model is larger than 30 MB", errors=[{"field": "blob", "reason": "too large"}])
    if hashlib.sha256(blob).hexdigest() != sha256:
        raise Problem(422, "sha256: the bytes do not match the checksum", errors=[
            {"field": "sha256", "reason": "does not match the model's bytes"}])
    try:
        model = Model.from_bytes(blob, expected_checksum=sha256)
    except ModelError as exc:
        raise Problem(422, f"blob: not a usable model ({exc})", errors=[{"field": "blob", "reason": str(exc)}]) \
            from None
    if await models.by_checksum(sha256) is not None:
        raise Conflict("this model is already stored", sha256=sha256)
    for _ in range(5):
        version = await models.latest_version() + 1
        doc = {
            "_id": version, "name": model.name, "sha256": sha256, "size": len(blob), "blob": blob,
            "status": "draft", "source": "retrained", "created_at": datetime.now(UTC),
            "created_by": principal.subject, "meta": model.meta, "figures": figures, "note": note,
        }
        if await models.insert(doc):
            log.info("triage.model_proposed", version=version, by=principal.subject, sha256=sha256[:16])
            return {k: v for k, v in doc.items() if k != "blob"}
    raise Conflict("another model was stored at the same moment; try again")


async def discard_model(*, models: ModelRepository, version: int, principal: Principal) -> dict[str, Any]:
    """Set a proposed model aside: it stays on record with who discarded it, and can never run."""
    stored = await models.get(version, bulky=False)
    if stored is None:
        raise NotFound("model version", str(version))
    head = await models.head()
    if head is not None and head["version"] == version:
        raise Conflict("the running model cannot be discarded; publish or restore another version first")
    if stored.get("status") == "published":
        raise Conflict("a model that has run cannot be discarded; it stays available for restore")
    await models.mark(version, {"status": "discarded", "discarded_at": datetime.now(UTC),
                                "discarded_by": principal.subject})
    log.info("triage.model_discarded", version=version, by=principal.subject)
    updated = await models.get(version, bulky=False)
    assert updated is not None
    return updated
