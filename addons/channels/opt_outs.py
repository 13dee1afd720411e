"""SMS/WhatsApp opt-outs: STOP silences every reply to an address until START.

Recorded through the request database (clinic.store, the core), so an opt-out
survives restarts and is shared by every Rasa process.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from addons.channels.errors import log_failure

logger = logging.getLogger(__name__)

# Twilio's own opt-out / opt-in keywords (whole message, any case). YES opts in
# only an opted-out address: otherwise it is an ordinary "yes" to the bot.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP"})
OPT_IN_WHEN_OPTED_OUT = frozenset({"YES"})


def opt_keyword(text: str) -> Optional[str]:
    """The opt-out/opt-in keyword a whole message is, upper-cased, else None."""
    word = text.strip().rstrip(".!").strip().upper()
    if word in OPT_OUT_WORDS or word in OPT_IN_WORDS or word in OPT_IN_WHEN_OPTED_OUT:
        return word
    return None


def _opt_out_store() -> Any:
    """clinic.store, imported late: the Rasa server must start even while it is missing."""
    from clinic import store

    return store


async def is_opted_out(address: str) -> bool:
    """Whether replies to this address are silenced. Fails open with an error in the log:
    Twilio's own STOP filtering still blocks SMS to a number that opted out."""
    try:
        return bool(await asyncio.to_thread(_opt_out_store().is_opted_out, address))
    except Exception as error:
        log_failure(logger, "Could not read the SMS opt-out list; replying anyway", error)
        return False


async def set_opted_out(address: str, opted_out: bool) -> None:
    try:
        await asyncio.to_thread(_opt_out_store().set_opted_out, address, opted_out)
        logger.info("An SMS/WhatsApp address opted %s.", "out" if opted_out else "back in")
    except Exception as error:
        log_failure(logger, f"Could not record an SMS opt-{'out' if opted_out else 'in'}", error)
