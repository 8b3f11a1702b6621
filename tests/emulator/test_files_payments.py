"""Files (upload, getFile, download), commands per scope/language, invoices and payments."""

from __future__ import annotations

import io

import pytest
from aiogram import Bot, Dispatcher, F
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters import Command
from aiogram.types import (
    BotCommand,
    BotCommandScopeAllPrivateChats,
    BotCommandScopeChat,
    BufferedInputFile,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)

from bot.emulator import BotApiEmulator
from tests.emulator.conftest import TOKEN, polling


async def test_send_document_get_file_download(bot: Bot, emulator: BotApiEmulator) -> None:
    quinn = emulator.user("quinn")
    payload = b"week,squat\n1,100\n" * 100
    sent = await bot.send_document(
        quinn.chat_id,
        BufferedInputFile(payload, filename="program.csv"),
        caption="Your <b>program</b>",
        parse_mode="HTML",
    )
    assert sent.document is not None
    assert sent.document.file_name == "program.csv"
    assert sent.caption == "Your program"
    file = await bot.get_file(sent.document.file_id)
    assert file.file_size == len(payload)
    downloaded = await bot.download(sent.document.file_id)
    assert isinstance(downloaded, io.BytesIO)
    assert downloaded.getvalue() == payload
    # A known file_id is sent again without uploading.
    again = await bot.send_document(quinn.chat_id, sent.document.file_id)
    assert again.document is not None
    assert again.document.file_id == sent.document.file_id
    [message] = [m for m in quinn.messages if m.kind == "document"][:1]
    assert message.file_name == "program.csv"
    assert message.text == "Your program"
    with pytest.raises(TelegramBadRequest, match="wrong file identifier"):
        await bot.send_document(quinn.chat_id, "not-a-file-id")
    with pytest.raises(TelegramBadRequest, match="message caption is too long"):
        await bot.send_document(quinn.chat_id, sent.document.file_id, caption="c" * 1025)
    photo = await bot.send_photo(quinn.chat_id, BufferedInputFile(b"\xff\xd8jpeg", "p.jpg"))
    assert photo.photo is not None
    assert (await bot.download(photo.photo[-1].file_id)).getvalue() == b"\xff\xd8jpeg"  # type: ignore[union-attr]
    location = await bot.send_location(quinn.chat_id, latitude=1.5, longitude=2.5)
    assert location.location is not None
    assert location.location.latitude == 1.5
    assert [m.kind for m in quinn.messages] == ["document", "document", "photo", "location"]


async def test_user_upload_is_downloadable_by_the_bot(bot: Bot, emulator: BotApiEmulator) -> None:
    dp = Dispatcher()
    got: list[bytes] = []

    @dp.message(F.document)
    async def on_document(message: Message, bot: Bot) -> None:
        assert message.document is not None
        data = await bot.download(message.document)
        assert data is not None
        got.append(data.read())
        await message.answer(f"got {message.document.file_name} ({message.caption})")

    @dp.message(F.photo | F.sticker | F.voice)
    async def on_media(message: Message) -> None:
        await message.answer("media")

    rita = emulator.user("rita")
    async with polling(dp, bot, emulator):
        outputs = await rita.upload(b"a,b\n1,2\n", filename="log.csv", caption="my log")
        assert [m.text for m in outputs] == ["got log.csv (my log)"]
        assert [m.text for m in await rita.send_photo()] == ["media"]
        assert [m.text for m in await rita.send_sticker()] == ["media"]
        assert [m.text for m in await rita.send_voice()] == ["media"]
    assert got == [b"a,b\n1,2\n"]


async def test_commands_per_scope_and_language(bot: Bot, emulator: BotApiEmulator) -> None:
    english = [
        BotCommand(command="start", description="Start"),
        BotCommand(command="log", description="Log a workout"),
    ]
    french = [BotCommand(command="start", description="Démarrer")]
    assert await bot.set_my_commands(english)
    assert await bot.set_my_commands(french, language_code="fr")
    sam = emulator.user("sam")
    private = [BotCommand(command="help", description="Help")]
    await bot.set_my_commands(private, scope=BotCommandScopeAllPrivateChats())
    await bot.set_my_commands(
        private, scope=BotCommandScopeChat(chat_id=sam.chat_id), language_code="ru"
    )
    assert [c.command for c in await bot.get_my_commands()] == ["start", "log"]
    assert [c.description for c in await bot.get_my_commands(language_code="fr")] == ["Démarrer"]
    assert await bot.get_my_commands(language_code="ru") == []
    assert emulator.commands(TOKEN, language_code="fr") == [
        {"command": "start", "description": "Démarrer"}
    ]
    assert emulator.commands(TOKEN, scope="all_private_chats") == [
        {"command": "help", "description": "Help"}
    ]
    chat_scope = {"type": "chat", "chat_id": sam.chat_id}
    assert emulator.commands(TOKEN, scope=chat_scope, language_code="ru")[0]["command"] == "help"
    assert await bot.delete_my_commands(language_code="fr")
    assert emulator.commands(TOKEN, language_code="fr") == []
    with pytest.raises(TelegramBadRequest, match="BOT_COMMAND_INVALID"):
        await bot.set_my_commands([BotCommand(command="Bad-Command", description="x")])
    assert await bot.set_chat_menu_button()


def shop(dp: Dispatcher, *, accept: bool = True) -> None:
    @dp.message(Command("buy"))
    async def buy(message: Message) -> None:
        await message.answer_invoice(
            title="Coaching month",
            description="One month of coaching",
            payload="plan:month",
            currency="XTR",
            prices=[LabeledPrice(label="Month", amount=250)],
        )

    @dp.pre_checkout_query()
    async def pre_checkout(query: PreCheckoutQuery) -> None:
        if accept:
            await query.answer(ok=True)
        else:
            await query.answer(ok=False, error_message="Sold out")

    @dp.message(F.successful_payment)
    async def paid(message: Message) -> None:
        assert message.successful_payment is not None
        await message.answer(f"Thanks for {message.successful_payment.invoice_payload}")


async def test_invoice_pay_and_refund(bot: Bot, emulator: BotApiEmulator) -> None:
    dp = Dispatcher()
    shop(dp)
    tina = emulator.user("tina")
    async with polling(dp, bot, emulator):
        [invoice] = await tina.send("/buy")
        assert invoice.kind == "invoice"
        assert invoice.invoice is not None
        assert (invoice.invoice.total_amount, invoice.invoice.currency) == (250, "XTR")
        result = await tina.pay()
    assert result.ok
    assert [m.text for m in result] == ["Thanks for plan:month"]  # the outputs, as a list
    charge_id = result.telegram_payment_charge_id
    assert charge_id is not None
    assert await bot.refund_star_payment(tina.user_id, charge_id)
    with pytest.raises(TelegramBadRequest, match="CHARGE_ALREADY_REFUNDED"):
        await bot.refund_star_payment(tina.user_id, charge_id)
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(tina.user_id, "stxUnknown")
    with pytest.raises(TelegramBadRequest, match="CHARGE_NOT_FOUND"):
        await bot.refund_star_payment(emulator.user("other").user_id, charge_id)


async def test_rejected_pre_checkout(bot: Bot, emulator: BotApiEmulator) -> None:
    dp = Dispatcher()
    shop(dp, accept=False)
    uma = emulator.user("uma")
    async with polling(dp, bot, emulator):
        await uma.send("/buy")
        result = await uma.pay()
    assert not result.ok
    assert result.error_message == "Sold out"
    assert result.outputs == []
    with pytest.raises(LookupError):
        await emulator.user("nobody_paid").pay()
    with pytest.raises(TelegramBadRequest, match="PAYMENT_PROVIDER_INVALID"):
        await bot.send_invoice(
            uma.chat_id,
            title="t",
            description="d",
            payload="p",
            currency="EUR",
            prices=[LabeledPrice(label="x", amount=100)],
        )
