"""Telegram's rules the emulator enforces, seen through aiogram's exceptions."""

from __future__ import annotations

import aiohttp
import pytest
from aiogram import Bot
from aiogram.exceptions import (
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
    TelegramUnauthorizedError,
)
from aiogram.types import BufferedInputFile, InlineKeyboardButton, InlineKeyboardMarkup

from bot.emulator import BotApiEmulator
from tests.emulator.conftest import TOKEN, make_bot


def keyboard(data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="b", callback_data=data)]]
    )


async def test_text_length_rules(bot: Bot, emulator: BotApiEmulator) -> None:
    chat_id = emulator.user("frank").chat_id
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(chat_id, "")
    with pytest.raises(TelegramBadRequest, match="message text is empty"):
        await bot.send_message(chat_id, "<b> </b>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(chat_id, "x" * 4097)
    # The limit applies after entity parsing: markup does not count.
    sent = await bot.send_message(chat_id, "<i>" + "y" * 4096 + "</i>", parse_mode="HTML")
    assert sent.text is not None
    assert len(sent.text) == 4096
    assert emulator.stats()["errors"] == 3


async def test_html_is_parsed_and_malformed_html_rejected(
    bot: Bot, emulator: BotApiEmulator
) -> None:
    chat_id = emulator.user("gina").chat_id
    sent = await bot.send_message(
        chat_id,
        'Hi <a href="https://x.org/?a=1&amp;b=2">link</a> &lt;3 🏋️ <code>x</code>',
        parse_mode="HTML",
    )
    assert sent.text == "Hi link <3 🏋️ x"
    assert sent.entities is not None
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("text_link", 3, 4),
        ("code", 15, 1),  # the emoji counts 3 UTF-16 units (2 + variation selector)
    ]
    assert sent.entities[0].url == "https://x.org/?a=1&b=2"
    assert emulator.messages(chat_id)[0].raw_text.startswith("Hi <a href=")
    with pytest.raises(TelegramBadRequest, match="can't parse entities: Unsupported start tag"):
        await bot.send_message(chat_id, "a<br>b", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Can't find end tag corresponding to start tag"):
        await bot.send_message(chat_id, "<b>bold", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="Unmatched end tag"):
        await bot.send_message(chat_id, "<b><i>x</b></i>", parse_mode="HTML")
    with pytest.raises(TelegramBadRequest, match="reserved and must be escaped"):
        await bot.send_message(chat_id, "Total: 5.", parse_mode="MarkdownV2")
    mdv2 = await bot.send_message(
        chat_id, r"*bold* _it_ \. [l](https://a.b)", parse_mode="MarkdownV2"
    )
    assert mdv2.text == "bold it . l"


async def test_inline_keyboard_rules(bot: Bot, emulator: BotApiEmulator) -> None:
    chat_id = emulator.user("hank").chat_id
    await bot.send_message(chat_id, "ok", reply_markup=keyboard("x" * 64))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(chat_id, "too long", reply_markup=keyboard("x" * 65))
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(chat_id, "multibyte", reply_markup=keyboard("é" * 33))
    text_only = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="t")]])
    with pytest.raises(TelegramBadRequest, match="Text buttons are unallowed"):
        await bot.send_message(chat_id, "no action", reply_markup=text_only)
    both = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="t", callback_data="a", url="https://a.b")]]
    )
    with pytest.raises(TelegramBadRequest, match="exactly one"):
        await bot.send_message(chat_id, "two actions", reply_markup=both)


async def test_edit_rules(bot: Bot, emulator: BotApiEmulator) -> None:
    ivy = emulator.user("ivy")
    sent = await bot.send_message(
        ivy.chat_id, "<b>v1</b>", parse_mode="HTML", reply_markup=keyboard("a")
    )
    with pytest.raises(TelegramBadRequest, match="message is not modified: specified new message"):
        await bot.edit_message_text(
            text="<b>v1</b>",
            chat_id=ivy.chat_id,
            message_id=sent.message_id,
            parse_mode="HTML",
            reply_markup=keyboard("a"),
        )
    # Same text, other formatting: a real change.
    edited = await bot.edit_message_text(
        text="v1", chat_id=ivy.chat_id, message_id=sent.message_id, reply_markup=keyboard("a")
    )
    assert not isinstance(edited, bool)
    assert edited.edit_date is not None
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=ivy.chat_id, message_id=sent.message_id, reply_markup=keyboard("a")
        )
    await bot.edit_message_reply_markup(
        chat_id=ivy.chat_id, message_id=sent.message_id, reply_markup=keyboard("b")
    )
    assert ivy.messages[0].buttons[0][0].callback_data == "b"
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="x", chat_id=ivy.chat_id, message_id=999)
    await bot.delete_message(ivy.chat_id, sent.message_id)
    assert ivy.messages[0].deleted
    assert ivy.last is None
    with pytest.raises(TelegramBadRequest, match="message to delete not found"):
        await bot.delete_message(ivy.chat_id, sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text(text="gone", chat_id=ivy.chat_id, message_id=sent.message_id)


async def test_captions_chat_actions_and_recorded_calls(bot: Bot, emulator: BotApiEmulator) -> None:
    kim = emulator.user("kim")
    assert await bot.send_chat_action(kim.chat_id, "typing")
    with pytest.raises(TelegramBadRequest, match="wrong parameter action"):
        await bot.send_chat_action(kim.chat_id, "dancing")
    doc = await bot.send_document(kim.chat_id, BufferedInputFile(b"x", "a.txt"), caption="old")
    text = await bot.send_message(kim.chat_id, "plain")
    edited = await bot.edit_message_caption(
        chat_id=kim.chat_id, message_id=doc.message_id, caption="<i>new</i>", parse_mode="HTML"
    )
    assert not isinstance(edited, bool)
    assert edited.caption == "new"
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_caption(
            chat_id=kim.chat_id, message_id=doc.message_id, caption="<i>new</i>", parse_mode="HTML"
        )
    with pytest.raises(TelegramBadRequest, match="there is no caption in the message to edit"):
        await bot.edit_message_caption(chat_id=kim.chat_id, message_id=text.message_id, caption="c")
    with pytest.raises(TelegramBadRequest, match="unsupported parse_mode"):
        await bot.send_message(kim.chat_id, "x", parse_mode="BBCode")
    with pytest.raises(TelegramBadRequest, match="message to be replied not found"):
        await bot.send_message(kim.chat_id, "re", reply_to_message_id=99)
    reply = await bot.send_message(kim.chat_id, "re", reply_to_message_id=text.message_id)
    assert reply.reply_to_message is not None
    assert reply.reply_to_message.message_id == text.message_id
    sends = emulator.calls_to("sendMessage")
    assert [params["text"] for params in sends] == ["plain", "x", "re", "re"]
    assert sends[0]["chat_id"] == kim.chat_id  # decoded to int
    token, method, _ = emulator.calls[0]
    assert (token, method) == (TOKEN, "sendChatAction")


async def test_callback_query_answered_once(bot: Bot, emulator: BotApiEmulator) -> None:
    jack = emulator.user("jack")
    await bot.send_message(jack.chat_id, "pick", reply_markup=keyboard("pick"))
    await jack.tap(1, wait=False)
    [update] = await bot.get_updates(timeout=0)
    assert update.callback_query is not None
    assert update.callback_query.data == "pick"
    assert update.callback_query.message is not None
    assert await bot.answer_callback_query(update.callback_query.id, text="ok")
    with pytest.raises(TelegramBadRequest, match="query is too old and response timeout expired"):
        await bot.answer_callback_query(update.callback_query.id)
    with pytest.raises(TelegramBadRequest, match="query ID is invalid"):
        await bot.answer_callback_query("nope")
    assert [a.text for a in jack.callback_answers] == ["ok"]


async def test_flood_control_answers_429(bot: Bot) -> None:
    now = [1000.0]
    emulator = BotApiEmulator(send_rate=2, clock=lambda: now[0])
    await emulator.start()
    flood_bot = make_bot(emulator)
    try:
        chat_id = emulator.user("kate").chat_id
        await flood_bot.send_message(chat_id, "1")
        await flood_bot.send_message(chat_id, "2")
        with pytest.raises(TelegramRetryAfter) as caught:
            await flood_bot.send_message(chat_id, "3")
        assert caught.value.retry_after == 1
        assert "Too Many Requests: retry after 1" in str(caught.value)
        now[0] += 0.5
        await flood_bot.send_message(chat_id, "3")
        emulator.configure(send_rate=None, per_chat_rate=1)
        await flood_bot.send_message(chat_id, "4")
        with pytest.raises(TelegramRetryAfter):
            await flood_bot.send_message(chat_id, "5")
        other = emulator.user("leo").chat_id
        await flood_bot.send_message(other, "per chat: another chat is fine")
        stats = emulator.stats()
        assert stats["rate_limited"] == 2
        assert stats["sent_messages"] == 5
        assert stats["methods"]["sendMessage"] == 7
    finally:
        await flood_bot.session.close()
        await emulator.stop()


async def test_blocked_user_and_unknown_chat(bot: Bot, emulator: BotApiEmulator) -> None:
    mia = emulator.user("mia")
    await bot.send_message(mia.chat_id, "hi")
    mia.block()
    with pytest.raises(TelegramForbiddenError, match="bot was blocked by the user"):
        await bot.send_message(mia.chat_id, "still there?")
    [update] = await bot.get_updates(timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "kicked"
    mia.unblock()
    [update] = await bot.get_updates(offset=update.update_id + 1, timeout=0)
    assert update.my_chat_member is not None
    assert update.my_chat_member.new_chat_member.status == "member"
    await bot.send_message(mia.chat_id, "welcome back")
    assert emulator.stats()["forbidden"] == 1
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(42, "nobody")
    chat = await bot.get_chat(mia.chat_id)
    assert chat.type == "private"
    assert chat.username == "mia"


async def test_bad_token_and_unknown_method(emulator: BotApiEmulator) -> None:
    bad = make_bot(emulator, "123:short")
    try:
        with pytest.raises(TelegramUnauthorizedError):
            await bad.get_me()
    finally:
        await bad.session.close()
    other_token = "987654321:" + "B" * 35
    other = make_bot(emulator, other_token)
    try:
        assert (await other.get_me()).id == 987654321
        async with aiohttp.ClientSession() as http:
            url = f"{emulator.base_url}/bot{other_token}/noSuchMethod"
            async with http.post(url) as response:
                assert response.status == 404
                assert (await response.json())["description"] == "Not Found: method not found"
            async with http.get(f"{emulator.base_url}/bot{other_token}/GETME") as response:
                assert (await response.json())["result"]["id"] == 987654321
        with pytest.raises(TelegramBadRequest, match="wrong file_id"):
            await other.get_file("unknown")
    finally:
        await other.session.close()
