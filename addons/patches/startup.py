"""Where the Rasa server installs the patches: a line of its own in credentials.yml.

Why an input channel, and why this one place (Rasa 3.6.21, rasa/core/run.py):
- `serve_application` builds the input channels listed in credentials.yml first, before
  it creates the Sanic app, the event loop, the stores, the NLG or the agent, and long
  before the model is loaded. Every patch is in place before anything it changes is
  used: the graph runner class is read when the model loads, Agent.load_model is
  wrapped before it is called, the endpoints before the first action call.
- An exception raised here stops `rasa run` before it listens on its port, with the
  message on the console: a wrong Rasa version refuses to start instead of half-working.
- The line does nothing else, so swapping the NLG, a store or a channel can no longer drop
  the patches as a side effect (they used to be installed by importing addons/nlg.py).

Places considered and not used: a component in config.yml is imported while the model
loads, after the processor has already chosen its graph runner and inside the
Agent.load_model call gc_freeze wraps; the NLG and the stores in endpoints.yml are built
later than the channels and each has its own job. One limit: `rasa run --connector NAME`
and `rasa shell` build only the one channel named, so they run stock Rasa; ops/stack.py,
deploy/ and the tests all start the server with --credentials credentials.yml.

GET /webhooks/rasa_patches/ answers with the Rasa version and the switches applied, so an
operator can see which patches a running server has.
"""
from __future__ import annotations

from typing import Any, Awaitable, Callable, Dict, Optional, Text

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from addons import patches


class RasaPatches(InputChannel):
    """Installs addons.patches when Rasa builds its channels; receives no messages."""

    @classmethod
    def name(cls) -> Text:
        return "rasa_patches"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[Text, Any]]) -> InputChannel:
        return cls(patches.install())

    def __init__(self, switches: Dict[str, bool]) -> None:
        self.switches = switches

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        status = Blueprint("rasa_patches_status", __name__)

        @status.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"rasa": patches.PINNED_RASA_VERSION, "patches": self.switches})

        return status
