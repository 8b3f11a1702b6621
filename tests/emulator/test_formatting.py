"""parse_mode parsing: plain text, entities (UTF-16 offsets) and tdlib's error texts."""

from __future__ import annotations

import pytest

from bot.emulator.formatting import EntityParseError, parse_text


def test_html_entities_and_nesting() -> None:
    parsed = parse_text("<b>a <i>b</i></b> &amp; &#33; &unknown; <s>x</s>", "HTML")
    assert parsed.text == "a b & ! &unknown; x"
    assert parsed.entities == [
        {"type": "bold", "offset": 0, "length": 3},
        {"type": "italic", "offset": 2, "length": 1},
        {"type": "strikethrough", "offset": 18, "length": 1},
    ]


def test_html_pre_code_language_spoiler_and_blockquote() -> None:
    parsed = parse_text(
        '<pre><code class="language-python">x = 1</code></pre>'
        '<span class="tg-spoiler">s</span><blockquote expandable>q</blockquote>',
        "html",
    )
    assert parsed.text == "x = 1sq"
    assert parsed.entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "spoiler", "offset": 5, "length": 1},
        {"type": "expandable_blockquote", "offset": 6, "length": 1},
    ]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("a <p>b</p>", 'Unsupported start tag "p" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("é <b", "Unclosed start tag at byte offset 3"),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ("<a href>x</a>", 'Expected equal sign in declaration of an attribute of the tag "a"'),
    ],
)
def test_html_errors(source: str, message: str) -> None:
    with pytest.raises(EntityParseError) as caught:
        parse_text(source, "HTML")
    assert str(caught.value).startswith(message)


def test_markdown_v2() -> None:
    parsed = parse_text(r"*b* __u__ ~s~ ||sp|| `c\`` [t](https://x.y/\)) 1\.5", "MarkdownV2")
    assert parsed.text == "b u s sp c` t 1.5"
    assert [e["type"] for e in parsed.entities] == [
        "bold",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    assert parsed.entities[-1]["url"] == "https://x.y/)"
    with pytest.raises(EntityParseError, match="Character '!' is reserved"):
        parse_text("Hi!", "MarkdownV2")
    with pytest.raises(EntityParseError, match="Can't find end of Bold entity at byte offset 0"):
        parse_text("*open", "MarkdownV2")


def test_legacy_markdown_and_plain() -> None:
    parsed = parse_text("*b* _i_ [l](http://a.b) 1.5!", "Markdown")
    assert parsed.text == "b i l 1.5!"
    assert [e["type"] for e in parsed.entities] == ["bold", "italic", "text_link"]
    assert parse_text("<b>raw</b>", None).text == "<b>raw</b>"
    with pytest.raises(EntityParseError, match="Unsupported parse_mode"):
        parse_text("x", "BBCode")
