"""The roster: who each channel's participation is measured against, imported from CSV or JSON."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from tongpin.shared.events import ChannelKind, Id, MemberKind

SupervisorKind = Literal["npc_deputy", "cppcc_member", "community_figure"]
# WeCom user ids and staff numbers: letters, digits and _ . : - @ (no spaces).
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@\-]{0,63}$")
]
PersonName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]

CHANNEL_OF_KIND: dict[str, ChannelKind] = {
    "officer": "officers",
    "auxiliary": "officers",
    "family": "families",
    "supervisor": "supervision",
}
MAX_ROWS = 50_000

FIELDS = (
    "external_id", "name", "member_kind", "unit", "linked_officer_external_id", "supervisor_kind",
    "active", "since",
)
REQUIRED_COLUMNS = ("external_id", "name", "member_kind")

# Header aliases, matched after stripping and lower-casing.
HEADER_ALIASES: dict[str, str] = {
    **{field: field for field in FIELDS},
    "工号": "external_id", "编号": "external_id", "人员编号": "external_id", "id": "external_id",
    "姓名": "name",
    "类别": "member_kind", "人员类别": "member_kind", "身份": "member_kind",
    "单位": "unit", "所在单位": "unit", "单位代码": "unit",
    "关联民警": "linked_officer_external_id", "关联民警工号": "linked_officer_external_id",
    "监督类别": "supervisor_kind", "监督员类别": "supervisor_kind",
    "在册": "active", "是否在册": "active", "状态": "active",
    "起始日期": "since", "入册日期": "since", "日期": "since",
}
# Value aliases accepted in CSV files (spreadsheets are filled in Chinese).
MEMBER_KIND_ALIASES: dict[str, str] = {
    "民警": "officer", "辅警": "auxiliary", "家属": "family", "民警家属": "family",
    "监督员": "supervisor", "社会监督员": "supervisor",
}
SUPERVISOR_KIND_ALIASES: dict[str, str] = {
    "人大代表": "npc_deputy", "政协委员": "cppcc_member", "社会人士": "community_figure",
    "社区代表": "community_figure", "社会知名人士": "community_figure",
}
_TRUE = frozenset({"true", "yes", "y", "1", "是", "在册", "在职", "有效"})
_FALSE = frozenset({"false", "no", "n", "0", "否", "离册", "离职", "无效"})
_SLASH_DATE = re.compile(r"^(\d{4})[/.](\d{1,2})[/.](\d{1,2})$")
_CHINESE_DATE = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日?$")


@dataclass(frozen=True, slots=True)
class RowError:
    """One import problem: row (CSV: header is 1; JSON: items from 1; None: whole file), field, reason."""

    row: int | None
    field: str | None
    reason: str


class RosterRow(BaseModel):
    """One person on the roster, with the rules that tie member kind to unit, link and supervisor kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    external_id: ExternalId
    name: PersonName
    member_kind: MemberKind
    unit: Id | None = None
    linked_officer_external_id: ExternalId | None = None
    supervisor_kind: SupervisorKind | None = None
    active: bool = True
    since: date | None = None

    @property
    def channel_kind(self) -> ChannelKind:
        """The channel kind whose participation this person counts towards."""
        return CHANNEL_OF_KIND[self.member_kind]

    @model_validator(mode="after")
    def _kind_rules(self) -> RosterRow:
        kind = self.member_kind
        if kind in ("officer", "auxiliary") and self.unit is None:
            raise _RuleError("unit", "an officer or auxiliary must have a unit")
        if kind == "family" and self.linked_officer_external_id is None:
            raise _RuleError("linked_officer_external_id", "a family member must be linked to an officer")
        if kind != "family" and self.linked_officer_external_id is not None:
            raise _RuleError("linked_officer_external_id", "only a family member is linked to an officer")
        if kind == "family" and self.linked_officer_external_id == self.external_id:
            raise _RuleError("linked_officer_external_id", "a family member cannot be linked to themselves")
        if kind == "supervisor" and self.supervisor_kind is None:
            raise _RuleError("supervisor_kind", "a supervisor must have a supervisor kind")
        if kind != "supervisor" and self.supervisor_kind is not None:
            raise _RuleError("supervisor_kind", "only a supervisor has a supervisor kind")
        return self


class _RuleError(ValueError):
    """A cross-field rule failed; carries the field to blame."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


def _errors_from_validation(row: int, exc: ValidationError) -> list[RowError]:
    errors: list[RowError] = []
    for detail in exc.errors(include_url=False, include_input=False):
        ctx_error = (detail.get("ctx") or {}).get("error")
        if isinstance(ctx_error, _RuleError):
            errors.append(RowError(row, ctx_error.field, ctx_error.reason))
            continue
        loc = detail.get("loc") or ()
        field = str(loc[0]) if loc else None
        errors.append(RowError(row, field, _reason(field, detail)))
    return errors


def _reason(field: str | None, detail: Mapping[str, Any]) -> str:
    kind = detail.get("type")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a roster field"
    if field in ("external_id", "linked_officer_external_id") and kind == "string_pattern_mismatch":
        return "must be 1-64 letters, digits or _ . : @ - (no spaces)"
    if field == "unit" and kind == "string_pattern_mismatch":
        return "must be a unit code: letters, digits or _ . : - (no spaces)"
    if field == "member_kind" and kind == "literal_error":
        return "must be officer, auxiliary, family or supervisor (民警/辅警/家属/监督员)"
    if field == "supervisor_kind" and kind == "literal_error":
        return "must be npc_deputy, cppcc_member or community_figure (人大代表/政协委员/社会人士)"
    if field == "since":
        return "must be a date such as 2024-03-01"
    if field == "active":
        return "must be true or false (是/否)"
    return str(detail.get("msg", "is invalid"))


def _check_links(
    rows: list[tuple[int, RosterRow]], *, known_officer_ids: Collection[str] | None
) -> list[RowError]:
    kind_of = {row.external_id: row.member_kind for _, row in rows}
    errors: list[RowError] = []
    for number, row in rows:
        target = row.linked_officer_external_id
        if target is None:
            continue
        if target in kind_of:
            if kind_of[target] not in ("officer", "auxiliary"):
                errors.append(RowError(number, "linked_officer_external_id", f"{target} is not an officer"))
        elif known_officer_ids is not None and target not in known_officer_ids:
            errors.append(
                RowError(number, "linked_officer_external_id", f"no officer {target} in this file or the roster")
            )
    return errors


def validate_rows(
    items: Iterable[Any], *, known_officer_ids: Collection[str] | None = None
) -> tuple[list[RosterRow], list[RowError]]:
    """Validate roster items (the JSON bulk API, rows numbered from 1); return the good rows and the errors.

    A bad row never stops the others. A repeated external_id is reported on each later row and
    only the first is kept. With known_officer_ids, a family link must name an officer in this
    batch or in that set.
    """
    listed = list(items)
    return _validate(listed, list(range(1, len(listed) + 1)), known_officer_ids=known_officer_ids)


def _validate(
    items: list[Any], numbers: list[int], *, known_officer_ids: Collection[str] | None
) -> tuple[list[RosterRow], list[RowError]]:
    accepted: list[tuple[int, RosterRow]] = []
    errors: list[RowError] = []
    first_seen: dict[str, int] = {}
    for number, item in zip(numbers, items, strict=True):
        if not isinstance(item, Mapping):
            errors.append(RowError(number, None, "must be an object"))
            continue
        try:
            row = RosterRow.model_validate(dict(item))
        except ValidationError as exc:
            errors.extend(_errors_from_validation(number, exc))
            continue
        if row.external_id in first_seen:
            errors.append(
                RowError(number, "external_id", f"duplicate of row {first_seen[row.external_id]}")
            )
            continue
        first_seen[row.external_id] = number
        accepted.append((number, row))
    link_errors = _check_links(accepted, known_officer_ids=known_officer_ids)
    bad_rows = {error.row for error in link_errors}
    errors.extend(link_errors)
    errors.sort(key=lambda error: error.row or 0)
    return [row for number, row in accepted if number not in bad_rows], errors


def _csv_value(field: str, raw: str) -> Any:
    """A CSV cell as the model expects it; aliases and spreadsheet spellings become canonical values."""
    value = raw.strip()
    if value == "":
        return None
    if field == "member_kind":
        return MEMBER_KIND_ALIASES.get(value, value.lower())
    if field == "supervisor_kind":
        return SUPERVISOR_KIND_ALIASES.get(value, value.lower())
    if field == "active":
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        return value
    if field == "since":
        match = _SLASH_DATE.match(value) or _CHINESE_DATE.match(value)
        if match:
            year, month, day = (int(part) for part in match.groups())
            try:
                return date(year, month, day)
            except ValueError:
                return value
        return value
    return value


def _decode(data: bytes) -> tuple[str | None, RowError | None]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, RowError(None, None, "file is UTF-16; save it as CSV UTF-8")
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        offset = exc.start + (3 if data.startswith(b"\xef\xbb\xbf") else 0)
        return None, RowError(
            None, None, f"file is not valid UTF-8 (byte offset {offset}); save it as CSV UTF-8, not GBK"
        )


def _header(cells: list[str]) -> tuple[list[str | None], list[RowError]]:
    columns: list[str | None] = []
    errors: list[RowError] = []
    seen: set[str] = set()
    for cell in cells:
        name = cell.strip()
        canonical = HEADER_ALIASES.get(name.lower()) if name else None
        if name and canonical is None:
            errors.append(RowError(1, name, "unknown column"))
        elif canonical is not None and canonical in seen:
            errors.append(RowError(1, name, f"column {canonical} appears twice"))
            canonical = None
        if canonical is not None:
            seen.add(canonical)
        columns.append(canonical)
    for required in REQUIRED_COLUMNS:
        if required not in seen:
            errors.append(RowError(1, required, "required column is missing"))
    return columns, errors


def parse_roster_csv(
    data: bytes, *, known_officer_ids: Collection[str] | None = None, max_rows: int = MAX_ROWS
) -> tuple[list[RosterRow], list[RowError]]:
    """Parse a roster CSV (UTF-8, BOM optional, English or Chinese headers); return good rows and errors.

    Row numbers are spreadsheet rows (the header is row 1). A bad row is reported with its field
    and reason and never stops the others; a file that cannot be read gives one error for the file.
    """
    text, decode_error = _decode(data)
    if decode_error is not None or text is None:
        return [], [decode_error or RowError(None, None, "file cannot be read")]
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header_cells = next(reader, None)
    except csv.Error as exc:
        return [], [RowError(1, None, f"header is not valid CSV: {exc}")]
    if header_cells is None:
        return [], [RowError(None, None, "file is empty")]
    columns, errors = _header(header_cells)
    if any(error.reason == "required column is missing" for error in errors):
        return [], errors

    items: list[dict[str, Any]] = []
    numbers: list[int] = []
    record = 1
    while True:
        record += 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            errors.append(RowError(record, None, f"not valid CSV: {exc}"))
            break  # the csv module cannot resynchronise after a broken quote
        if not any(cell.strip() for cell in cells):
            continue  # blank lines and rows of empty cells are skipped
        if len(items) >= max_rows:
            errors.append(RowError(None, None, f"file has more than {max_rows} rows"))
            break
        if len(cells) > len(columns) and any(cell.strip() for cell in cells[len(columns) :]):
            errors.append(RowError(record, None, "row has more cells than the header"))
            continue
        item: dict[str, Any] = {}
        for column, cell in zip(columns, cells, strict=False):
            if column is not None:
                value = _csv_value(column, cell)
                if value is not None:
                    item[column] = value
        items.append(item)
        numbers.append(record)

    rows, row_errors = _validate(items, numbers, known_officer_ids=known_officer_ids)
    errors.extend(row_errors)
    errors.sort(key=lambda error: error.row or 0)
    return rows, errors
