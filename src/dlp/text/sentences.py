"""Sentences and lemmas for the rewrite tier: spaCy's blank English pipeline plus lookup tables.

No model is downloaded: `spacy.blank("en")` tokenises, the rule-based `sentencizer`
splits sentences, and lemmas and word frequencies come from the `spacy-lookups-data`
package (`en_lemma_lookup`, `en_lexeme_prob`). spaCy costs about 1-2 MB/s, so the
scanner runs it only on parts that already have a rewrite candidate.

A lemma's weight is an inverse frequency taken from the unigram log-probabilities
of English (`en_lexeme_prob`), so a short text needs no corpus of its own to know
that "eigenvector" says more than "make". Stop words, numbers-only and one-letter
tokens carry no weight and are dropped.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from functools import cached_property

LEMMA_VERSION = "spacy-blank-en-lookup-lexprob/1"
MAX_SENTENCE_CHARS = 600  # longer "sentences" (lists, tables without stops) are cut into pieces
COMMON_LOGPROB = -16.0  # words rarer than this all get the top weight
WEIGHT_FLOOR = 6.0  # -logprob of the most common content words; weights are -logprob minus this


@dataclass(frozen=True)
class Sentence:
    """One sentence of a text: its character span and the lemmas of its content words."""

    start: int
    end: int
    lemmas: tuple[str, ...]


class Analyser:
    """spaCy tokenisation, sentence boundaries and lookup lemmas; built once per scanner."""

    def __init__(self, max_chars: int = 2_000_000) -> None:
        self.max_chars = max_chars

    @cached_property
    def _nlp(self):
        try:
            import spacy
            from spacy.lookups import load_lookups
        except ImportError as exc:  # pragma: no cover - spaCy is a dependency
            raise RuntimeError("the rewrite tier needs spaCy (pip install spacy spacy-lookups-data)") from exc
        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        nlp.max_length = self.max_chars + 1
        try:
            self._lemmas = load_lookups("en", ["lemma_lookup"]).get_table("lemma_lookup")
        except (ValueError, ImportError) as exc:
            raise RuntimeError("the rewrite tier needs lemma tables: pip install spacy-lookups-data") from exc
        self._stop = frozenset(nlp.Defaults.stop_words)
        return nlp

    @cached_property
    def _logprob(self) -> dict[str, float]:
        """Log-probabilities of the ~90,000 commonest English words (the rest count as rare)."""
        import spacy_lookups_data

        path = spacy_lookups_data.__path__[0] + "/data/en_lexeme_prob.json.gz"
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            table = json.load(handle)
        return {w: p for w, p in table.items() if p > COMMON_LOGPROB}

    def weight(self, lemma: str) -> float:
        """Inverse-frequency weight of a lemma: about 1 for 'make', 10 for words rarer than 1e-7."""
        p = self._logprob.get(lemma, COMMON_LOGPROB)
        return max(1.0, -p - WEIGHT_FLOOR)

    def is_content(self, word: str) -> bool:
        """A word that may carry meaning: not a stop word, not a lone letter, not only digits."""
        self._nlp  # noqa: B018 - loads the stop list
        return len(word) > 1 and word not in self._stop and not word.isdigit()

    def lemma(self, word: str) -> str:
        self._nlp  # noqa: B018
        return self._lemmas.get(word, word)

    def sentences(self, text: str) -> list[Sentence]:
        """Sentences with their content lemmas (lower-cased); empty sentences are kept out."""
        nlp = self._nlp
        doc = nlp(text[: self.max_chars])
        out: list[Sentence] = []
        for sent in doc.sents:
            lemmas: list[str] = []
            start = None
            end = sent.start_char
            for tok in sent:
                if tok.is_space:
                    continue
                if start is None:
                    start = tok.idx
                if tok.idx + len(tok.text) - (start or 0) > MAX_SENTENCE_CHARS and lemmas:
                    out.append(Sentence(start, end, tuple(lemmas)))
                    lemmas, start = [], tok.idx
                end = tok.idx + len(tok.text)
                if tok.is_punct:
                    continue
                lower = tok.lower_
                if not lower.isalnum() and not lower.replace("-", "").replace("'", "").isalnum():
                    continue
                if not self.is_content(lower):
                    continue
                lemma = self._lemmas.get(lower, lower)
                if self.is_content(lemma):
                    lemmas.append(lemma)
            if start is not None and lemmas:
                out.append(Sentence(start, end, tuple(lemmas)))
        return out
