"""Loopback stand-ins for Rasa's REST channel and Twilio's REST API.

Why fakes and not mocks: the gateway is exercised over real HTTP, through the
real ``aiohttp`` client and the real ``twilio`` client library, exactly as in
production; only the far end is scripted.  The real Rasa integration is
tested elsewhere in the project.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Reply = list[dict[str, Any]]

FEE_REPLY: Reply = [
    {
        "recipient_id": "",
        "text": "Lệ phí cấp lại là 200.000 đồng/lần. Thời hạn giải quyết 05 ngày làm việc.",
        "custom": {
            "procedure_code": "1.001234",
            "procedure_name": "Cấp lại giấy phép lái xe",
            "aspect": "fee",
            "confidence": 0.91,
            "candidates": [],
            "source_url": "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001234",
        },
    }
]

DOCUMENTS = [
    "Tờ khai theo mẫu",
    "Bản sao giấy khai sinh",
    "Căn cước công dân",
    "Hai ảnh 4x6",
    "Giấy xác nhận cư trú",
    "Giấy ủy quyền nếu nộp thay",
    "Biên lai nộp lệ phí",
]

DOCUMENTS_REPLY: Reply = [
    {
        "recipient_id": "",
        "text": "Hồ sơ cấp lại gồm 7 giấy tờ:\n- Tờ khai theo mẫu\n- Bản sao giấy khai sinh",
        "custom": {
            "procedure_code": "1.001234",
            "procedure_name": "Cấp lại giấy phép lái xe",
            "aspect": "documents",
            "confidence": 0.88,
            "candidates": [],
            "source_url": "https://dichvucong.gov.vn/x?ma_thu_tuc=1.001234",
            "documents": [{"name": d} for d in DOCUMENTS],
        },
    }
]

HANDOFF_REPLY: Reply = [
    {"recipient_id": "", "text": "Tôi sẽ chuyển anh chị tới cán bộ hỗ trợ."},
    {"recipient_id": "", "custom": {"handoff": True, "intent": "request_human"}},
]

CLARIFY_REPLY: Reply = [
    {
        "recipient_id": "",
        "custom": {
            "confidence": 0.41,
            "candidates": [
                {"procedure_code": "1.000001", "procedure_name": "Đăng ký khai sinh"},
                {"procedure_code": "1.000002", "procedure_name": "Đăng ký kết hôn"},
            ],
        },
    }
]


# The two shapes below copy what the project's own Rasa bot sends (see
# bot/channels/rest.py and actions/): every message carries the full custom
# payload with nulls, lists are numbered lines in the text, and a
# disambiguation question comes with buttons whose payload is "số N".
CHOICE_REPLY: Reply = [
    {
        "recipient_id": "",
        "text": (
            "Anh/Chị muốn hỏi về lệ phí của thủ tục nào ạ?\n"
            "1. Cấp lại giấy phép lái xe\n"
            "2. Đổi giấy phép lái xe do ngành Giao thông vận tải cấp\n"
            "Anh/Chị trả lời số thứ tự (ví dụ: số 1) hoặc bấm chọn."
        ),
        "buttons": [
            {"title": "1. Cấp lại giấy phép lái xe", "payload": "số 1"},
            {"title": "2. Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "payload": "số 2"},
        ],
        "custom": {
            "procedure_code": None,
            "procedure_name": None,
            "aspect": "fee",
            "confidence": 0.52,
            "candidates": [
                {"code": "1.001234", "name": "Cấp lại giấy phép lái xe", "score": 0.52},
                {"code": "1.001235", "name": "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "score": 0.49},
            ],
            "source_url": None,
        },
    }
]

NUMBERED_DOCUMENTS_REPLY: Reply = [
    {
        "recipient_id": "",
        "text": (
            "Hồ sơ «Đăng ký khai sinh» gồm:\n"
            "1. Tờ khai đăng ký khai sinh (bản chính: 1)\n"
            "2. Giấy chứng sinh (bản chính: 1)\n"
            "3. Giấy tờ tùy thân của người đi đăng ký\n"
            "4. Giấy tờ chứng minh nơi cư trú\n"
            "5. Văn bản ủy quyền, nếu nhờ người khác đi đăng ký\n"
            "Nguồn: https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193"
        ),
        "custom": {
            "procedure_code": "1.001193",
            "procedure_name": "Đăng ký khai sinh",
            "aspect": "documents",
            "confidence": 0.87,
            "candidates": [],
            "source_url": "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193",
        },
    }
]


def default_script(message: str) -> Reply:
    """Replies keyed on what the tiny model can recognise (tone words)."""
    words = message.lower().split()
    if "một" in words or "hồ sơ" in message.lower():
        return DOCUMENTS_REPLY
    if "hai" in words or "lệ phí" in message.lower():
        return FEE_REPLY
    if "ba" in words or "thời gian" in message.lower():
        return [{"recipient_id": "", "text": "Thời hạn giải quyết là 15 ngày làm việc."}]
    if "bốn" in words or "tổng đài" in message.lower():
        return HANDOFF_REPLY
    if "năm" in words:
        return CLARIFY_REPLY
    if "bảy" in words:
        return CHOICE_REPLY
    if "tám" in words:
        return NUMBERED_DOCUMENTS_REPLY
    if "sáu" in words:
        return []  # Rasa sometimes answers nothing
    return [{"recipient_id": "", "text": "Anh chị vui lòng cho biết tên thủ tục."}]


@dataclass
class FakeRasa:
    """``POST /webhooks/rest/webhook`` with scripted replies and a record of turns."""

    script: Callable[[str], Reply] = default_script
    delay_s: float = 0.0
    turns: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    async def _webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.turns.append({**body, "at": time.monotonic()})
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        replies = [dict(r, recipient_id=body.get("sender", "")) for r in self.script(str(body.get("message", "")))]
        return web.json_response(replies)

    async def start(self) -> FakeRasa:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self._webhook)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@dataclass
class FakeTwilioRest:
    """The two Twilio REST endpoints the gateway uses, with Basic auth.

    ``POST /2010-04-01/Accounts/{AccountSid}/Calls/{CallSid}.json`` (form
    field ``Twiml``) answers a Call resource; ``POST .../Messages.json``
    (``To``, ``From``, ``Body``) answers a Message resource with 201, as the
    real API does.  Each accepted request is recorded; ``on_call_update`` lets
    a test react the way Twilio would (ending the media stream).
    """

    account_sid: str
    auth_token: str
    call_updates: list[dict[str, str]] = field(default_factory=list)
    messages: list[dict[str, str]] = field(default_factory=list)
    on_call_update: Callable[[str, str], None] | None = None
    url: str = ""
    _runner: web.AppRunner | None = None

    def _check_auth(self, request: web.Request, account: str) -> None:
        expected = base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        if request.headers.get("Authorization") != f"Basic {expected}" or account != self.account_sid:
            raise web.HTTPUnauthorized(
                text='{"code": 20003, "message": "Authenticate", "status": 401}',
                content_type="application/json",
            )

    async def _update_call(self, request: web.Request) -> web.Response:
        account = request.match_info["account"]
        call_sid = request.match_info["call"]
        self._check_auth(request, account)
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.call_updates.append({"CallSid": call_sid, **form})
        if self.on_call_update is not None:
            self.on_call_update(call_sid, form.get("Twiml", ""))
        return web.json_response(
            {
                "sid": call_sid,
                "account_sid": account,
                "status": "in-progress",
                "direction": "inbound",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{account}/Calls/{call_sid}.json",
            }
        )

    async def _send_message(self, request: web.Request) -> web.Response:
        account = request.match_info["account"]
        self._check_auth(request, account)
        form = {k: str(v) for k, v in (await request.post()).items()}
        if not form.get("To") or not (form.get("From") or form.get("MessagingServiceSid")):
            return web.json_response(
                {"code": 21604, "message": "A 'To' phone number is required.", "status": 400},
                status=400,
            )
        self.messages.append(form)
        sid = f"SM{len(self.messages):032d}"
        return web.json_response(
            {
                "sid": sid,
                "account_sid": account,
                "to": form["To"],
                "from": form.get("From"),
                "body": form.get("Body", ""),
                "status": "queued",
                "num_segments": "1",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "uri": f"/2010-04-01/Accounts/{account}/Messages/{sid}.json",
            },
            status=201,
        )

    async def start(self) -> FakeTwilioRest:
        app = web.Application()
        app.router.add_post(
            "/2010-04-01/Accounts/{account}/Calls/{call}.json", self._update_call
        )
        app.router.add_post("/2010-04-01/Accounts/{account}/Messages.json", self._send_message)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
