"""Disclosure control: small counts are hidden, and enough other counts with them that none can be worked out.

The method (complementary cell suppression with a linear audit):

1. **Primary suppression.** Every count from 1 to ``threshold - 1`` is hidden, in every unit's report
   and in the bureau's. Zero is shown: it identifies nobody.
2. **The published equations.** One answer, and all the answers for the same period (every unit
   and the bureau), obey linear equations an attacker knows: each breakdown adds up to its total
   (``concerns.by_category`` to ``concerns.total``…), some figures equal others, and every bureau
   figure is the sum of the same figure over the units.
3. **Complementary suppression.** An audit solves those equations for the hidden counts (exact
   elimination over the rationals). While some hidden count is a linear combination of shown ones,
   or some equation leaves its hidden counts no choice (they are whole numbers of at least 1, so
   hidden cells adding up to their own number must each be 1), one more shown count in that
   equation is hidden — the smallest — and the audit runs again. It stops because each round hides
   one more count, and a table whose non-zero counts are all hidden gives nothing away.

The guarantee: no hidden count can be recovered from the counts shown in the same answer, from the
same period's answers for other units, or from the bureau's answer — not by any linear combination
of shown counts and totals (the bureau total minus the other units included), and not by a single
equation whose hidden cells must all be 1. The suppression pattern is decided once for the period
over every unit together, so every answer for that period shows the same cells. Not covered:
hidden counts can still be bounded (each lies between 1 and what its equations allow); comparing
different periods (a year against its twelve months) is not audited; counts of broadcast deliveries
to groups are not suppressed, since they identify nobody.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction

Var = tuple[str, str]  # (scope, figure path), e.g. ("xtj", "concerns.by_category.housing")
Equation = dict[Var, int]  # sum(coefficient * value) == 0


@dataclass(frozen=True, slots=True)
class Audit:
    """What an attacker could work out: hidden counts determined, and equations that pin theirs to 1."""

    determined: tuple[Var, ...]
    pinned: tuple[int, ...]  # indexes into the equations

    @property
    def safe(self) -> bool:
        return not self.determined and not self.pinned


def audit(values: Mapping[Var, int], equations: Sequence[Equation], hidden: set[Var]) -> Audit:
    """Which hidden counts the shown counts give away (exact arithmetic)."""
    reduced: list[tuple[int, dict[Var, Fraction], Fraction]] = []
    for index, equation in enumerate(equations):
        row = {var: Fraction(c) for var, c in equation.items() if var in hidden and c}
        if not row:
            continue
        rhs = -sum((Fraction(c) * values[var] for var, c in equation.items() if var not in hidden), Fraction(0))
        reduced.append((index, row, rhs))
    pinned = []
    for index, row, rhs in reduced:
        signs = {c > 0 for c in row.values()}
        if len(signs) == 1:
            total = rhs if signs == {True} else -rhs
            if all(abs(c) == 1 for c in row.values()) and total == len(row):
                pinned.append(index)
    determined: set[Var] = set()
    for component in _components([row for _, row, _ in reduced]):
        determined |= _determined([row for row in component])
    return Audit(determined=tuple(sorted(determined)), pinned=tuple(sorted(set(pinned))))


def _components(rows: list[dict[Var, Fraction]]) -> list[list[dict[Var, Fraction]]]:
    """Rows grouped by the hidden variables they share (each group is solved on its own)."""
    parent: dict[Var, Var] = {}

    def find(var: Var) -> Var:
        while parent.setdefault(var, var) != var:
            parent[var] = parent[parent[var]]
            var = parent[var]
        return var

    for row in rows:
        first, *rest = row
        for var in rest:
            parent[find(var)] = find(first)
    groups: dict[Var, list[dict[Var, Fraction]]] = defaultdict(list)
    for row in rows:
        groups[find(next(iter(row)))].append(row)
    return list(groups.values())


def _subtract(row: dict[Var, Fraction], pivot_row: dict[Var, Fraction], var: Var) -> None:
    """Take from ``row`` the multiple of ``pivot_row`` that clears ``var`` (in place; zeros dropped)."""
    factor = row.get(var)
    if not factor:
        return
    for other, c in pivot_row.items():
        value = row.get(other, Fraction(0)) - factor * c
        if value:
            row[other] = value
        else:
            row.pop(other, None)


def _determined(rows: list[dict[Var, Fraction]]) -> set[Var]:
    """Variables fixed by the rows: after reduction to echelon form, a row with a single variable left."""
    position = {var: i for i, var in enumerate(sorted({var for row in rows for var in row}))}
    pivots: dict[Var, dict[Var, Fraction]] = {}
    for source in rows:
        row = dict(source)
        for var, pivot_row in pivots.items():
            _subtract(row, pivot_row, var)
        if not row:
            continue
        lead = min(row, key=position.__getitem__)
        scale = row[lead]
        row = {var: c / scale for var, c in row.items()}
        for pivot_row in pivots.values():
            _subtract(pivot_row, row, lead)
        pivots[lead] = row
    return {var for var, row in pivots.items() if len(row) == 1}


def protect(
    values: Mapping[Var, int], equations: Sequence[Equation], *, threshold: int,
    keep: Callable[[Var], int] = lambda var: 0,
) -> set[Var]:
    """The counts to hide: the small ones, and complements until the audit finds nothing to recover.

    Among shown counts that would do as a complement, the one with the lowest ``keep`` rank is hidden
    (then the smallest): headline figures can be ranked higher so they survive when a cell will do.
    """
    hidden = {var for var, n in values.items() if 0 < n < threshold}
    if not hidden:
        return hidden
    containing: dict[Var, list[int]] = defaultdict(list)
    for index, equation in enumerate(equations):
        for var in equation:
            containing[var].append(index)
    while True:
        found = audit(values, equations, hidden)
        if found.safe:
            return hidden
        before = set(hidden)

        def changed(near: Iterable[Equation], before: set[Var] = before) -> bool:
            # A complement added this round may already fix it: audit again before adding more.
            return any(var in hidden and var not in before for eq in near for var in eq)

        for index in found.pinned:
            if not changed([equations[index]]):
                _hide_one(values, [equations[index]], hidden, keep)
        for var in found.determined:
            near = [equations[i] for i in containing[var]]
            if changed(near) or _hide_one(values, near, hidden, keep):
                continue
            # Nothing shown next to it: widen to the equations of its hidden neighbours, then to all.
            neighbours = {other for eq in near for other in eq if other in hidden}
            wider = [equations[i] for other in sorted(neighbours) for i in containing[other]]
            if not changed(wider) and not _hide_one(values, wider, hidden, keep):
                _hide_one(values, equations, hidden, keep)
        if hidden == before:
            return hidden  # every non-zero count is hidden: nothing can be recovered


def _hide_one(values: Mapping[Var, int], near: Iterable[Equation], hidden: set[Var],
              keep: Callable[[Var], int]) -> bool:
    candidates = sorted({(keep(var), values[var], var) for eq in near for var in eq
                         if var not in hidden and values[var] > 0})
    if not candidates:
        return False
    hidden.add(candidates[0][2])
    return True
