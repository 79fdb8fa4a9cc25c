"""The English table every new registry's lexicon is keyed from is the same in every process."""

from __future__ import annotations

import os
import subprocess
import sys

DIGEST = """
import hashlib
from dlp.text.english import english
e = english()
print(hashlib.sha256(e.words.tobytes() + e.lemmas.tobytes() + e.weights.tobytes() + e.flags.tobytes()).hexdigest())
"""


def test_the_table_does_not_depend_on_the_string_hash_seed():
    """Words that differ only in case ("Apple", "apple") share one entry; which one gives its
    lemma was decided by set order, so two registries built from the same files differed."""
    digests = {subprocess.run([sys.executable, "-c", DIGEST], env={**os.environ, "PYTHONHASHSEED": seed},
                              capture_output=True, text=True, check=True, timeout=120).stdout
               for seed in ("1", "2")}
    assert len(digests) == 1
