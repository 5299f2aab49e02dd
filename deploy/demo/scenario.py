"""A bureau's year as a plan: who is on the roster, who joins and leaves when, what is said, what staff do.

Pure and seeded: ``plan_year(params, seed=...)`` builds the same year for the same seed, with its
ground truth (``Plan.expected``: the oversight report figures the year must produce). ``player.py``
plays a plan through the public REST APIs; nothing here does I/O.

Times. The year is played on a simulated clock: every message's ``sent_at`` and every staff step
(``Message.times``: override, reply, talk booked and held, escalation, decision, item closed,
resolution) has the moment it would have happened, and the player sets the services' business clock
to it before acting, so triage decisions, cases, talks, escalations, resolutions and oversight items
carry the day they would have happened. Joins, leaves and roster dates are given to the APIs directly.
``Params.year`` defaults to the last full year in the bureau's calendar (Asia/Shanghai), so the whole
year lies in the past and the clock, released afterwards, only ever moves forward.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from pool import MISROUTED, POOL, Entry

BUREAU_TZ = timezone(timedelta(hours=8))  # Asia/Shanghai, no daylight saving
CHANNEL_KINDS = ("officers", "families", "supervision")
CATEGORIES = ("housing", "marriage_family", "workload_leave", "pay_benefits", "career", "health",
              "mental_distress", "interpersonal", "conduct", "service_complaint", "suggestion", "praise", "other")
SEVERITIES = ("low", "medium", "high", "critical")
ROUTES = ("answer_online", "psych_support", "committee", "oversight")
FLAGS = ("self_harm", "violence", "domestic_violence", "corruption", "substance", "urgent_hardship")
METHODS = ("answered_online", "resolved_offline", "by_committee")

CHANNELS = {
    "officers": ("mj-tucao", "民警思想“吐槽”群"),
    "families": ("mj-jiashu", "民警家属倾诉群"),
    "supervision": ("shehui-jiandu", "社会监督群"),
}
UNITS = ("xtj", "cgpcs", "gxpcs", "lxpcs", "jjdd", "xzdd")  # 巡特警大队, 城关/高村/兰里派出所, 交警大队, 刑侦大队
BUREAU_UNIT = "bureau"  # intake's TONGPIN_BUREAU_UNIT: the unit of bureau-wide channels and of external supervisors
HOUSING_STORY = "本来打算今年结婚，房子一下子搞不定，真的郁闷……"
HOUSING_THANKS = "感谢组织把闲置的房子借给我结婚，以前想都不敢想"

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华建国志红玲斌鹏辉波宁飞凯琳晨雪"


@dataclass(frozen=True)
class Params:
    """What kind of year to play; the defaults are a small year. ``source_year()`` gives the source's figures."""

    year: int | None = None
    officers: int = 30
    auxiliaries: int = 10
    families: int = 25
    supervisors: int = 5
    officers_joined: int = 36
    families_joined: int = 20
    supervisors_joined: int = 5
    leavers: int = 2  # per channel kind: joined during the year, left again (not counted as joined)
    rejoiners: int = 1  # per channel kind: joined, left, came back (counted as joined)
    chatter: int = 40
    answered_online: int = 6
    resolved_offline: int = 4  # crises included
    by_committee: int = 1  # the housing story included when housing_story
    crises: int = 1
    open_cases: int = 1  # still being worked at the end of the year (replied, not resolved)
    overrides: int = 1  # misrouted by triage, corrected by staff
    oversight_resolved: int = 2
    oversight_not_substantiated: int = 0
    oversight_open: int = 0
    oversight_case_method: str | None = None  # how the counselling case behind an item ends (None: stays open)
    housing_story: bool = True
    concern_channels: tuple[str, ...] = ("officers", "families")
    units: tuple[str, ...] = UNITS
    # External supervisors follow the units' work (each one unit) instead of the bureau's as a whole.
    supervisor_units: bool = False
    # Public form submissions to the units' own supervision channels (``unit_channel_id``), and their outcomes.
    public_submissions: tuple[str, ...] = ()

    @property
    def oversight_found(self) -> int:
        return self.oversight_resolved + self.oversight_not_substantiated + self.oversight_open


def source_year(**overrides: Any) -> Params:
    """The source's year: 93% of officers and auxiliaries, 86.4% of families, 72 online, 24 offline, 13 of 13."""
    return replace(Params(
        officers=150, auxiliaries=50, families=250, supervisors=15,
        officers_joined=186, families_joined=216, supervisors_joined=15,
        leavers=4, rejoiners=3, chatter=420,
        answered_online=72, resolved_offline=24, by_committee=3, crises=3, open_cases=0, overrides=3,
        oversight_resolved=13, oversight_not_substantiated=0, oversight_open=0,
    ), **overrides)


@dataclass
class Member:
    external_id: str
    name: str
    member_kind: str
    channel_kind: str
    unit: str | None
    linked_officer: str | None = None
    supervisor_kind: str | None = None
    # (action, at): "join" / "leave", in time order
    moves: list[tuple[str, datetime]] = field(default_factory=list)

    def row(self, since: str) -> dict[str, Any]:
        row: dict[str, Any] = {"external_id": self.external_id, "name": self.name, "member_kind": self.member_kind,
                               "active": True, "since": since}
        if self.unit:
            row["unit"] = self.unit
        if self.linked_officer:
            row["linked_officer_external_id"] = self.linked_officer
        if self.supervisor_kind:
            row["supervisor_kind"] = self.supervisor_kind
        return row


@dataclass
class Message:
    """One message into a channel, and what should become of it."""

    key: str  # the bridge's source_message_id
    channel_kind: str
    author: str  # member external id
    text: str
    sent_at: datetime
    category: str  # what triage decides
    severity: str
    flags: tuple[str, ...]
    route: str
    crisis: bool
    plan: str  # chatter | answered_online | resolved_offline | by_committee | open | oversight
    override: dict[str, str] | None = None  # {"category": ..., "route": ...} a staff member corrects to
    oversight_outcome: str | None = None  # resolved | not_substantiated | in_progress
    story: str | None = None  # "housing": the officer who could not marry for lack of housing
    unit: str = BUREAU_UNIT  # the unit the concern counts in
    channel_id: str = ""  # where it was said (the bureau's group of its kind unless a unit's own channel)
    public: bool = False  # sent through the public form (anonymous, with a receipt), not by a member
    times: dict[str, datetime] = field(default_factory=dict)  # when each staff step happens

    @property
    def final_category(self) -> str:
        return (self.override or {}).get("category", self.category)

    @property
    def final_route(self) -> str:
        return (self.override or {}).get("route", self.route)


@dataclass
class Plan:
    """A year to play, and what the oversight report must show for it (``expected``)."""

    seed: int
    params: Params
    year: int
    members: list[Member]
    messages: list[Message]
    expected: dict[str, Any]

    @property
    def period(self) -> str:
        return str(self.year)


def _name(rng: random.Random, used: set[str]) -> str:
    for _ in range(1000):
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2))))
        if name not in used:
            used.add(name)
            return name
    return f"{rng.choice(_SURNAMES)}{len(used)}"


def unit_channel_id(unit: str) -> str:
    """A unit's own supervision channel (public submissions about that unit)."""
    return f"jiandu-{unit}"


def last_full_year(now: datetime | None = None) -> int:
    """The last calendar year that is over in the bureau's time zone."""
    return (now or datetime.now(UTC)).astimezone(BUREAU_TZ).year - 1


def _window(year: int, now: datetime) -> tuple[datetime, datetime]:
    """Back-dated times fall in the report year, after its first days and before now."""
    start = datetime(year, 1, 3, 9, tzinfo=BUREAU_TZ).astimezone(UTC)
    end = min(now - timedelta(minutes=10), datetime(year, 12, 31, 20, tzinfo=BUREAU_TZ).astimezone(UTC))
    if end <= start:  # the first days of a year: squeeze everything in since new year
        start = datetime(year, 1, 1, tzinfo=BUREAU_TZ).astimezone(UTC) + timedelta(minutes=1)
        end = max(start + timedelta(seconds=1), now - timedelta(seconds=30))
    return start, end


def _early(rng: random.Random, start: datetime, end: datetime) -> datetime:
    """A moment early in the window, as joins come when a scheme starts (half in its first six weeks)."""
    span = (end - start).total_seconds()
    return (start + timedelta(seconds=span * rng.random() ** 3)).replace(microsecond=0)


def _moment(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = (end - start).total_seconds()
    return (start + timedelta(seconds=rng.uniform(0, span))).replace(microsecond=0)


def _pick(rng: random.Random, entries: list[Entry], used: Counter[str]) -> Entry:
    """The least-used entry (random among ties), so texts repeat only once the pool runs out."""
    low = min(used[e[6]] for e in entries)
    choice = rng.choice([e for e in entries if used[e[6]] == low])
    used[choice[6]] += 1
    return choice


def plan_year(params: Params, *, seed: int, now: datetime | None = None) -> Plan:
    """Build a seeded year and its ground truth."""
    rng = random.Random(seed)  # noqa: S311 - a seeded scenario, not a secret
    now = now or datetime.now(UTC)
    year = params.year or last_full_year(now)
    start, end = _window(year, now)
    # Concerns leave room before the year ends for the work they cause; chatter goes on to the end.
    concern_end = max(start + (end - start) / 2, end - timedelta(days=21))
    names: set[str] = set()

    officers = [Member(f"o{i:04d}", _name(rng, names), "officer" if i <= params.officers else "auxiliary",
                       "officers", rng.choice(params.units))
                for i in range(1, params.officers + params.auxiliaries + 1)]
    families = [Member(f"f{i:04d}", _name(rng, names), "family", "families", None,
                       linked_officer=rng.choice(officers).external_id) for i in range(1, params.families + 1)]
    kinds = ("npc_deputy", "cppcc_member", "community_figure")
    supervisors = [Member(f"s{i:03d}", _name(rng, names), "supervisor", "supervision",
                          params.units[i % len(params.units)] if params.supervisor_units else None,
                          supervisor_kind=kinds[i % 3]) for i in range(1, params.supervisors + 1)]
    if params.housing_story:
        officers[0].name, officers[0].unit = "郑" + officers[0].name[1:], params.units[0]  # 巡特警大队民警郑某

    joined_by_kind: dict[str, list[Member]] = {}
    for kind, people, joined in (("officers", officers, params.officers_joined),
                                 ("families", families, params.families_joined),
                                 ("supervision", supervisors, params.supervisors_joined)):
        if joined > len(people):
            raise ValueError(f"{kind}: {joined} joined but only {len(people)} on the roster")
        order = people[:1] + rng.sample(people[1:], len(people) - 1) if kind == "officers" else rng.sample(
            people, len(people))
        stay, rest = order[:joined], order[joined:]
        leavers = rest[: params.leavers]
        rejoiners = stay[len(stay) - min(params.rejoiners, len(stay)):] if params.rejoiners else []
        for member in stay:
            member.moves.append(("join", _early(rng, start, end)))
        for member in rejoiners:
            first = member.moves[0][1]
            left = first + (end - first) / 3
            back = first + (end - first) * 2 / 3
            member.moves += [("leave", left), ("join", back)]
        for member in leavers:
            joined_at = _early(rng, start, end)
            member.moves += [("join", joined_at), ("leave", joined_at + (end - joined_at) / 2)]
        joined_by_kind[kind] = stay
    if params.housing_story:
        officers[0].moves = [("join", start + timedelta(hours=2))]
    first_join = {m.external_id: m.moves[0][1] for m in officers + families + supervisors if m.moves}

    pools: dict[tuple[str, str], list[Entry]] = {}
    for entry in POOL:
        kind, route, crisis = entry[0], entry[4], entry[5]
        bucket = "crisis" if crisis else route
        if entry[6] in (HOUSING_STORY, HOUSING_THANKS):
            continue
        pools.setdefault((kind, bucket), []).append(entry)
    used: Counter[str] = Counter()
    authors = {kind: rng.sample(joined_by_kind[kind], len(joined_by_kind[kind])) for kind in CHANNEL_KINDS}
    messages: list[Message] = []

    def author_for(kind: str) -> Callable[[datetime], str]:
        """Who says it, given when: someone who had joined by then."""
        def pick(at: datetime) -> str:
            # One concern per officer (and per family member): triage groups an officer's concerns within a week.
            if kind == "supervision":
                return _joined_by(joined_by_kind["supervision"], at).external_id
            if not authors[kind]:
                raise ValueError(f"not enough joined {kind} members for one concern each; enlarge the roster")
            chosen = next((m for m in authors[kind] if first_join.get(m.external_id, start) <= at), authors[kind][0])
            authors[kind].remove(chosen)
            return chosen.external_id

        return pick

    def _joined_by(people: list[Member], at: datetime) -> Member:
        return rng.choice([m for m in people if first_join.get(m.external_id, start) <= at] or people)

    def concern(kinds: tuple[str, ...], bucket: str, plan: str, **extra: Any) -> Message:
        options = [e for k in kinds for e in pools.get((k, bucket), [])]
        if not options:
            raise ValueError(f"no pool texts for {bucket} in {kinds}")
        entry = _pick(rng, options, used)
        return _message(entry, author_for(entry[0]), plan, **extra)

    def _message(entry: Entry, author: Callable[[datetime], str], plan: str, **extra: Any) -> Message:
        """A message at a moment spread evenly over the year, said by someone who had joined by then."""
        kind, category, severity, flags, route, crisis, text = entry
        sent_at = _moment(rng, start, end if plan == "chatter" else concern_end)
        who = author(sent_at)
        sent_at = max(sent_at, first_join.get(who, start) + timedelta(minutes=5))
        return Message(key="", channel_kind=kind, author=who, text=text, sent_at=sent_at,
                       category=category, severity=severity, flags=tuple(flags), route=route, crisis=crisis,
                       plan=plan, **extra)

    chans = params.concern_channels
    committee = params.by_committee
    if params.housing_story and committee:
        zheng = officers[0].external_id
        authors["officers"] = [m for m in authors["officers"] if m.external_id != zheng]
        said = datetime(year, 1, 8, 21, 14, tzinfo=BUREAU_TZ).astimezone(UTC)  # 今年元月
        said = min(max(said, start), end)
        messages.append(Message(key="", channel_kind="officers", author=zheng, text=HOUSING_STORY, sent_at=said,
                                category="housing", severity="medium", flags=(), route="committee", crisis=False,
                                plan="by_committee", story="housing"))
        messages.append(Message(key="", channel_kind="officers", author=zheng, text=HOUSING_THANKS,
                                sent_at=min(said + (end - said) / 4, end), category="praise", severity="low",
                                flags=(), route="dismiss", crisis=False, plan="chatter"))
        committee -= 1
    for _ in range(committee):
        messages.append(concern(chans, "committee", "by_committee"))
    for _ in range(params.crises):
        messages.append(concern(chans, "crisis", "resolved_offline"))
    offline_buckets = ("psych_support", "committee", "answer_online", "answer_online")
    for index in range(max(params.resolved_offline - params.crises, 0)):
        messages.append(concern(chans, offline_buckets[index % len(offline_buckets)], "resolved_offline"))
    misrouted = [m for m in MISROUTED if m[0] in chans]
    if params.overrides > len(misrouted):
        raise ValueError(f"only {len(misrouted)} misrouted texts in the pool for {chans}")
    for item in rng.sample(misrouted, params.overrides):
        kind, category, severity, flags, route, crisis, text, corrected = item
        fix = {"category": corrected}
        if route == "committee":
            fix["route"] = "answer_online"  # not a committee matter once it is seen for what it is
        messages.append(_message((kind, category, severity, flags, route, crisis, text), author_for(kind),
                                 "answered_online", override=fix))
    for _ in range(params.answered_online - min(params.overrides, params.answered_online)):
        messages.append(concern(chans, "answer_online", "answered_online"))
    for _ in range(params.open_cases):
        messages.append(concern(chans, "answer_online", "open"))
    outcomes = (["resolved"] * params.oversight_resolved + ["not_substantiated"] * params.oversight_not_substantiated
                + ["in_progress"] * params.oversight_open)
    rng.shuffle(outcomes)
    for outcome in outcomes:
        messages.append(concern(("families", "supervision"), "oversight", "oversight", oversight_outcome=outcome))
    for index, outcome in enumerate(params.public_submissions):
        options = pools[("supervision", "oversight")]
        entry = _pick(rng, options, used)
        unit = params.units[index % len(params.units)]
        messages.append(_message(entry, lambda _at: "", "oversight", oversight_outcome=outcome, public=True,
                                 unit=unit, channel_id=unit_channel_id(unit)))
    weights = {"officers": 0.6, "families": 0.25, "supervision": 0.15}
    for _ in range(params.chatter):
        kind = rng.choices(CHANNEL_KINDS, weights=[weights[k] for k in CHANNEL_KINDS])[0]
        entry = _pick(rng, pools[(kind, "dismiss")], used)
        messages.append(_message(entry, lambda at, kind=kind: _joined_by(joined_by_kind[kind], at).external_id,
                                 "chatter"))

    messages.sort(key=lambda m: m.sent_at)
    # A concern counts in its author's unit (a family member's: their officer's), else its channel's.
    unit_of = {m.external_id: m.unit for m in officers}
    unit_of.update({m.external_id: unit_of.get(m.linked_officer or "") for m in families})
    unit_of.update({m.external_id: m.unit for m in supervisors})
    for index, message in enumerate(messages, 1):
        message.key = f"demo-{seed}-{year}-{index:05d}"
        if not message.public:
            message.channel_id = CHANNELS[message.channel_kind][0]
            message.unit = unit_of.get(message.author) or BUREAU_UNIT
        message.times = _schedule(rng, message, end=end, params=params)
    members = officers + families + supervisors
    plan = Plan(seed=seed, params=params, year=year, members=members, messages=messages, expected={})
    plan.expected = expected_report(plan)
    return plan


def _schedule(rng: random.Random, message: Message, *, end: datetime, params: Params) -> dict[str, datetime]:
    """When each staff step of a concern happens (hours after the previous one), all before the year ends."""
    plan = message.plan
    if plan == "chatter":
        return {}
    steps: list[tuple[str, float, float]] = []  # (step, fewest hours after the previous step, most)
    if message.override:
        steps.append(("override", 0.2, 2))
    quick = message.crisis or message.severity in ("critical", "high")
    steps.append(("reply", 0.02, 0.2) if quick else ("reply", 0.5, 20))
    if plan in ("resolved_offline", "oversight"):
        steps += [("talk_booked", 4, 48), ("talk_held", 24, 120)]
    if plan == "by_committee":
        steps += [("escalated", 24, 96), ("decided", 72, 240), ("done", 24, 120)]
    if plan == "oversight" and message.oversight_outcome in ("resolved", "not_substantiated"):
        steps.append(("item_closed", 24, 240))
    if plan in METHODS:
        steps.append(("resolve", 1, 72))
    elif plan == "oversight" and params.oversight_case_method:
        steps.append(("resolve", 2, 96))
    offsets, total = [], 0.0
    for name, low, high in steps:
        total += rng.uniform(low, high)
        offsets.append((name, total))
    room = (end - message.sent_at).total_seconds() / 3600
    scale = min(1.0, room / (total + 1)) if total else 1.0
    return {name: (message.sent_at + timedelta(hours=hours * scale)).replace(microsecond=0)
            for name, hours in offsets}


def _table(counter: Counter[str], codes: tuple[str, ...]) -> dict[str, int]:
    return {code: counter.get(code, 0) for code in codes}


def expected_report(plan: Plan) -> dict[str, Any]:
    """The oversight report figures (unsuppressed) the year must produce, from what the plan intends."""
    params = plan.params
    participation: dict[str, Any] = {}
    joins: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    for kind in CHANNEL_KINDS:
        people = [m for m in plan.members if m.channel_kind == kind]
        joined = sum(1 for m in people if m.moves and m.moves[-1][0] == "join")
        participation[kind] = {"joined": joined, "roster": len(people),
                               "ratio": round(joined / len(people), 4) if people else None}
        for member in people:
            for action, _ in member.moves:
                (joins if action == "join" else leaves)[kind] += 1
    participation["joins"] = _table(joins, CHANNEL_KINDS)
    participation["leaves"] = _table(leaves, CHANNEL_KINDS)

    chatter = [m for m in plan.messages if m.plan == "chatter"]
    concerns = [m for m in plan.messages if m.plan != "chatter"]
    flags: Counter[str] = Counter(flag for m in concerns for flag in set(m.flags))
    crisis = sum(1 for m in concerns if m.crisis)
    resolved = [m for m in concerns if m.plan in METHODS]
    oversight_cases = [m for m in concerns if m.plan == "oversight"]
    methods = Counter(m.plan for m in resolved)
    if params.oversight_case_method:
        methods[params.oversight_case_method] += len(oversight_cases)
        resolved = resolved + oversight_cases
    talks = sum(1 for m in concerns if m.plan == "resolved_offline") + len(oversight_cases)
    committee = [m for m in concerns if m.plan == "by_committee"]
    # An item follows its case: an item left open is resolved when its case is.
    items = Counter("resolved" if params.oversight_case_method and m.oversight_outcome == "in_progress"
                    else m.oversight_outcome for m in oversight_cases)
    return {
        "participation": participation,
        "concerns": {
            "total": len(concerns),
            "by_channel": _table(Counter(m.channel_kind for m in concerns), CHANNEL_KINDS),
            "by_category": _table(Counter(m.final_category for m in concerns), CATEGORIES),
            "by_severity": _table(Counter(m.severity for m in concerns), SEVERITIES),
            "by_route": _table(Counter(m.final_route for m in concerns), ROUTES),
            "flags": _table(flags, FLAGS),
            "crisis": crisis,
            "overridden": sum(1 for m in concerns if m.override),
            "merged": 0,
            "crisis_fast_path": crisis,
        },
        "chatter": {"dismissed": len(chatter), "by_channel": _table(Counter(m.channel_kind for m in chatter),
                                                                      CHANNEL_KINDS)},
        "cases": {
            "opened": len(concerns),
            # Every breakdown by category counts the category after the last staff override.
            "opened_by_category": _table(Counter(m.final_category for m in concerns), CATEGORIES),
            "crisis": crisis,
            "resolved": {**_table(methods, METHODS), "total": len(resolved)},
            "resolved_by_channel": _table(Counter(m.channel_kind for m in resolved), CHANNEL_KINDS),
            "resolved_by_category": _table(Counter(m.final_category for m in resolved), CATEGORIES),
            "reopened": 0,
        },
        "talks": {"scheduled": talks, "held": talks},
        "escalations": {"raised": len(committee), "decided": len(committee),
                        "by_category": _table(Counter(m.final_category for m in committee), CATEGORIES)},
        "oversight": {
            "found": len(oversight_cases),
            "resolved": items.get("resolved", 0),
            "not_substantiated": items.get("not_substantiated", 0),
            "by_channel": _table(Counter(m.channel_kind for m in oversight_cases), ("families", "supervision")),
            "by_category": _table(Counter(m.final_category for m in oversight_cases), CATEGORIES),
        },
    }
