"""Play a planned year through the four services' public REST APIs (httpx only), as the bureau would live it.

The channel bridge (a ``system`` API key or token) imports the roster, reports joins and leaves with
their real (past) times and forwards every group message. Staff act as themselves: the admin creates
their accounts, each logs in with ``POST /auth/token`` and answers, talks, escalates, decides and
resolves through counselling; a political worker corrects triage where it misjudged; the coordinator
works the oversight items. Playing the same plan again changes nothing: every step is keyed (roster
ids, the bridge's message ids, cases derived from concerns) and skipped once done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from scenario import CHANNELS, Member, Message, Plan

Log = Callable[[str], None]

# username, name, roles, on_call
STAFF: tuple[tuple[str, str, tuple[str, ...], bool], ...] = (
    ("zg-liu", "刘思源", ("political_worker",), False),
    ("zg-chen", "陈立新", ("political_worker",), False),
    ("zg-yang", "杨春梅", ("political_worker",), False),
    ("zg-zhao", "赵国庆", ("political_worker",), False),
    ("zg-wu", "吴建华", ("political_worker",), False),
    ("zg-tian", "田晓燕", ("political_worker",), False),
    ("xl-he", "何静怡", ("psychologist",), True),
    ("xl-song", "宋文博", ("psychologist",), False),
    ("xl-lu", "卢心悦", ("psychologist",), False),
    ("dg-shu", "舒振华", ("centre_coordinator",), False),
    ("dw-liu", "刘军", ("committee_member",), False),
    ("dw-teng", "滕跃进", ("committee_member",), False),
    ("dw-mo", "莫光辉", ("committee_member",), False),
    ("jw-sun", "孙纪明", ("auditor",), False),
)
CASE_ROLES = ("political_worker", "psychologist", "centre_coordinator")

REPLIES = {
    "answered_online": "您好，您反映的情况我们收到了。相关政策和办理流程已经整理好发给您，"
                       "有不清楚的随时在群里或私信问我。",
    "resolved_offline": "您好，看到您的留言了，想跟您当面聊一聊，看看怎么帮上忙。时间地点我私信您。",
    "by_committee": "您好，您的困难我们已经了解，正在整理材料向局党委汇报，有进展第一时间告诉您。",
    "open": "您好，您说的情况我们记下了，正在了解，过几天给您回复。",
    "oversight": "您好，您反映的问题已转队伍管理中心核查，处理结果会在群里公布。",
}
TALK_PLACES = ("政工室谈心室", "心理咨询室", "大队会议室", "派出所接待室")
SUMMARIES = {
    "resolved": "经队伍管理中心核查，反映的问题属实。已对相关民警进行约谈，责令整改，并在全局通报，整改情况已复查。",
    "not_substantiated": "经队伍管理中心调阅记录、走访核实，反映的问题与事实不符，已向反映人说明核查情况。",
}


class PlayError(RuntimeError):
    """A step of the year could not be played."""


@dataclass
class Services:
    """One HTTP client per service (base URLs set), e.g. ASGI clients in tests or real ones for ``make demo``."""

    intake: httpx.AsyncClient
    triage: httpx.AsyncClient
    counselling: httpx.AsyncClient
    oversight: httpx.AsyncClient


@dataclass
class Credentials:
    """How the player authenticates: admin and bridge headers, and the password given to demo staff."""

    admin: dict[str, str]
    system: dict[str, str]
    staff_password: str


@dataclass
class StaffMember:
    username: str
    name: str
    roles: tuple[str, ...]
    staff_id: str = ""
    token: str = ""

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Outcome:
    """What the play did, and how long it took."""

    concern_ids: dict[str, str] = field(default_factory=dict)  # message key -> concern id
    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def bump(self, what: str, by: int = 1) -> None:
        self.counts[what] = self.counts.get(what, 0) + by


def _check(response: httpx.Response, *ok: int) -> dict[str, Any]:
    if response.status_code not in ok:
        raise PlayError(f"{response.request.method} {response.request.url.path} -> {response.status_code}: "
                        f"{response.text[:500]}")
    return response.json() if response.content else {}


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float, what: str,
                     interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise PlayError(f"timed out after {timeout:.0f}s waiting for {what} (last: {result!r})")
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, 1.0)


class LedgerWatch:
    """What oversight has recorded, read incrementally from its ledger (as the auditor).

    Staff in a real bureau act minutes or days apart; a play acts within milliseconds. Oversight
    refuses an event about a case it has not seen yet once its retries run out (a case.resolved whose
    case.opened is still queued), so the player waits until oversight has recorded what a step builds on.
    """

    def __init__(self, player: Player) -> None:
        self.player = player
        self.after = 0
        self.keys: set[tuple[str, str]] = set()
        self.lock = asyncio.Lock()
        self.last = 0.0

    async def refresh(self) -> None:
        async with self.lock:
            if time.monotonic() - self.last < 0.5:
                return  # another waiter just read it; every read is itself recorded by oversight
            self.last = time.monotonic()
            auditor = self.player._by_role("auditor")[0]
            while True:
                response = await self.player._call(auditor, "GET", self.player.api.oversight, "/ledger",
                                                   params={"after_seq": self.after, "limit": 200})
                page = _check(response, 200)
                for record in page["items"]:
                    entry = record["entry"]
                    self.keys.add((str(entry.get("type", "")).rsplit(".v", 1)[0], str(entry.get("subject"))))
                    self.after = max(self.after, int(record["seq"]))
                if page["next_after_seq"] is None:
                    return

    async def wait(self, event_type: str, subject: str) -> None:
        async def seen() -> bool:
            if (event_type, subject) not in self.keys:
                await self.refresh()
            return (event_type, subject) in self.keys

        await eventually(seen, timeout=self.player.timeout, what=f"oversight to record {event_type} {subject}",
                         interval=0.3)


class Player:
    """Plays one plan; ``play()`` returns the oversight report once it shows the plan's figures."""

    def __init__(self, plan: Plan, services: Services, credentials: Credentials, *, concurrency: int = 12,
                 log: Log | None = None, timeout: float = 120.0) -> None:
        self.plan, self.api, self.creds = plan, services, credentials
        self.slots = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        self.log = (lambda line: log(f"[{time.monotonic() - started:6.1f}s] {line}")) if log else (lambda _l: None)
        self.timeout = timeout
        self.staff: dict[str, StaffMember] = {}
        self.outcome = Outcome()
        self.ledger = LedgerWatch(self)

    # --- people --------------------------------------------------------------------------------------

    def _by_role(self, role: str) -> list[StaffMember]:
        return [s for s in self.staff.values() if role in s.roles]

    async def _login(self, member: StaffMember) -> None:
        response = await self.api.counselling.post("/auth/token", data={
            "username": member.username, "password": self.creds.staff_password})
        body = _check(response, 200)
        member.token, member.staff_id = body["access_token"], body["staff_id"]

    async def staff_accounts(self) -> None:
        """The admin creates the staff accounts (once); each staff member logs in."""
        for username, name, roles, on_call in STAFF:
            response = await self.api.counselling.post("/staff", headers=self.creds.admin, json={
                "username": username, "name": name, "password": self.creds.staff_password, "roles": list(roles),
                "on_call": on_call})
            _check(response, 201, 409)
            self.outcome.bump("staff created" if response.status_code == 201 else "staff existing")
            member = StaffMember(username, name, roles)
            await self._login(member)
            self.staff[username] = member

    async def _call(self, who: StaffMember, method: str, client: httpx.AsyncClient, path: str,
                    **kwargs: Any) -> httpx.Response:
        """A request as a staff member, logging in again when the short-lived token has expired."""
        response = await client.request(method, path, headers=who.headers, **kwargs)
        if response.status_code == 401:
            await self._login(who)
            response = await client.request(method, path, headers=who.headers, **kwargs)
        return response

    # --- channels, roster, membership ---------------------------------------------------------------------

    async def channels(self) -> None:
        coordinator = self._by_role("centre_coordinator")[0]
        for kind, (channel_id, name) in CHANNELS.items():
            response = await self._call(coordinator, "POST", self.api.intake, "/channels", json={
                "id": channel_id, "kind": kind, "name": name, "external_group_id": f"wecom-{channel_id}"})
            _check(response, 201, 409)

    async def roster(self) -> None:
        since = f"{self.plan.year}-01-02"
        groups = [[m for m in self.plan.members if m.channel_kind == "officers"],
                  [m for m in self.plan.members if m.channel_kind != "officers"]]
        for group in groups:  # officers first: family rows name their officer
            for start in range(0, len(group), 2000):
                rows = [m.row(since) for m in group[start:start + 2000]]
                report = _check(await self.api.intake.post("/roster", headers=self.creds.system,
                                                           json={"rows": rows}), 200)
                if report["rejected"]:
                    raise PlayError(f"roster rows rejected: {report['rejected'][:3]}")
                self.outcome.bump("roster created", len(report["created"]))

    async def _moves(self, member: Member) -> None:
        channel_id = CHANNELS[member.channel_kind][0]
        for action, at in member.moves:
            moment = "joined_at" if action == "join" else "left_at"
            body = {"member_external_id": member.external_id, moment: at.isoformat()}
            path = f"/channels/{channel_id}/{action}s"
            async with self.slots:
                response = await self.api.intake.post(path, headers=self.creds.system, json=body)
            if response.status_code == 422 and "before" in response.text:
                # Played before: a later move of this member is already recorded.
                self.outcome.bump("moves already recorded")
                return
            _check(response, 200, 201)
            self.outcome.bump(f"{action}s")

    async def memberships(self) -> None:
        await asyncio.gather(*(self._moves(m) for m in self.plan.members if m.moves))

    # --- messages and the work they cause -------------------------------------------------------------

    async def _post(self, message: Message) -> str:
        channel_id = CHANNELS[message.channel_kind][0]
        async with self.slots:
            response = await self.api.intake.post("/messages", headers=self.creds.system, json={
                "channel_id": channel_id, "channel_kind": message.channel_kind, "source_message_id": message.key,
                "author_external_id": message.author, "text": message.text, "sent_at": message.sent_at.isoformat()})
        body = _check(response, 200, 201)
        self.outcome.concern_ids[message.key] = body["id"]
        self.outcome.bump("messages")
        return str(body["id"])

    async def _case(self, who: StaffMember, case_id: str) -> dict[str, Any] | None:
        response = await self._call(who, "GET", self.api.counselling, f"/cases/{case_id}")
        if response.status_code == 404:
            return None
        return _check(response, 200)

    async def _step(self, who: StaffMember, case_id: str, path: str, body: dict[str, Any],
                    ok: tuple[int, ...] = (200, 201)) -> dict[str, Any]:
        """One staff action on a case at its current version; a concurrent change (409) is read and retried."""
        for attempt in range(8):
            case = await self._case(who, case_id)
            assert case is not None
            async with self.slots:
                response = await self._call(who, "POST", self.api.counselling, path,
                                            json={**body, "version": case["version"]})
            if response.status_code != 409:
                return _check(response, *ok)
            await asyncio.sleep(0.1 * (attempt + 1))
        raise PlayError(f"{path}: the case kept changing under us")

    def _actor(self, case: dict[str, Any], message: Message) -> StaffMember:
        for member in self.staff.values():
            if member.staff_id == case.get("assignee_id") and any(r in CASE_ROLES for r in member.roles):
                return member
        # Need-to-know: a case nobody was given is the coordinator's to work.
        return self._by_role("centre_coordinator")[0]

    async def _work(self, message: Message) -> None:
        concern_id = await self._post(message)
        if message.plan == "chatter":
            return
        case_id = f"case-{concern_id}"
        lead = self._by_role("centre_coordinator")[0]

        async def opened() -> dict[str, Any] | None:
            return await self._case(lead, case_id)

        case = await eventually(opened, timeout=self.timeout, what=f"the case of {message.key}")
        if case["state"] == "resolved":
            self.outcome.bump("cases already resolved")
            return
        await self.ledger.wait("case.opened", case_id)
        if message.override:
            await self._override(message, concern_id, case_id)
            case = await self._case(lead, case_id) or case
        who = self._actor(case, message)
        if not case.get("first_response_at") and not case.get("dialogue"):
            await self._step(who, case_id, f"/cases/{case_id}/replies", {"text": REPLIES[message.plan]}, (201,))
        plan = message.plan
        if plan == "oversight":
            await self._oversight_item(message, concern_id)
            method = self.plan.params.oversight_case_method
            await self._talk(who, case_id, outcome="conduct_talk_held")
            if method:
                await self._step(who, case_id, f"/cases/{case_id}/resolve",
                                 {"method": method, "outcome_code": "conduct_corrected"})
        elif plan == "resolved_offline":
            await self._talk(who, case_id, outcome="difficulty_resolved")
            await self._step(who, case_id, f"/cases/{case_id}/resolve",
                             {"method": "resolved_offline", "outcome_code": "difficulty_resolved"})
        elif plan == "answered_online":
            await self._step(who, case_id, f"/cases/{case_id}/resolve",
                             {"method": "answered_online", "outcome_code": "question_answered"})
        elif plan == "by_committee":
            await self._committee(who, message, case_id)
        self.outcome.bump(f"cases {plan}")

    async def _override(self, message: Message, concern_id: str, case_id: str) -> None:
        """A political worker corrects triage's category (and route), with a reason; the case follows."""
        assert message.override is not None
        worker = self._by_role("political_worker")[0]
        await self.ledger.wait("concern.triaged", concern_id)
        decision = _check(await self._call(worker, "GET", self.api.triage, f"/decisions/{concern_id}"), 200)
        wanted = {k: v for k, v in message.override.items() if decision.get(k) != v}
        if wanted:
            response = await self._call(worker, "POST", self.api.triage, f"/decisions/{concern_id}/overrides", json={
                **wanted, "reason": "人工复核：内容实为其他类别，按实际诉求改派", "version": decision["version"]})
            _check(response, 200)
            self.outcome.bump("overrides")
        lead = self._by_role("centre_coordinator")[0]

        async def followed() -> bool:
            case = await self._case(lead, case_id)
            return bool(case and case["category"] == message.final_category)

        await eventually(followed, timeout=self.timeout, what=f"the override of {message.key} to reach its case")

    async def _talk(self, who: StaffMember, case_id: str, *, outcome: str) -> None:
        case = await self._case(who, case_id)
        if case and any(t["status"] == "held" for t in case.get("talks", [])):
            return  # played before
        when = datetime.now(UTC) + timedelta(days=1)
        case = await self._step(who, case_id, f"/cases/{case_id}/talks", {
            "scheduled_for": when.isoformat(), "place": TALK_PLACES[len(case_id) % len(TALK_PLACES)],
            "participants": [who.name, "当事人"], "staff_ids": [who.staff_id]}, (201,))
        talk_id = case["pending_talk_id"]
        self.outcome.bump("talks")
        await self._step(who, case_id, f"/cases/{case_id}/talks/{talk_id}/held", {"outcome_code": outcome})

    async def _committee(self, who: StaffMember, message: Message, case_id: str) -> None:
        """Written material to the Party committee, its decision, the decision carried out, the case resolved."""
        housing = message.story == "housing"
        case = await self._case(who, case_id)
        if case and case.get("escalation_ids"):
            raise PlayError(f"{case_id} was escalated before but is not resolved; finish it in the console")
        escalation = await self._step(who, case_id, f"/cases/{case_id}/escalations", {
            "subject": "民警因无房推迟婚期" if housing else "民警实际困难需局党委研究",
            "background": message.text,
            "actions_taken": "政工干部已线上沟通、了解详情，核实了住房和家庭情况。",
            "decision_requested": "请局党委研究能否提供临时住房或专项帮扶。"}, (201,))
        escalation_id = escalation["escalation_id"]
        member = self._by_role("committee_member")[0]
        await self.ledger.wait("case.escalated", case_id)
        decision = {"decision_code": "lend_idle_flat" if housing else "hardship_support",
                    "decided": "将局内闲置空房暂时安排给该民警结婚使用。" if housing
                    else "由工会发放困难救助，队伍管理中心跟进落实。",
                    "actor_kind": "body", "actor_id": "team_management_centre",
                    "due_by": (datetime.now(UTC) + timedelta(days=30)).isoformat()}
        for path, body in ((f"/escalations/{escalation_id}/decision", decision),
                           (f"/escalations/{escalation_id}/done", {})):
            for attempt in range(8):
                current = _check(await self._call(member, "GET", self.api.counselling,
                                                  f"/escalations/{escalation_id}"), 200)
                response = await self._call(member, "POST", self.api.counselling, path,
                                            json={**body, "version": current["case_version"]})
                if response.status_code != 409:
                    _check(response, 200)
                    break
                await asyncio.sleep(0.1 * (attempt + 1))
        await self._step(who, case_id, f"/cases/{case_id}/resolve",
                         {"method": "by_committee", "outcome_code": "idle_flat_lent" if housing else "hardship_aid"})

    async def _oversight_item(self, message: Message, concern_id: str) -> None:
        """The coordinator takes up the item oversight opened, and closes it with a public summary."""
        coordinator = self._by_role("centre_coordinator")[0]

        async def item() -> dict[str, Any] | None:
            return await self._find_item(coordinator, concern_id)

        found = await eventually(item, timeout=self.timeout, what=f"the oversight item of {message.key}")
        if found["status"] in ("resolved", "not_substantiated"):
            return
        await self.ledger.wait("oversight.item.opened", found["id"])
        outcome = message.oversight_outcome or "resolved"
        if outcome != "not_substantiated" and found["status"] != "in_progress":
            found = _check(await self._call(coordinator, "PATCH", self.api.oversight, f"/items/{found['id']}", json={
                "version": found["version"], "status": "in_progress"}), 200)
        if outcome in SUMMARIES:
            _check(await self._call(coordinator, "PATCH", self.api.oversight, f"/items/{found['id']}", json={
                "version": found["version"], "status": outcome, "public_summary": SUMMARIES[outcome]}), 200)
        self.outcome.bump(f"items {outcome}")

    async def _find_item(self, coordinator: StaffMember, concern_id: str) -> dict[str, Any] | None:
        offset = 0
        while True:
            page = _check(await self._call(coordinator, "GET", self.api.oversight, "/items",
                                           params={"limit": 200, "offset": offset}), 200)
            for item in page["items"]:
                if item["concern_id"] == concern_id:
                    return dict(item)
            if len(page["items"]) < 200:
                return None
            offset += 200

    # --- the whole year -------------------------------------------------------------------------------

    async def report(self) -> dict[str, Any]:
        auditor = self._by_role("auditor")[0]
        return _check(await self._call(auditor, "GET", self.api.oversight, "/statistics",
                                       params={"period": self.plan.period}), 200)

    async def public_figures(self) -> dict[str, Any]:
        return _check(await self.api.oversight.get("/public/oversight", params={"period": self.plan.period}), 200)

    async def settled_report(self, *, timeout: float | None = None) -> dict[str, Any]:
        """The report once it shows every figure the plan intends (or the last one read, after the timeout)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            report = await self.report()
            if not differences(report, self.plan.expected):
                return report
            if time.monotonic() > deadline:
                auditor = self._by_role("auditor")[0]
                refused = _check(await self._call(auditor, "GET", self.api.oversight, "/rejected",
                                                  params={"limit": 200}), 200)["items"]
                for item in refused[:10]:
                    self.log(f"oversight refused {item['event'].get('type')} {item['event'].get('subject')}: "
                             f"{item['reason']}")
                return report
            await asyncio.sleep(0.5)

    async def play(self) -> dict[str, Any]:
        started = time.monotonic()
        self.log(f"year {self.plan.year}, seed {self.plan.seed}: {len(self.plan.members)} on the roster, "
                 f"{len(self.plan.messages)} messages")
        await self.staff_accounts()
        self.log(f"{len(self.staff)} staff accounts ready")
        await self.channels()
        await self.roster()
        await self.memberships()
        self.log(f"roster and membership played ({self.outcome.counts.get('joins', 0)} joins, "
                 f"{self.outcome.counts.get('leaves', 0)} leaves)")
        await self._wait_for_pool()
        self.log("triage knows the staff")
        await asyncio.gather(*(self._work(m) for m in self.plan.messages))
        self.log(f"messages and staff work played ({self.outcome.counts.get('messages', 0)} messages)")
        report = await self.settled_report()
        self.log("the oversight report shows the year")
        self.outcome.seconds = time.monotonic() - started
        return report

    async def _wait_for_pool(self) -> None:
        """Triage learns the staff directory from events; wait for it so work is shared from the first concern."""
        coordinator = self._by_role("centre_coordinator")[0]
        workers = {s.staff_id for s in self.staff.values() if any(r in CASE_ROLES for r in s.roles)}

        async def known() -> bool:
            response = await self._call(coordinator, "GET", self.api.triage, "/staff", params={"limit": 200})
            return response.status_code == 200 and workers <= {s["staff_id"] for s in response.json()}

        try:
            await eventually(known, timeout=30, what="triage's staff pool")
        except PlayError as exc:
            self.log(f"warning: {exc}; counselling assigns instead")


def differences(report: dict[str, Any], expected: dict[str, Any], prefix: str = "",
                suppressed: frozenset[str] | None = None) -> list[str]:
    """Every figure of ``expected`` the report does not show, as ``path: got != want``.

    A breakdown cell the report hides for k-anonymity (listed in its ``suppressed``) counts as shown.
    """
    if suppressed is None:
        suppressed = frozenset(report.get("suppressed") or ())
    out: list[str] = []
    for key, want in expected.items():
        got = report.get(key) if isinstance(report, dict) else None
        if isinstance(want, dict):
            out += differences(got if isinstance(got, dict) else {}, want, f"{prefix}{key}.", suppressed)
        elif got != want and not (got is None and f"{prefix}{key}" in suppressed):
            out.append(f"{prefix}{key}: {got!r} != {want!r}")
    return out
