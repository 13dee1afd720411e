"""One kept-alive HTTP session per Rasa endpoint (the action server above all).

Rasa 3.6 opens a new aiohttp session, and so a new TCP connection, for every
request to an endpoint: a booking turn makes two to four calls to the action
server, each paying a connect and a close on both sides. Under load every extra
await also puts the turn at the back of the event loop's queue again, which is
why the message that starts a booking was the slowest (benchmarks/TUNING.md).
Here each endpoint keeps one session per event loop, whose idle connections are
dropped after IDLE_SECONDS, well before Sanic's 5 s keep-alive timeout on the
action server, so a connection is never reused just as the server closes it.
"""
from __future__ import annotations

import asyncio
from typing import Any, Optional

import aiohttp
from rasa.utils.endpoints import DEFAULT_REQUEST_TIMEOUT, EndpointConfig

IDLE_SECONDS = 2.0
_ATTRIBUTE = "_kept_alive_session"


class _Borrowed:
    """What `async with endpoint.session()` gets: the kept session, left open on exit."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *_: Any) -> None:
        return None


def kept_alive_session(self: EndpointConfig) -> _Borrowed:
    """EndpointConfig.session, but one session per endpoint and event loop."""
    loop = asyncio.get_running_loop()
    session: Optional[aiohttp.ClientSession] = getattr(self, _ATTRIBUTE, None)
    if session is None or session.closed or session._loop is not loop:
        auth = aiohttp.BasicAuth(self.basic_auth["username"], self.basic_auth["password"]) \
            if self.basic_auth else None
        session = aiohttp.ClientSession(
            headers=self.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_SECONDS),
        )
        setattr(self, _ATTRIBUTE, session)
    return _Borrowed(session)


_original_session = EndpointConfig.session


def install() -> None:
    """Affects every EndpointConfig.request in this process."""
    EndpointConfig.session = kept_alive_session  # type: ignore[method-assign]


def uninstall() -> None:
    EndpointConfig.session = _original_session  # type: ignore[method-assign]
