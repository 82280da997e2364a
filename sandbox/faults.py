"""Fault injection for the local API stand-ins (the Stock2Shop sandbox, iSync, Evolution Freedom, Sage Accounting,
Salesforce), switchable per test.

:class:`FaultInjector` decides, request by request, whether to fault a response and how; :func:`install` puts it in
front of a FastAPI app as ASGI middleware and adds ``GET``/``POST /sandbox/faults`` to read its counts and change its
settings while the server runs. Decisions come from a seeded :class:`random.Random`, in order of arrival: the n-th
request faulted gets the same kind in every run with the same seed (under concurrency the arrival order itself may
differ). Kinds are dealt from a shuffled deck, so every kind occurs about equally often.

Which requests may be faulted: those whose path (relative to the app, see below) starts with one of
:attr:`FaultSettings.paths` and with none of :attr:`FaultSettings.exclude`, and, when :attr:`FaultSettings.methods`
is given, whose HTTP method is one of them (``methods=("POST",)`` faults an order sink's creates and leaves its
look-ups alone). Only those are counted in ``requests``.

Each app faults on its own. An app mounted under a prefix (``app.mount("/isync", ...)``, as ``python -m sandbox
--with-stand-ins`` does) matches paths without that prefix and is controlled at ``{prefix}/sandbox/faults``; the app
it is mounted in leaves requests under the prefix to it, so the Stock2Shop sandbox's faults never touch a mounted
stand-in and the reverse.

Kinds (``FAULT_KINDS``):

* ``rate_limited``: 429 with ``Retry-After`` (the request is not processed)
* ``error_500``, ``error_502``, ``error_503``: that status (not processed)
* ``timeout``: the request is read, then processed and answered only after ``hang`` seconds (set longer than the
  client's timeout): the client gives up while the server still stores what it sent
* ``slow``: processed normally after ``slow`` seconds (shorter than the client's timeout)
* ``reset``: processed, then the connection is closed half-way through the body (the client sees a broken read)
* ``accepted_then_error``: processed (a batch is stored), then answered 503: the client cannot know it was taken,
  so it sends it again; re-sending must be harmless

Plus, for APIs with tokens, ``token_expires_after``: the app asks :meth:`FaultInjector.token_expired` on every
authorised request and refuses a token once it has served that many (the Stock2Shop sandbox does).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections import Counter
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.routing import Mount

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, MutableMapping

    Scope = MutableMapping[str, Any]
    Message = MutableMapping[str, Any]
    Receive = Callable[[], Awaitable[Message]]
    Send = Callable[[Message], Awaitable[None]]

FAULT_KINDS = (
    "rate_limited",
    "error_500",
    "error_502",
    "error_503",
    "timeout",
    "slow",
    "reset",
    "accepted_then_error",
)
#: Kinds whose request reaches the application (and may change its state) although the client sees a failure.
PROCESSED_KINDS = ("timeout", "reset", "accepted_then_error")
_STATUS = {"error_500": 500, "error_502": 502, "error_503": 503}


@dataclass
class FaultSettings:
    """What to inject: ``rate`` is the share of requests faulted (0 turns faults off).

    :param kinds: the kinds to deal from (see the module docstring).
    :param seed: seeds the decisions, so a run is reproducible.
    :param paths: only requests whose path starts with one of these are faulted.
    :param exclude: never faulted (the read-back and control endpoints).
    :param methods: when given, only requests with one of these HTTP methods are faulted (any case; kept upper-case),
        e.g. ``("POST",)`` for an order sink's creates; empty: any method.
    :param retry_after: seconds sent as ``Retry-After`` with an injected 429.
    :param hang: seconds a ``timeout`` fault keeps the client waiting (longer than its timeout).
    :param slow: seconds a ``slow`` fault delays a normal answer.
    :param token_expires_after: a token is refused after serving this many requests (0: never).
    """

    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    paths: tuple[str, ...] = ("/",)
    exclude: tuple[str, ...] = ("/sandbox/", "/health", "/docs", "/openapi.json")
    methods: tuple[str, ...] = ()
    retry_after: float = 0.1
    hang: float = 3.0
    slow: float = 0.3
    token_expires_after: int = 0

    def __post_init__(self) -> None:
        self.kinds = tuple(self.kinds)
        self.paths = tuple(self.paths)
        self.exclude = tuple(self.exclude)
        # A lone string (``"POST"`` from a JSON body) is one method, not its letters.
        self.methods = tuple(m.upper() for m in ((self.methods,) if isinstance(self.methods, str) else self.methods))
        unknown = set(self.kinds) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(FAULT_KINDS)}")
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {self.rate}")


class FaultInjector:
    """Seeded fault decisions and counts of what was injected; thread-safe."""

    def __init__(self, settings: FaultSettings | None = None) -> None:
        self._lock = threading.Lock()
        self.configure(settings or FaultSettings())

    def configure(self, settings: FaultSettings) -> None:
        """Replace the settings and start counting (and drawing from the seed) afresh."""
        with self._lock:
            self.settings = settings
            self._random = random.Random(settings.seed)  # noqa: S311 - fault injection, not crypto
            self._deck: list[str] = []
            self.requests = 0
            self.injected: Counter[str] = Counter()
            self.by_path: Counter[str] = Counter()
            self._token_uses: Counter[str] = Counter()

    def applies_to(self, path: str, method: str) -> bool:
        """Whether a ``method`` request to ``path`` (relative to the app) may be faulted."""
        s = self.settings
        if s.methods and method.upper() not in s.methods:
            return False
        return path.startswith(s.paths) and not path.startswith(s.exclude)

    def decide(self, path: str, method: str) -> str | None:
        """The fault for a ``method`` request to ``path`` (relative to the app), or None; counts the request when
        it may be faulted."""
        if not self.applies_to(path, method):
            return None
        with self._lock:
            self.requests += 1
            s = self.settings
            if not s.rate or not s.kinds or self._random.random() >= s.rate:
                return None
            if not self._deck:
                self._deck = list(s.kinds)
                self._random.shuffle(self._deck)
            kind = self._deck.pop()
            self.injected[kind] += 1
            self.by_path[path] += 1
            return kind

    def token_expired(self, token: str) -> bool:
        """Count one authorised use of ``token``; True once it has served ``token_expires_after`` requests (the
        app then refuses it). Counted once per token in ``injected["token_expired"]``."""
        with self._lock:
            limit = self.settings.token_expires_after
            if not limit:
                return False
            self._token_uses[token] += 1
            if self._token_uses[token] == limit + 1:
                self.injected["token_expired"] += 1
            return self._token_uses[token] > limit

    def report(self) -> dict[str, Any]:
        """The settings and what was injected so far."""
        with self._lock:
            return {
                "settings": asdict(self.settings),
                "requests": self.requests,
                "faulted": sum(v for k, v in self.injected.items() if k != "token_expired"),
                "injected": dict(sorted(self.injected.items())),
                "by_path": dict(sorted(self.by_path.items())),
            }


async def _answer(send: Send, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> None:
    payload = orjson.dumps(body)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


def _app_path(scope: Scope) -> str:
    """The request's path relative to the app: without the ``root_path`` a mount (or a proxy prefix) put in front,
    so one stand-in's settings and counts read the same whether it is served alone or mounted under a prefix."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :] or "/"
    return path


class FaultMiddleware:
    """ASGI middleware that applies :meth:`FaultInjector.decide` to every HTTP request.

    :param owner: the app it is installed in; requests under a sub-app mounted in it that has faults of its own
        (``state.faults``) are left to that sub-app, so each stand-in is faulted only by its own settings.
    """

    def __init__(self, app: Any, injector: FaultInjector, owner: Any = None) -> None:
        self.app = app
        self.injector = injector
        self.owner = owner
        self._mounts: tuple[int, tuple[str, ...]] = (-1, ())

    def _delegated(self, path: str) -> bool:
        """Whether ``path`` goes to a mounted sub-app that injects its own faults."""
        routes = getattr(self.owner, "routes", None)
        if not routes:
            return False
        if self._mounts[0] != len(routes):  # mounts are made before serving; recomputed if routes are added
            prefixes = tuple(
                route.path
                for route in routes
                if isinstance(route, Mount)
                and isinstance(getattr(getattr(route.app, "state", None), "faults", None), FaultInjector)
            )
            self._mounts = (len(routes), prefixes)
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self._mounts[1])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = _app_path(scope)
        kind = None if self._delegated(path) else self.injector.decide(path, scope["method"])
        settings = self.injector.settings
        if kind is None:
            await self.app(scope, receive, send)
        elif kind == "rate_limited":
            await _answer(send, 429, {"errors": "injected: rate limit"}, {"Retry-After": f"{settings.retry_after:g}"})
        elif kind in _STATUS:
            await _answer(send, _STATUS[kind], {"errors": f"injected: HTTP {_STATUS[kind]}"})
        elif kind == "timeout":
            # Read the whole body first, so the late processing still has it after the client has gone.
            messages: list[Message] = []
            while not messages or (messages[-1]["type"] == "http.request" and messages[-1].get("more_body")):
                messages.append(await receive())
            await asyncio.sleep(settings.hang)
            replay = iter(messages)

            async def replayed() -> Message:
                return next(replay, None) or await receive()

            await self.app(scope, replayed, send)  # the answer goes nowhere if the client has gone
        elif kind == "slow":
            await asyncio.sleep(settings.slow)
            await self.app(scope, receive, send)
        else:  # reset, accepted_then_error: let the app do the work, then spoil the answer
            start: Message = {}
            body = bytearray()

            async def capture(message: Message) -> None:
                if message["type"] == "http.response.start":
                    start.update(message)
                elif message["type"] == "http.response.body":
                    body.extend(message.get("body", b""))

            await self.app(scope, receive, capture)
            if kind == "accepted_then_error":
                await _answer(send, 503, {"errors": "injected: processed, then failed"})
                return
            await send({**start, "type": "http.response.start"})
            # Half the body, then return without finishing: the server closes the connection mid-response.
            await send({"type": "http.response.body", "body": bytes(body[: max(len(body) // 2, 1)]), "more_body": True})


class _QuietAbort(logging.Filter):
    """Drop uvicorn's complaint about the responses ``reset`` leaves unfinished on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "without completing response" not in record.getMessage()


def install(app: FastAPI, settings: FaultSettings | None = None) -> FaultInjector:
    """Put a :class:`FaultInjector` in front of ``app`` (also as ``app.state.faults``) and add
    ``GET /sandbox/faults`` (settings and counts) and ``POST /sandbox/faults`` (new settings, counts reset; body:
    :class:`FaultSettings` fields, ``{}`` turns faults off). Mounted under a prefix, both are under it too
    (``{prefix}/sandbox/faults``)."""
    injector = FaultInjector(settings)
    app.add_middleware(FaultMiddleware, injector=injector, owner=app)
    app.state.faults = injector
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _QuietAbort) for f in logger.filters):
        logger.addFilter(_QuietAbort())
    known = {f.name for f in fields(FaultSettings)}

    @app.get("/sandbox/faults")
    async def get_faults() -> dict[str, Any]:
        return injector.report()

    @app.post("/sandbox/faults")
    async def set_faults(request: Request) -> JSONResponse:
        body = await request.json()
        if not isinstance(body, dict) or set(body) - known:
            return JSONResponse({"errors": f"body must be an object with some of {sorted(known)}"}, status_code=400)
        try:
            injector.configure(FaultSettings(**body))
        except (TypeError, ValueError) as exc:
            return JSONResponse({"errors": str(exc)}, status_code=400)
        return JSONResponse(injector.report())

    return injector


def configure(url: str, **settings: Any) -> dict[str, Any]:
    """Set a running stand-in's faults over HTTP (``POST {url}/sandbox/faults``); returns its report."""
    import requests

    response = requests.post(f"{url}/sandbox/faults", json=settings, timeout=10)
    response.raise_for_status()
    return response.json()


def report(url: str) -> dict[str, Any]:
    """A running stand-in's fault counts (``GET {url}/sandbox/faults``)."""
    import requests

    response = requests.get(f"{url}/sandbox/faults", timeout=10)
    response.raise_for_status()
    return response.json()


__all__ = ["FAULT_KINDS", "PROCESSED_KINDS", "FaultInjector", "FaultMiddleware", "FaultSettings", "install"]
