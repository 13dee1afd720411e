"""Replies a channel sends itself, before a message reaches Rasa's processor.

Their texts are domain responses (domain/system.yml), rendered by the running agent's
NLG like every other response, so copy never lives in Python.
"""
from __future__ import annotations

import logging

from rasa.core.channels.channel import OutputChannel
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Sanic

logger = logging.getLogger(__name__)

# An empty or blank message: asked to type a question; nothing reaches the conversation.
EMPTY_MESSAGE_REPLY = "utter_empty_message"


async def send_system_response(app: Sanic, name: str, sender: str, output: OutputChannel) -> None:
    """Send a domain response (domain/system.yml) that a channel answers with itself,
    before any message reaches Rasa's processor and without touching the conversation.

    Rendered by the running agent's NLG from the loaded model's domain, as Rasa renders
    every response: the copy lives with the other replies, clinic details filled in.
    Nothing is sent while no model is loaded (Rasa could not answer anything either)."""
    agent = getattr(app.ctx, "agent", None)
    if agent is None or agent.domain is None:
        logger.error("No model loaded: the response %s could not be sent.", name)
        return
    message = await agent.nlg.generate(name, DialogueStateTracker(sender, agent.domain.slots), output.name())
    if message is None:
        logger.error("The model's domain has no response %s.", name)
        return
    await output.send_response(sender, message)
