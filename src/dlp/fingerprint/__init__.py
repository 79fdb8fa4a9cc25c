"""Keyed hashing of tokens, shingles and winnowing."""

from .keyed import KEY_BYTES, Keyer, load_key, new_key_file
from .shingles import SHINGLE_VERSION, K, W, shingles, winnow

__all__ = ["KEY_BYTES", "Keyer", "load_key", "new_key_file", "SHINGLE_VERSION", "K", "W", "shingles", "winnow"]
