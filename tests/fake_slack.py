"""A local fake of Slack's Web API that records every call.

It listens on 127.0.0.1, port 0, in a daemon thread, and works with the real
``slack_sdk.WebClient(base_url=fake.url)`` and with a Bolt ``App`` built on such a client.
Answers follow the shapes in Slack's method reference (auth.test, chat.postMessage, ...);
any other method answers ``{"ok": true}`` and is still recorded. Failures can be scripted per
method with :meth:`FakeSlack.fail`.

Any path outside ``/api/`` (see :meth:`FakeSlack.response_url`) is treated as a
``response_url`` and answered ``ok`` in plain text, as Slack's webhooks do.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER_ID = "U0OPSBOT"
BOT_ID = "B0OPSBOT"
TEAM_ID = "T111"
BOT_USER_NAME = "opsbot"
TEAM_DOMAIN = "opsbot-test"
FIRST_TS_MICROS = 1_700_000_000_000_000
TS_STEP_MICROS = 100
BOT_SCOPES = "app_mentions:read,channels:history,chat:write,reactions:write,usergroups:read,users:read"

# Parameters that form-encoded callers send as JSON strings (Slack's docs: "a JSON-based array").
JSON_PARAMS = frozenset({"blocks", "attachments", "metadata", "view", "unfurls", "user_auth_blocks"})

Answer = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request the fake received, and what it answered. ``headers`` keys are lower-case;
    ``response`` is the JSON answer (``{}`` for a response_url post) and ``status`` its HTTP status."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    response: dict[str, Any] = field(default_factory=dict)
    status: int = HTTPStatus.OK

    @property
    def token(self) -> str | None:
        """The token the caller sent, from ``Authorization: Bearer`` or a ``token`` param."""
        auth = self.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            return auth[7:]
        token = self.params.get("token")
        return str(token) if token is not None else None


@dataclass(frozen=True)
class Reply:
    status: int
    payload: Answer
    headers: dict[str, str]
    text: str | None = None  # a plain-text body instead of the JSON payload


@dataclass
class _Failure:
    status: int
    error: str | None
    retry_after: int | None
    remaining: int | None  # None: every call until reset()


@dataclass
class _State:
    lock: threading.Condition = field(default_factory=threading.Condition)
    calls: list[Call] = field(default_factory=list)
    failures: dict[str, list[_Failure]] = field(default_factory=dict)
    ts_issued: int = 0
    reactions: set[tuple[str, str, str]] = field(default_factory=set)


class FakeSlack:
    """A fake Slack Web API server. Use as a context manager or call :meth:`stop`.

    Configuration (plain attributes, change them any time):
      * ``usergroups``: usergroup id -> member user ids, for usergroups.users.list / usergroups.list.
      * ``usergroup_handles``: usergroup id -> handle (default: the id without its ``S0``, lower-cased).
      * ``users``: user id -> fields merged into users.info's ``user``.
      * ``channels``: channel id -> fields merged into conversations.info's ``channel``.
    """

    def __init__(self) -> None:
        self.usergroups: dict[str, list[str]] = {}
        self.usergroup_handles: dict[str, str] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.channels: dict[str, dict[str, Any]] = {}
        self._state = _State()
        self._server = _Server(self)
        host, port = self._server.server_address[:2]
        self.base = f"http://{host!s}:{port}"
        self.url = f"{self.base}/api/"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-slack", daemon=True
        )
        self._thread.start()
        self._stopped = False

    # -- recording -------------------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """A snapshot of every call so far, in arrival order."""
        with self._state.lock:
            return list(self._state.calls)

    def calls_to(self, method: str) -> list[Call]:
        with self._state.lock:
            return [call for call in self._state.calls if call.method == method]

    def wait_for(self, method: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        """Block until ``count`` calls to ``method`` have arrived; return them all.

        Raises AssertionError naming the methods that were called if they do not arrive in time.
        """
        deadline = time.monotonic() + timeout
        with self._state.lock:
            while True:
                found = [call for call in self._state.calls if call.method == method]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [call.method for call in self._state.calls]
                    raise AssertionError(
                        f"expected {count} call(s) to {method} within {timeout}s, got {len(found)}; "
                        f"calls seen: {seen}"
                    )
                self._state.lock.wait(min(left, 0.05))

    def reset(self) -> None:
        """Forget recorded calls, scripted failures and reactions; keep configuration and ts order."""
        with self._state.lock:
            self._state.calls.clear()
            self._state.failures.clear()
            self._state.reactions.clear()

    # -- scripting -------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = None,
        retry_after: int | None = None,
        times: int | None = 1,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail (``times=None``: until :meth:`reset`).

        ``status=429`` answers HTTP 429 with ``Retry-After`` (default 1) and error ``ratelimited``;
        ``status=500`` (or any 5xx) answers that status; ``error="..."`` with the default status 200
        answers ``{"ok": false, "error": ...}``. Failures for one method queue up in order.
        """
        if status == HTTPStatus.OK and error is None:
            raise ValueError("fail() needs a non-200 status or an error string")
        if status == HTTPStatus.TOO_MANY_REQUESTS and retry_after is None:
            retry_after = 1
        if times is not None and times < 1:
            raise ValueError("times must be at least 1, or None for every call")
        with self._state.lock:
            self._state.failures.setdefault(method, []).append(
                _Failure(status=status, error=error, retry_after=retry_after, remaining=times)
            )

    def response_url(self, name: str = "default") -> str:
        """A URL to use as an interaction's ``response_url``; posts to it are recorded as
        ``response_url/<name>``."""
        return f"{self.base}/response_url/{name}"

    # -- lifecycle -------------------------------------------------------------------------------

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeSlack:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling (called from server threads) -----------------------------------------

    def _take_failure(self, method: str) -> _Failure | None:
        with self._state.lock:
            queue = self._state.failures.get(method)
            if not queue:
                return None
            failure = queue[0]
            if failure.remaining is not None:
                failure.remaining -= 1
                if failure.remaining == 0:
                    queue.pop(0)
            return failure

    def _serve(self, method: str, params: dict[str, Any], headers: dict[str, str], is_api: bool) -> Reply:
        """Answer one request and record it (with its answer) before the reply goes out."""
        failure = self._take_failure(method)
        if failure is not None:
            reply = _failure_reply(failure)
        elif not is_api:
            reply = Reply(HTTPStatus.OK, {}, {}, text="ok")
        else:
            handler = _HANDLERS.get(method)
            answer = handler(self, params) if handler else {"ok": True}
            extra = {"X-OAuth-Scopes": BOT_SCOPES} if method == "auth.test" else {}
            reply = Reply(HTTPStatus.OK, answer, extra)
        call = Call(
            method=method, params=params, headers=headers, response=reply.payload, status=reply.status
        )
        with self._state.lock:
            self._state.calls.append(call)
            self._state.lock.notify_all()
        return reply

    def _next_ts(self) -> str:
        with self._state.lock:
            micros = FIRST_TS_MICROS + TS_STEP_MICROS * (self._state.ts_issued + 1)
            self._state.ts_issued += 1
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    # -- method answers ----------------------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> Answer:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Opsbot Test",
            "user": BOT_USER_NAME,
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _message(self, params: dict[str, Any], ts: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "team": TEAM_ID,
            "text": params.get("text", ""),
            "ts": ts,
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        return message

    def _post_message(self, params: dict[str, Any]) -> Answer:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        ts = self._next_ts()
        return {"ok": True, "channel": params["channel"], "ts": ts, "message": self._message(params, ts)}

    def _update(self, params: dict[str, Any]) -> Answer:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("ts"):
            return {"ok": False, "error": "message_not_found"}
        ts = str(params["ts"])
        return {
            "ok": True,
            "channel": params["channel"],
            "ts": ts,
            "text": params.get("text", ""),
            "message": self._message(params, ts),
        }

    def _post_ephemeral(self, params: dict[str, Any]) -> Answer:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        return {"ok": True, "message_ts": self._next_ts()}

    def _reactions_add(self, params: dict[str, Any]) -> Answer:
        key = (str(params.get("channel", "")), str(params.get("timestamp", "")), str(params.get("name", "")))
        if not all(key):
            return {"ok": False, "error": "invalid_arguments"}
        with self._state.lock:
            if key in self._state.reactions:
                return {"ok": False, "error": "already_reacted"}
            self._state.reactions.add(key)
        return {"ok": True}

    def _usergroups_users_list(self, params: dict[str, Any]) -> Answer:
        group = str(params.get("usergroup", ""))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _handle_of(self, group: str) -> str:
        return self.usergroup_handles.get(group) or group.removeprefix("S0").lower()

    def _usergroups_list(self, params: dict[str, Any]) -> Answer:
        include_users = str(params.get("include_users", "")).lower() in {"1", "true"}
        groups = []
        for group_id, members in self.usergroups.items():
            handle = self._handle_of(group_id)
            entry: dict[str, Any] = {
                "id": group_id,
                "team_id": TEAM_ID,
                "is_usergroup": True,
                "name": handle.replace("-", " ").title(),
                "handle": handle,
                "user_count": len(members),
            }
            if include_users:
                entry["users"] = list(members)
            groups.append(entry)
        return {"ok": True, "usergroups": groups}

    def _get_permalink(self, params: dict[str, Any]) -> Answer:
        channel = str(params.get("channel", ""))
        ts = str(params.get("message_ts", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not ts:
            return {"ok": False, "error": "message_not_found"}
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": link}

    def _conversations_info(self, params: dict[str, Any]) -> Answer:
        channel = str(params.get("channel", ""))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        info: dict[str, Any] = {
            "id": channel,
            "name": f"channel-{channel.lower()}",
            "is_channel": channel.startswith("C"),
            "is_group": channel.startswith("G"),
            "is_im": channel.startswith("D"),
            "is_private": not channel.startswith("C"),
            "is_archived": False,
            "is_member": True,
        }
        info.update(self.channels.get(channel, {}))
        return {"ok": True, "channel": info}

    def _users_info(self, params: dict[str, Any]) -> Answer:
        user = str(params.get("user", ""))
        if not user:
            return {"ok": False, "error": "user_not_found"}
        name = user.lower()
        info: dict[str, Any] = {
            "id": user,
            "team_id": TEAM_ID,
            "name": name,
            "real_name": name,
            "deleted": False,
            "is_bot": user == BOT_USER_ID,
            "tz": "UTC",
            "profile": {"display_name": name, "real_name": name},
        }
        info.update(self.users.get(user, {}))
        return {"ok": True, "user": info}


_HANDLERS: dict[str, Callable[[FakeSlack, dict[str, Any]], Answer]] = {
    "auth.test": FakeSlack._auth_test,
    "chat.postMessage": FakeSlack._post_message,
    "chat.update": FakeSlack._update,
    "chat.postEphemeral": FakeSlack._post_ephemeral,
    "reactions.add": FakeSlack._reactions_add,
    "usergroups.users.list": FakeSlack._usergroups_users_list,
    "usergroups.list": FakeSlack._usergroups_list,
    "chat.getPermalink": FakeSlack._get_permalink,
    "conversations.info": FakeSlack._conversations_info,
    "users.info": FakeSlack._users_info,
}


def _failure_reply(failure: _Failure) -> Reply:
    if failure.status == HTTPStatus.TOO_MANY_REQUESTS:
        payload = {"ok": False, "error": failure.error or "ratelimited"}
        return Reply(failure.status, payload, {"Retry-After": str(failure.retry_after)})
    if failure.status == HTTPStatus.OK:
        return Reply(failure.status, {"ok": False, "error": failure.error}, {})
    return Reply(failure.status, {"ok": False, "error": failure.error or "fatal_error"}, {})


def parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Form or JSON body (plus any query string) as a dict, with JSON-string params decoded."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/json" and body:
        loaded = json.loads(body)
        if isinstance(loaded, dict):
            params.update(loaded)
    elif kind == "application/x-www-form-urlencoded" and body:
        params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in JSON_PARAMS & params.keys():
        value = params[key]
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):  # if it is not JSON, the test sees the string
                params[key] = json.loads(value)
    return params


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # many listener threads call at once; a full backlog refuses connections

    def __init__(self, fake: FakeSlack) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the recorded calls are the log

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {key.lower(): value for key, value in self.headers.items()}
        try:
            params = parse_params(headers.get("content-type", ""), body, parts.query)
        except ValueError:
            self._send(HTTPStatus.OK, {"ok": False, "error": "invalid_json"})
            return
        is_api = parts.path.startswith("/api/")
        method = parts.path.removeprefix("/api/") if is_api else parts.path.strip("/")
        reply = self.server.fake._serve(method, params, headers, is_api)
        if reply.text is not None:
            self._send_text(reply.status, reply.text)
        else:
            self._send(reply.status, reply.payload, reply.headers)

    def _send(self, status: int, payload: Answer, extra: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, status: int, text: str) -> None:
        data = text.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
