"""Regular expressions for rules: patterns compiled for RE2, literal terms folded into one trie-shaped
alternation."""

from __future__ import annotations

import re
from typing import Any

import re2

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_PY_UNICODE_ESCAPE = re.compile(r"(?<!\\)((?:\\\\)*)\\u([0-9a-fA-F]{4})")


def linear_regex(pattern: str) -> Any:
    """The pattern compiled for RE2, which matches in time linear in the text whatever the pattern; raises
    re2.error for what only a backtracking engine can do (backreferences, lookarounds)."""
    # Python's \uXXXX escapes are written \x{XXXX} in RE2.
    return re2.compile(_PY_UNICODE_ESCAPE.sub(r"\1\\x{\2}", pattern), _RE2_OPTIONS)


def trie_pattern(terms: list[str]) -> str:
    """One regular expression for a list of literal terms, with shared prefixes factored out.

    At any position it matches the longest term that starts there, as the terms sorted longest first in
    one alternation would, but tries each character once instead of once per term (about 12 % faster on
    the corpus, same decisions).
    """
    trie: dict[str, Any] = {}
    for term in terms:
        node = trie
        for char in term:
            node = node.setdefault(char, {})
        node[""] = {}

    def build(node: dict[str, Any]) -> str:
        branches = [re.escape(char) + build(child) for char, child in sorted(node.items()) if char]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a term ends here: what follows is optional, tried first (the longest match wins)
            return f"(?:{body})?" if len(branches) == 1 else body + "?"
        return body

    return build(trie)
