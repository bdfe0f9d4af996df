"""A Telegram Bot API stand-in server for tests and benchmarks.

It speaks enough of the Bot API for python-telegram-bot's real HTTP client (httpx) to run
against it: the bot is pointed at it with ``base_url``/``base_file_url``, updates are queued by
the test, and every call the bot makes is recorded.

Usage::

    async with BotApiStub() as stub:
        app = (
            Application.builder()
            .token(stub.token)
            .base_url(stub.base_url)
            .base_file_url(stub.base_file_url)
            .build()
        )
        async with app:
            await app.start()
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
        n = len(stub.sent)
        stub.push_message(42, "/eta", language_code="fr")
            reply = await stub.wait_for(lambda c: c.method == "sendMessage", since=n)
            assert reply.params["chat_id"] == 42 and reply.result["message_id"] == 2
            await app.updater.stop()
            await app.stop()

Test-facing API of :class:`BotApiStub`:

- ``token``, ``base_url``, ``base_file_url``, ``port``; ``start()``/``stop()`` or ``async with``.
- ``push_message(chat_id, text, *, chat_type="private", user_id=None, language_code="en",
  username="alice")`` and ``push_callback(chat_id, message_id, data, *, user_id=None,
  language_code="en")`` queue an update and return its ``update_id``; ``push_update(dict)``
  queues any raw update (hostile input). A text starting with ``/`` gets its ``bot_command``
  entity, as Telegram sends it.
- ``sent``: every call the bot made, in order, as :class:`SentCall` (method, decoded params,
  uploaded files, ``time.monotonic()`` time, HTTP status, result as Telegram returns it, error
  description). ``getUpdates`` polls are not recorded. Calls refused by an injected fault or by
  a check are recorded too, with their status (``0`` when no answer was sent: ``hang``,
  ``drop``, ``lost_reply``); ``SentCall.ok`` tells the ones the bot saw succeed.
- ``messages_to(chat_id)``: delivered sendMessage/sendPhoto/edit* calls to that chat.
- ``await wait_for(predicate_or_method_name, timeout=5.0, since=0)``: the first recorded call at
  index ``since`` or later that matches, waiting for it if needed (``TimeoutError`` otherwise).
- ``chat_messages(chat_id)``, ``pinned_message_id(chat_id)``: the chat as Telegram would show it;
  ``delete_by_user(chat_id, message_id)`` simulates the user deleting a message;
  ``block_chat(chat_id)`` makes every send to it answer 403 (bot blocked by the user).
- ``commands(language_code="", scope_type="default")``: what ``setMyCommands`` registered.
- ``files``: uploaded files by ``file_id`` (served back through ``getFile`` and the file URL).
- Fault injection: ``fail(mode, *, methods=None, times=None, retry_after=1, seconds=None,
  delay_s=30.0)``
  where mode is ``"500"``, ``"429"`` (with ``parameters.retry_after``), ``"hang"`` (the request
  is never answered nor processed until ``heal()``/``stop()``/the period ends, then the
  connection is closed), ``"drop"`` (connection closed without an answer, call not processed)
  or ``"lost_reply"`` (the call IS processed, then the connection is closed: the bot sees a
  network error for a message that was delivered). A fault applies to ``methods`` (all when
  ``None``, ``getUpdates`` included), for ``times`` calls and/or ``seconds``, or until
  ``heal()``. Faults stack; the first one added that matches wins. Answers a proxy or a captive
  portal gives: ``"garbage"`` (200 with a body that is not JSON), ``"html403"`` and
  ``"html400"`` (an HTML error page with that status), ``"echo"`` (a 502 page that quotes
  the request's path, token included, as some proxies do); none of them processes the call.
  ``"409"`` answers Telegram's Conflict (another client polls the same token). ``"slow"``
  processes the call at once and answers it ``delay_s`` seconds later (a Telegram slow to
  answer sends: the bot's read timeout fires for a message that was delivered).

Checks done like Telegram (status 400, Telegram's descriptions): wrong token (401), unknown
method (404), empty text, text over 4,096 characters and captions over 1,024 (counted after
HTML parsing, in code points), ``parse_mode="HTML"`` with unknown/unbalanced tags, editing with
identical content ("message is not modified"), editing/deleting/pinning an unknown message,
answering an unknown or already answered callback query. The HTML check is deliberately
stricter than Telegram for ``&``: a bare ``&`` that does not start an entity is refused, so
tests catch values that were not escaped. MarkdownV2 is not checked. Chats are created on
first use (positive id: private, negative: group, ``-100...``: supergroup). Malformed
parameters get a 400, never a server crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import itertools
import json
import re
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal, get_args

from aiohttp import web

FaultMode = Literal[
    "500",
    "429",
    "409",
    "hang",
    "drop",
    "lost_reply",
    "garbage",
    "html403",
    "html400",
    "echo",
    "slow",
]
DEFAULT_TOKEN = "123456789:AAH-stub-token-for-tests"  # not token-shaped on purpose

MAX_TEXT = 4096
MAX_CAPTION = 1024
# Parameters whose form value is plain text; every other value is JSON (python-telegram-bot
# json.dumps every non-str parameter), so "123" sent as text must not become an int.
_TEXT_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "language_code",
        "action",
        "url",
        "photo",
        "file_id",
        "inline_message_id",
        "business_connection_id",
        "message_effect_id",
    }
)
_HTML_TAGS = frozenset(
    {
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "code",
        "pre",
        "a",
        "tg-spoiler",
        "span",
        "blockquote",
        "tg-emoji",
    }
)
_TAG_RE = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)(\s[^<>]*)?>")
_ENTITY_RE = re.compile(r"&(?:lt|gt|amp|quot|#[0-9]+|#x[0-9a-fA-F]+);")
_MESSAGE_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "editMessageText", "editMessageReplyMarkup", "editMessageCaption"}
)


@dataclass(frozen=True)
class SentCall:
    """One call made by the bot, as the stub received and answered it."""

    method: str
    params: dict[str, Any]
    files: dict[str, bytes]
    time: float  # time.monotonic() when the stub answered (or gave up answering)
    status: int  # HTTP status answered; 0 when the connection was closed without an answer
    result: Any = None
    description: str = ""

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def chat_id(self) -> Any:
        return self.params.get("chat_id")

    @property
    def text(self) -> str | None:
        value = self.params.get("text", self.params.get("caption"))
        return None if value is None else str(value)

    @property
    def silent(self) -> bool:
        return bool(self.params.get("disable_notification", False))


class ApiError(Exception):
    """A Bot API error answer: HTTP status and Telegram's description."""

    def __init__(self, code: int, description: str, parameters: dict[str, Any] | None = None):
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


@dataclass
class _Fault:
    mode: FaultMode
    methods: frozenset[str] | None
    remaining: int | None
    until: float | None
    retry_after: int
    delay_s: float = 0.0

    def live(self, now: float) -> bool:
        in_period = self.until is None or now < self.until
        return in_period and (self.remaining is None or self.remaining > 0)

    def matches(self, method: str) -> bool:
        return self.methods is None or method.lower() in self.methods


@dataclass
class _Chat:
    id: int
    type: str
    messages: dict[int, dict[str, Any]] = field(default_factory=dict)
    pinned: list[int] = field(default_factory=list)
    next_message_id: int = 1
    blocked: bool = False
    username: str = "user"

    def as_json(self) -> dict[str, Any]:
        if self.type == "private":
            name = self.username
            return {
                "id": self.id,
                "type": "private",
                "first_name": name.capitalize(),
                "username": name,
            }
        return {"id": self.id, "type": self.type, "title": f"Group {self.id}"}

    def new_message_id(self) -> int:
        message_id = self.next_message_id
        self.next_message_id += 1
        return message_id


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The visible text of a Telegram-HTML message; ApiError(400) when Telegram would refuse it."""
    out: list[str] = []
    stack: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "<":
            i = _parse_tag(text, i, stack)
        elif char == "&":
            match = _ENTITY_RE.match(text, i)
            if not match:
                raise _entities_error(f"Can't find end of character entity at {_offset(text, i)}")
            out.append(html.unescape(match.group()))
            i = match.end()
        else:
            out.append(char)
            i += 1
    if stack:
        raise _entities_error(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def _parse_tag(text: str, i: int, stack: list[str]) -> int:
    match = _TAG_RE.match(text, i)
    if not match:
        raise _entities_error(f"Can't find end of the tag starting at {_offset(text, i)}")
    closing, name = match.group(1) == "/", match.group(2).lower()
    if name not in _HTML_TAGS:
        kind = "end" if closing else "start"
        raise _entities_error(f'Unsupported {kind} tag "{name}" at {_offset(text, i)}')
    if not closing:
        stack.append(name)
    elif not stack or stack[-1] != name:
        expected = f'expected "</{stack[-1]}>"' if stack else "no tag is open"
        raise _entities_error(
            f'Unmatched end tag at {_offset(text, i)}, {expected}, found "</{name}>"'
        )
    else:
        stack.pop()
    return match.end()


def _offset(text: str, i: int) -> str:
    return f"byte offset {len(text[:i].encode())}"


def _entities_error(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: can't parse entities: {reason}")


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 0, 0


def _decode_param(name: str, value: Any) -> Any:
    if not isinstance(value, str) or name in _TEXT_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


class BotApiStub:
    """The stand-in server; see the module docstring for the test-facing API."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, bot_username: str = "etagram_stub_bot"):
        self.token = token
        self.bot_username = bot_username
        prefix = token.split(":", 1)[0]
        self.bot_id = int(prefix) if prefix.isdigit() else 1
        self.port = 0
        self.sent: list[SentCall] = []
        self.files: dict[str, bytes] = {}
        self._chats: dict[int, _Chat] = {}
        self._updates: list[dict[str, Any]] = []
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._file_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._commands: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self._faults: list[_Fault] = []
        self._new_update = asyncio.Event()
        self._new_call = asyncio.Event()
        self._release_hangs = asyncio.Event()
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._handlers: dict[str, Callable[[dict[str, Any], dict[str, bytes]], Any]] = {
            name.lower(): handler
            for name, handler in {
                "getMe": self._get_me,
                "deleteWebhook": self._true,
                "close": self._true,
                "logOut": self._true,
                "sendChatAction": self._true,
                "setMyCommands": self._set_my_commands,
                "getMyCommands": self._get_my_commands,
                "deleteMyCommands": self._delete_my_commands,
                "sendMessage": self._send_message,
                "sendPhoto": self._send_photo,
                "editMessageText": self._edit_message_text,
                "editMessageReplyMarkup": self._edit_message_reply_markup,
                "deleteMessage": self._delete_message,
                "pinChatMessage": self._pin_chat_message,
                "unpinChatMessage": self._unpin_chat_message,
                "answerCallbackQuery": self._answer_callback_query,
                "getChat": self._get_chat,
                "getFile": self._get_file,
            }.items()
        }

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        # access_log=None: aiohttp would log every request path, token included.
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        self._stopping = True
        self._new_update.set()
        self._release_hangs.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiStub:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    # -- test-facing helpers -----------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue a raw update (its update_id is assigned here) and return its update_id."""
        update_id = next(self._update_ids)
        self._updates.append({**update, "update_id": update_id})
        self._new_update.set()
        self._new_update = asyncio.Event()
        return update_id

    def push_message(
        self,
        chat_id: int,
        text: str,
        *,
        chat_type: str = "private",
        user_id: int | None = None,
        language_code: str = "en",
        username: str = "alice",
    ) -> int:
        chat = self._chat(chat_id, chat_type)
        if chat.type == "private" and user_id in (None, chat_id):
            chat.username = username
        user = self._user(chat, user_id, language_code, username)
        message: dict[str, Any] = {
            "message_id": chat.new_message_id(),
            "date": int(time.time()),
            "chat": chat.as_json(),
            "from": user,
            "text": text,
        }
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            message["entities"] = [
                {"type": "bot_command", "offset": 0, "length": _utf16_len(command)}
            ]
        chat.messages[message["message_id"]] = message
        return self.push_update({"message": message})

    def push_callback(
        self,
        chat_id: int,
        message_id: int,
        data: str,
        *,
        user_id: int | None = None,
        language_code: str = "en",
    ) -> int:
        """Queue a button press on message_id; an unknown message is sent as inaccessible."""
        chat = self._chat(chat_id)
        query_id = str(next(self._query_ids))
        self._open_queries.add(query_id)
        message = (
            _public(chat.messages[message_id])
            if message_id in chat.messages
            else {
                "chat": chat.as_json(),
                "message_id": message_id,
                "date": 0,
            }
        )
        query = {
            "id": query_id,
            "from": self._user(chat, user_id, language_code, "alice"),
            "chat_instance": str(chat_id),
            "data": data,
            "message": message,
        }
        return self.push_update({"callback_query": query})

    def messages_to(self, chat_id: int) -> list[SentCall]:
        return [
            c for c in self.sent if c.ok and c.method in _MESSAGE_METHODS and c.chat_id == chat_id
        ]

    async def wait_for(
        self,
        predicate: Callable[[SentCall], bool] | str,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> SentCall:
        """The first call at index `since` or later matching predicate (or method name)."""
        match = (lambda c: c.method == predicate) if isinstance(predicate, str) else predicate
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        index = since
        while True:
            for call in self.sent[index:]:
                if match(call):
                    return call
            index = len(self.sent)
            arrived = self._new_call
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = ", ".join(f"{c.method}({c.status})" for c in self.sent[-10:])
                raise TimeoutError(f"no matching call within {timeout}s; last calls: {recent}")
            await _wait(arrived, remaining)

    def chat_messages(self, chat_id: int) -> list[dict[str, Any]]:
        """Messages currently in the chat (sent by the bot or pushed), oldest first."""
        return [_public(m) for m in self._chat(chat_id).messages.values()]

    def pinned_message_id(self, chat_id: int) -> int | None:
        pinned = self._chat(chat_id).pinned
        return pinned[-1] if pinned else None

    def delete_by_user(self, chat_id: int, message_id: int) -> None:
        chat = self._chat(chat_id)
        chat.messages.pop(message_id, None)
        if message_id in chat.pinned:
            chat.pinned.remove(message_id)

    def block_chat(self, chat_id: int) -> None:
        self._chat(chat_id).blocked = True

    def commands(
        self, language_code: str = "", scope_type: str = "default"
    ) -> list[dict[str, Any]]:
        return self._commands.get((scope_type, language_code), [])

    def fail(
        self,
        mode: FaultMode,
        *,
        methods: set[str] | None = None,
        times: int | None = None,
        retry_after: int = 1,
        seconds: float | None = None,
        delay_s: float = 30.0,
    ) -> None:
        if mode not in get_args(FaultMode):
            raise ValueError(f"unknown fault mode {mode!r}; expected one of {get_args(FaultMode)}")
        until = None if seconds is None else time.monotonic() + seconds
        names = None if methods is None else frozenset(m.lower() for m in methods)
        self._faults.append(_Fault(mode, names, times, until, retry_after, delay_s))

    def heal(self) -> None:
        self._faults.clear()
        self._release_hangs.set()
        self._release_hangs = asyncio.Event()

    # -- HTTP --------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        method = request.match_info["method"]
        params, files = await self._read_params(request)
        fault = self._take_fault(method)
        if fault is not None and fault.mode not in ("lost_reply", "slow"):
            return await self._inject(fault, request, method, params, files)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if method.lower() == "getupdates":
                result: Any = await self._get_updates(params)
            else:
                result = self._call(method, params, files)
        except ApiError as err:
            self._record(method, params, files, err.code, description=err.description)
            return _error(err)
        if fault is not None and fault.mode == "lost_reply":  # processed, the answer lost
            self._record(method, params, files, 0, result=result, description="lost_reply")
            return _drop(request)
        if fault is not None:  # slow: processed, answered late (if the bot still listens)
            self._record(method, params, files, 200, result=result, description="slow")
            await _wait(self._release_hangs, fault.delay_s)
            return _ok(result)
        self._record(method, params, files, 200, result=result)
        return _ok(result)

    def _call(self, method: str, params: dict[str, Any], files: dict[str, bytes]) -> Any:
        handler = self._handlers.get(method.lower())
        if handler is None:
            raise ApiError(404, "Not Found")
        try:
            return handler(params, files)
        except (ValueError, TypeError, KeyError) as err:  # malformed parameters
            raise ApiError(400, f"Bad Request: {err}") from err

    async def _inject(
        self,
        fault: _Fault,
        request: web.Request,
        method: str,
        params: dict[str, Any],
        files: dict[str, bytes],
    ) -> web.StreamResponse:
        if fault.mode in _PAGES or fault.mode == "echo":
            status, page = _PAGES.get(fault.mode, (502, f"<h1>502 Bad Gateway</h1>{request.path}"))
            self._record(method, params, files, status, description=fault.mode)
            return web.Response(status=status, text=page, content_type="text/html")
        if fault.mode == "500":
            err = ApiError(500, "Internal Server Error")
        elif fault.mode == "409":
            err = ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        elif fault.mode == "429":
            err = ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                {"retry_after": fault.retry_after},
            )
        else:
            self._record(method, params, files, 0, description=fault.mode)
            if fault.mode == "hang":
                await self._hang(fault)
            return _drop(request)
        self._record(method, params, files, err.code, description=err.description)
        return _error(err)

    async def _hang(self, fault: _Fault) -> None:
        release = self._release_hangs
        if self._stopping:
            return
        timeout = None if fault.until is None else max(0.0, fault.until - time.monotonic())
        await _wait(release, timeout)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(ApiError(401, "Unauthorized"))
        file_id = request.match_info["path"].rsplit("/", 1)[-1].split(".", 1)[0]
        if file_id not in self.files:
            return _error(ApiError(404, "Not Found"))
        return web.Response(body=self.files[file_id], content_type="application/octet-stream")

    @staticmethod
    async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, bytes]]:
        raw: dict[str, Any] = dict(request.query)
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            raw.update(await request.json())
        elif request.body_exists:
            for name, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[name] = value.file.read()
                else:
                    raw[name] = value
        return {name: _decode_param(name, value) for name, value in raw.items()}, files

    def _take_fault(self, method: str) -> _Fault | None:
        now = time.monotonic()
        self._faults = [f for f in self._faults if f.live(now)]
        for fault in self._faults:
            if fault.matches(method):
                if fault.remaining is not None:
                    fault.remaining -= 1
                return fault
        return None

    def _record(
        self,
        method: str,
        params: dict[str, Any],
        files: dict[str, bytes],
        status: int,
        *,
        result: Any = None,
        description: str = "",
    ) -> None:
        if method.lower() == "getupdates":
            return  # polling would drown the calls that tests look at
        call = SentCall(method, params, files, time.monotonic(), status, result, description)
        self.sent.append(call)
        self._new_call.set()
        self._new_call = asyncio.Event()

    # -- Bot API methods ---------------------------------------------------------------------

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0))
        if offset > 0:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]
        elif offset < 0:
            self._updates = self._updates[offset:]
        limit = int(params.get("limit", 100))
        timeout = float(params.get("timeout", 0))
        if not self._updates and timeout > 0 and not self._stopping:
            await _wait(self._new_update, timeout)
        return self._updates[:limit]

    def _true(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        return True

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Etagram stub",
            "username": self.bot_username,
        }

    def _get_me(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return str(scope.get("type", "default")), str(params.get("language_code", ""))

    def _set_my_commands(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise ApiError(400, 'Bad Request: parameter "commands" can\'t be parsed')
        self._commands[self._commands_key(params)] = commands
        return True

    def _get_my_commands(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> list[dict[str, Any]]:
        return self._commands.get(self._commands_key(params), [])

    def _delete_my_commands(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _target_chat(self, params: dict[str, Any]) -> _Chat:
        chat_id = params.get("chat_id")
        if not isinstance(chat_id, int):
            raise ApiError(400, "Bad Request: chat not found")
        chat = self._chat(chat_id)
        if chat.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _new_bot_message(self, chat: _Chat, params: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": chat.new_message_id(),
            "date": int(time.time()),
            "chat": chat.as_json(),
            "from": self._bot_user(),
        }
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup
        return message

    def _send_message(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat = self._target_chat(params)
        text = _visible_text(params, "text", MAX_TEXT)
        message = self._new_bot_message(chat, params)
        message["text"] = text
        message["_raw"] = params.get("text")
        chat.messages[message["message_id"]] = message
        return _public(message)

    def _send_photo(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat = self._target_chat(params)
        data = files.get("photo")
        if data is None:
            data = self.files.get(str(params.get("photo", "")))
        if data is None:
            raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        caption = _visible_text(params, "caption", MAX_CAPTION, required=False)
        file_id = f"photo{next(self._file_ids)}"
        self.files[file_id] = data
        width, height = _png_size(data)
        message = self._new_bot_message(chat, params)
        message["photo"] = [
            {
                "file_id": file_id,
                "file_unique_id": file_id,
                "width": width,
                "height": height,
                "file_size": len(data),
            }
        ]
        if caption:
            message["caption"] = caption
        chat.messages[message["message_id"]] = message
        return _public(message)

    def _existing_message(self, params: dict[str, Any], action: str) -> dict[str, Any]:
        chat = self._target_chat(params)
        message = chat.messages.get(int(params.get("message_id", 0)))
        if message is None:
            raise ApiError(400, f"Bad Request: message to {action} not found")
        return message

    def _bot_message(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._existing_message(params, "edit")
        if message["from"]["id"] != self.bot_id:
            raise ApiError(400, "Bad Request: message can't be edited")
        return message

    def _edit_message_text(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        message = self._bot_message(params)
        if "text" not in message:
            raise ApiError(400, "Bad Request: there is no text in the message to edit")
        text = _visible_text(params, "text", MAX_TEXT)
        markup = params.get("reply_markup")
        if message["_raw"] == params.get("text") and message.get("reply_markup") == markup:
            raise _not_modified()
        message.update(text=text, _raw=params.get("text"), edit_date=int(time.time()))
        _set_markup(message, markup)
        return _public(message)

    def _edit_message_reply_markup(
        self, params: dict[str, Any], files: dict[str, bytes]
    ) -> dict[str, Any]:
        message = self._bot_message(params)
        markup = params.get("reply_markup")
        if message.get("reply_markup") == markup:
            raise _not_modified()
        message["edit_date"] = int(time.time())
        _set_markup(message, markup)
        return _public(message)

    def _delete_message(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        message = self._existing_message(params, "delete")
        self.delete_by_user(message["chat"]["id"], message["message_id"])
        return True

    def _pin_chat_message(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        message = self._existing_message(params, "pin")
        chat = self._chat(message["chat"]["id"])
        if message["message_id"] in chat.pinned:
            chat.pinned.remove(message["message_id"])
        chat.pinned.append(message["message_id"])
        return True

    def _unpin_chat_message(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        chat = self._target_chat(params)
        if "message_id" not in params:
            if chat.pinned:
                chat.pinned.pop()
            return True
        message_id = int(params["message_id"])
        if message_id not in chat.pinned:
            raise ApiError(400, "Bad Request: message to unpin not found")
        chat.pinned.remove(message_id)
        return True

    def _answer_callback_query(self, params: dict[str, Any], files: dict[str, bytes]) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise ApiError(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        self._open_queries.discard(query_id)
        return True

    def _get_chat(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        chat = self._target_chat(params)
        info: dict[str, Any] = {
            **chat.as_json(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        if chat.pinned and chat.pinned[-1] in chat.messages:
            info["pinned_message"] = _public(chat.messages[chat.pinned[-1]])
        return info

    def _get_file(self, params: dict[str, Any], files: dict[str, bytes]) -> dict[str, Any]:
        file_id = str(params.get("file_id", ""))
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": file_id,
            "file_unique_id": file_id,
            "file_size": len(self.files[file_id]),
            "file_path": f"photos/{file_id}.png",
        }

    # -- state helpers -----------------------------------------------------------------------

    def _chat(self, chat_id: int, chat_type: str | None = None) -> _Chat:
        chat = self._chats.get(chat_id)
        if chat is None:
            if chat_type is None:
                chat_type = "private" if chat_id > 0 else "group"
                if str(chat_id).startswith("-100"):
                    chat_type = "supergroup"
            chat = self._chats[chat_id] = _Chat(chat_id, chat_type)
        return chat

    @staticmethod
    def _user(
        chat: _Chat, user_id: int | None, language_code: str, username: str
    ) -> dict[str, Any]:
        if user_id is None:
            user_id = chat.id if chat.type == "private" else 1001
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": username.capitalize(),
            "username": username,
            "language_code": language_code,
        }


def _visible_text(params: dict[str, Any], name: str, limit: int, *, required: bool = True) -> str:
    raw = params.get(name)
    text = "" if raw is None else str(raw)
    parse_mode = params.get("parse_mode")
    if isinstance(parse_mode, str) and parse_mode.upper() == "HTML":
        text = parse_html(text)
    if required and not text.strip():
        raise ApiError(400, "Bad Request: message text is empty")
    if len(text) > limit:
        what = "message" if name == "text" else "message caption"  # Telegram's wording
        raise ApiError(400, f"Bad Request: {what} is too long")
    return text


def _set_markup(message: dict[str, Any], markup: Any) -> None:
    if isinstance(markup, dict) and "inline_keyboard" in markup:
        message["reply_markup"] = markup
    else:
        message.pop("reply_markup", None)


def _not_modified() -> ApiError:
    return ApiError(
        400,
        "Bad Request: message is not modified: specified new message content and reply markup "
        "are exactly the same as a current content and reply markup of the message",
    )


def _public(message: dict[str, Any]) -> dict[str, Any]:
    """The message as Telegram returns it (without the stub's bookkeeping keys)."""
    return {k: v for k, v in message.items() if not k.startswith("_")}


async def _wait(event: asyncio.Event, timeout: float | None) -> None:
    """Wait for event, at most timeout seconds (None: no limit)."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)


_PAGES = {  # what a proxy or a captive portal answers instead of Telegram
    "garbage": (200, "<html><body>Welcome to the guest Wi-Fi</body></html>"),
    "html403": (403, "<html><body><h1>403 Forbidden</h1>nginx</body></html>"),
    "html400": (400, "<html><body><h1>400 Bad Request</h1>nginx</body></html>"),
}


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(err: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": err.code, "description": err.description}
    if err.parameters:
        body["parameters"] = err.parameters
    return web.json_response(body, status=err.code)


def _drop(request: web.Request) -> web.Response:
    """Close the connection without answering; the response returned is never written."""
    if request.transport is not None:
        request.transport.abort()
    if request.protocol is not None:
        request.protocol.force_close()
    return web.Response()
