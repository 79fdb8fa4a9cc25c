"""Normalisation and tokenisation shared by registration and scanning."""

from .normalise import NORMALISER_VERSION, Tokens, normalise_words, tokenise

__all__ = ["NORMALISER_VERSION", "Tokens", "normalise_words", "tokenise"]
