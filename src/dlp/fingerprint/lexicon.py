"""The English lexicon under the registry key: lemmatising a text is one sorted-array lookup.

`text.english` gives unkeyed hashes of words, lemmas, weights and stop flags. Keyed
once per registry (when it is created) and stored with it, the table maps the keyed
value of a word, exactly as the scanner computes it for every token, to the keyed
value of its lemma, the lemma's weight and its flags. The store holds only keyed
values of public English words; without the key they say nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Mapping

import numpy as np

from ..text.english import ENGLISH_VERSION, RARE_WEIGHT, STOP, english
from . import table
from .keyed import Keyer

LEXICON_VERSION = f"{ENGLISH_VERSION}-keyed/1"
ARRAYS = ("lx_key", "lx_lemma", "lx_weight", "lx_flags")
TABLE_QUERIES = 1 << 14  # from this many values on, a lookup builds and probes a hash table (see `lookup`)


@dataclass(frozen=True)
class Lexicon:
    keys: np.ndarray  # uint64, sorted keyed word values
    lemmas: np.ndarray  # uint64, keyed lemma values
    weights: np.ndarray  # float32, weight of the lemma
    flags: np.ndarray  # uint8: STOP

    @classmethod
    def build(cls, keyer: Keyer) -> "Lexicon":
        table = english()
        keys = keyer.values(table.words)
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]  # two words with one hash: astronomically rare; keep one
        order = order[first]
        return cls(keys[first], keyer.values(table.lemmas)[order], table.weights[order], table.flags[order])

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray]) -> "Lexicon":
        return cls(*(arrays[name] for name in ARRAYS))

    def arrays(self) -> dict[str, np.ndarray]:
        return dict(zip(ARRAYS, (self.keys, self.lemmas, self.weights, self.flags)))

    def lookup(self, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lemma values, weights, stop flags) of keyed word values.

        A word the table does not know is its own lemma, with the top weight: names,
        codes and technical words are exactly the rare words a rewrite keeps.
        """
        if len(values) == 0 or len(self.keys) == 0:
            return (values.copy(), np.full(len(values), RARE_WEIGHT, dtype=np.float32),
                    np.zeros(len(values), dtype=np.uint8))
        if len(values) >= TABLE_QUERIES and self.keys[0] != 0:
            # a batch of documents: two gathers from a hash table instead of a binary search each
            # (a tenth of a second to build, once; 10,000 documents spent 1.5 s in binary searches);
            # a word not there is given the entry past the end, an unknown word's weight and flags
            at = table.find(*self._table, values, missing=len(self.keys))
            lemmas, weights, flags = self._padded
            found = at < len(self.keys)
            return np.where(found, lemmas[at], values), weights[at], flags[at]
        else:
            at = np.searchsorted(self.keys, values)
            at[at >= len(self.keys)] = 0
            found = self.keys[at] == values
        lemmas = np.where(found, self.lemmas[at], values)
        weights = np.where(found, self.weights[at], np.float32(RARE_WEIGHT)).astype(np.float32)
        flags = np.where(found, self.flags[at], np.uint8(0)).astype(np.uint8)
        return lemmas, weights, flags

    @cached_property
    def _padded(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The lemmas, weights and flags, with an entry after the last for a word not there."""
        return (np.append(self.lemmas, np.uint64(0)), np.append(self.weights, np.float32(RARE_WEIGHT)).astype(np.float32),
                np.append(self.flags, np.uint8(0)).astype(np.uint8))

    @cached_property
    def _table(self) -> tuple[np.ndarray, np.ndarray]:
        """Keyed word -> its index in the arrays (`table`; 0 is never a key there, so 0 keys use search)."""
        return table.build(self.keys, np.arange(len(self.keys), dtype=np.int64))

    def word_forms(self, lemmas: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every word whose lemma is in `lemmas`: (keyed word values, their lemmas, the lemmas' weights).

        The lemmas themselves are words too, unless the lexicon lemmatises them to something else.
        """
        inverse = np.isin(self.lemmas, lemmas)
        words, of, weights = self.keys[inverse], self.lemmas[inverse], self.weights[inverse]
        own_lemma, own_weight, _ = self.lookup(lemmas)
        itself = own_lemma == lemmas
        return (np.concatenate((words, lemmas[itself])), np.concatenate((of, lemmas[itself])),
                np.concatenate((weights, own_weight[itself])))

    def is_stop(self, flags: np.ndarray) -> np.ndarray:
        return (flags & STOP) != 0
