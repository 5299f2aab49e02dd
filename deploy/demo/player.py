"""Play a planned year through the four services' public REST APIs (httpx only), as the bureau would live it.

The channel bridge (a ``system`` API key or token) imports the roster, reports joins and leaves with
their real (past) times and forwards every group message. Staff act as themselves: the admin creates
their accounts, each logs in with ``POST /auth/token`` and answers, talks, escalates, decides and
resolves through counselling; a political worker corrects triage where it misjudged; the coordinator
closes the oversight items in public (they follow their cases on their own). Members of the public
write through the public form to a unit's own channel.

The year is played in time order on a simulated clock (``ClockHand``): before each step the player
sets the services' business clock to the moment the step would have happened, so every record carries
that day. A concern's case is awaited before the clock moves on, and each day ends only when oversight
has recorded what the day's messages caused. Playing the same plan again changes nothing: every step
is keyed (roster ids, the bridge's message ids, cases derived from concerns) and skipped once done.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
from scenario import BUREAU_TZ, CHANNELS, Member, Message, Plan, unit_channel_id

from tongpin.shared.clock import SimulatedClock, write_clock_file

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
            if time.monotonic() - self.last < 0.2:
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
                         interval=0.1)


class ClockHand(Protocol):
    """Sets the services' business clock (tongpin.shared.clock) to the moment a step happens."""

    async def set(self, at: datetime) -> None: ...

    async def release(self) -> None: ...


@dataclass
class SimulatedHand:
    """For services in this process that share one ``SimulatedClock``."""

    clock: SimulatedClock

    async def set(self, at: datetime) -> None:
        self.clock.set(at)

    async def release(self) -> None:
        return None


@dataclass
class FileHand:
    """For separate service processes started with ``TONGPIN_CLOCK_FILE`` pointing at ``path``."""

    path: Path

    async def set(self, at: datetime) -> None:
        write_clock_file(self.path, at)

    async def release(self) -> None:
        """Back to the real time: the services read the system clock again."""
        self.path.unlink(missing_ok=True)


@dataclass(order=True)
class Step:
    """One thing that happens at a moment of the year: a message sent, or a staff action on its case."""

    at: datetime
    order: int
    name: str = field(compare=False)
    message: Message = field(compare=False)


# The steps of a concern, in the order they happen (its times come from the plan).
STEP_ORDER = ("post", "override", "reply", "talk_booked", "talk_held", "escalated", "decided", "done",
              "item_closed", "resolve")


class Player:
    """Plays one plan; ``play()`` returns the oversight report once it shows the plan's figures."""

    def __init__(self, plan: Plan, services: Services, credentials: Credentials, *, clock: ClockHand,
                 concurrency: int = 12, log: Log | None = None, timeout: float = 120.0) -> None:
        self.plan, self.api, self.creds, self.clock = plan, services, credentials, clock
        self.slots = asyncio.Semaphore(concurrency)
        started = time.monotonic()
        self.log = (lambda line: log(f"[{time.monotonic() - started:6.1f}s] {line}")) if log else (lambda _l: None)
        self.timeout = timeout
        self.staff: dict[str, StaffMember] = {}
        self.outcome = Outcome()
        self.ledger = LedgerWatch(self)
        self.done: set[str] = set()  # message keys whose case was finished in an earlier play
        self.undecided: set[str] = set()  # today's chatter triage has not decided yet

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
        wanted = [(channel_id, kind, name, None) for kind, (channel_id, name) in CHANNELS.items()]
        units = sorted({m.unit for m in self.plan.messages if m.public})
        wanted += [(unit_channel_id(unit), "supervision", f"{unit} 社会监督", unit) for unit in units]
        for channel_id, kind, name, unit in wanted:
            body: dict[str, Any] = {"id": channel_id, "kind": kind, "name": name,
                                    "external_group_id": f"wecom-{channel_id}"}
            if unit:
                body["unit"] = unit
            _check(await self._call(coordinator, "POST", self.api.intake, "/channels", json=body), 201, 409)

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
            # "changed": false when intake had the move already (and announced nothing).
            changed = _check(response, 200, 201)["changed"]
            self.outcome.bump(f"{action}s" if changed else f"{action}s already recorded")

    async def memberships(self) -> None:
        await asyncio.gather(*(self._moves(m) for m in self.plan.members if m.moves))

    # --- the year, step by step -----------------------------------------------------------------------

    def timeline(self) -> list[Step]:
        """Every step of the year in the order it happens."""
        steps = []
        for index, message in enumerate(self.plan.messages):
            times = {"post": message.sent_at, **message.times}
            for rank, name in enumerate(STEP_ORDER):
                if name in times:
                    steps.append(Step(times[name], index * len(STEP_ORDER) + rank, name, message))
        return sorted(steps)

    async def _days(self) -> None:
        steps = self.timeline()
        day: object = None
        for step in steps:
            local = step.at.astimezone(BUREAU_TZ).date()
            if local != day:
                if day is not None:
                    await self._end_of_day()
                day = local
            await self.clock.set(step.at)
            if step.message.key in self.done and step.name != "post":
                continue
            await getattr(self, f"_{step.name}")(step.message)
        await self._end_of_day()

    async def _end_of_day(self) -> None:
        """The clock moves to another day only once triage has decided on every message of the day.

        (A concern's case is awaited when it is posted, so its triage and its case carry the day it was raised.)
        """
        worker = self._by_role("political_worker")[0]
        for concern_id in sorted(self.undecided):
            async def decided(concern_id: str = concern_id) -> bool:
                response = await self._call(worker, "GET", self.api.triage, f"/decisions/{concern_id}")
                return response.status_code == 200

            await eventually(decided, timeout=self.timeout, what=f"triage to decide on {concern_id}", interval=0.05)
        self.undecided.clear()

    def _concern(self, message: Message) -> str:
        return self.outcome.concern_ids[message.key]

    def _case_id(self, message: Message) -> str:
        return f"case-{self._concern(message)}"

    async def _post(self, message: Message) -> None:
        if message.public:
            response = await self.api.intake.post("/public/submissions", json={
                "channel_kind": message.channel_kind, "channel_id": message.channel_id, "text": message.text,
                "anonymous": True})
            body = _check(response, 201)
            concern_id = str(body["concern_id"])
        else:
            async with self.slots:
                response = await self.api.intake.post("/messages", headers=self.creds.system, json={
                    "channel_id": message.channel_id, "channel_kind": message.channel_kind,
                    "source_message_id": message.key, "author_external_id": message.author, "text": message.text,
                    "sent_at": message.sent_at.isoformat()})
            concern_id = str(_check(response, 200, 201)["id"])
        self.outcome.concern_ids[message.key] = concern_id
        self.outcome.bump("messages")
        if message.plan == "chatter":
            self.undecided.add(concern_id)
            return
        # Its case opens at the moment the concern was raised: wait for it before the clock moves on.
        lead = self._by_role("centre_coordinator")[0]
        case_id = f"case-{concern_id}"
        case = await eventually(lambda: self._case(lead, case_id), timeout=self.timeout,
                                what=f"the case of {message.key}", interval=0.05)
        if case["state"] == "resolved" or (case.get("escalation_ids") and message.plan == "by_committee"):
            self.done.add(message.key)
            self.outcome.bump("cases already played")

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
            response = await self._call(who, "POST", self.api.counselling, path,
                                        json={**body, "version": case["version"]})
            if response.status_code != 409:
                return _check(response, *ok)
            await asyncio.sleep(0.1 * (attempt + 1))
        raise PlayError(f"{path}: the case kept changing under us")

    async def _worker(self, message: Message) -> StaffMember:
        """Who works the case: its assignee if a case worker, else someone with the role its route asks for."""
        case = await self._case(self._by_role("centre_coordinator")[0], self._case_id(message)) or {}
        for member in self.staff.values():
            if member.staff_id == case.get("assignee_id") and any(r in CASE_ROLES for r in member.roles):
                return member
        # Need-to-know: a case nobody was given is the coordinator's to work.
        return self._by_role("centre_coordinator")[0]

    async def _override(self, message: Message) -> None:
        """A political worker corrects triage's category (and route), with a reason; the case follows."""
        assert message.override is not None
        worker = self._by_role("political_worker")[0]
        concern_id, case_id = self._concern(message), self._case_id(message)
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

    async def _reply(self, message: Message) -> None:
        case_id = self._case_id(message)
        await self.ledger.wait("case.opened", case_id)  # oversight counts the case before the work on it
        case = await self._case(self._by_role("centre_coordinator")[0], case_id)
        if case and (case.get("first_response_at") or case.get("dialogue")):
            return
        await self._step(await self._worker(message), case_id, f"/cases/{case_id}/replies",
                         {"text": REPLIES[message.plan]}, (201,))

    async def _talk_booked(self, message: Message) -> None:
        case_id = self._case_id(message)
        case = await self._case(self._by_role("centre_coordinator")[0], case_id) or {}
        if case.get("pending_talk_id") or any(t["status"] == "held" for t in case.get("talks", [])):
            return
        who = await self._worker(message)
        await self._step(who, case_id, f"/cases/{case_id}/talks", {
            "scheduled_for": message.times["talk_held"].isoformat(),
            "place": TALK_PLACES[len(case_id) % len(TALK_PLACES)], "participants": [who.name, "当事人"],
            "staff_ids": [who.staff_id]}, (201,))
        self.outcome.bump("talks")

    async def _talk_held(self, message: Message) -> None:
        case_id = self._case_id(message)
        case = await self._case(self._by_role("centre_coordinator")[0], case_id) or {}
        talk_id = case.get("pending_talk_id")
        if not talk_id:
            return
        outcome = "conduct_addressed" if message.plan == "oversight" else "difficulty_resolved"
        await self._step(await self._worker(message), case_id, f"/cases/{case_id}/talks/{talk_id}/held",
                         {"outcome_code": outcome})

    async def _escalated(self, message: Message) -> None:
        """Written material to the Party committee."""
        housing = message.story == "housing"
        case_id = self._case_id(message)
        await self._step(await self._worker(message), case_id, f"/cases/{case_id}/escalations", {
            "subject": "民警因无房推迟婚期" if housing else "民警实际困难需局党委研究",
            "background": message.text,
            "actions_taken": "政工干部已线上沟通、了解详情，核实了住房和家庭情况。",
            "decision_requested": "请局党委研究能否提供临时住房或专项帮扶。"}, (201,))

    async def _escalation(self, message: Message) -> tuple[StaffMember, str]:
        case = await self._case(self._by_role("centre_coordinator")[0], self._case_id(message)) or {}
        return self._by_role("committee_member")[0], str(case["escalation_ids"][-1])

    async def _committee_step(self, message: Message, path: str, body: dict[str, Any]) -> None:
        member, escalation_id = await self._escalation(message)
        for attempt in range(8):
            current = _check(await self._call(member, "GET", self.api.counselling,
                                              f"/escalations/{escalation_id}"), 200)
            response = await self._call(member, "POST", self.api.counselling,
                                        f"/escalations/{escalation_id}/{path}",
                                        json={**body, "version": current["case_version"]})
            if response.status_code != 409:
                _check(response, 200)
                return
            await asyncio.sleep(0.1 * (attempt + 1))
        raise PlayError(f"{path} of {escalation_id}: the case kept changing under us")

    async def _decided(self, message: Message) -> None:
        """The committee decides, and names who carries it out by when."""
        housing = message.story == "housing"
        await self._committee_step(message, "decision", {
            "decision_code": "housing_arranged" if housing else "hardship_aid",
            "decided": "将局内闲置空房暂时安排给该民警结婚使用。" if housing
            else "由工会发放困难救助，队伍管理中心跟进落实。",
            "actor_kind": "body", "actor_id": "team_management_centre",
            "due_by": (message.times["decided"] + timedelta(days=30)).isoformat()})

    async def _done(self, message: Message) -> None:
        await self._committee_step(message, "done", {})

    async def _resolve(self, message: Message) -> None:
        case_id = self._case_id(message)
        case = await self._case(self._by_role("centre_coordinator")[0], case_id) or {}
        if case.get("state") == "resolved":
            return
        method = message.plan if message.plan != "oversight" else self.plan.params.oversight_case_method
        outcome = {"answered_online": "question_answered", "resolved_offline": "difficulty_resolved",
                   "by_committee": "committee_decision_carried_out"}.get(str(method), "conduct_corrected")
        if message.plan == "oversight":
            outcome = "conduct_corrected"
        await self._step(await self._worker(message), case_id, f"/cases/{case_id}/resolve",
                         {"method": method, "outcome_code": outcome})
        self.outcome.bump(f"cases {method}")

    async def _item_closed(self, message: Message) -> None:
        """The coordinator closes the item in public: resolved, or found not substantiated, with a summary."""
        coordinator = self._by_role("centre_coordinator")[0]
        concern_id = self._concern(message)
        found = await eventually(lambda: self._find_item(coordinator, concern_id), timeout=self.timeout,
                                 what=f"the oversight item of {message.key}")
        status = message.oversight_outcome or "resolved"
        for attempt in range(8):
            current = _check(await self._call(coordinator, "GET", self.api.oversight, f"/items/{found['id']}"), 200)
            if current["status"] == status or current["status"] == "not_substantiated":
                return
            steps = [] if current["status"] in ("under_review", "in_progress", "reopened") else ["in_progress"]
            if status == "resolved" and current["status"] == "resolved":
                return
            body: dict[str, Any] = {"version": current["version"], "status": (steps or [status])[0]}
            if not steps:
                body["public_summary"] = SUMMARIES[status]
            response = await self._call(coordinator, "PATCH", self.api.oversight, f"/items/{found['id']}", json=body)
            if response.status_code != 409:
                _check(response, 200)
                if not steps:
                    self.outcome.bump(f"items {status}")
                    return
                continue
            await asyncio.sleep(0.1 * (attempt + 1))  # the item moved with its case meanwhile
        raise PlayError(f"the item of {message.key} kept changing under us")

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

    async def report(self, period: str | None = None, unit: str | None = None) -> dict[str, Any]:
        auditor = self._by_role("auditor")[0]
        params = {"period": period or self.plan.period, **({"unit": unit} if unit else {})}
        return _check(await self._call(auditor, "GET", self.api.oversight, "/statistics", params=params), 200)

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
                 f"{len(self.plan.messages)} messages, played on a simulated clock")
        try:
            await self.clock.set(datetime(self.plan.year, 1, 1, 9, tzinfo=BUREAU_TZ).astimezone(UTC))
            await self.staff_accounts()
            self.log(f"{len(self.staff)} staff accounts ready")
            await self.channels()
            await self.roster()
            await self.memberships()
            self.log(f"roster and membership played ({self.outcome.counts.get('joins', 0)} joins, "
                     f"{self.outcome.counts.get('leaves', 0)} leaves)")
            await self._wait_for_pool()
            self.log("triage knows the staff")
            await self._days()
            self.log(f"messages and staff work played ({self.outcome.counts.get('messages', 0)} messages)")
        finally:
            await self.clock.release()
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
