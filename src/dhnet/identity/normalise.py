"""Normalisation of identifying values before they are compared, indexed or matched (pure functions).

Names lose case, accents and punctuation (``"Müller-Lüdenscheidt"`` -> ``"muller ludenscheidt"``); e-mail
addresses are trimmed and case-folded; phone numbers keep their digits (a leading ``00`` or ``+`` dropped) and are
indexed on their last nine digits, so that ``+49 170 1234567`` and ``0170 1234567`` find the same person; the
phonetic code is a Soundex of the transliterated name, used for blocking only.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

_SPECIAL = str.maketrans({"ß": "ss", "æ": "ae", "ø": "o", "œ": "oe", "ł": "l", "đ": "d", "ð": "d", "þ": "th", "ı": "i"})
_SOUNDEX = {c: d for d, letters in {"1": "bfpv", "2": "cgjkqsxz", "3": "dt", "4": "l", "5": "mn", "6": "r"}.items()
            for c in letters}  # fmt: skip
PHONE_INDEX_DIGITS = 9
MIN_PHONE_DIGITS = 6
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+$")


_NOT_ASCII_LETTER = re.compile(r"[^a-z]+")


def name(value: str) -> str:
    """Case-folded letters without accents, words separated by one space (``""`` when none are left)."""
    if value.isascii():
        # The same result without the Unicode steps, which change nothing in ASCII (no compatibility forms, no
        # combining marks, no special letters; case-folding is lower-casing): most names, and every name matching
        # normalises again (Soundex of an already normalised name).
        return " ".join(_NOT_ASCII_LETTER.sub(" ", value.lower()).split())
    return _unicode_name(value)


def _unicode_name(value: str) -> str:
    """:func:`name` for any text."""
    # compatibility forms first (a styled capital decomposes to a plain one), then case-folded, then decomposed
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", value).casefold().translate(_SPECIAL))
    letters = [" " if not (c.isalpha() or unicodedata.combining(c)) else c for c in text]
    plain = "".join(c for c in letters if not unicodedata.combining(c))
    return " ".join(plain.split())


def email(value: str) -> str:
    """A trimmed, case-folded e-mail address, or ``""`` when it is not one."""
    text = value.strip().casefold()
    return text if _EMAIL_RE.match(text) else ""


def phone(value: str) -> str:
    """The digits of a phone number (international prefix ``00``/``+`` dropped); ``""`` when too few."""
    digits = "".join(c for c in value if c.isdigit() and c.isascii())
    if value.strip().startswith("00") and digits.startswith("00"):
        digits = digits[2:]
    return digits if len(digits) >= MIN_PHONE_DIGITS else ""


def phone_key(value: str) -> str:
    """What a phone number is indexed on: its last nine digits (country and trunk prefixes vary by source)."""
    digits = phone(value)
    return digits[-PHONE_INDEX_DIGITS:] if digits else ""


def identifier(value: str) -> str:
    """A person identifier without spaces, dashes, dots or slashes, upper-case (``"12 345-678"`` -> ``"12345678"``)."""
    return "".join(c for c in value.upper() if c not in " -./\t")


def soundex(value: str) -> str:
    """The Soundex code of a (normalised) name's first word, extended to the name's letters; ``""`` for none.

    Non-Latin scripts have no Soundex: their first three letters stand in.
    """
    word = name(value).replace(" ", "")
    if not word:
        return ""
    if not word[0].isascii():
        return word[:3]
    code = word[0]
    last = _SOUNDEX.get(word[0], "")
    for c in word[1:]:
        digit = _SOUNDEX.get(c, "")
        if digit and digit != last:
            code += digit
        if c not in "hw":
            last = digit
    return (code + "000")[:4]


def parse_date(value: str | dt.date | None) -> dt.date | None:
    """An ISO date (``YYYY-MM-DD``) or a date; None for empty input; ValueError naming the value otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"not a date (YYYY-MM-DD): {value!r}") from None
