"""Loopback stand-ins for Rasa's REST channel and Twilio's REST API.

Why fakes and not mocks: the gateway is exercised over real HTTP, through the
real ``aiohttp`` client and the real ``twilio`` client library, exactly as in
production; only the far end is scripted.  The real Rasa integration is
tested end to end in tests/voice/test_real_bot.py; these fakes send exactly its
payload shape, validated by ``bot_payload``, and serve the gateway's own tests.
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

import bot_payload

Reply = list[dict[str, Any]]

PORTAL = "https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc="


def bot_message(text: str, buttons: list[dict[str, str]] | None = None, **custom: Any) -> dict[str, Any]:
    """One message exactly as the project's REST channel sends it: ``custom`` validated by ``bot_payload``.

    A fake that drifts from the real payload fails here, at import, not in a call.
    """
    msg: dict[str, Any] = {"recipient_id": "", "text": text, "custom": bot_payload.validate(custom)}
    if buttons:
        msg["buttons"] = buttons
    return msg


def _facts(code: str, name: str, documents: list[str] | None = None, fee: float | None = 200_000,
           days: float = 5) -> dict[str, Any]:
    fees = [{"kind": "fixed", "amount": fee, "currency": "VND", "note": "200.000 đ/lần (Thông tư 37/2023/TT-BTC)"}] \
        if fee is not None else [{"kind": "free", "note": None}]
    return {
        "code": code, "name": name, "agency": "Công an cấp tỉnh", "source_url": PORTAL + code, "online": True,
        "where_to_submit": "Bộ phận một cửa cấp tỉnh",
        "documents": [{"name": d, "copies": 1, "copy_type": "bản chính", "template": "TK1-TS" if i == 0 else None,
                       "note": None} for i, d in enumerate(documents or [])],
        "channels": [
            {"channel": "truc_tiep", "duration": {"unit": "ngay_lam_viec", "value": days}, "fees": fees},
            {"channel": "truc_tuyen", "duration": {"unit": "ngay_lam_viec", "value": days}, "fees": fees},
        ],
        "steps": [], "legal_basis": [{"number": "37/2023/TT-BTC", "title": "Thông tư quy định mức thu lệ phí"}],
    }


def answer_message(code: str, name: str, aspect: str, text: str, **facts: Any) -> dict[str, Any]:
    f = _facts(code, name, **facts)
    return bot_message(text, procedure_code=code, procedure_name=name, aspect=aspect, confidence=0.9,
                       source_url=f["source_url"], kind="answer", facts=f)


DOCUMENTS = [
    "Tờ khai theo mẫu",
    "Bản sao giấy khai sinh",
    "Căn cước công dân",
    "Hai ảnh 4x6",
    "Giấy xác nhận cư trú",
    "Giấy ủy quyền nếu nộp thay",
    "Biên lai nộp lệ phí",
]

FEE_REPLY: Reply = [answer_message(
    "1.001234", "Cấp lại giấy phép lái xe", "fee",
    "Lệ phí «Cấp lại giấy phép lái xe»:\n- Nộp trực tiếp: 200.000 đồng\nNguồn: thủ tục 1.001234 — " + PORTAL + "1.001234",
)]

DOCUMENTS_REPLY: Reply = [answer_message(
    "1.001234", "Cấp lại giấy phép lái xe", "documents",
    "Hồ sơ «Cấp lại giấy phép lái xe» gồm:\n" + "\n".join(f"{i}. {d}" for i, d in enumerate(DOCUMENTS, 1)),
    documents=DOCUMENTS,
)]

DURATION_REPLY: Reply = [answer_message(
    "1.001234", "Cấp lại giấy phép lái xe", "duration", "Thời hạn giải quyết: 15 ngày làm việc", days=15,
)]

# The real bot's hand-off when no live desk is on duty: the phone gateway transfers to its own operator.
HANDOFF_REPLY: Reply = [bot_message(
    "Hiện chưa có tổng đài viên trực tuyến để nhận cuộc trò chuyện này. Anh/Chị vui lòng gọi đường dây nóng 1022.",
    kind="handoff", handoff=False, hotline="1022", hotline_hours="7h30–17h00, thứ Hai đến thứ Sáu",
)]

CHOICE_REPLY: Reply = [bot_message(
    "Anh/Chị muốn hỏi về lệ phí của thủ tục nào ạ?\n1. Cấp lại giấy phép lái xe\n"
    "2. Đổi giấy phép lái xe do ngành Giao thông vận tải cấp\nAnh/Chị trả lời số thứ tự (ví dụ: số 1) hoặc bấm chọn.",
    buttons=[
        {"title": "1. Cấp lại giấy phép lái xe", "payload": "số 1"},
        {"title": "2. Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "payload": "số 2"},
    ],
    aspect="fee", confidence=0.52, kind="choice",
    candidates=[
        {"code": "1.001234", "name": "Cấp lại giấy phép lái xe", "score": 0.52},
        {"code": "1.001235", "name": "Đổi giấy phép lái xe do ngành Giao thông vận tải cấp", "score": 0.49},
    ],
)]
CLARIFY_REPLY = CHOICE_REPLY

BIRTH_DOCUMENTS = [
    "Tờ khai đăng ký khai sinh", "Giấy chứng sinh", "Giấy tờ tùy thân của người đi đăng ký",
    "Giấy tờ chứng minh nơi cư trú", "Văn bản ủy quyền, nếu nhờ người khác đi đăng ký",
]
NUMBERED_DOCUMENTS_REPLY: Reply = [answer_message(
    "1.001193", "Đăng ký khai sinh", "documents",
    "Hồ sơ «Đăng ký khai sinh» gồm:\n" + "\n".join(f"{i}. {d}" for i, d in enumerate(BIRTH_DOCUMENTS, 1)),
    documents=BIRTH_DOCUMENTS, fee=None,
)]

FALLBACK_REPLY: Reply = [bot_message(
    "Xin lỗi, tôi chưa tìm được thông tin chính xác cho câu hỏi này nên không dám trả lời đoán. "
    "Anh/Chị có thể gọi đường dây nóng 1022 (7h30–17h00, thứ Hai đến thứ Sáu) để được hướng dẫn.",
    kind="fallback", hotline="1022", hotline_hours="7h30–17h00, thứ Hai đến thứ Sáu",
)]


def default_script(message: str) -> Reply:
    """Replies keyed on what the tiny model can recognise (tone words)."""
    words = message.lower().split()
    if "một" in words or "hồ sơ" in message.lower():
        return DOCUMENTS_REPLY
    if "hai" in words or "lệ phí" in message.lower():
        return FEE_REPLY
    if "ba" in words or "thời gian" in message.lower():
        return DURATION_REPLY
    if "bốn" in words or "tổng đài" in message.lower():
        return HANDOFF_REPLY
    if "năm" in words or "bảy" in words:
        return CHOICE_REPLY
    if "tám" in words:
        return NUMBERED_DOCUMENTS_REPLY
    if "sáu" in words:
        return []  # Rasa sometimes answers nothing
    if "chín" in words:
        return FALLBACK_REPLY
    return [bot_message("Anh/Chị cần hỏi về thủ tục hành chính nào ạ?", kind="prompt")]


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
