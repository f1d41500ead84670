"""socket.io channel for the web widget, working on Python 3.11 with Rasa 3.6's pins.

Rasa 3.6's own ``socketio`` channel fails on this stack in three ways (see
``../shared/README.md``), and this subclass fixes each one in the project:

1. **WebSocket upgrade crash.** python-engineio's sanic driver reads frames with
   sanic 21.12's ``WebsocketImplProtocol.recv``, which hands a bare coroutine to
   ``asyncio.wait``; Python 3.11 forbids that (``TypeError: Passing coroutines is
   forbidden``), the handler dies after the 101 handshake and the browser sees
   "Invalid frame header".  :class:`Sanic2112WebSocket` is an engine.io driver
   whose ``wait`` wraps the read in a task, so the WebSocket transport works.
2. **Lost replies with ``session_persistence: true``** (RasaHQ/rasa#13027): Rasa
   calls ``sio.enter_room`` without awaiting it, and since python-socketio 5.10 that
   is a coroutine, so replies went to an empty room.  Here it is awaited, and a
   socket that sends for a session it has not joined yet joins it first.
3. **``metadata_key``**: the client's extra data (``customData`` for rasa-webchat
   style clients) is read from the configured key; a JSON string is decoded.

Several Rasa processes (``make prod``): with ``CHANNEL_REDIS_URL`` set the server uses
python-socketio's Redis manager (``channels/out_of_turn.py``), so a message sent
outside a turn by any process (the live-agent desk's operator) reaches the session's
room on the process that holds the citizen's connection. The transport itself stays
sticky (nginx ``ip_hash``): an engine.io session lives in one process (docs/deploy.md).

Beyond the fixes, every bot message is ONE ``bot_uttered`` event holding ``text``,
``quick_replies`` (the standard shape third-party Rasa web clients render) and the
structured ``custom`` payload, instead of Rasa's default of one event per part.
Bad input never reaches the dialogue: a non-dict payload, a missing or non-string
message, an over-long message and unknown event names each get an ``error`` event.

Origins: the demo page and the widget script are served from this server
(``/widget/``), so the same origin always works; other origins must be listed in
``allowed_origins`` (env ``WIDGET_ALLOWED_ORIGINS``), and any other origin is
refused at the engine.io handshake.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Dict, List

import structlog
from engineio import packet
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer
from socketio import packet as sio_packet

from channels.out_of_turn import socketio_manager
from channels.rest import sanitize_sender, structured_payload
from vntext.pii import mask_pii

logger = structlog.get_logger()

REPO = Path(__file__).resolve().parents[2]
WIDGET_DIST = REPO / "widget" / "dist"
MAX_MESSAGE_CHARS = 1000
# Engine.IO refuses (and disconnects) any packet larger than this: a chat message is tiny.
MAX_PACKET_BYTES = 64 * 1024
STANDARD_EVENTS = ("connect", "disconnect", "session_request")


class Sanic2112WebSocket:
    """engine.io WebSocket driver for sanic 21.12 on Python 3.11.

    Same interface as ``engineio.async_drivers.sanic.WebSocket``; only the read is
    different: sanic 21.12's ``recv`` passes a coroutine to ``asyncio.wait``, which
    Python 3.11 refuses, so the frame read is wrapped in a task here.
    """

    def __init__(self, handler: Callable[[Any], Awaitable[Any]], server: Any) -> None:
        self.handler = handler
        self.server = server
        self._sock: Any = None
        self.environ: Dict[str, Any] = {}

    async def __call__(self, environ: Dict[str, Any]) -> Any:
        request = environ["sanic.request"]
        protocol = request.transport.get_protocol()
        self._sock = await protocol.websocket_handshake(request)
        self.environ = environ
        await self.handler(self)
        return self.server._ok()

    async def close(self) -> None:
        await self._sock.close()

    async def send(self, message: Any) -> None:
        await self._sock.send(message)

    async def wait(self) -> Any:
        ws = self._sock
        async with ws.recv_lock:
            if ws.connection.state.name == "CLOSED":
                raise OSError("websocket closed")
            ws.recv_cancel = asyncio.get_running_loop().create_future()
            getter = asyncio.ensure_future(ws.assembler.get(None))
            try:
                done, _ = await asyncio.wait({ws.recv_cancel, getter}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                cancel, ws.recv_cancel = ws.recv_cancel, None
            if getter not in done:  # the connection is closing
                getter.cancel()
                raise OSError("websocket closed")
            cancel.cancel()
            data = getter.result()
        if not isinstance(data, (bytes, str)):
            raise OSError("websocket closed")
        try:  # engine.io decodes outside any error handling: a garbage frame would crash the handler
            kind = packet.Packet(encoded_packet=data).packet_type
            if not packet.OPEN < kind < len(packet.packet_names):  # OPEN is the server's to send
                raise ValueError("unexpected engine.io packet type")
        except Exception as exc:
            logger.warning("socketio.bad_frame", error=type(exc).__name__, size=len(data))
            raise OSError("malformed engine.io packet") from exc
        return data


class GuardedAsyncServer(AsyncServer):
    """python-socketio's server, refusing malformed socket.io packets with an ``error`` event.

    Upstream raises from deep inside its packet dispatch on garbage such as ``42[`` or
    ``42[1,2]``; engine.io only logs a traceback.  Here the sender gets a clear refusal and
    the server log a one-line warning.
    """

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        try:
            await super()._handle_eio_message(eio_sid, data)
        except Exception as exc:
            logger.warning("socketio.bad_packet", error=type(exc).__name__, size=len(data or ""))
            self._binary_packet.pop(eio_sid, None)
            refusal = {"code": "bad_packet", "message": "Gói tin socket.io không hợp lệ."}
            try:
                await self._send_packet(eio_sid, self.packet_class(sio_packet.EVENT, namespace="/", data=["error", refusal]))
            except Exception:  # the client is already gone
                pass


class WidgetSocketIOOutput(OutputChannel):
    """Sends each bot message as one ``bot_uttered`` event to the session's room."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    def __init__(self, sio: AsyncServer, bot_message_evt: str, room: str | None) -> None:
        """``room``: the session's room; None sends to the room named by each message's recipient
        (the session id), which is how messages sent outside a turn (the live-agent desk) arrive."""
        self.sio = sio
        self.bot_message_evt = bot_message_evt
        self.room = room

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        out: Dict[str, Any] = {}
        if message.get("text"):
            out["text"] = message["text"]
        buttons = message.get("quick_replies") or message.get("buttons") or []
        if buttons:
            out["quick_replies"] = [
                {"content_type": "text", "title": b.get("title", ""), "payload": b.get("payload", b.get("title", ""))}
                for b in buttons
            ]
        if message.get("image"):
            out["attachment"] = {"type": "image", "payload": {"src": message["image"]}}
        if message.get("attachment"):
            out["attachment"] = message["attachment"]
        out["custom"] = structured_payload(message.get("custom"))
        await self.sio.emit(self.bot_message_evt, out, room=self.room or recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


def parse_origins(value: Any) -> List[str]:
    """``"https://a.gov.vn, https://b.gov.vn"`` (or a YAML list) → a clean list of origins."""
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip().rstrip("/") for item in items if str(item).strip()]


def same_origin(origin: str, environ: Dict[str, Any]) -> bool:
    """True when the page's Origin is this server itself (scheme + Host, proxies included)."""
    scheme = environ.get("HTTP_X_FORWARDED_PROTO", environ.get("wsgi.url_scheme", "http")).split(",")[0].strip()
    hosts = {environ.get("HTTP_HOST", "")}
    if environ.get("HTTP_X_FORWARDED_HOST"):
        hosts.add(environ["HTTP_X_FORWARDED_HOST"].split(",")[0].strip())
    return any(origin == f"{scheme}://{host}" for host in hosts if host)


class WidgetSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel, fixed for this stack, plus the widget's static files."""

    @classmethod
    def name(cls) -> str:
        return "socketio"

    @classmethod
    def from_credentials(cls, credentials: Dict[str, Any] | None) -> InputChannel:
        credentials = credentials or {}
        return cls(
            user_message_evt=credentials.get("user_message_evt", "user_uttered"),
            bot_message_evt=credentials.get("bot_message_evt", "bot_uttered"),
            namespace=credentials.get("namespace"),
            session_persistence=bool(credentials.get("session_persistence", True)),
            socketio_path=credentials.get("socketio_path", "/socket.io"),
            metadata_key=credentials.get("metadata_key", "customData"),
            allowed_origins=parse_origins(credentials.get("allowed_origins")),
        )

    def __init__(
        self,
        user_message_evt: str = "user_uttered",
        bot_message_evt: str = "bot_uttered",
        namespace: str | None = None,
        session_persistence: bool = True,
        socketio_path: str = "/socket.io",
        metadata_key: str = "customData",
        allowed_origins: List[str] | None = None,
    ) -> None:
        self.user_message_evt = user_message_evt
        self.bot_message_evt = bot_message_evt
        self.namespace = namespace
        self.session_persistence = session_persistence
        self.socketio_path = socketio_path
        self.metadata_key = metadata_key
        self.allowed_origins = allowed_origins or []
        self.jwt_key = None
        self.jwt_algorithm = None
        self.sio: AsyncServer | None = None

    def url_prefix(self) -> str:
        # An absolute prefix: Rasa joins it onto "/webhooks/", so the widget lives at /widget/.
        return "/widget"

    def get_output_channel(self) -> OutputChannel | None:
        """Messages sent outside a turn (Rasa's ``output_channel=socketio``, used by the live-agent
        desk): with session persistence the room is the session id, which is the recipient id."""
        if self.sio is None or not self.session_persistence:
            return None
        return WidgetSocketIOOutput(self.sio, self.bot_message_evt, None)

    def origin_allowed(self, origin: str | None, environ: Dict[str, Any]) -> bool:
        """engine.io's origin check: same origin, or one listed in WIDGET_ALLOWED_ORIGINS."""
        if not origin:
            return True  # not a browser (no Origin header): nothing to protect against
        origin = origin.rstrip("/")
        allowed = same_origin(origin, environ) or origin in self.allowed_origins
        if not allowed:
            logger.warning("socketio.origin.refused", origin=origin)
        return allowed

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        sio = GuardedAsyncServer(
            async_mode="sanic",
            cors_allowed_origins=self.origin_allowed,
            max_http_buffer_size=MAX_PACKET_BYTES,
            # several Rasa processes (CHANNEL_REDIS_URL): emits to a room reach every process
            client_manager=socketio_manager(),
        )
        sio.eio._async = dict(sio.eio._async, websocket=Sanic2112WebSocket)
        self.sio = sio
        bp = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)
        ns = self.namespace

        @bp.listener("after_server_start")
        async def start_manager(*_: Any) -> None:
            # python-socketio starts its manager (for Redis: the subscription that receives other
            # processes' emits) only at the first client's connection; a process must receive
            # from the start, so it is started with the server.
            if not sio.manager_initialized:
                sio.manager_initialized = True
                sio.manager.initialize()

        @bp.route("/health", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/", methods=["GET"])
        async def demo(_: Request) -> HTTPResponse:
            return await _static("demo.html", "text/html; charset=utf-8")

        @bp.route("/widget.js", methods=["GET"])
        async def script(_: Request) -> HTTPResponse:
            return await _static("widget.js", "application/javascript; charset=utf-8")

        @sio.on("connect", namespace=ns)
        async def connect(sid: str, environ: Dict[str, Any], auth: Any = None) -> None:
            logger.debug("socketio.connect", sid=sid)

        @sio.on("disconnect", namespace=ns)
        async def disconnect(sid: str, *_: Any) -> None:
            logger.debug("socketio.disconnect", sid=sid)

        @sio.on("session_request", namespace=ns)
        async def session_request(sid: str, data: Any = None) -> None:
            requested = data.get("session_id") if isinstance(data, dict) else None
            session_id = sanitize_sender(requested) if isinstance(requested, str) else None
            session_id = session_id or uuid.uuid4().hex
            if self.session_persistence:
                await sio.enter_room(sid, session_id, namespace=ns)
                await sio.save_session(sid, {"session_id": session_id}, namespace=ns)
            await sio.emit("session_confirm", session_id, room=sid, namespace=ns)

        @sio.on(self.user_message_evt, namespace=ns)
        async def handle_message(sid: str, data: Any = None) -> None:
            if not isinstance(data, dict):
                return await _error(sid, "bad_payload", "Tin nhắn không đúng định dạng {\"message\": \"...\"}.")
            text = data.get("message")
            if not isinstance(text, str):
                return await _error(sid, "bad_payload", "Trường 'message' phải là chuỗi văn bản.")
            if len(text) > MAX_MESSAGE_CHARS:
                return await _error(
                    sid, "message_too_long",
                    f"Tin nhắn quá dài (tối đa {MAX_MESSAGE_CHARS} ký tự). Anh/Chị vui lòng hỏi ngắn gọn hơn.",
                )
            if self.session_persistence:
                sender_id = sanitize_sender(data.get("session_id"))
                if sender_id is None:
                    return await _error(sid, "no_session", "Thiếu session_id: hãy gửi session_request trước.")
                if sender_id not in sio.rooms(sid, namespace=ns):
                    await sio.enter_room(sid, sender_id, namespace=ns)
                room = sender_id
            else:
                sender_id = room = sid
            output = WidgetSocketIOOutput(sio, self.bot_message_evt, room)
            text = text.strip()
            if not text:
                await output.send_response(sender_id, {
                    "text": "Anh/chị chưa nhập câu hỏi. Anh/chị cần hỏi về thủ tục hành chính nào ạ?",
                })
                return None
            message = UserMessage(
                text, output, sender_id, input_channel=self.name(), metadata=_metadata(data.get(self.metadata_key)),
            )
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("socketio.message.failure", sender=mask_pii(sender_id))
                await _error(sid, "server_error", "Xin lỗi, hệ thống đang gặp sự cố. Anh/Chị vui lòng thử lại sau.")
            return None

        @sio.on("*", namespace=ns)
        async def unknown(event: str, sid: str, *_: Any) -> None:
            if event in STANDARD_EVENTS:
                return
            logger.info("socketio.unknown_event", name=str(event)[:64])
            await _error(sid, "unknown_event", "Sự kiện không được hỗ trợ.")

        async def _error(sid: str, code: str, message: str) -> None:
            await sio.emit("error", {"code": code, "message": message}, room=sid, namespace=ns)

        return bp


def _metadata(value: Any) -> Dict[str, Any] | None:
    """The client's extra data as a dict (a JSON string is decoded), else None."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None
    return value if isinstance(value, dict) else None


async def _static(name: str, content_type: str) -> HTTPResponse:
    path = WIDGET_DIST / name
    if not path.is_file():
        return response.text(
            f"Chưa dựng widget ({path} không có). Chạy: bash scripts/build_widget.sh", status=503,
        )
    return await response.file(path, mime_type=content_type, headers={"Cache-Control": "no-cache"})


__all__ = ["WidgetSocketIOInput", "WidgetSocketIOOutput", "Sanic2112WebSocket"]
