"""Telegram's message formatting: parse_mode text → plain text + entities, as the Bot API does.

The HTML parser follows tdlib's `parse_html` closely (same tag set, same error texts), because bots
rely on "can't parse entities" to catch escaping bugs. MarkdownV2 and legacy Markdown are rougher:
the common constructs and the reserved-character rule, not every corner of tdlib.
Entity offsets and lengths are in UTF-16 code units, like Telegram's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["EntityParseError", "ParsedText", "parse_text", "utf16_len"]


class EntityParseError(ValueError):
    """The text does not parse; the message is tdlib's (after "can't parse entities: ")."""


@dataclass(frozen=True, slots=True)
class ParsedText:
    text: str
    entities: list[dict[str, Any]]


def utf16_len(text: str) -> int:
    # Astral characters count twice in UTF-16; the fast path skips the encode for ASCII/BMP text.
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode())


def parse_text(text: str, parse_mode: str | None) -> ParsedText:
    """Plain text and entities for `text` sent with `parse_mode` (None or "" = plain)."""
    if not parse_mode:
        return ParsedText(text, [])
    mode = parse_mode.lower()
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise EntityParseError(f'Unsupported parse_mode "{parse_mode}"')


# --- HTML -----------------------------------------------------------------------------------------

_HTML_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "s",
        "strike",
        "del",
        "u",
        "ins",
        "tg-spoiler",
        "tg-emoji",
        "span",
        "pre",
        "code",
        "blockquote",
    }
)
_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "pre": "pre",
    "code": "code",
    "blockquote": "blockquote",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z]{2,4}));")
_SPACE = " \t\r\n\f\v"


def _decode_entity(text: str, pos: int) -> tuple[str, int] | None:
    """(character, end index) for an HTML entity at `pos`, None when it is not one."""
    match = _ENTITY_RE.match(text, pos)
    if match is None:
        return None
    dec, hexa, name = match.groups()
    if name is not None:
        char = _NAMED_ENTITIES.get(name)
        return None if char is None else (char, match.end())
    code = int(dec) if dec is not None else int(hexa, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code), match.end()


@dataclass(slots=True)
class _OpenTag:
    name: str
    argument: str
    utf16_start: int


def _parse_html(text: str) -> ParsedText:
    out: list[str] = []
    utf16_pos = 0
    entities: list[dict[str, Any]] = []
    stack: list[_OpenTag] = []
    n = len(text)
    i = 0

    def err(message: str) -> EntityParseError:
        return EntityParseError(message)

    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                utf16_pos += utf16_len(char)
                continue
        if c != "<":
            out.append(c)
            utf16_pos += 1 if ord(c) < 0x10000 else 2
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] != "/":
            while i < n and text[i] not in _SPACE and text[i] != ">":
                i += 1
            if i >= n:
                raise err(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
            tag = text[begin + 1 : i].lower()
            if tag not in _HTML_TAGS:
                raise err(
                    f'Unsupported start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                )
            argument = ""
            while i < n and text[i] != ">":
                while i < n and text[i] in _SPACE:
                    i += 1
                if i < n and text[i] == ">":
                    break
                attr_begin = i
                while i < n and text[i] not in _SPACE and text[i] not in "=>":
                    i += 1
                attr_name = text[attr_begin:i].lower()
                if not attr_name:
                    raise err(
                        f'Empty attribute name in the tag "{tag}" at byte offset '
                        f"{_byte_offset(text, begin)}"
                    )
                while i < n and text[i] in _SPACE:
                    i += 1
                if tag == "blockquote" and attr_name == "expandable" and text[i : i + 1] != "=":
                    argument = "expandable"
                    continue
                if i >= n or text[i] != "=":
                    raise err(
                        f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                        f"at byte offset {_byte_offset(text, begin)}"
                    )
                i += 1
                while i < n and text[i] in _SPACE:
                    i += 1
                if i >= n:
                    raise err(
                        f'Unclosed start tag "{tag}" at byte offset {_byte_offset(text, begin)}'
                    )
                value_chars: list[str] = []
                if text[i] not in "'\"":
                    token_begin = i
                    while i < n and (text[i].isalnum() or text[i] in ".-"):
                        i += 1
                    value = text[token_begin:i].lower()
                    if i < n and text[i] not in _SPACE and text[i] != ">":
                        raise err(
                            "Unexpected end of name token at byte offset "
                            f"{_byte_offset(text, token_begin)}"
                        )
                else:
                    quote = text[i]
                    i += 1
                    while i < n and text[i] != quote:
                        if text[i] == "&":
                            decoded = _decode_entity(text, i)
                            if decoded is not None:
                                value_chars.append(decoded[0])
                                i = decoded[1]
                                continue
                        value_chars.append(text[i])
                        i += 1
                    if i < n:
                        i += 1
                    value = "".join(value_chars)
                if i >= n:
                    raise err(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
                if (
                    (tag == "a" and attr_name == "href")
                    or (tag == "code" and attr_name == "class" and value.startswith("language-"))
                    or (tag == "tg-emoji" and attr_name == "emoji-id")
                ):
                    argument = value
                elif (tag == "span" and attr_name == "class" and value == "tg-spoiler") or (
                    tag == "blockquote" and attr_name == "expandable"
                ):
                    argument = value or "expandable"
            if tag == "span" and argument != "tg-spoiler":
                raise err(
                    f'Tag "span" must have class "tg-spoiler" at byte offset '
                    f"{_byte_offset(text, begin)}"
                )
            stack.append(_OpenTag(tag, argument, utf16_pos))
            i += 1
            continue
        # End tag.
        if not stack:
            raise err(f"Unexpected end tag at byte offset {_byte_offset(text, begin)}")
        i += 1
        name_begin = i
        while i < n and text[i] not in _SPACE and text[i] != ">":
            i += 1
        end_name = text[name_begin:i].lower()
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n or text[i] != ">":
            raise err(f"Unclosed end tag at byte offset {_byte_offset(text, begin)}")
        i += 1
        opened = stack.pop()
        if end_name and end_name != opened.name:
            raise err(
                f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                f'expected "</{opened.name}>", found "</{end_name}>"'
            )
        length = utf16_pos - opened.utf16_start
        if length <= 0:
            continue
        entity: dict[str, Any] = {
            "type": _TAG_ENTITY[opened.name],
            "offset": opened.utf16_start,
            "length": length,
        }
        if opened.name == "a":
            if not opened.argument:
                continue
            entity["url"] = opened.argument
        elif opened.name == "tg-emoji":
            entity["custom_emoji_id"] = opened.argument
        elif opened.name == "blockquote" and opened.argument:
            entity["type"] = "expandable_blockquote"
        elif opened.name == "code" and opened.argument:
            # <pre><code class="language-x"> is one pre entity with a language, as in tdlib.
            if stack and stack[-1].name == "pre" and stack[-1].utf16_start == opened.utf16_start:
                stack[-1].argument = opened.argument
                continue
        elif opened.name == "pre" and opened.argument:
            entity["language"] = opened.argument.removeprefix("language-")
        entities.append(entity)
    if stack:
        raise err(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


# --- MarkdownV2 -----------------------------------------------------------------------------------

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "text_link": "TextUrl",
}


@dataclass(slots=True)
class _MdOpen:
    kind: str
    utf16_start: int
    byte_offset: int


def _parse_markdown_v2(text: str) -> ParsedText:
    out: list[str] = []
    utf16_pos = 0
    entities: list[dict[str, Any]] = []
    stack: list[_MdOpen] = []
    n = len(text)
    i = 0

    def emit(chars: str) -> None:
        nonlocal utf16_pos
        out.append(chars)
        utf16_pos += utf16_len(chars)

    def close(kind: str, extra: dict[str, Any] | None = None) -> None:
        opened = stack.pop()
        length = utf16_pos - opened.utf16_start
        if length > 0:
            entity: dict[str, Any] = {"type": kind, "offset": opened.utf16_start, "length": length}
            if extra:
                entity.update(extra)
            entities.append(entity)

    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and 0 < ord(text[i + 1]) <= 126:
            emit(text[i + 1])
            i += 2
            continue
        if c == "`":
            begin = i
            is_pre = text.startswith("```", i)
            i += 3 if is_pre else 1
            language = ""
            if is_pre:
                line_end = text.find("\n", i)
                if line_end != -1 and text[i:line_end].strip() and " " not in text[i:line_end]:
                    language = text[i:line_end]
                    i = line_end + 1
            start = utf16_pos
            fence = "```" if is_pre else "`"
            while i < n and not text.startswith(fence, i):
                if text[i] == "\\" and i + 1 < n and text[i + 1] in "`\\":
                    i += 1
                emit(text[i])
                i += 1
            if i >= n:
                kind = "Pre" if is_pre else "Code"
                raise EntityParseError(
                    f"Can't find end of {kind} entity at byte offset {_byte_offset(text, begin)}"
                )
            i += len(fence)
            if utf16_pos > start:
                entity: dict[str, Any] = {
                    "type": "pre" if is_pre else "code",
                    "offset": start,
                    "length": utf16_pos - start,
                }
                if language:
                    entity["language"] = language
                entities.append(entity)
            continue
        kind = ""
        width = 1
        if c == "*":
            kind = "bold"
        elif c == "_":
            if text.startswith("__", i) and not (stack and stack[-1].kind == "italic"):
                kind, width = "underline", 2
            else:
                kind = "italic"
        elif c == "~":
            kind = "strikethrough"
        elif c == "|" and text.startswith("||", i):
            kind, width = "spoiler", 2
        if kind:
            if stack and stack[-1].kind == kind:
                close(kind)
            elif any(o.kind == kind for o in stack):
                raise EntityParseError(
                    f"Can't find end of {_MDV2_NAMES[kind]} entity at byte offset "
                    f"{stack[-1].byte_offset}"
                )
            else:
                stack.append(_MdOpen(kind, utf16_pos, _byte_offset(text, i)))
            i += width
            continue
        if c == "[":
            stack.append(_MdOpen("text_link", utf16_pos, _byte_offset(text, i)))
            i += 1
            continue
        if c == "]" and stack and stack[-1].kind == "text_link":
            if i + 1 >= n or text[i + 1] != "(":
                raise EntityParseError(
                    f"Can't find end of TextUrl entity at byte offset {stack[-1].byte_offset}"
                )
            end = i + 2
            url_chars: list[str] = []
            while end < n and text[end] != ")":
                if text[end] == "\\" and end + 1 < n:
                    end += 1
                url_chars.append(text[end])
                end += 1
            if end >= n:
                raise EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, i + 1)}"
                )
            close("text_link", {"url": "".join(url_chars)})
            i = end + 1
            continue
        if c == ">" and (i == 0 or text[i - 1] == "\n"):
            # Blockquote lines: the marker is dropped; the entity itself is not modelled.
            i += 1
            continue
        if c in _MDV2_RESERVED:
            raise EntityParseError(
                f"Character '{c}' is reserved and must be escaped with the preceding '\\'"
            )
        emit(c)
        i += 1
    if stack:
        opened = stack[-1]
        raise EntityParseError(
            f"Can't find end of {_MDV2_NAMES[opened.kind]} entity at byte offset "
            f"{opened.byte_offset}"
        )
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return ParsedText("".join(out), entities)


# --- legacy Markdown ------------------------------------------------------------------------------

_MD_KINDS = {"*": "bold", "_": "italic", "`": "code"}


def _parse_markdown(text: str) -> ParsedText:
    out: list[str] = []
    utf16_pos = 0
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            out.append(text[i + 1])
            utf16_pos += 1
            i += 2
            continue
        if c in _MD_KINDS or c == "[":
            begin = i
            if c == "`" and text.startswith("```", i):
                close = text.find("```", i + 3)
                kind, inner_start, after = "pre", i + 3, close + 3
            elif c == "[":
                close = text.find("]", i + 1)
                kind, inner_start, after = "text_link", i + 1, close + 1
            else:
                close = text.find(c, i + 1)
                kind, inner_start, after = _MD_KINDS[c], i + 1, close + 1
            if close == -1:
                raise EntityParseError(
                    "Can't find end of the entity starting at byte offset "
                    f"{_byte_offset(text, begin)}"
                )
            inner = text[inner_start:close]
            entity: dict[str, Any] = {"type": kind, "offset": utf16_pos, "length": utf16_len(inner)}
            if kind == "text_link":
                if after < n and text[after] == "(":
                    url_end = text.find(")", after)
                    if url_end == -1:
                        raise EntityParseError(
                            f"Can't find end of a URL at byte offset {_byte_offset(text, after)}"
                        )
                    entity["url"] = text[after + 1 : url_end]
                    after = url_end + 1
                else:
                    kind = ""
            out.append(inner)
            utf16_pos += entity["length"]
            if kind and entity["length"] > 0:
                entities.append(entity)
            i = after
            continue
        out.append(c)
        utf16_pos += 1 if ord(c) < 0x10000 else 2
        i += 1
    return ParsedText("".join(out), entities)
