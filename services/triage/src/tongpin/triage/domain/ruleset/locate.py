"""Where a problem sits in a rule-set document's text, as a line number an editor can jump to."""

from __future__ import annotations

import json
import re


class _Locator:
    """Maps problems to line numbers in the source text, so an editor can jump to them."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.rule_spans: list[tuple[int, int]] = []

    def line_at(self, offset: int) -> int:
        return self.text.count("\n", 0, max(offset, 0)) + 1

    def key_line(self, key: str, start: int = 0, end: int | None = None) -> int:
        """Line of ``"key"`` within [start, end), or of start when absent."""
        found = self.text.find(json.dumps(key, ensure_ascii=False), start, end)
        return self.line_at(found if found >= 0 else start)

    def value_line(self, value: str, start: int, end: int) -> int:
        found = self.text.find(json.dumps(value, ensure_ascii=False)[1:-1], start, end)
        return self.line_at(found if found >= 0 else start)

    def find_rule_spans(self) -> None:
        """Record where each element of the top-level ``rules`` array starts and ends."""
        match = re.search(r'"rules"\s*:\s*\[', self.text)
        if match is None:
            return
        decoder = json.JSONDecoder()
        pos = match.end()
        while True:
            pos = _skip_ws(self.text, pos)
            if pos >= len(self.text) or self.text[pos] == "]":
                return
            try:
                _, end = decoder.raw_decode(self.text, pos)
            except json.JSONDecodeError:
                return
            self.rule_spans.append((pos, end))
            pos = _skip_ws(self.text, end)
            if pos < len(self.text) and self.text[pos] == ",":
                pos += 1


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def text_find_start(loc: _Locator, key: str) -> int:
    """Offset of a top-level key, so nested lookups start there."""
    found = loc.text.find(json.dumps(key))
    return max(found, 0)
