"""The learned half of triage's judgment: a linear model over character and word n-grams.

Training lives in ``tongpin.triage.train`` (scikit-learn); this module only reads a trained model
and applies it, with numpy, so a decision costs a few dictionary lookups and one small matrix sum.

A model file is self-describing bytes: a magic line, a JSON header (version, classes, vocabulary,
calibration, thresholds) and the weight arrays. Its SHA-256 is stored beside it wherever it is kept,
and a model whose bytes do not match is refused (``ModelError``), so a damaged file never judges.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import resources
from typing import Any

import numpy as np

MAGIC = b"TONGPIN-TRIAGE-MODEL\n"
FORMAT = 1
CHATTER = "chatter"  # the category model's fourteenth class: other + dismissed
MAX_FEATURE_CHARS = 2000
MAX_NGRAM_CHARS = 3

_SPACE = re.compile(r"\s+")
# Markup and links pasted into a message say nothing about the concern in it; their many Latin n-grams
# would drown the words that do (a concern behind a script tag read as chatter).
_MARKUP = re.compile(r"<[^<>]{1,300}>|https?://\S+|www\.\S+")


def _platt(decision: float, platt: tuple[float, float]) -> float:
    exponent = platt[0] * decision + platt[1]
    return 1.0 / (1.0 + math.exp(min(60.0, max(-60.0, exponent))))


class ModelError(ValueError):
    """A model file that cannot be used (bad magic, bad header, checksum mismatch, shapes that disagree)."""


def checksum(blob: bytes) -> str:
    """The SHA-256 a model's bytes are stored and checked with."""
    return hashlib.sha256(blob).hexdigest()


# --- text to features -------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _simplify_table() -> dict[int, str]:
    """Traditional to simplified, character by character (OpenCC's table, first candidate)."""
    table: dict[int, str] = {}
    text = resources.files("opencc").joinpath("dictionary", "TSCharacters.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 2 and len(parts[0]) == 1:
            target = parts[1].split(" ")[0]
            if len(target) == 1:
                table[ord(parts[0])] = target
    return table


def normalise(text: str) -> str:
    """Width-folded, lower-cased, simplified, whitespace-collapsed text, clipped for feature extraction."""
    clipped = (text or "")[:MAX_FEATURE_CHARS]
    folded = unicodedata.normalize("NFKC", clipped).lower().translate(_simplify_table())
    return _SPACE.sub(" ", _MARKUP.sub(" ", folded)).strip()


def features(text: str, channel_kind: str) -> list[str]:
    """The feature strings of one message: its character 1–3-grams and its channel.

    Character n-grams measured as well as character plus jieba word n-grams on the corpus
    (cross-validated macro-F1 0.819 against 0.818, crisis average precision 0.882 against 0.875) and
    need no word segmentation, so the model adds little to a decision's cost.
    """
    compact = normalise(text).replace(" ", "")
    out = [f"ch:{channel_kind}"]
    for n in range(1, MAX_NGRAM_CHARS + 1):
        out.extend(["c:" + compact[i:i + n] for i in range(len(compact) - n + 1)])
    return out


def readable(feature: str) -> str:
    """A feature as staff read it: the n-gram itself, or a word pair joined with a space."""
    kind, _, value = feature.partition(":")
    return value if kind == "c" else feature


# --- the model ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Head:
    """One linear head: weights per feature for each output, an intercept, and its calibration.

    ``kind`` is ``softmax`` (one class among several, temperature-calibrated) or ``sigmoid`` (one yes/no
    output, Platt-calibrated: p = 1 / (1 + exp(a·d + b))).
    """

    name: str
    kind: str
    outputs: tuple[str, ...]
    weights: np.ndarray  # (n_features, n_outputs), float32
    intercept: np.ndarray  # (n_outputs,)
    temperature: float = 1.0
    platt: tuple[float, float] = (-1.0, 0.0)

    def probabilities(self, decision: np.ndarray) -> np.ndarray:
        if self.kind == "softmax":
            z = decision / self.temperature
            z = z - z.max()
            e = np.exp(z)
            return np.asarray(e / e.sum())
        a, b = self.platt
        return np.asarray(1.0 / (1.0 + np.exp(np.clip(a * decision + b, -60, 60))))


@dataclass(frozen=True)
class Contribution:
    """One feature's share of a head's decision for one output."""

    feature: str
    weight: float


@dataclass(frozen=True)
class Prediction:
    """What the model says about one message."""

    category: str  # one of the 13 categories, or "chatter"
    category_probability: float
    probabilities: dict[str, float]
    crisis_probability: float
    crisis: bool
    flag_probabilities: dict[str, float]
    flags: tuple[str, ...]
    category_evidence: tuple[Contribution, ...] = ()
    crisis_evidence: tuple[Contribution, ...] = ()


@dataclass(frozen=True)
class Model:
    """A trained model: vocabulary with idf weights, a category head, a crisis head and flag heads."""

    version: int
    name: str
    vocabulary: dict[str, int]
    idf: np.ndarray
    category: Head
    crisis: Head
    flags: tuple[Head, ...]
    crisis_threshold: float
    flag_threshold: float
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def with_version(self, version: int) -> Model:
        return Model(version=version, name=self.name, vocabulary=self.vocabulary, idf=self.idf,
                     category=self.category, crisis=self.crisis, flags=self.flags,
                     crisis_threshold=self.crisis_threshold, flag_threshold=self.flag_threshold, meta=self.meta)

    def vector(self, feats: Iterable[str]) -> tuple[list[int], list[float]]:
        """Sparse tf-idf vector (rows, values) of a feature list: sublinear tf, idf, unit length.

        Plain Python: a message has a hundred-odd features, and numpy's per-call cost would dominate.
        """
        idf, log = self._idf, math.log
        # Counted by vocabulary index (map and Counter run in C); features outside the vocabulary count
        # under None and are skipped. The vocabulary is one-to-one, so this is the same vector in the same
        # order as counting the features themselves.
        rows: list[int] = []
        values: list[float] = []
        for index, tally in Counter(map(self.vocabulary.get, feats)).items():
            if index is not None:
                rows.append(index)
                values.append(idf[index] if tally == 1 else (1.0 + log(tally)) * idf[index])
        norm = math.sqrt(sum(v * v for v in values))
        return rows, [v / norm for v in values] if norm else values

    @cached_property
    def _idf(self) -> list[float]:
        return [float(v) for v in self.idf.tolist()]

    @cached_property
    def _stacked(self) -> tuple[np.ndarray, np.ndarray, list[slice]]:
        """Every head's weights side by side, so one gather and one sum score a message for all of them."""
        heads = [self.category, self.crisis, *self.flags]
        # float32 halves the matrix (cache-friendlier gathers); the decision is summed in float64 all the same.
        weights = np.ascontiguousarray(np.concatenate([h.weights for h in heads], axis=1), dtype=np.float32)
        intercept = np.concatenate([h.intercept for h in heads]).astype(np.float64)
        slices, start = [], 0
        for head in heads:
            slices.append(slice(start, start + len(head.outputs)))
            start += len(head.outputs)
        return weights, intercept, slices

    def predict(self, feats: Sequence[str], *, evidence: int = 3) -> Prediction:
        """Category, crisis and flag probabilities for one message's features, with the strongest n-grams."""
        rows, values = self.vector(feats)
        weights, intercept, slices = self._stacked
        if rows:
            gathered = weights[rows]
            decision = (np.asarray(values) @ gathered.astype(np.float64) + intercept).tolist()
        else:
            gathered = np.zeros((0, len(intercept)))
            decision = intercept.tolist()
        # A handful of numbers: plain Python is faster than numpy here.
        cat = self.category
        scaled = [d / cat.temperature for d in decision[slices[0]]]
        top = max(scaled)
        exps = [math.exp(z - top) for z in scaled]
        total = sum(exps)
        cat_probs = [e / total for e in exps]
        best = max(range(len(cat_probs)), key=cat_probs.__getitem__)
        crisis_p = _platt(decision[slices[1].start], self.crisis.platt)
        flag_ps = {head.name: _platt(decision[part.start], head.platt)
                   for head, part in zip(self.flags, slices[2:], strict=True)}
        return Prediction(
            category=cat.outputs[best], category_probability=cat_probs[best],
            probabilities=dict(zip(cat.outputs, cat_probs, strict=True)),
            crisis_probability=crisis_p, crisis=crisis_p >= self.crisis_threshold,
            flag_probabilities=flag_ps,
            flags=tuple(code for code, p in flag_ps.items() if p >= self.flag_threshold),
            category_evidence=self._evidence(rows, values, gathered, slices[0].start + best, evidence),
            # What made a crisis is named when the model calls one; otherwise nobody reads it.
            crisis_evidence=self._evidence(rows, values, gathered, slices[1].start, evidence)
            if crisis_p >= self.crisis_threshold else (),
        )

    def _evidence(self, rows: list[int], values: list[float], gathered: np.ndarray, column: int,
                  limit: int) -> tuple[Contribution, ...]:
        if not rows or limit <= 0:
            return ()
        shares = np.asarray(values) * gathered[:, column]
        # The strongest positive shares; n-grams of two or three characters read better than single ones,
        # so a single character is named only when too few longer ones contributed. The channel marker
        # explains nothing and is never named.
        wanted = min(len(rows), limit * 6)
        top = np.argpartition(shares, len(rows) - wanted)[len(rows) - wanted:] if wanted < len(rows) else \
            np.arange(len(rows))
        names, longer, single = self.names, self._longer, self._single
        # Equal shares (n-grams that always came together in training) go to the longer n-gram, then by name.
        ranked = sorted(top.tolist(), key=lambda i: (-shares[i], -len(names[rows[i]]), names[rows[i]]))
        picked = [i for i in ranked if shares[i] > 0 and longer[rows[i]]][:limit]
        if len(picked) < limit:
            picked += [i for i in ranked if shares[i] > 0 and single[rows[i]]][: limit - len(picked)]
        return tuple(Contribution(feature=names[rows[i]], weight=float(shares[i])) for i in picked)

    @cached_property
    def _longer(self) -> list[bool]:
        return [f.startswith("c:") and len(f) > 3 for f in self.names]

    @cached_property
    def _single(self) -> list[bool]:
        return [f.startswith("c:") and len(f) == 3 for f in self.names]

    @cached_property
    def names(self) -> list[str]:
        """Feature strings by column index."""
        ordered = [""] * len(self.vocabulary)
        for feat, index in self.vocabulary.items():
            ordered[index] = feat
        return ordered

    # --- bytes ----------------------------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The model as a self-describing file; the same model gives the same bytes."""
        heads = [self.category, self.crisis, *self.flags]
        header = {
            "format": FORMAT, "version": self.version, "name": self.name,
            "vocabulary": sorted(self.vocabulary, key=self.vocabulary.__getitem__),
            "crisis_threshold": self.crisis_threshold, "flag_threshold": self.flag_threshold,
            "heads": [{"name": h.name, "kind": h.kind, "outputs": list(h.outputs), "temperature": h.temperature,
                       "platt": list(h.platt)} for h in heads],
            "meta": self.meta,
        }
        head_bytes = json.dumps(header, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
        arrays = [self.idf.astype("<f4")]
        for head in heads:
            arrays += [head.weights.astype("<f4"), head.intercept.astype("<f4")]
        body = b"".join(a.tobytes(order="C") for a in arrays)
        return MAGIC + struct.pack("<Q", len(head_bytes)) + head_bytes + body

    @classmethod
    def from_bytes(cls, blob: bytes, *, expected_checksum: str | None = None) -> Model:
        """Read a model file; ModelError if it is damaged, of another format, or fails its checksum."""
        if expected_checksum is not None and checksum(blob) != expected_checksum:
            raise ModelError("checksum mismatch: the model's bytes are not the ones that were stored")
        if not blob.startswith(MAGIC) or len(blob) < len(MAGIC) + 8:
            raise ModelError("not a triage model file")
        offset = len(MAGIC)
        (size,) = struct.unpack_from("<Q", blob, offset)
        offset += 8
        try:
            header = json.loads(blob[offset:offset + size].decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ModelError(f"unreadable header: {exc}") from None
        offset += size
        if not isinstance(header, dict) or header.get("format") != FORMAT:
            raise ModelError("unknown model format")
        try:
            vocabulary = {feat: index for index, feat in enumerate(header["vocabulary"])}
            n = len(vocabulary)

            def take(count: int) -> np.ndarray:
                nonlocal offset
                end = offset + 4 * count
                if end > len(blob):
                    raise ModelError("the model file is truncated")
                array = np.frombuffer(blob, dtype="<f4", count=count, offset=offset).astype(np.float32)
                offset = end
                return array

            idf = take(n).astype(np.float64)
            heads = []
            for spec in header["heads"]:
                outputs = tuple(spec["outputs"])
                width = len(outputs)
                weights = take(n * width).reshape(n, width)
                intercept = take(width).astype(np.float64)
                heads.append(Head(name=spec["name"], kind=spec["kind"], outputs=outputs, weights=weights,
                                  intercept=intercept, temperature=float(spec["temperature"]),
                                  platt=(float(spec["platt"][0]), float(spec["platt"][1]))))
            if offset != len(blob):
                raise ModelError("the model file has trailing bytes")
            if len(heads) < 2 or heads[0].kind != "softmax" or heads[1].kind != "sigmoid":
                raise ModelError("the model lacks its category or crisis head")
            return cls(version=int(header["version"]), name=str(header["name"]), vocabulary=vocabulary, idf=idf,
                       category=heads[0], crisis=heads[1], flags=tuple(heads[2:]),
                       crisis_threshold=float(header["crisis_threshold"]),
                       flag_threshold=float(header["flag_threshold"]), meta=dict(header.get("meta", {})))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            if isinstance(exc, ModelError):
                raise
            raise ModelError(f"malformed model header: {exc!r}") from None
