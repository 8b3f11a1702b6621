"""Raw HTTP encodings the Bot API accepts: query string, JSON body, multipart with file parts."""

from __future__ import annotations

import aiohttp

from bot.emulator import BotApiEmulator
from tests.emulator.conftest import TOKEN


async def test_query_json_and_multipart_requests(emulator: BotApiEmulator) -> None:
    chat_id = emulator.user("wes").chat_id
    api = f"{emulator.base_url}/bot{TOKEN}"
    markup = {"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{api}/sendMessage", params={"chat_id": chat_id, "text": "007"}) as r:
            body = await r.json()
        assert body["ok"]
        assert body["result"]["text"] == "007"  # text stays a string
        payload = {"chat_id": chat_id, "text": "json", "reply_markup": markup}
        async with http.post(f"{api}/sendmessage", json=payload) as r:
            body = await r.json()
        assert body["result"]["reply_markup"] == markup
        form = aiohttp.FormData()
        form.add_field("chat_id", str(chat_id))
        form.add_field("document", b"raw bytes", filename="raw.bin")
        async with http.post(f"{api}/sendDocument", data=form) as r:
            body = await r.json()
        document = body["result"]["document"]
        assert document["file_name"] == "raw.bin"
        async with http.post(f"{api}/getFile", data={"file_id": document["file_id"]}) as r:
            path = (await r.json())["result"]["file_path"]
        async with http.get(f"{emulator.base_url}/file/bot{TOKEN}/{path}") as r:
            assert await r.read() == b"raw bytes"
        async with http.get(f"{emulator.base_url}/file/bot{TOKEN}/documents/nope") as r:
            assert r.status == 404
        bad = {"chat_id": chat_id, "text": "x", "reply_markup": "{not json"}
        async with http.post(f"{api}/sendMessage", data=bad) as r:
            assert r.status == 400
            assert (await r.json())["description"] == (
                "Bad Request: can't parse reply keyboard markup JSON object"
            )
        async with http.post(f"{api}/sendMessage", data={"text": "x"}) as r:
            assert (await r.json())["description"] == "Bad Request: chat_id is empty"
