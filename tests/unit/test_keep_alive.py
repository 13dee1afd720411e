"""addons/patches/keep_alive.py: calls to an endpoint reuse one connection, and idle ones are dropped."""
from __future__ import annotations

import asyncio
from typing import List, Tuple

from aiohttp import web
from rasa.utils.endpoints import EndpointConfig

from addons.patches import keep_alive


async def serve(ports: List[int]) -> Tuple[web.AppRunner, str]:
    """A real local HTTP endpoint that records the client port of every request."""
    async def answer(request: web.Request) -> web.Response:
        ports.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"events": []})

    app = web.Application()
    app.router.add_post("/webhook", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/webhook"


def test_calls_share_one_connection_until_it_idles() -> None:
    keep_alive.install()

    async def scenario() -> List[int]:
        ports: List[int] = []
        runner, url = await serve(ports)
        endpoint = EndpointConfig(url=url)
        try:
            for _ in range(3):
                assert await endpoint.request(json={"next_action": "x"}, method="post") == {"events": []}
            await asyncio.sleep(keep_alive.IDLE_SECONDS + 0.5)
            await endpoint.request(json={}, method="post")
        finally:
            await getattr(endpoint, keep_alive._ATTRIBUTE).close()
            await runner.cleanup()
        return ports

    ports = asyncio.run(scenario())
    assert len(set(ports[:3])) == 1  # one connection for the three calls
    assert ports[3] != ports[0]  # a new one after the idle time


def test_each_event_loop_gets_its_own_session() -> None:
    keep_alive.install()
    endpoint = EndpointConfig(url="http://127.0.0.1:9/webhook")

    async def session_of() -> object:
        async with endpoint.session() as session:
            kept = session
        assert not kept.closed  # left open for the next call
        await kept.close()
        return kept

    assert asyncio.run(session_of()) is not asyncio.run(session_of())
