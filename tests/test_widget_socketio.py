"""The widget's socket.io channel over the wire, with an independent third-party client.

python-socketio's client is not our code and speaks the standard Rasa events
(session_request / session_confirm / user_uttered / bot_uttered) the way
rasa-webchat-style clients do, over the WebSocket transport (which crashed on this
stack before the fix) and over long-polling, against the real Rasa and action servers.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
import uuid

import aiohttp
import pytest
import socketio

from tests.conftest import CROSS_ORIGIN, WIDGET_API_TOKEN

KEYS = {"procedure_code", "procedure_name", "aspect", "confidence", "candidates", "source_url"}


class Client:
    """A standard socket.io chat client: connect, ask for a session, send, collect replies."""

    def __init__(self, url: str, transports: list[str], session_id: str | None = None) -> None:
        self.url = url
        self.transports = transports
        self.session_id = session_id or uuid.uuid4().hex
        self.sio = socketio.AsyncClient(reconnection=False)
        self.replies: asyncio.Queue = asyncio.Queue()
        self.errors: asyncio.Queue = asyncio.Queue()
        self.confirmed: asyncio.Future | None = None

        @self.sio.on("bot_uttered")
        async def _bot(data):
            await self.replies.put(data)

        @self.sio.on("error")
        async def _err(data):
            await self.errors.put(data)

        @self.sio.on("session_confirm")
        async def _confirm(data):
            if self.confirmed and not self.confirmed.done():
                self.confirmed.set_result(data)

    async def __aenter__(self) -> Client:
        self.confirmed = asyncio.get_running_loop().create_future()
        await self.sio.connect(self.url, transports=self.transports, socketio_path="/socket.io", wait_timeout=15)
        await self.sio.emit("session_request", {"session_id": self.session_id})
        confirmed = await asyncio.wait_for(self.confirmed, 15)
        assert confirmed == self.session_id
        return self

    async def __aexit__(self, *exc) -> None:
        await self.sio.disconnect()

    async def ask(self, text: str, timeout: float = 30, **extra) -> list[dict]:
        """Send a message and collect the bot's replies until none arrives for a moment."""
        await self.sio.emit("user_uttered", {"message": text, "session_id": self.session_id, **extra})
        return await self.collect(timeout)

    async def collect(self, timeout: float = 30) -> list[dict]:
        first = await asyncio.wait_for(self.replies.get(), timeout)
        out = [first]
        while True:
            try:
                out.append(await asyncio.wait_for(self.replies.get(), 0.7))
            except TimeoutError:
                return out


def tracker(servers, sender: str) -> dict:
    url = f"{servers.url}/conversations/{sender}/tracker?token={WIDGET_API_TOKEN}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


def user_texts(servers, sender: str) -> list[str]:
    return [e.get("text") for e in tracker(servers, sender)["events"] if e["event"] == "user"]


@pytest.mark.parametrize("transports", [["websocket"], ["polling"], ["polling", "websocket"]])
def test_standard_client_gets_a_structured_answer(widget_servers, transports):
    async def run():
        async with Client(widget_servers.url, transports) as c:
            replies = await c.ask("làm căn cước cần giấy tờ gì?")
            last = replies[-1]
            assert KEYS <= set(last["custom"]), last
            assert last["custom"]["aspect"] == "documents"
            code = last["custom"]["procedure_code"]
            assert code and "căn cước" in last["custom"]["procedure_name"].lower()
            assert code in last["custom"]["source_url"]
            assert last["text"].startswith("Hồ sơ")
            return c.sio.transport()

    assert asyncio.run(run()) == transports[-1]


def test_buttons_arrive_as_quick_replies_and_a_choice_answers(widget_servers):
    async def run():
        async with Client(widget_servers.url, ["websocket"]) as c:
            replies = await c.ask("cấp lại hay cấp đổi thẻ căn cước")
            last = replies[-1]
            qr = last.get("quick_replies")
            assert qr and len(qr) >= 2, last
            assert all(q["content_type"] == "text" and q["title"] and q["payload"] for q in qr)
            chosen = last["custom"]["candidates"][1]["code"]
            answer = (await c.ask(qr[1]["payload"]))[-1]
            assert answer["custom"]["procedure_code"] == chosen

    asyncio.run(run())


def test_session_persists_across_reconnects_and_tabs(widget_servers):
    """session_persistence: true — a new socket with the same session id continues the
    conversation, and every socket of the session receives the replies (RasaHQ/rasa#13027)."""
    session = uuid.uuid4().hex

    async def run():
        async with Client(widget_servers.url, ["websocket"], session) as first:
            answer = (await first.ask("đăng ký kết hôn cần giấy tờ gì?"))[-1]
            code = answer["custom"]["procedure_code"]
            assert code
        async with Client(widget_servers.url, ["websocket"], session) as again, \
                Client(widget_servers.url, ["polling"], session) as other_tab:
            follow = (await again.ask("còn lệ phí thì sao?"))[-1]
            assert (follow["custom"]["procedure_code"], follow["custom"]["aspect"]) == (code, "fee")
            mirrored = (await other_tab.collect(10))[-1]
            assert mirrored["custom"]["procedure_code"] == code

    asyncio.run(run())
    assert user_texts(widget_servers, session) == ["đăng ký kết hôn cần giấy tờ gì?", "còn lệ phí thì sao?"]


def test_metadata_key_reaches_the_tracker(widget_servers):
    session = uuid.uuid4().hex

    async def run():
        async with Client(widget_servers.url, ["websocket"], session) as c:
            await c.ask("xin chào", customData={"language": "vi", "page": "https://tinh.gov.vn/dvc"})

    asyncio.run(run())
    users = [e for e in tracker(widget_servers, session)["events"] if e["event"] == "user"]
    assert users[-1]["metadata"]["page"] == "https://tinh.gov.vn/dvc"


SESSION = "<session>"


@pytest.mark.parametrize(
    ("event", "payload", "code"),
    [
        ("user_uttered", "chuỗi thay vì đối tượng", "bad_payload"),
        ("user_uttered", {"message": 42, "session_id": SESSION}, "bad_payload"),
        ("user_uttered", {"message": "khai sinh " * 200, "session_id": SESSION}, "message_too_long"),
        ("user_uttered", {"message": "xin chào"}, "no_session"),
        ("xoa_du_lieu", {"message": "xin chào", "session_id": SESSION}, "unknown_event"),
    ],
)
def test_bad_input_gets_an_error_event_and_never_reaches_the_dialogue(widget_servers, event, payload, code):
    session = uuid.uuid4().hex
    if isinstance(payload, dict):
        payload = {k: session if v == SESSION else v for k, v in payload.items()}

    async def run():
        async with Client(widget_servers.url, ["websocket"], session) as c:
            await c.sio.emit(event, payload)
            err = await asyncio.wait_for(c.errors.get(), 15)
            assert err["code"] == code and err["message"]
            await asyncio.sleep(0.5)
            assert c.replies.empty()

    asyncio.run(run())
    assert user_texts(widget_servers, session) == []


def test_empty_message_gets_a_polite_reply(widget_servers):
    async def run():
        async with Client(widget_servers.url, ["websocket"]) as c:
            reply = (await c.ask("   "))[-1]
            assert "chưa nhập câu hỏi" in reply["text"]
            assert reply["custom"]["procedure_code"] is None

    asyncio.run(run())


def test_malformed_frames_do_not_hurt_the_server(widget_servers):
    """Raw engine.io/socket.io garbage over a real WebSocket, then a huge frame; afterwards
    a normal client still gets answers."""
    ws_url = widget_servers.url.replace("http", "ws") + "/socket.io/?EIO=4&transport=websocket"
    garbage = ["", "4", "42", "42[", "42garbage", '42["user_uttered"', "4{}", "9", "0{bad", '42[1,2,3]',
               '42["user_uttered",{"message":null}]', "\x00\xff", "b!!notbase64", "4" + "[" * 5000]

    async def run():
        async with aiohttp.ClientSession() as http:
            for frame in garbage:
                async with http.ws_connect(ws_url) as ws:
                    opened = await ws.receive(timeout=10)
                    assert opened.data.startswith("0{")
                    await ws.send_str("40")
                    assert (await ws.receive(timeout=10)).data.startswith("40")
                    await ws.send_str(frame)
                    reply = await ws.receive(timeout=10)
                    refused = reply.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED) or (
                        reply.type == aiohttp.WSMsgType.TEXT and reply.data.startswith('42["error"'))
                    assert refused, (frame[:20], reply)
            async with http.ws_connect(ws_url) as ws:
                await ws.receive(timeout=10)
                await ws.send_str("40")
                await ws.receive(timeout=10)
                await ws.send_str('42["user_uttered",{"message":"' + "x" * 70_000 + '"}]')
                closed = await ws.receive(timeout=15)
                assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), closed
        async with Client(widget_servers.url, ["websocket"]) as c:
            assert (await c.ask("đăng ký kết hôn cần giấy tờ gì"))[-1]["custom"]["procedure_code"]

    asyncio.run(run())
    log = widget_servers.rasa_log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log, log[log.index("Traceback") - 300:][:3000]


def _handshake(url: str, origin: str | None) -> tuple[int, dict]:
    headers = {"Origin": origin} if origin else {}
    req = urllib.request.Request(f"{url}/socket.io/?EIO=4&transport=polling", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers)


def test_origins(widget_servers):
    url = widget_servers.url
    status, _ = _handshake(url, url)  # the demo page itself
    assert status == 200
    status, headers = _handshake(url, CROSS_ORIGIN)  # listed in WIDGET_ALLOWED_ORIGINS
    assert status == 200 and headers.get("Access-Control-Allow-Origin") == CROSS_ORIGIN
    status, headers = _handshake(url, "http://evil.example")
    assert status == 400 and "Access-Control-Allow-Origin" not in headers
    status, _ = _handshake(url, None)  # not a browser
    assert status == 200


def test_widget_files_are_served(widget_servers):
    for path, kind in (("/widget/", "text/html"), ("/widget/widget.js", "javascript")):
        with urllib.request.urlopen(widget_servers.url + path, timeout=10) as resp:
            assert resp.status == 200 and kind in resp.headers["Content-Type"]
            body = resp.read().decode("utf-8")
        assert "https://fonts.googleapis" not in body and "cdn." not in body
