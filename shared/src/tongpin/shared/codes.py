"""Closed code lists: talk outcomes, resolution outcomes, committee decisions and reasons, with labels.

Events and the APIs that accept these codes take only the codes listed here, so no free words (pinyin
or English) ride in a code into oversight's ledger. Each list has Chinese and English labels for the
console, which fetches them (counselling's ``GET /codes``). A new code is a change to this file and
to the event catalogue's AsyncAPI document; a code is never removed while stored events carry it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What an offline talk (约谈) came to: talk.held's outcome_code.
TalkOutcome = Literal[
    "difficulty_resolved", "plan_agreed", "support_arranged", "conduct_addressed", "follow_up_needed",
    "needs_committee", "referred",
]
# How a case ended, beside its method (answered online, resolved offline, by the committee): case.resolved's.
ResolutionOutcome = Literal[
    "question_answered", "policy_explained", "difficulty_resolved", "support_provided",
    "committee_decision_carried_out", "conduct_corrected", "referred", "no_action_needed",
]
# What the Party committee decided on an escalation (上报党委): escalation.decided's decision_code.
CommitteeDecision = Literal[
    "housing_arranged", "hardship_aid", "leave_granted", "post_adjusted", "request_approved",
    "referred_to_department", "investigation_ordered", "request_declined",
]
# Why a resolved case was opened again: case.reopened's reason_code.
ReopenReason = Literal[
    "problem_recurred", "not_resolved", "measure_not_carried_out", "raiser_dissatisfied", "new_information",
    "closed_in_error",
]
# Why a booked talk was called off (kept on the case; no event carries it).
TalkCancelReason = Literal[
    "subject_unavailable", "staff_unavailable", "duty_clash", "rescheduled", "subject_declined", "no_longer_needed",
]


@dataclass(frozen=True, slots=True)
class CodeLabel:
    """One code with its Chinese and English label."""

    code: str
    zh: str
    en: str


@dataclass(frozen=True, slots=True)
class CodeList:
    """A closed list: its name, the request and event fields that take it, and its codes in display order."""

    name: str
    zh: str
    en: str
    fields: tuple[str, ...]
    codes: tuple[CodeLabel, ...]

    def values(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.codes)


TALK_OUTCOMES = CodeList(
    "talk_outcome", "约谈结果", "Talk outcome", ("talk.held outcome_code",), (
        CodeLabel("difficulty_resolved", "困难当面解决", "Difficulty resolved in the talk"),
        CodeLabel("plan_agreed", "商定解决办法", "Plan agreed"),
        CodeLabel("support_arranged", "已安排帮扶", "Support arranged"),
        CodeLabel("conduct_addressed", "已谈话提醒", "Conduct addressed"),
        CodeLabel("follow_up_needed", "需继续跟进", "Follow-up needed"),
        CodeLabel("needs_committee", "需上报党委研究", "Needs the committee"),
        CodeLabel("referred", "已转介专业帮助", "Referred for professional help"),
    ))

RESOLUTION_OUTCOMES = CodeList(
    "resolution_outcome", "结案结果", "Resolution outcome", ("case.resolved outcome_code",), (
        CodeLabel("question_answered", "已答疑解惑", "Question answered"),
        CodeLabel("policy_explained", "已解释政策", "Policy explained"),
        CodeLabel("difficulty_resolved", "困难已解决", "Difficulty resolved"),
        CodeLabel("support_provided", "已落实帮扶", "Support provided"),
        CodeLabel("committee_decision_carried_out", "党委决定已落实", "Committee decision carried out"),
        CodeLabel("conduct_corrected", "作风问题已整改", "Conduct corrected"),
        CodeLabel("referred", "已转介专业帮助", "Referred for professional help"),
        CodeLabel("no_action_needed", "无需处理", "No action needed"),
    ))

COMMITTEE_DECISIONS = CodeList(
    "committee_decision", "党委决定", "Committee decision", ("escalation.decided decision_code",), (
        CodeLabel("housing_arranged", "协调解决住房", "Housing arranged"),
        CodeLabel("hardship_aid", "给予困难救助", "Hardship aid granted"),
        CodeLabel("leave_granted", "批准休假", "Leave granted"),
        CodeLabel("post_adjusted", "调整岗位或工作量", "Post or workload adjusted"),
        CodeLabel("request_approved", "同意所请", "Request approved"),
        CodeLabel("referred_to_department", "交职能部门办理", "Referred to a department"),
        CodeLabel("investigation_ordered", "责成调查核实", "Investigation ordered"),
        CodeLabel("request_declined", "不予支持并说明理由", "Declined, with reasons given"),
    ))

REOPEN_REASONS = CodeList(
    "reopen_reason", "重新办理原因", "Reason for reopening", ("case.reopened reason_code",), (
        CodeLabel("problem_recurred", "问题复发", "Problem recurred"),
        CodeLabel("not_resolved", "问题未真正解决", "Not actually resolved"),
        CodeLabel("measure_not_carried_out", "措施未落实", "Measures not carried out"),
        CodeLabel("raiser_dissatisfied", "反映人不满意", "The person who raised it is not satisfied"),
        CodeLabel("new_information", "出现新情况", "New information"),
        CodeLabel("closed_in_error", "误结案", "Closed in error"),
    ))

TALK_CANCEL_REASONS = CodeList(
    "talk_cancel_reason", "约谈取消原因", "Reason for calling off a talk", ("talk cancel reason_code",), (
        CodeLabel("subject_unavailable", "当事人无法到场", "The person cannot attend"),
        CodeLabel("staff_unavailable", "工作人员无法到场", "Staff cannot attend"),
        CodeLabel("duty_clash", "与执勤任务冲突", "Clashes with duty"),
        CodeLabel("rescheduled", "另行改期", "Rescheduled"),
        CodeLabel("subject_declined", "当事人不愿约谈", "The person declined"),
        CodeLabel("no_longer_needed", "无需再约谈", "No longer needed"),
    ))

CODE_LISTS: tuple[CodeList, ...] = (
    TALK_OUTCOMES, RESOLUTION_OUTCOMES, COMMITTEE_DECISIONS, REOPEN_REASONS, TALK_CANCEL_REASONS,
)
# Each list beside the Literal type that schemas use, so a test can hold the two to the same codes.
TYPED_LISTS: tuple[tuple[CodeList, object], ...] = (
    (TALK_OUTCOMES, TalkOutcome), (RESOLUTION_OUTCOMES, ResolutionOutcome), (COMMITTEE_DECISIONS, CommitteeDecision),
    (REOPEN_REASONS, ReopenReason), (TALK_CANCEL_REASONS, TalkCancelReason),
)
