"""Text preparation and the contexts that change what a word means: negation, reports, jokes, questions."""

from __future__ import annotations

import logging
import re
import threading
import unicodedata
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

_SENTENCE_END = frozenset("。！？!?\n…;；")
_CLAUSE_END = _SENTENCE_END | frozenset("，,、：:~～")
# What is left once chatter is removed: letters, digits and CJK count; punctuation, emoji, space do not.
_SUBSTANCE = re.compile(r"[\w]", re.UNICODE)

_tokenizer: Any = None
_tokenizer_lock = threading.Lock()


def tokenizer() -> Any:
    """The shared jieba tokenizer, loaded on first use without jieba's start-up chatter on stderr."""
    global _tokenizer
    if _tokenizer is None:
        with _tokenizer_lock:
            if _tokenizer is None:
                with warnings.catch_warnings():
                    # jieba 0.42 has invalid escape sequences that newer Pythons warn about on import.
                    warnings.simplefilter("ignore", category=DeprecationWarning)
                    warnings.simplefilter("ignore", category=SyntaxWarning)
                    import jieba

                jieba.setLogLevel(logging.WARNING)
                instance = jieba.Tokenizer()
                instance.initialize()
                _tokenizer = instance
    return _tokenizer


def prepare(text: str, *, max_chars: int) -> str:
    """Text for analysis: truncated, width-folded (NFKC) and lower-cased; offsets stay within one string."""
    clipped = (text or "")[:max_chars] if max_chars else (text or "")
    return unicodedata.normalize("NFKC", clipped).lower()


def substance(text: str) -> str:
    """The letters, digits and CJK characters of a text (what is left once punctuation and emoji go)."""
    return "".join(_SUBSTANCE.findall(text)).replace("_", "")


@dataclass(frozen=True)
class Contexts:
    """Per-character context marks for one prepared message."""

    reported: tuple[bool, ...]
    question: tuple[bool, ...]
    joke: bool

    def at(self, offset: int) -> tuple[str, ...]:
        """The contexts active at an offset, by name."""
        names: list[str] = []
        if offset < len(self.reported) and self.reported[offset]:
            names.append("reported")
        if offset < len(self.question) and self.question[offset]:
            names.append("question")
        if self.joke:
            names.append("joke")
        return tuple(names)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence."""
    return _spans(text, _SENTENCE_END)


def clause_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause (sentences cut further at commas)."""
    return _spans(text, _CLAUSE_END)


def _spans(text: str, ends: frozenset[str]) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for index, char in enumerate(text):
        if char in ends:
            if index > start:
                spans.append((start, index))
            start = index + 1
    if start < len(text):
        spans.append((start, len(text)))
    return spans


def find_contexts(text: str, cues: dict[str, tuple[str, ...]]) -> Contexts:
    """Mark where the writer reports news or others' stories, asks for information, or jokes."""
    reported = [False] * len(text)
    question = [False] * len(text)
    reported_cues = cues.get("reported", ())
    enders = cues.get("reported_enders", ())
    question_cues = cues.get("question", ())
    for start, end in sentence_spans(text):
        sentence = text[start:end]
        cue_at = _first_cue(sentence, reported_cues)
        if cue_at is not None:
            # A report runs to the end of its sentence, unless a clause turns back to the writer
            # ("听说…跳楼了，我现在也…"): from there on it is first-hand again.
            for c_start, c_end in clause_spans(sentence):
                if c_end <= cue_at:
                    continue
                if c_start > cue_at and sentence[c_start:c_end].lstrip().startswith(enders):
                    break
                for offset in range(max(c_start, cue_at), c_end):
                    reported[start + offset] = True
        if any(cue in sentence for cue in question_cues):
            for offset in range(start, end):
                question[offset] = True
    joke = any(cue in text for cue in cues.get("joke", ()))
    return Contexts(reported=tuple(reported), question=tuple(question), joke=joke)


def _first_cue(sentence: str, cues: tuple[str, ...]) -> int | None:
    """Where the first of the cues occurs in the sentence (the leftmost match of all of them at once)."""
    if "" in cues:
        return 0
    found = _cue_regex(cues).search(sentence) if cues else None
    return found.start() if found else None


@lru_cache(maxsize=64)
def _cue_regex(cues: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(cue) for cue in sorted(cues, key=len, reverse=True) if cue) or r"(?!)")


def negation_before(
    text: str, offset: int, *, cues: tuple[str, ...], breakers: tuple[str, ...], window: int
) -> str | None:
    """The negation word governing the word at ``offset``, if any, within its clause.

    Looks at up to ``window`` jieba tokens before the word, so 没办法 or 不知道 (whole tokens that
    merely contain 没/不) do not count, while 不是不想活了 and 没有想轻生 do. A contrast word
    (但是, 就是…) ends the search: 不知道为什么就是想死 is not negated.
    """
    clause_start = offset
    while clause_start > 0 and text[clause_start - 1] not in _CLAUSE_END:
        clause_start -= 1
    prefix = text[clause_start:offset].strip()
    if not prefix or not any(cue in prefix for cue in cues):
        return None  # no negation word anywhere before it: nothing to segment
    tokens = [tok for tok in tokenizer().lcut(prefix) if tok.strip()]
    for token in reversed(tokens[-window:]):
        if token in breakers:
            return None
        if token in cues:
            return token
    return None
