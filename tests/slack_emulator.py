"""A stateful Slack Web API emulator that the test suite talks to over real HTTP.

Why it exists: mocks of ``slack_sdk`` let a bot call methods that Slack does not have, send arguments
Slack ignores, or ignore rate limits and expired response URLs. This emulator is a real HTTP server, so the
bot's own ``slack_sdk`` client (sync or async) is exercised end to end, and every call is checked against
Slack's published method catalogue (``shared/slack-specs/slack-api-ref``). Anything the catalogue does not
allow is appended to :attr:`SlackEmulator.violations`, which fixtures assert is empty.

Only the standard library is used, so the emulator starts in a few milliseconds and costs little per call.
"""

from __future__ import annotations

import base64
import email.parser
import email.policy
import itertools
import json
import math
import os
import random
import re
import secrets
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

__all__ = [
    "COMMON_ERRORS",
    "RATE_TIERS",
    "SPECIAL_RATE_LIMITS",
    "UNCATALOGUED_ERRORS",
    "MethodSpec",
    "RecordedCall",
    "SlackEmulator",
    "UploadedFile",
    "specs_dir",
]

# Arguments that Slack takes as JSON text inside a form field; decoded for handlers and ``match`` callbacks.
JSON_ARGS = frozenset({"blocks", "attachments", "metadata", "view", "files", "unfurls", "outputs"})

# Errors any method may return; the per-method ``errors`` in the catalogue omit them.
COMMON_ERRORS = frozenset(
    {
        "access_denied",
        "accesslimited",
        "account_inactive",
        "deprecated_endpoint",
        "ekm_access_denied",
        "enterprise_is_restricted",
        "fatal_error",
        "internal_error",
        "invalid_arg_name",
        "invalid_arguments",
        "invalid_array_arg",
        "invalid_auth",
        "invalid_charset",
        "invalid_form_data",
        "invalid_post_type",
        "method_deprecated",
        "missing_post_type",
        "missing_scope",
        "no_permission",
        "not_allowed_token_type",
        "not_authed",
        "org_login_required",
        "ratelimited",
        "request_timeout",
        "service_unavailable",
        "team_access_not_granted",
        "team_added_to_org",
        "token_expired",
        "token_revoked",
        "two_factor_setup_required",
    }
)

# Real Slack errors that no catalogue entry lists (e.g. DMing a bot user); fail() accepts them silently.
UNCATALOGUED_ERRORS = frozenset({"cannot_dm_bot"})

# Per-minute budgets per catalogue tier (docs.slack.dev "Rate limits"). t5 ("special") is per method below.
RATE_TIERS: dict[str, tuple[int, float]] = {
    "t1": (1, 60.0),
    "t2": (20, 60.0),
    "t3": (50, 60.0),
    "t4": (100, 60.0),
}
# method -> (calls, window seconds, argument whose value gets its own budget or None for one per method).
SPECIAL_RATE_LIMITS: dict[str, tuple[int, float, str | None]] = {
    "chat.postMessage": (1, 1.0, "channel"),
}

TRIGGER_TTL_SECONDS = 3.0
RESPONSE_URL_TTL_SECONDS = 30 * 60.0
RESPONSE_URL_MAX_USES = 5
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_OPEN_USERS = 8

# Pseudo-method names that :meth:`SlackEmulator.fail` accepts for the two non-API endpoints.
UPLOAD = "upload"
RESPONSE_URL = "response_url"

_METHOD_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.]*$")
_TZ_LABELS = {
    "America/Los_Angeles": "Pacific Standard Time",
    "America/Denver": "Mountain Standard Time",
    "America/Chicago": "Central Standard Time",
    "America/New_York": "Eastern Standard Time",
    "Europe/London": "Greenwich Mean Time",
    "UTC": "Coordinated Universal Time",
}


def specs_dir() -> Path:
    """Where the third-party Slack specs live: ``$SHELFMATE_SLACK_SPECS`` or ``shared/`` beside the repo."""
    env = os.environ.get("SHELFMATE_SLACK_SPECS")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared" / "slack-specs"


_default_specs_dir = specs_dir


@dataclass(frozen=True)
class MethodSpec:
    """The parts of one catalogue entry the emulator checks, parsed once and cached."""

    name: str
    http_method: str
    json_ok: bool
    required: frozenset[str]
    properties: frozenset[str]
    errors: frozenset[str]
    tier: str | None


@dataclass
class RecordedCall:
    """One Web API call as the emulator saw it; ``args`` holds the raw values (minus ``token``)."""

    method: str
    args: dict[str, Any]
    content_type: str
    response: dict[str, Any]
    status: int
    at: float
    http_method: str = "POST"
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when Slack would have answered ``ok: true``."""
        return self.status == 200 and self.response.get("ok") is True

    @property
    def decoded_args(self) -> dict[str, Any]:
        """Args with JSON-in-a-string values (blocks, metadata, view, files...) decoded for assertions."""
        return _decode_json_args(self.args)[0]

    def arg(self, name: str, default: Any = None) -> Any:
        """One argument, JSON-decoded when Slack expects JSON text there."""
        return self.decoded_args.get(name, default)


@dataclass
class UploadedFile:
    """A file whose bytes were uploaded and whose upload was completed with files.completeUploadExternal."""

    file_id: str
    filename: str
    title: str | None
    content: bytes
    channel_id: str | None
    initial_comment: str | None
    thread_ts: str | None = None
    channels: tuple[str, ...] = ()


@dataclass
class _PendingUpload:
    """An upload URL handed out by files.getUploadURLExternal, waiting for bytes and completion."""

    file_id: str
    filename: str
    length: int
    alt_txt: str | None
    content: bytes | None = None
    completed: bool = False


@dataclass
class _ResponseUrl:
    """Issue time and uses of one response_url, to apply Slack's 5-uses / 30-minutes rule."""

    issued_at: float
    uses: int = 0
    payloads: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Fault:
    """One queued fault from fail(); ``remaining`` None means it never runs out."""

    method: str
    error: str | None
    status: int
    retry_after: int | None
    remaining: int | None
    delay: float
    match: Callable[[dict[str, Any]], bool] | None


@dataclass
class _Chaos:
    """Seeded random-fault settings, so a failing chaos run can be replayed."""

    rate: float
    rng: random.Random
    kinds: tuple[str, ...]
    timeout_seconds: float
    methods: frozenset[str] | None


class _SlackError(Exception):
    """Raised by handlers to answer ``ok: false``; ``violation`` also records a contract breach."""

    def __init__(self, code: str, *, violation: str | None = None, messages: list[str] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.violation = violation
        self.messages = messages


_Reply = tuple[int, dict[str, str], bytes]
_Answer = tuple[int, dict[str, Any], dict[str, str]]


def _error(code: str) -> dict[str, Any]:
    """The body Slack sends for a failed call."""
    return {"ok": False, "error": code}


def _json_reply(status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> _Reply:
    """Serialise a JSON answer compactly; every API reply goes through here."""
    out = {"Content-Type": "application/json; charset=utf-8"}
    if headers:
        out.update(headers)
    return status, out, json.dumps(body, separators=(",", ":")).encode("utf-8")


def _truthy(value: Any) -> bool:
    """Slack reads booleans from forms as 1/0/true/false; slack_sdk sends "1"/"0"."""
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes"}
    return bool(value)


def _decode_json_args(args: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Decode JSON text in JSON-bearing args; returns (decoded args, names that were not valid JSON)."""
    out = dict(args)
    bad: list[str] = []
    for name in JSON_ARGS.intersection(args):
        value = args[name]
        if isinstance(value, str) and value.strip():
            try:
                out[name] = json.loads(value)
            except ValueError:
                bad.append(name)
    return out, bad


def _ts_micros(ts: Any) -> int | None:
    """Parse a Slack ``ts`` ("1700000000.000123") into integer microseconds; None when malformed."""
    if isinstance(ts, int | float) and not isinstance(ts, bool):
        return int(round(float(ts) * 1_000_000))
    if not isinstance(ts, str) or not ts:
        return None
    whole, _, frac = ts.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        return None
    return int(whole) * 1_000_000 + int((frac + "000000")[:6])


def _encode_cursor(offset: int) -> str:
    """Opaque cursors like Slack's, so clients cannot rely on their content."""
    return base64.urlsafe_b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: Any) -> int:
    """Reverse of _encode_cursor; garbage answers invalid_cursor as Slack does."""
    if not cursor:
        return 0
    try:
        kind, _, value = base64.urlsafe_b64decode(str(cursor).encode()).decode().partition(":")
        if kind == "offset" and value.isdigit():
            return int(value)
    except ValueError:
        pass
    raise _SlackError("invalid_cursor")


def _parse_multipart(content_type: str, body: bytes) -> list[tuple[str | None, str | None, bytes]]:
    """Split a multipart/form-data body into (field name, filename, bytes) parts."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    parts: list[tuple[str | None, str | None, bytes]] = []
    if not message.is_multipart():
        return parts
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        parts.append(
            (
                name if isinstance(name, str) else None,
                part.get_filename(),
                payload if isinstance(payload, bytes) else b"",
            )
        )
    return parts


def _repeated_ids(blocks: list[dict[str, Any]]) -> str | None:
    """Slack refuses a block_id used twice in one message or view, and an action_id used twice in one block."""
    block_ids = [b["block_id"] for b in blocks if b.get("block_id")]
    if len(block_ids) != len(set(block_ids)):
        return f"block_id used twice: {sorted(b for b in block_ids if block_ids.count(b) > 1)[0]}"
    for block in blocks:
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        elements += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        action_ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
        if len(action_ids) != len(set(action_ids)):
            return f"action_id used twice in one block: {sorted(a for a in action_ids if action_ids.count(a) > 1)[0]}"
    return None


def _plain_text_length(obj: Any) -> int:
    """Length of a plain_text object's text, for Block Kit length limits."""
    if isinstance(obj, dict):
        return len(str(obj.get("text", "")))
    return 0


# Error codes chaos mode may answer with: the "unreachable" family a bot meets in a real workspace.
CHAOS_ERROR_CODES = frozenset(
    {"account_inactive", "user_not_found", "cannot_dm_bot", "channel_not_found", "is_archived", "user_disabled"}
)


class _Server(ThreadingHTTPServer):
    """Threaded server whose handlers reach the emulator through ``server.emulator``."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 1024  # the default 5 drops SYNs when an async bot fires hundreds of calls at once
    emulator: SlackEmulator

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client killed mid-request (the crash tests SIGKILL sweeps) is expected; anything else is printed."""
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Thin HTTP shell: read the request, let the emulator route it, write the reply."""

    server: _Server
    protocol_version = "HTTP/1.1"
    timeout = 60

    def do_GET(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802 - http.server naming
        self._dispatch("POST")

    def _read_body(self) -> bytes:
        """Read the whole body (Content-Length or chunked) so keep-alive connections stay in sync."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            out = bytearray()
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                out += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self, verb: str) -> None:
        """Route one request and write the reply, tolerating clients that already gave up."""
        body = self._read_body()
        emulator = self.server.emulator
        emulator._enter()
        try:
            status, headers, payload = emulator._route(verb, self.path, self.headers, body)
        except Exception as exc:  # an emulator bug must fail the test, not look like a network error
            emulator._violate(f"emulator: internal error handling {verb} {self.path}: {exc!r}")
            status, headers, payload = _json_reply(500, _error("internal_error"))
        finally:
            emulator._leave()
        try:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (e.g. an injected timeout)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - signature from http.server
        """Silence per-request logging; the recorded calls are the log."""


class SlackEmulator:
    """Slack Web API over HTTP on 127.0.0.1 with state, recording, catalogue checks and fault injection."""

    def __init__(
        self,
        token: str = "xoxb-test-token",
        specs_dir: str | Path | None = None,
        clock: Callable[[], float] = time.time,
        *,
        team_id: str = "T0EMULATOR",
        team_name: str = "Shelfmate Test",
        bot_user_id: str = "U0SHELFBOT",
        bot_id: str = "B0SHELFBOT",
        app_id: str = "A0SHELFAPP",
    ) -> None:
        root = Path(specs_dir) if specs_dir is not None else _default_specs_dir()
        self._methods_dir = root / "slack-api-ref" / "docs.slack.dev" / "methods"
        if not self._methods_dir.is_dir():
            raise FileNotFoundError(
                f"Slack method catalogue not found at {self._methods_dir}; set SHELFMATE_SLACK_SPECS "
                "or put shared/slack-specs beside the repository"
            )
        self.token = token
        self.clock = clock
        self.team_id = team_id
        self.team_name = team_name
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id

        self.calls: list[RecordedCall] = []
        self.violations: list[str] = []

        self._lock = threading.RLock()
        self._spec_cache: dict[str, MethodSpec | None] = {}
        self._ids = itertools.count(1)
        self._last_ts = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, dict[str, Any]] = {}
        self._members: dict[str, list[str]] = {}
        self._dm_index: dict[frozenset[str], str] = {}
        self._messages: dict[str, list[dict[str, Any]]] = {}
        self._ephemerals: list[dict[str, Any]] = []
        self._views: dict[str, dict[str, Any]] = {}
        self._home_views: dict[str, dict[str, Any]] = {}
        self._triggers: dict[str, float] = {}
        self._used_triggers: set[str] = set()
        self._uploads: dict[str, _PendingUpload] = {}
        self._files: list[UploadedFile] = []
        self._response_urls: dict[str, _ResponseUrl] = {}

        self._faults: list[_Fault] = []
        self._delays: dict[str | None, float] = {}
        self._chaos: _Chaos | None = None
        self._in_flight = 0
        self._enforce_rates = False
        self._rate_hits: dict[tuple[str, ...], deque[float]] = {}

        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "users.list": self._users_list,
            "conversations.open": self._conversations_open,
            "conversations.info": self._conversations_info,
            "conversations.members": self._conversations_members,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        self.add_user(bot_user_id, name="shelfmate", real_name="Shelfmate", is_bot=True)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackEmulator:
        """Bind a random port on 127.0.0.1 and serve from a daemon thread."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.emulator = self
        self._server = server
        # A short poll interval keeps stop() (run after every test) from costing half a second.
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="slack-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; in-flight delayed handlers finish on their own daemon threads."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("SlackEmulator is not started")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def api_url(self) -> str:
        """What to pass as slack_sdk's ``base_url`` (trailing slash: the SDK appends the method name)."""
        return self.base_url + "/api/"

    # ------------------------------------------------------------------ catalogue

    def spec(self, method: str) -> MethodSpec | None:
        """The catalogue entry for ``method`` (None if Slack has no such method); loaded lazily, cached."""
        cached = self._spec_cache.get(method, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        spec: MethodSpec | None = None
        path = self._methods_dir / f"{method}.json"
        if _METHOD_NAME.match(method) and path.is_file():
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and "args" in doc:
                args = doc.get("args") or {}
                spec = MethodSpec(
                    name=method,
                    http_method=str(doc.get("http_method", "POST")),
                    json_ok=doc.get("json_input_supported") is True,
                    required=frozenset(args.get("required") or ()),
                    properties=frozenset((args.get("properties") or {}).keys()),
                    errors=frozenset((doc.get("errors") or {}).keys()),
                    tier=doc.get("rate_limits") if isinstance(doc.get("rate_limits"), str) else None,
                )
        self._spec_cache[method] = spec
        return spec

    def _catalogue_problems(
        self, spec: MethodSpec, args: Mapping[str, Any], json_body: bool, bearer: bool
    ) -> list[str]:
        """Every way these args break the method's catalogue entry, as readable strings."""
        problems: list[str] = []
        if json_body and not spec.json_ok:
            problems.append(f"{spec.name}: JSON body sent, but the catalogue does not list json_input_supported")
        for name in sorted(spec.required):
            if name == "token" and bearer:
                continue
            if name not in args:
                problems.append(f"{spec.name}: missing required argument {name!r}")
        for name in args:
            if name not in spec.properties:
                problems.append(f"{spec.name}: argument {name!r} is not in the catalogue")
        return problems

    # ------------------------------------------------------------------ seeding

    def add_user(
        self,
        user_id: str,
        name: str | None = None,
        real_name: str | None = None,
        tz: str = "America/Los_Angeles",
        tz_offset: int = -28800,
        email: str | None = None,
        is_bot: bool = False,
        deleted: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        *,
        display_name: str = "",
        is_admin: bool = False,
        locale: str = "en-US",
    ) -> dict[str, Any]:
        """Put a user in the directory (replacing any with the same id); returns the users.info object."""
        name = name or user_id.lower()
        real_name = real_name if real_name is not None else name
        first, _, last = real_name.partition(" ")
        profile: dict[str, Any] = {
            "title": "",
            "phone": "",
            "skype": "",
            "real_name": real_name,
            "real_name_normalized": real_name,
            "display_name": display_name,
            "display_name_normalized": display_name,
            "fields": None,
            "status_text": "",
            "status_emoji": "",
            "status_expiration": 0,
            "avatar_hash": "g0000000000",
            "first_name": first,
            "last_name": last,
            "image_24": "https://secure.gravatar.invalid/avatar_24.png",
            "image_48": "https://secure.gravatar.invalid/avatar_48.png",
            "image_72": "https://secure.gravatar.invalid/avatar_72.png",
            "image_192": "https://secure.gravatar.invalid/avatar_192.png",
            "team": self.team_id,
        }
        if email is not None:
            profile["email"] = email
        if is_bot:
            profile["bot_id"] = self.bot_id if user_id == self.bot_user_id else f"B{user_id[1:]}"
            profile["api_app_id"] = self.app_id if user_id == self.bot_user_id else ""
            profile["always_active"] = True
        user: dict[str, Any] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "deleted": deleted,
            "color": "9f69e7",
            "real_name": real_name,
            "tz": tz,
            "tz_label": _TZ_LABELS.get(tz, tz),
            "tz_offset": tz_offset,
            "profile": profile,
            "is_admin": is_admin,
            "is_owner": False,
            "is_primary_owner": False,
            "is_restricted": is_restricted,
            "is_ultra_restricted": is_ultra_restricted,
            "is_bot": is_bot,
            "is_app_user": False,
            "updated": int(self.clock()),
            "is_email_confirmed": email is not None,
            "who_can_share_contact_card": "EVERYONE",
            "_locale": locale,
        }
        with self._lock:
            self._users[user_id] = user
        return self._public_user(user)

    def deactivate_user(self, user_id: str) -> None:
        """Mark a user deleted, as when an admin deactivates their account."""
        with self._lock:
            user = self._users[user_id]
            user["deleted"] = True
            user["updated"] = int(self.clock())

    def add_channel(
        self,
        channel_id: str,
        name: str,
        members: Iterable[str] = (),
        *,
        is_private: bool = False,
        is_archived: bool = False,
        is_member: bool = True,
    ) -> dict[str, Any]:
        """Create (or replace) a channel with the given members; returns its conversations.info object."""
        channel: dict[str, Any] = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_group": is_private,
            "is_im": False,
            "is_mpim": False,
            "is_private": is_private,
            "created": int(self.clock()),
            "is_archived": is_archived,
            "is_general": False,
            "unlinked": 0,
            "name_normalized": name,
            "is_shared": False,
            "is_org_shared": False,
            "is_ext_shared": False,
            "is_pending_ext_shared": False,
            "pending_shared": [],
            "creator": "",
            "is_member": is_member,
            "topic": {"value": "", "creator": "", "last_set": 0},
            "purpose": {"value": "", "creator": "", "last_set": 0},
            "previous_names": [],
        }
        with self._lock:
            self._channels[channel_id] = channel
            self._members[channel_id] = list(dict.fromkeys(members))
            self._messages.setdefault(channel_id, [])
        return dict(channel)

    def add_message(
        self,
        channel_id: str,
        user_id: str,
        text: str,
        *,
        thread_ts: str | None = None,
        blocks: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Seed a message written by a person (the bot cannot update or delete it); returns the message."""
        with self._lock:
            try:
                cid = self._resolve_conversation(channel_id, open_dm=True)
            except _SlackError as err:
                raise ValueError(f"cannot seed a message in {channel_id!r}: {err.code}") from None
            message: dict[str, Any] = {
                "type": "message",
                "user": user_id,
                "text": text,
                "ts": self._next_ts(),
                "team": self.team_id,
            }
            if blocks is not None:
                message["blocks"] = blocks
            if thread_ts:
                message["thread_ts"] = thread_ts
                self._note_reply(cid, thread_ts, message)
            self._messages[cid].append(message)
            return dict(message)

    def issue_trigger_id(self) -> str:
        """A fresh trigger_id, as Slack puts in an interaction payload; valid once, for 3 seconds."""
        with self._lock:
            trigger = f"{next(self._ids)}.{int(self.clock())}.{secrets.token_hex(16)}"
            self._triggers[trigger] = self.clock()
            return trigger

    def new_response_url(self) -> str:
        """A response_url valid for 5 uses within 30 minutes, as Slack issues with commands and actions."""
        if self._server is None:
            raise RuntimeError("start the emulator before issuing response URLs")
        with self._lock:
            key = secrets.token_hex(12)
            self._response_urls[key] = _ResponseUrl(issued_at=self.clock())
        return f"{self.base_url}/response/{key}"

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
        times: int | None = 1,
        delay: float = 0.0,
        match: Callable[[dict[str, Any]], bool] | None = None,
    ) -> None:
        """Queue a fault for the next ``times`` calls to ``method`` ("*" = any; None = every call).

        ``status=429`` answers ratelimited with Retry-After; 5xx answers a server error; ``error`` answers
        HTTP 200 ``ok: false``; a bare ``delay`` only slows the call down. ``match`` sees decoded args.
        """
        if error is not None and method not in ("*", UPLOAD, RESPONSE_URL):
            spec = self.spec(method)
            if spec is None:
                warnings.warn(f"fail(): Slack has no method {method!r}", stacklevel=2)
            elif error not in spec.errors | COMMON_ERRORS | UNCATALOGUED_ERRORS:
                warnings.warn(
                    f"fail(): {error!r} is not among {method}'s catalogued errors or Slack's common errors",
                    stacklevel=2,
                )
        if times is not None and times < 1:
            raise ValueError("times must be at least 1 (or None for every call)")
        with self._lock:
            self._faults.append(_Fault(method, error, status, retry_after, times, delay, match))

    def clear_faults(self) -> None:
        """Drop queued faults, persistent delays, chaos and rate enforcement."""
        with self._lock:
            self._faults.clear()
            self._delays.clear()
            self._chaos = None
            self._enforce_rates = False
            self._rate_hits.clear()

    def set_delay(self, method: str | None, seconds: float) -> None:
        """Persistently slow down one method (None = every API method); 0 removes the delay."""
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def _enter(self) -> None:
        with self._lock:
            self._in_flight += 1

    def _leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def wait_idle(self, timeout: float = 120) -> None:
        """Return once no request is in progress (seen twice in a row: one may be just arriving).

        A test that moves time on by minutes must first let Slack finish what it started (a post the client
        gave up on still lands), as real Slack would in that time; on a loaded machine the threads may lag.
        """
        deadline = time.monotonic() + timeout
        idle_polls = 0
        while idle_polls < 2:
            if time.monotonic() > deadline:
                raise TimeoutError("the emulator kept working on requests")
            time.sleep(0.01)
            with self._lock:
                idle_polls = idle_polls + 1 if self._in_flight == 0 else 0

    def set_random_faults(
        self,
        rate: float,
        seed: int,
        kinds: Iterable[str] = ("429", "500", "timeout"),
        timeout_seconds: float = 2.0,
        methods: Iterable[str] | None = None,
    ) -> None:
        """Chaos mode: each API call fails with probability ``rate`` (0 turns it off), reproducibly per seed.

        Kinds: "429" (Retry-After: 1), "500", "503", "timeout" (sleeps ``timeout_seconds`` then answers
        normally, so a client that gave up may find the call took effect anyway, as with real Slack), and
        Slack's "this person or channel can't be reached" error codes (``CHAOS_ERROR_CODES``).
        """
        kinds = tuple(kinds)
        unknown = set(kinds) - {"429", "500", "503", "timeout"} - CHAOS_ERROR_CODES
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        with self._lock:
            if rate <= 0:
                self._chaos = None
                return
            self._chaos = _Chaos(
                rate=rate,
                rng=random.Random(seed),
                kinds=kinds,
                timeout_seconds=timeout_seconds,
                methods=frozenset(methods) if methods is not None else None,
            )

    def enforce_rate_tiers(self, enabled: bool = True) -> None:
        """Answer 429 + Retry-After once a method exceeds its tier budget (see RATE_TIERS)."""
        with self._lock:
            self._enforce_rates = enabled
            self._rate_hits.clear()

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[RecordedCall]:
        """Recorded calls to one method, oldest first."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def reset_calls(self) -> None:
        """Forget recorded calls (state such as messages and users is kept)."""
        with self._lock:
            self.calls.clear()

    def reset_violations(self) -> None:
        """Forget violations, e.g. after a test that provoked one on purpose."""
        with self._lock:
            self.violations.clear()

    def assert_no_violations(self) -> None:
        """Fail with every violation listed, one per line."""
        with self._lock:
            problems = list(self.violations)
        assert not problems, "Slack contract violations:\n" + "\n".join(problems)

    def messages_in(self, channel_id: str) -> list[dict[str, Any]]:
        """Messages in a conversation, oldest first, thread replies included; a user id means their DM."""
        with self._lock:
            cid = self._dm_for(channel_id) if channel_id[:1] in ("U", "W") else channel_id
            return [dict(m) for m in self._messages.get(cid or "", [])]

    def im_id(self, *user_ids: str) -> str | None:
        """The DM / group DM the bot has open with exactly these users, if any."""
        with self._lock:
            return self._dm_index.get(frozenset(user_ids))

    def ephemerals(self, channel_id: str | None = None, user_id: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages, optionally filtered; each carries ``channel`` and ``user``."""
        with self._lock:
            return [
                dict(m)
                for m in self._ephemerals
                if (channel_id is None or m["channel"] == channel_id) and (user_id is None or m["user"] == user_id)
            ]

    def view(self, view_id: str) -> dict[str, Any] | None:
        """A modal opened/pushed/updated through the emulator."""
        with self._lock:
            found = self._views.get(view_id)
            return dict(found) if found else None

    def home_view(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for a user."""
        with self._lock:
            found = self._home_views.get(user_id)
            return dict(found) if found else None

    @property
    def uploaded_files(self) -> list[UploadedFile]:
        """Completed uploads, in completion order."""
        with self._lock:
            return list(self._files)

    def responses_to(self, url: str) -> list[dict[str, Any]]:
        """JSON payloads accepted at a response_url, in order."""
        key = url.rstrip("/").rsplit("/", 1)[-1]
        with self._lock:
            entry = self._response_urls.get(key)
            return [dict(p) for p in entry.payloads] if entry else []

    def user(self, user_id: str) -> dict[str, Any] | None:
        """The users.info object for a seeded user."""
        with self._lock:
            found = self._users.get(user_id)
            return self._public_user(found) if found else None

    # ------------------------------------------------------------------ routing

    def _route(self, verb: str, raw_path: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """Send a request to the API, upload or response_url endpoint by path prefix."""
        parts = urlsplit(raw_path)
        path = parts.path
        if path.startswith("/api/"):
            return self._api(verb, path[len("/api/") :], parts.query, headers, body)
        if path.startswith("/upload/") and verb == "POST":
            return self._upload(path[len("/upload/") :], headers, body)
        if path.startswith("/response/") and verb == "POST":
            return self._response_url(path[len("/response/") :], headers, body)
        return 404, {"Content-Type": "text/plain"}, b"not found"

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        ctype: str,
        verb: str,
        at: float,
        answer: _Answer,
    ) -> _Reply:
        """Record an API call and serialise its answer once (the 10k-message benchmark goes through here)."""
        status, body, headers = answer
        call = RecordedCall(method, args, ctype, body, status, at, verb, headers)
        with self._lock:
            self.calls.append(call)
        return _json_reply(status, body, headers)

    def _violate(self, message: str) -> None:
        """Record a contract breach; fixtures fail the test on any."""
        with self._lock:
            self.violations.append(message)

    def _api(self, verb: str, method: str, query: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """Parse query + body (form, multipart or JSON) for /api/<method>, answer it and record it."""
        at = self.clock()
        ctype_full = headers.get("Content-Type") or ""
        ctype = ctype_full.split(";", 1)[0].strip().lower()
        args: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
        json_body = False
        try:
            if body and ctype == "application/json":
                decoded = json.loads(body)
                if not isinstance(decoded, dict):
                    raise ValueError("JSON body is not an object")
                args.update(decoded)
                json_body = True
            elif body and ctype == "multipart/form-data":
                for name, filename, data in _parse_multipart(ctype_full, body):
                    if name:
                        args[name] = data if filename else data.decode("utf-8", "replace")
            elif body:
                args.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except ValueError as exc:
            self._violate(f"{method}: unreadable {ctype or 'form'} body ({exc})")
            return self._record(method, args, ctype, verb, at, (200, _error("invalid_form_data"), {}))
        recorded = {k: v for k, v in args.items() if k != "token"}
        answer = self._answer(method, args, recorded, headers, json_body)
        return self._record(method, recorded, ctype, verb, at, answer)

    def _answer(
        self,
        method: str,
        args: dict[str, Any],
        recorded: dict[str, Any],
        headers: Mapping[str, str],
        json_body: bool,
    ) -> _Answer:
        """Decide the (status, body, headers) for one API call: catalogue, auth, faults, then the handler."""
        spec = self.spec(method)
        if spec is None:
            self._violate(f"{method}: no such method in Slack's catalogue")
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        auth = headers.get("Authorization") or ""
        bearer = auth[7:].strip() if auth[:7].lower() == "bearer " else None
        presented = bearer or args.get("token")
        if not presented:
            return 200, _error("not_authed"), {}
        if presented != self.token:
            return 200, _error("invalid_auth"), {}

        problems = self._catalogue_problems(spec, args, json_body, bearer is not None)
        decoded, bad_json = _decode_json_args(recorded)
        problems += [f"{method}: argument {name!r} is not valid JSON" for name in bad_json]
        if problems:
            with self._lock:
                self.violations.extend(problems)
            return 200, {**_error("invalid_arguments"), "response_metadata": {"messages": problems}}, {}

        injected = self._injected_fault(method, decoded)
        if injected is None:
            injected = self._rate_limited(spec, decoded)
        if injected is not None:
            return injected

        handler = self._handlers.get(method)
        try:
            with self._lock:
                return 200, handler(decoded) if handler else {"ok": True}, {}
        except _SlackError as err:
            if err.violation:
                self._violate(err.violation)
            out = _error(err.code)
            if err.messages:
                out["response_metadata"] = {"messages": err.messages}
            return 200, out, {}

    def _take_fault(self, method: str, args: dict[str, Any]) -> _Fault | None:
        """Pop the first queued fault that applies to this call, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.method not in (method, "*"):
                    continue
                if fault.method == "*" and method in (UPLOAD, RESPONSE_URL):
                    continue
                if fault.match is not None:
                    try:
                        matched = fault.match(args)
                    except Exception as exc:  # a broken test callback must not hang the client
                        self.violations.append(f"emulator: fail(match=...) for {method} raised {exc!r}")
                        continue
                    if not matched:
                        continue
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _fault_reply(self, status: int, error: str | None, retry_after: int | None) -> _Answer | None:
        """The HTTP answer for a fault; None when the fault is only a delay."""
        if status == 429:
            wait = 1 if retry_after is None else retry_after
            return 429, _error(error or "ratelimited"), {"Retry-After": str(wait)}
        if status >= 500:
            return status, _error(error or ("service_unavailable" if status == 503 else "internal_error")), {}
        if status != 200:
            return status, _error(error or "invalid_request"), {}
        if error is not None:
            return 200, _error(error), {}
        return None

    def _injected_fault(self, method: str, args: dict[str, Any]) -> _Answer | None:
        """Explicit faults first, then persistent delays, then chaos; None means answer normally."""
        fault = self._take_fault(method, args)
        if fault is not None:
            if fault.delay > 0:
                time.sleep(fault.delay)
            reply = self._fault_reply(fault.status, fault.error, fault.retry_after)
            if reply is not None:
                return reply
        with self._lock:
            delay = self._delays.get(method, self._delays.get(None, 0.0))
            chaos = self._chaos
            kind: str | None = None
            in_scope = chaos is not None and (chaos.methods is None or method in chaos.methods)
            if chaos is not None and in_scope and chaos.rng.random() < chaos.rate:
                kind = chaos.rng.choice(chaos.kinds)
        if delay > 0:
            time.sleep(delay)
        if kind == "timeout" and chaos is not None:
            time.sleep(chaos.timeout_seconds)
        elif kind in CHAOS_ERROR_CODES:
            return self._fault_reply(200, kind, None)
        elif kind is not None:
            return self._fault_reply(int(kind), None, 1 if kind == "429" else None)
        return None

    def _rate_limited(self, spec: MethodSpec, args: Mapping[str, Any]) -> _Answer | None:
        """Sliding-window tier check on the injected clock; returns a 429 answer when over budget."""
        with self._lock:
            if not self._enforce_rates:
                return None
            special = SPECIAL_RATE_LIMITS.get(spec.name)
            if special is not None:
                limit, window, key_arg = special
                key: tuple[str, ...] = (spec.name, str(args.get(key_arg, ""))) if key_arg else (spec.name,)
            elif spec.tier in RATE_TIERS:
                limit, window = RATE_TIERS[spec.tier]
                key = (spec.name,)
            else:
                return None
            now = self.clock()
            hits = self._rate_hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= limit:
                wait = max(1, math.ceil(hits[0] + window - now))
                return 429, _error("ratelimited"), {"Retry-After": str(wait)}
            hits.append(now)
            return None

    # ------------------------------------------------------------------ upload + response_url endpoints

    def _upload(self, file_id: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """The upload URL endpoint: stores raw or multipart bytes like files.slack.com does."""
        fault = self._take_fault(UPLOAD, {"file_id": file_id})
        if fault is not None:
            if fault.delay > 0:
                time.sleep(fault.delay)
            reply = self._fault_reply(fault.status, fault.error, fault.retry_after)
            if reply is not None:
                return _json_reply(*reply)
        ctype_full = headers.get("Content-Type") or ""
        content = body
        if ctype_full.split(";", 1)[0].strip().lower() == "multipart/form-data":
            parts = _parse_multipart(ctype_full, body)
            chosen = next((p for p in parts if p[1] is not None), None) or next(
                (p for p in parts if p[0] == "file"), None
            )
            content = chosen[2] if chosen else b""
        with self._lock:
            pending = self._uploads.get(file_id)
            if pending is None:
                self.violations.append(f"upload: POST to an upload URL that was never issued ({file_id})")
                return 404, {"Content-Type": "text/plain"}, b"file not found"
            if pending.length != len(content):
                self.violations.append(
                    f"upload: {file_id} declared length {pending.length} in files.getUploadURLExternal "
                    f"but {len(content)} bytes were uploaded"
                )
            pending.content = content
        return 200, {"Content-Type": "text/plain; charset=utf-8"}, f"OK - {len(content)}".encode()

    def _response_url(self, key: str, headers: Mapping[str, str], body: bytes) -> _Reply:
        """The response_url endpoint: records JSON payloads and enforces Slack's use limits."""
        fault = self._take_fault(RESPONSE_URL, {"key": key})
        if fault is not None:
            if fault.delay > 0:
                time.sleep(fault.delay)
            reply = self._fault_reply(fault.status, fault.error, fault.retry_after)
            if reply is not None:
                return _json_reply(*reply)
        with self._lock:
            entry = self._response_urls.get(key)
            if entry is None:
                self.violations.append(f"response_url: POST to a URL the emulator never issued ({key})")
                return _json_reply(404, {"ok": False, "error": "no_service"})
            age = self.clock() - entry.issued_at
            if age > RESPONSE_URL_TTL_SECONDS:
                self.violations.append(f"response_url: used {age / 60:.1f} minutes after issue (limit 30)")
                return _json_reply(404, {"ok": False, "error": "expired_url"})
            if entry.uses >= RESPONSE_URL_MAX_USES:
                self.violations.append(f"response_url: used more than {RESPONSE_URL_MAX_USES} times")
                return _json_reply(404, {"ok": False, "error": "expired_url"})
            try:
                payload = json.loads(body)
                if not isinstance(payload, dict):
                    raise ValueError("not an object")
            except ValueError:
                self.violations.append("response_url: body is not a JSON object")
                return _json_reply(400, {"ok": False, "error": "invalid_payload"})
            try:
                self._check_blocks("response_url", payload.get("blocks"), MAX_MESSAGE_BLOCKS)
            except _SlackError as err:
                self.violations.append(err.violation or err.code)
                return _json_reply(400, {"ok": False, "error": err.code})
            entry.uses += 1
            entry.payloads.append(payload)
        return _json_reply(200, {"ok": True})

    # ------------------------------------------------------------------ state helpers (lock held)

    def _new_id(self, prefix: str) -> str:
        """Deterministic, obviously synthetic Slack-style ids (e.g. DEMU000001)."""
        return f"{prefix}EMU{next(self._ids):06d}"

    def _next_ts(self) -> str:
        """Unique, strictly increasing message ts from the injected clock."""
        candidate = int(self.clock() * 1_000_000)
        if candidate <= self._last_ts:
            candidate = self._last_ts + 1
        self._last_ts = candidate
        return f"{candidate // 1_000_000}.{candidate % 1_000_000:06d}"

    def _public_user(self, user: dict[str, Any], *, locale: bool = False) -> dict[str, Any]:
        """A users.info-shaped copy without the emulator's private fields."""
        out = {k: v for k, v in user.items() if not k.startswith("_")}
        out["profile"] = dict(user["profile"])
        if locale:
            out["locale"] = user["_locale"]
        return out

    def _dm_for(self, user_id: str) -> str | None:
        """The open 1:1 DM with a user, if there is one."""
        return self._dm_index.get(frozenset((user_id,)))

    def _open_dm(self, user_ids: list[str]) -> tuple[str, bool]:
        """Find or create the IM/MPIM for exactly these users; returns (id, already_open)."""
        key = frozenset(user_ids)
        existing = self._dm_index.get(key)
        if existing is not None:
            return existing, True
        now = int(self.clock())
        if len(user_ids) == 1:
            cid = self._new_id("D")
            self._channels[cid] = {
                "id": cid,
                "created": now,
                "is_im": True,
                "is_org_shared": False,
                "user": user_ids[0],
                "last_read": "0000000000.000000",
                "latest": None,
                "unread_count": 0,
                "unread_count_display": 0,
                "is_open": True,
                "priority": 0,
            }
        else:
            cid = self._new_id("G")
            names = [self._users[u]["name"] for u in [self.bot_user_id, *user_ids] if u in self._users]
            name = "mpdm-" + "--".join(names) + "-1"
            self._channels[cid] = {
                "id": cid,
                "name": name,
                "is_channel": False,
                "is_group": True,
                "is_im": False,
                "is_mpim": True,
                "is_private": True,
                "created": now,
                "creator": self.bot_user_id,
                "is_archived": False,
                "is_general": False,
                "unlinked": 0,
                "name_normalized": name,
                "is_shared": False,
                "is_ext_shared": False,
                "is_org_shared": False,
                "pending_shared": [],
                "is_pending_ext_shared": False,
                "is_member": True,
                "is_open": True,
                "topic": {"value": "Group messaging", "creator": self.bot_user_id, "last_set": now},
                "purpose": {"value": "Group messaging", "creator": self.bot_user_id, "last_set": now},
                "priority": 0,
            }
        self._members[cid] = [self.bot_user_id, *user_ids]
        self._messages[cid] = []
        self._dm_index[key] = cid
        return cid, False

    def _resolve_conversation(self, channel: Any, *, open_dm: bool = False) -> str:
        """Map a channel id, name, or (when posting) a user id to a conversation id."""
        if not isinstance(channel, str) or not channel:
            raise _SlackError("channel_not_found")
        if channel in self._channels:
            return channel
        if channel[:1] in ("U", "W") and channel in self._users:
            existing = self._dm_for(channel)
            if existing is not None:
                return existing
            if open_dm:
                user = self._users[channel]
                if user["is_bot"]:
                    raise _SlackError("cannot_dm_bot")
                return self._open_dm([channel])[0]
        name = channel.lstrip("#")
        for cid, info in self._channels.items():
            if info.get("name") == name and not info.get("is_mpim"):
                return cid
        raise _SlackError("channel_not_found")

    def _find_message(self, cid: str, ts: Any) -> dict[str, Any]:
        """The stored message with this ts, or message_not_found."""
        for message in self._messages.get(cid, []):
            if message["ts"] == ts:
                return message
        raise _SlackError("message_not_found")

    def _note_reply(self, cid: str, thread_ts: str, reply: dict[str, Any]) -> None:
        """Update a thread parent's reply_count/latest_reply the way Slack shows them."""
        for parent in self._messages.get(cid, []):
            if parent["ts"] == thread_ts:
                # Replace rather than mutate nested values: responses hold shallow copies of stored messages.
                parent["thread_ts"] = thread_ts
                parent["reply_count"] = parent.get("reply_count", 0) + 1
                parent["latest_reply"] = reply["ts"]
                parent["reply_users"] = list(dict.fromkeys([*parent.get("reply_users", []), reply.get("user")]))
                return

    def _check_blocks(self, method: str, blocks: Any, limit: int) -> None:
        """Reject blocks Slack would reject (not an array, too many, no type)."""
        if blocks is None or blocks == "":
            return
        if not isinstance(blocks, list):
            raise _SlackError("invalid_blocks_format", violation=f"{method}: blocks must be a JSON array")
        if len(blocks) > limit:
            raise _SlackError(
                "invalid_blocks", violation=f"{method}: {len(blocks)} blocks (Slack allows at most {limit})"
            )
        for index, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise _SlackError("invalid_blocks", violation=f"{method}: block {index} has no string 'type'")
        if problem := _repeated_ids(blocks):
            raise _SlackError("invalid_blocks", violation=f"{method}: {problem}")

    def _check_metadata(self, method: str, metadata: Any) -> dict[str, Any] | None:
        """Message metadata must be {event_type, event_payload} (or Work Object entities)."""
        if metadata is None or metadata == "":
            return None
        if isinstance(metadata, dict) and "entities" in metadata:
            return metadata
        if (
            not isinstance(metadata, dict)
            or not isinstance(metadata.get("event_type"), str)
            or not isinstance(metadata.get("event_payload"), dict)
        ):
            raise _SlackError(
                "invalid_metadata_format",
                violation=f"{method}: metadata needs event_type (string) and event_payload (object)",
            )
        return metadata

    def _message_body(self, method: str, args: dict[str, Any]) -> dict[str, Any]:
        """Validate text/blocks/attachments/metadata, shared by postMessage, update and postEphemeral."""
        if args.get("markdown_text") and (args.get("text") or args.get("blocks")):
            raise _SlackError("markdown_text_conflict")
        self._check_blocks(method, args.get("blocks"), MAX_MESSAGE_BLOCKS)
        body: dict[str, Any] = {}
        text = args.get("text")
        if text is None and args.get("markdown_text"):
            text = args["markdown_text"]
        body["text"] = text if isinstance(text, str) else ""
        for name in ("blocks", "attachments"):
            value = args.get(name)
            if value not in (None, ""):
                body[name] = value
        metadata = self._check_metadata(method, args.get("metadata"))
        if metadata is not None:
            body["metadata"] = metadata
        return body

    def _bot_message(self, body: dict[str, Any], ts: str) -> dict[str, Any]:
        """A message as Slack stores one posted with a bot token."""
        message: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "team": self.team_id,
            "ts": ts,
        }
        message.update(body)
        message["bot_profile"] = {
            "id": self.bot_id,
            "app_id": self.app_id,
            "name": "Shelfmate",
            "deleted": False,
        }
        return message

    @staticmethod
    def _strip_metadata(message: dict[str, Any], keep: bool) -> dict[str, Any]:
        """History omits metadata unless include_all_metadata is set."""
        out = dict(message)
        if not keep:
            out.pop("metadata", None)
        return out

    @staticmethod
    def _page(items: list[Any], args: Mapping[str, Any], default_limit: int, max_limit: int) -> tuple[list[Any], str]:
        """Cursor pagination as Slack does it: returns (page, next_cursor or "")."""
        offset = _decode_cursor(args.get("cursor"))
        raw_limit = args.get("limit")
        try:
            limit = int(raw_limit) if raw_limit not in (None, "") else default_limit
        except (TypeError, ValueError):
            raise _SlackError("invalid_limit") from None
        if limit < 0:
            raise _SlackError("invalid_limit")
        limit = min(limit or max_limit, max_limit)
        page = items[offset : offset + limit]
        return page, _encode_cursor(offset + limit) if offset + limit < len(items) else ""

    # ------------------------------------------------------------------ method handlers (lock held)

    def _auth_test(self, args: dict[str, Any]) -> dict[str, Any]:
        """Who the bot is; Bolt calls this at start-up."""
        return {
            "ok": True,
            "url": "https://shelfmate-test.slack.com/",
            "team": self.team_name,
            "user": self._users[self.bot_user_id]["name"],
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "app_id": self.app_id,
            "is_enterprise_install": False,
        }

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """One user from the directory."""
        user = self._users.get(str(args.get("user")))
        if user is None:
            raise _SlackError("user_not_found")
        return {"ok": True, "user": self._public_user(user, locale=_truthy(args.get("include_locale")))}

    def _users_lookup_by_email(self, args: dict[str, Any]) -> dict[str, Any]:
        """Case-insensitive email lookup, as Slack does."""
        wanted = str(args.get("email", "")).strip().lower()
        for user in self._users.values():
            if str(user["profile"].get("email", "")).lower() == wanted and wanted:
                return {"ok": True, "user": self._public_user(user)}
        raise _SlackError("users_not_found")

    def _users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        """The whole directory, paginated."""
        users = [self._public_user(u, locale=_truthy(args.get("include_locale"))) for u in self._users.values()]
        page, cursor = self._page(users, args, default_limit=0, max_limit=1000)
        return {
            "ok": True,
            "members": page,
            "cache_ts": int(self.clock()),
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Find or open the IM/MPIM for a set of users; the same set always gives the same id."""
        raw_users = args.get("users")
        if raw_users in (None, ""):
            channel = args.get("channel")
            if channel in (None, ""):
                raise _SlackError("users_list_not_supplied")
            info = self._channels.get(str(channel))
            if info is None or not (info.get("is_im") or info.get("is_mpim")):
                raise _SlackError("channel_not_found")
            return {"ok": True, "no_op": True, "already_open": True, "channel": self._open_reply(info, args)}
        users = [u.strip() for u in str(raw_users).split(",") if u.strip()]
        users = [u for u in dict.fromkeys(users) if u != self.bot_user_id]
        if not users:
            raise _SlackError("not_enough_users")
        if len(users) > MAX_OPEN_USERS:
            raise _SlackError("too_many_users")
        for uid in users:
            user = self._users.get(uid)
            if user is None:
                raise _SlackError("user_not_found")
            if user["deleted"]:
                raise _SlackError("user_disabled")
            if user["is_bot"] and len(users) == 1:
                raise _SlackError("cannot_dm_bot")
        key = frozenset(users)
        if _truthy(args.get("prevent_creation")) and key not in self._dm_index:
            return {"ok": True, "no_op": True, "already_open": False, "channel": {}}
        cid, already = self._open_dm(users)
        reply: dict[str, Any] = {"ok": True, "channel": self._open_reply(self._channels[cid], args)}
        if already:
            reply["no_op"] = True
            reply["already_open"] = True
        return reply

    def _open_reply(self, info: dict[str, Any], args: Mapping[str, Any]) -> dict[str, Any]:
        """conversations.open returns just the id for IMs unless return_im is set."""
        if info.get("is_mpim") or _truthy(args.get("return_im")):
            return dict(info)
        return {"id": info["id"]}

    def _conversations_info(self, args: dict[str, Any]) -> dict[str, Any]:
        """A conversation object shaped like Slack's."""
        cid = self._resolve_conversation(args.get("channel"))
        channel = dict(self._channels[cid])
        if _truthy(args.get("include_num_members")) and not channel.get("is_im"):
            channel["num_members"] = len(self._members.get(cid, []))
        if channel.get("is_im"):
            user = self._users.get(channel["user"])
            channel["is_user_deleted"] = bool(user and user["deleted"])
        return {"ok": True, "channel": channel}

    def _conversations_members(self, args: dict[str, Any]) -> dict[str, Any]:
        """Channel members with cursor pagination."""
        cid = self._resolve_conversation(args.get("channel"))
        page, cursor = self._page(self._members.get(cid, []), args, default_limit=100, max_limit=1000)
        return {"ok": True, "members": page, "response_metadata": {"next_cursor": cursor}}

    def _conversations_history(self, args: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages newest first, filtered by oldest/latest, paginated."""
        cid = self._resolve_conversation(args.get("channel"))
        latest = _ts_micros(args["latest"]) if args.get("latest") not in (None, "") else None
        oldest = _ts_micros(args["oldest"]) if args.get("oldest") not in (None, "") else None
        if args.get("latest") not in (None, "") and latest is None:
            raise _SlackError("invalid_ts_latest")
        if args.get("oldest") not in (None, "") and oldest is None:
            raise _SlackError("invalid_ts_oldest")
        inclusive = _truthy(args.get("inclusive"))
        keep_metadata = _truthy(args.get("include_all_metadata"))
        selected: list[dict[str, Any]] = []
        for message in reversed(self._messages.get(cid, [])):
            thread_ts = message.get("thread_ts")
            if thread_ts and thread_ts != message["ts"] and message.get("subtype") != "thread_broadcast":
                continue
            ts = _ts_micros(message["ts"]) or 0
            if latest is not None and (ts > latest or (ts == latest and not inclusive)):
                continue
            if oldest is not None and (ts < oldest or (ts == oldest and not inclusive)):
                continue
            selected.append(message)
        page, cursor = self._page(selected, args, default_limit=100, max_limit=999)
        return {
            "ok": True,
            "messages": [self._strip_metadata(m, keep_metadata) for m in page],
            "has_more": bool(cursor),
            "pin_count": 0,
            "channel_actions_ts": None,
            "channel_actions_count": 0,
            "response_metadata": {"next_cursor": cursor},
        }

    def _conversations_replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread, parent first."""
        cid = self._resolve_conversation(args.get("channel"))
        ts = args.get("ts")
        thread = [m for m in self._messages.get(cid, []) if m["ts"] == ts or m.get("thread_ts") == ts]
        if not thread:
            raise _SlackError("thread_not_found")
        keep_metadata = _truthy(args.get("include_all_metadata"))
        page, cursor = self._page(thread, args, default_limit=1000, max_limit=1000)
        return {
            "ok": True,
            "messages": [self._strip_metadata(m, keep_metadata) for m in page],
            "has_more": bool(cursor),
            "response_metadata": {"next_cursor": cursor},
        }

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        """Store a bot message; a user id as channel posts to (and opens) their DM."""
        cid = self._resolve_conversation(args.get("channel"), open_dm=True)
        info = self._channels[cid]
        if info.get("is_archived"):
            raise _SlackError("is_archived")
        body = self._message_body("chat.postMessage", args)
        if not (body["text"] or body.get("blocks") or body.get("attachments")):
            raise _SlackError("no_text")
        for name in ("username", "icon_emoji", "icon_url"):
            if args.get(name):
                body[name] = args[name]
        thread_ts = args.get("thread_ts")
        message = self._bot_message(body, self._next_ts())
        if thread_ts:
            message["thread_ts"] = str(thread_ts)
            if _truthy(args.get("reply_broadcast")):
                message["subtype"] = "thread_broadcast"
            self._note_reply(cid, str(thread_ts), message)
        self._messages[cid].append(message)
        return {"ok": True, "channel": cid, "ts": message["ts"], "message": dict(message)}

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        """Ephemeral messages are only visible to one member, so they are kept apart."""
        cid = self._resolve_conversation(args.get("channel"), open_dm=True)
        info = self._channels[cid]
        if info.get("is_archived"):
            raise _SlackError("is_archived")
        user_id = str(args.get("user"))
        members = self._members.get(cid, [])
        if user_id not in self._users or (members and user_id not in members):
            raise _SlackError("user_not_in_channel")
        body = self._message_body("chat.postEphemeral", args)
        if not (body["text"] or body.get("blocks") or body.get("attachments")):
            raise _SlackError("no_text")
        ts = self._next_ts()
        entry = {"channel": cid, "user": user_id, "ts": ts, **body}
        if args.get("thread_ts"):
            entry["thread_ts"] = str(args["thread_ts"])
        self._ephemerals.append(entry)
        return {"ok": True, "message_ts": ts}

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Bots may only edit their own messages."""
        cid = self._resolve_conversation(args.get("channel"))
        message = self._find_message(cid, args.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise _SlackError("cant_update_message")
        body = self._message_body("chat.update", args)
        if "text" in args or "markdown_text" in args:
            message["text"] = body["text"]
        for name in ("blocks", "attachments", "metadata"):
            if name in body:
                message[name] = body[name]
            elif args.get(name) == "":
                message.pop(name, None)
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": cid,
            "ts": message["ts"],
            "text": message["text"],
            "message": dict(message),
        }

    def _chat_delete(self, args: dict[str, Any]) -> dict[str, Any]:
        """Bots may only delete their own messages."""
        cid = self._resolve_conversation(args.get("channel"))
        message = self._find_message(cid, args.get("ts"))
        if message.get("bot_id") != self.bot_id:
            raise _SlackError("cant_delete_message")
        self._messages[cid].remove(message)
        return {"ok": True, "channel": cid, "ts": message["ts"]}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        """A stable permalink for a stored message."""
        cid = self._resolve_conversation(args.get("channel"))
        message = self._find_message(cid, args.get("message_ts"))
        link = f"https://shelfmate-test.slack.com/archives/{cid}/p{message['ts'].replace('.', '')}"
        return {"ok": True, "channel": cid, "permalink": link}

    def _consume_trigger(self, method: str, args: Mapping[str, Any]) -> None:
        """A trigger_id works once, within 3 seconds of the interaction that issued it."""
        trigger = args.get("trigger_id")
        if trigger in (None, "") and args.get("interactivity_pointer") in (None, ""):
            raise _SlackError(
                "invalid_arguments",
                violation=f"{method}: needs trigger_id or interactivity_pointer",
                messages=["[ERROR] missing required field: trigger_id"],
            )
        if trigger in (None, ""):
            trigger = args["interactivity_pointer"]
        issued = self._triggers.get(str(trigger))
        if issued is None:
            raise _SlackError("invalid_trigger_id")
        if trigger in self._used_triggers:
            raise _SlackError("exchanged_trigger_id")
        if self.clock() - issued > TRIGGER_TTL_SECONDS:
            raise _SlackError("expired_trigger_id")
        self._used_triggers.add(str(trigger))

    def _check_view(self, method: str, view: Any, allowed: tuple[str, ...]) -> dict[str, Any]:
        """Block Kit view limits that Slack enforces with invalid_arguments."""

        def bad(reason: str) -> _SlackError:
            """A violation plus the invalid_arguments answer Slack gives for malformed views."""
            return _SlackError("invalid_arguments", violation=f"{method}: {reason}", messages=[f"[ERROR] {reason}"])

        if not isinstance(view, dict):
            raise bad("view must be a JSON object")
        if view.get("type") not in allowed:
            raise bad(f"view type must be one of {allowed}, got {view.get('type')!r}")
        blocks = view.get("blocks")
        if not isinstance(blocks, list):
            raise bad("view.blocks must be an array")
        if len(blocks) > MAX_VIEW_BLOCKS:
            raise bad(f"view has {len(blocks)} blocks (max {MAX_VIEW_BLOCKS})")
        for index, block in enumerate(blocks):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise bad(f"view block {index} has no string 'type'")
        if problem := _repeated_ids(blocks):
            raise bad(problem)
        if view["type"] == "modal":
            if not isinstance(view.get("title"), dict):
                raise bad("modal needs a plain_text title")
            for name in ("title", "submit", "close"):
                if _plain_text_length(view.get(name)) > 24:
                    raise bad(f"modal {name} text is longer than 24 characters")
            if any(b.get("type") == "input" for b in blocks) and not view.get("submit"):
                raise bad("a modal with input blocks needs a submit button")
        if len(str(view.get("private_metadata", ""))) > 3000:
            raise bad("private_metadata is longer than 3000 characters")
        for name in ("callback_id", "external_id"):
            if len(str(view.get(name, ""))) > 255:
                raise bad(f"{name} is longer than 255 characters")
        return view

    def _materialise_view(self, view: dict[str, Any], view_id: str, previous: dict[str, Any] | None) -> dict[str, Any]:
        """The view object Slack returns: the caller's view plus generated id, hash and state."""
        obj: dict[str, Any] = {
            "id": view_id,
            "team_id": self.team_id,
            "type": view["type"],
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": None,
            "root_view_id": view_id,
            "app_id": self.app_id,
            "app_installed_team_id": self.team_id,
            "bot_id": self.bot_id,
        }
        if previous is not None:
            for name in ("previous_view_id", "root_view_id"):
                obj[name] = previous.get(name, obj[name])
        obj.update(view)
        obj["id"] = view_id
        obj["hash"] = f"{int(self.clock())}.{secrets.token_hex(4)}"
        return obj

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        """Open a modal; needs a fresh trigger."""
        view = self._check_view("views.open", args.get("view"), ("modal",))
        self._consume_trigger("views.open", args)
        obj = self._materialise_view(view, self._new_id("V"), None)
        self._views[obj["id"]] = obj
        return {"ok": True, "view": dict(obj)}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        """Push a modal onto the stack; needs a fresh trigger."""
        view = self._check_view("views.push", args.get("view"), ("modal",))
        self._consume_trigger("views.push", args)
        obj = self._materialise_view(view, self._new_id("V"), None)
        self._views[obj["id"]] = obj
        return {"ok": True, "view": dict(obj)}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        """Replace a modal by view_id or external_id, honouring hash for race detection."""
        view = self._check_view("views.update", args.get("view"), ("modal", "home"))
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if not view_id and not external_id:
            raise _SlackError(
                "invalid_arguments",
                violation="views.update: needs view_id or external_id",
                messages=["[ERROR] missing view_id or external_id"],
            )
        current = self._views.get(str(view_id)) if view_id else None
        if current is None and external_id:
            current = next((v for v in self._views.values() if v.get("external_id") == external_id), None)
        if current is None:
            raise _SlackError("not_found")
        if args.get("hash") and args["hash"] != current["hash"]:
            raise _SlackError("hash_conflict")
        obj = self._materialise_view(view, current["id"], current)
        self._views[obj["id"]] = obj
        return {"ok": True, "view": dict(obj)}

    def _views_publish(self, args: dict[str, Any]) -> dict[str, Any]:
        """Publish a user's App Home; hash guards against overwriting a newer publish."""
        view = self._check_view("views.publish", args.get("view"), ("home",))
        user_id = str(args.get("user_id"))
        current = self._home_views.get(user_id)
        if args.get("hash") and (current is None or args["hash"] != current["hash"]):
            raise _SlackError("hash_conflict")
        view_id = current["id"] if current else self._new_id("V")
        obj = self._materialise_view(view, view_id, current)
        self._home_views[user_id] = obj
        return {"ok": True, "view": dict(obj)}

    def _files_get_upload_url(self, args: dict[str, Any]) -> dict[str, Any]:
        """Step 1 of the external upload: hand out an upload URL on this server."""
        try:
            length = int(args.get("length", ""))
        except (TypeError, ValueError):
            raise _SlackError(
                "invalid_arguments", violation="files.getUploadURLExternal: length is not an integer"
            ) from None
        file_id = self._new_id("F")
        self._uploads[file_id] = _PendingUpload(file_id, str(args.get("filename")), length, args.get("alt_txt"))
        return {"ok": True, "upload_url": f"{self.base_url}/upload/{file_id}", "file_id": file_id}

    def _files_complete_upload(self, args: dict[str, Any]) -> dict[str, Any]:
        """Step 3: share uploaded files; fails with file_not_found if bytes never arrived."""
        files = args.get("files")
        if not isinstance(files, list) or not files or not all(isinstance(f, dict) and f.get("id") for f in files):
            raise _SlackError(
                "invalid_arguments",
                violation="files.completeUploadExternal: files must be a JSON array of {id, title}",
            )
        pending: list[tuple[_PendingUpload, dict[str, Any]]] = []
        for entry in files:
            upload = self._uploads.get(str(entry["id"]))
            if upload is None or upload.content is None or upload.completed:
                raise _SlackError("file_not_found")
            pending.append((upload, entry))
        targets: list[str] = []
        if args.get("channel_id"):
            targets.append(self._resolve_conversation(args["channel_id"]))
        if args.get("channels"):
            targets += [self._resolve_conversation(c.strip()) for c in str(args["channels"]).split(",") if c.strip()]
        targets = list(dict.fromkeys(targets))
        thread_ts = str(args["thread_ts"]) if args.get("thread_ts") else None
        comment = args.get("initial_comment")
        now = int(self.clock())
        out_files: list[dict[str, Any]] = []
        for upload, entry in pending:
            upload.completed = True
            title = entry.get("title") or upload.filename
            self._files.append(
                UploadedFile(
                    file_id=upload.file_id,
                    filename=upload.filename,
                    title=title,
                    content=upload.content or b"",
                    channel_id=targets[0] if targets else None,
                    initial_comment=comment,
                    thread_ts=thread_ts,
                    channels=tuple(targets),
                )
            )
            out_files.append(
                {
                    "id": upload.file_id,
                    "created": now,
                    "timestamp": now,
                    "name": upload.filename,
                    "title": title,
                    "user": self.bot_user_id,
                    "size": len(upload.content or b""),
                    "is_external": False,
                    "is_public": bool(targets),
                    "channels": [t for t in targets if self._channels[t].get("is_channel")],
                }
            )
        for cid in targets:
            message = self._bot_message({"text": comment or "", "files": out_files, "upload": True}, self._next_ts())
            message["subtype"] = "file_share"
            if thread_ts:
                message["thread_ts"] = thread_ts
                self._note_reply(cid, thread_ts, message)
            self._messages[cid].append(message)
        return {"ok": True, "files": out_files}
