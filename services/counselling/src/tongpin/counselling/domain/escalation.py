"""Escalation to the Party committee (上报党委): the written material, its printable form, the decision, and the
escalation a case keeps of them."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime
from html import escape
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from tongpin.shared.events import Code, Id

SUBJECT_MAX: Final = 200
BACKGROUND_MAX: Final = 5000
ACTIONS_MAX: Final = 5000
REQUEST_MAX: Final = 2000
DECISION_MAX: Final = 2000

# Whitespace, controls and format marks (ZWSP, BOM) show nothing, so text made only of them is blank.
_INVISIBLE: Final = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf"})


def _not_blank(value: str) -> str:
    if all(ch.isspace() or unicodedata.category(ch) in _INVISIBLE for ch in value):
        raise ValueError("must not be blank")
    # Stored exactly as written: people's text, Chinese included, is never altered.
    return value


SubjectText = Annotated[str, Field(min_length=1, max_length=SUBJECT_MAX), AfterValidator(_not_blank)]
BackgroundText = Annotated[str, Field(min_length=1, max_length=BACKGROUND_MAX), AfterValidator(_not_blank)]
ActionsText = Annotated[str, Field(min_length=1, max_length=ACTIONS_MAX), AfterValidator(_not_blank)]
RequestText = Annotated[str, Field(min_length=1, max_length=REQUEST_MAX), AfterValidator(_not_blank)]
DecisionText = Annotated[str, Field(min_length=1, max_length=DECISION_MAX), AfterValidator(_not_blank)]


class EscalationMaterial(BaseModel):
    """The written material (书面材料) put before the committee."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    subject: SubjectText
    background: BackgroundText
    actions_taken: ActionsText
    decision_requested: RequestText


class Decision(BaseModel):
    """The committee's recorded decision: what, who carries it out, and by when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    escalation_id: Id
    decision_code: Code
    decided: DecisionText
    actor_kind: Literal["staff", "body"]
    # A staff id, or the code of a body (e.g. logistics_office) that carries the decision out.
    actor_id: Id
    decided_by: Id
    decided_at: datetime
    due_by: datetime | None = None

    @field_validator("due_by")
    @classmethod
    def _due_after_decision(cls, value: datetime | None, info: ValidationInfo) -> datetime | None:
        decided_at = info.data.get("decided_at")
        if value is not None and decided_at is not None and value < decided_at:
            raise ValueError("must not be before decided_at")
        return value


@dataclass(kw_only=True)
class Escalation:
    """One time a case was put before the committee: its material, then the decision and its completion."""

    escalation_id: str
    material: EscalationMaterial
    prepared_by: str
    prepared_at: datetime
    decision: Decision | None = None
    done_at: datetime | None = None
    # Its people were told the deadline passed undone (told once); cleared when the work is done.
    decision_overdue: bool = False


def is_decision_overdue(*, decision: Decision, now: datetime, done: bool) -> bool:
    """True when the decision has a deadline, it has passed and the work is not done."""
    return not done and decision.due_by is not None and now > decision.due_by


_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh": {
        "title": "上报党委材料",
        "case_ref": "案件编号",
        "prepared_at": "报送日期",
        "subject": "事由",
        "background": "基本情况",
        "actions_taken": "已采取措施",
        "decision_requested": "请求决定事项",
        "decision": "党委决定",
        "actor": "责任人/部门",
        "due_by": "完成时限",
        "opinion": "党委意见",
        "signature": "签字：",
        "date": "日期：",
    },
    "en": {
        "title": "Material for the Party Committee",
        "case_ref": "Case reference",
        "prepared_at": "Submitted",
        "subject": "Subject",
        "background": "Background",
        "actions_taken": "Measures taken",
        "decision_requested": "Decision requested",
        "decision": "Committee decision",
        "actor": "Carried out by",
        "due_by": "Due by",
        "opinion": "Committee opinion",
        "signature": "Signature:",
        "date": "Date:",
    },
}

# Inline so the document prints the same anywhere, with nothing fetched from outside.
_CSS: Final = """
body { font-family: "Noto Serif CJK SC", "Source Han Serif SC", SimSun, "Songti SC", serif;
       max-width: 48rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.7; color: #000; }
h1 { text-align: center; font-size: 1.6rem; letter-spacing: 0.2em; margin-bottom: 0.5rem; }
h2 { font-size: 1.15rem; border-bottom: 1px solid #444; padding-bottom: 0.2rem; margin-top: 1.5rem; }
.meta { text-align: center; color: #333; margin: 0; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; margin: 0.5rem 0; }
.opinion { border: 1px solid #000; min-height: 8rem; padding: 0.5rem; }
.sign { display: flex; justify-content: space-between; margin-top: 5rem; }
@media print {
  @page { size: A4; margin: 2.5cm 2cm; }
  body { margin: 0; max-width: none; font-size: 12pt; }
  h2 { break-after: avoid; page-break-after: avoid; }
  section { break-inside: avoid-page; }
  .opinion { break-inside: avoid; page-break-inside: avoid; }
}
"""


def _section(title: str, text: str) -> str:
    return f'<section><h2>{escape(title)}</h2>\n<div class="text">{escape(text)}</div></section>'


def render_material_html(
    *,
    material: EscalationMaterial,
    case_ref: str,
    lang: Literal["zh", "en"] = "zh",
    prepared_at: datetime | None = None,
    decision: Decision | None = None,
) -> str:
    """A printable, self-contained HTML document of the material (every piece of user text escaped)."""
    labels = _LABELS[lang]
    # Chinese documents use full-width punctuation.
    colon, semicolon = ("：", "；") if lang == "zh" else (": ", "; ")
    meta = [f"{escape(labels['case_ref'])}{colon}{escape(case_ref)}"]
    if prepared_at is not None:
        meta.append(f"{escape(labels['prepared_at'])}{colon}{prepared_at.date().isoformat()}")
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{"zh-CN" if lang == "zh" else "en"}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(labels['title'])} {escape(case_ref)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{escape(labels['title'])}</h1>",
        *(f'<p class="meta">{line}</p>' for line in meta),
        _section(labels["subject"], material.subject),
        _section(labels["background"], material.background),
        _section(labels["actions_taken"], material.actions_taken),
        _section(labels["decision_requested"], material.decision_requested),
    ]
    if decision is not None:
        due = decision.due_by.date().isoformat() if decision.due_by else "—"
        parts += [
            _section(labels["decision"], decision.decided),
            f"<p>{escape(labels['actor'])}{colon}{escape(decision.actor_id)}{semicolon}"
            f"{escape(labels['due_by'])}{colon}{due}</p>",
        ]
    else:
        # Room for the committee to write by hand on the printed copy.
        parts += [
            f"<section><h2>{escape(labels['opinion'])}</h2>",
            '<div class="opinion"></div>',
            f'<div class="sign"><span>{escape(labels["signature"])}</span>'
            f'<span>{escape(labels["date"])}</span></div></section>',
        ]
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)
