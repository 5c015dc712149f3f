"""How rules compare text: one Unicode normal form (NFC), and canonical caseless matching.

The same text can arrive in several code point sequences: "é" as one character (NFC, what
most keyboards and vendors send) or as "e" and a combining accent (NFD, what macOS file
names and some databases give back). A person sees one value, so rules compare the NFC form
of both sides, the rule's values and the answer's or lead's text. Ignoring case uses
Unicode's canonical caseless match (decompose, case-fold, compose again), so that case
folding cannot undo the normalisation.

ASCII text is its own NFC form and folds within ASCII: it skips both steps, at the cost of
one constant-time check, since nearly every value a vendor sends is ASCII.
"""

from __future__ import annotations

import unicodedata

__all__ = ["caseless_key", "nfc"]


def nfc(text: str) -> str:
    """*text* in Unicode normal form C (composed): what exact-case comparisons compare."""
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def caseless_key(text: str) -> str:
    """*text* as case-ignoring comparisons see it: NFC of the case-folded NFD form.

    Two texts have the same key exactly when they are a canonical caseless match (Unicode,
    definition D145): "Å" (one character), "A" with a combining ring and "å" all agree.
    """
    if text.isascii():
        return text.casefold()
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())
