"""Statistics: pre-aggregated ``$inc`` counters (FerretDB can only ``$sum`` and ``$count``), read back as reports.

Counters. Each counted fact is one ``(period kind, period key, unit, figure) -> amount`` and becomes
``Increment(scope_key, figure, amount)`` twice: once on its unit's scope document and once on the
all-units scope ``*``. The update is a plain function of (unit, period, fact), so the counters of
many events can be grouped by scope document and applied together. Scope documents are:

* ``month:YYYY-MM|unit:<unit>`` and ``month:YYYY-MM|unit:*`` — flows, in the bureau's calendar month
  (``periods``). Quarter and year reports merge their months, so months add up to the year.
* ``day:YYYY-MM-DD|unit:<unit>`` and ``day:...|unit:*`` — net participation deltas:
  ``participation.joined.<channel kind>`` (+1 joined, -1 left) and ``participation.roster.<kind>``.
  Participation on a date is the sum of all day deltas up to it (a stock, not a flow: it is read at
  the end of the period and does not add up over months).

Where facts come from. Everything about a concern — its triage decisions, its case, talks,
escalations and oversight item — is counted from its thread (``threads``), whose counts are a
function of its state, so corrections move every figure at once. Membership, roster changes and
broadcast deliveries are facts of their own event (``event_facts``). Field names are codes from
the catalogue, never unit ids or text, so every path is ``$inc``-safe.

Reports add up: every breakdown adds up to its total (flags excepted: a concern may carry several),
per unit and for the bureau, and each bureau figure is the sum over the units. ``published`` applies
the disclosure control (``disclosure``) to the answers of one period for every unit at once.
"""

from tongpin.oversight.domain.statistics.export import report_rows, to_csv
from tongpin.oversight.domain.statistics.facts import ScopedFact, event_facts, increments, month_facts
from tongpin.oversight.domain.statistics.figures import (
    ITEM_CHANNELS,
    METHODS,
    READING_TARGETS,
    ROUTES,
    _get,
    figures_of,
    merge_docs,
    participation_figures,
    participation_sums,
)
from tongpin.oversight.domain.statistics.publication import (
    BREAKDOWNS,
    DEFAULT_THRESHOLD,
    EQUAL,
    counts_of,
    equations_for,
    published,
)
from tongpin.oversight.domain.statistics.scopes import (
    ALL_UNITS,
    DAY,
    MONTH,
    Increment,
    Scope,
    parse_scope_key,
    scope_fields,
    scope_key,
    scope_keys_for,
)

__all__ = [
    "ALL_UNITS",
    "BREAKDOWNS",
    "DAY",
    "DEFAULT_THRESHOLD",
    "EQUAL",
    "ITEM_CHANNELS",
    "METHODS",
    "MONTH",
    "READING_TARGETS",
    "ROUTES",
    "Increment",
    "Scope",
    "ScopedFact",
    "_get",
    "counts_of",
    "equations_for",
    "event_facts",
    "figures_of",
    "increments",
    "merge_docs",
    "month_facts",
    "parse_scope_key",
    "participation_figures",
    "participation_sums",
    "published",
    "report_rows",
    "scope_fields",
    "scope_key",
    "scope_keys_for",
    "to_csv",
]
