"""Tokenizer of the set-log grammar.

Every token keeps its span in the original text (errors point at it) and whether whitespace
came before it (``62,5`` is a decimal, ``5, 6`` two sets; ``1h05`` is one duration).
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass

from domain.parsing.model import MAX_TEXT_LENGTH, ParseError, Problem

DIGITS = frozenset("0123456789")  # ASCII only: other scripts' digits are refused, not guessed
TIMES_CHARS = frozenset("×*⨯✕")
TIMES_WORDS = frozenset({"x", "х"})  # Latin and Cyrillic "x"; "5х5" is typed on a Russian layout
MINUS_CHARS = frozenset("-−–")  # hyphen-minus, minus sign, en dash
NAME_PUNCTUATION = frozenset("()&'’.")
WORD_JOINERS = frozenset("-'’.")  # inside a word when a letter follows: t-bar, farmer's


class Kind(enum.Enum):
    NUM = "number"
    WORD = "word"
    TIMES = "'x'"
    AT = "'@'"
    COMMA = "','"
    SEMI = "';'"
    SLASH = "'/'"
    COLON = "':'"
    PLUS = "'+'"
    MINUS = "'-'"
    PUNCT = "punctuation"
    END = "end of text"


@dataclass(frozen=True, slots=True)
class Token:
    kind: Kind
    text: str
    start: int
    end: int
    spaced: bool  # whitespace (or the start of the text) right before it

    @property
    def norm(self) -> str:
        return self.text.casefold()


def _is_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L")


def _is_mark(char: str) -> bool:
    return unicodedata.category(char).startswith("M")


_SINGLE: dict[str, Kind] = {
    "@": Kind.AT,
    ",": Kind.COMMA,
    ";": Kind.SEMI,
    "/": Kind.SLASH,
    ":": Kind.COLON,
    "+": Kind.PLUS,
}


def tokenize(text: str, *, splittable: frozenset[str]) -> list[Token]:
    """The tokens of ``text``, ending with one END token.

    ``splittable``: words that may carry a glued "x" (``60kgx8``, ``bwx10``, ``3x10xbw``); such
    a word is split into the word and a TIMES token when it follows a number, or when it is a
    bodyweight word followed by "x".
    """
    if len(text) > MAX_TEXT_LENGTH:
        raise ParseError(
            problem=Problem.TOO_LONG,
            position=MAX_TEXT_LENGTH,
            fragment=text[MAX_TEXT_LENGTH : MAX_TEXT_LENGTH + 10],
            expected=f"at most {MAX_TEXT_LENGTH} characters",
        )
    tokens: list[Token] = []
    index, length, spaced = 0, len(text), True

    def emit(kind: Kind, start: int, end: int) -> None:
        nonlocal spaced
        tokens.append(Token(kind, text[start:end], start, end, spaced))
        spaced = False

    while index < length:
        char = text[index]
        if char.isspace():
            spaced = True
            index += 1
        elif char in DIGITS:
            end = index + 1
            while end < length and text[end] in DIGITS:
                end += 1
            if end + 1 < length and text[end] == "." and text[end + 1] in DIGITS:
                end += 2
                while end < length and text[end] in DIGITS:
                    end += 1
            emit(Kind.NUM, index, end)
            index = end
        elif _is_letter(char):
            end = index + 1
            while end < length:
                if _is_letter(text[end]) or _is_mark(text[end]):
                    end += 1
                elif text[end] in WORD_JOINERS and end + 1 < length and _is_letter(text[end + 1]):
                    end += 2
                else:
                    break
            word = text[index:end].casefold()
            previous = tokens[-1].kind if tokens else Kind.END
            if word in TIMES_WORDS:
                emit(Kind.TIMES, index, end)
            elif (
                len(word) > 1
                and word[-1] in TIMES_WORDS
                and word[:-1] in splittable
                and (previous is Kind.NUM or word[:-1] in {"bw", "bodyweight"})
            ):
                emit(Kind.WORD, index, end - 1)
                emit(Kind.TIMES, end - 1, end)
            elif (
                len(word) > 1
                and word[0] in TIMES_WORDS
                and word[1:] in splittable
                and previous is Kind.NUM
            ):
                emit(Kind.TIMES, index, index + 1)
                emit(Kind.WORD, index + 1, end)
            else:
                emit(Kind.WORD, index, end)
            index = end
        elif char in TIMES_CHARS:
            emit(Kind.TIMES, index, index + 1)
            index += 1
        elif char in MINUS_CHARS:
            emit(Kind.MINUS, index, index + 1)
            index += 1
        elif char in _SINGLE:
            emit(_SINGLE[char], index, index + 1)
            index += 1
        elif char in NAME_PUNCTUATION:
            emit(Kind.PUNCT, index, index + 1)
            index += 1
        else:
            raise ParseError(
                problem=Problem.UNEXPECTED,
                position=index,
                fragment=char,
                expected="letters, digits, 'x', '@', ':', '/', '+', '-' or ','",
            )
    tokens.append(Token(Kind.END, "", length, length, spaced))
    return tokens
