"""The red-flag screen: emergency symptoms found in any message, in any language.

The rules are data a clinician can read (data/red_flags/<language>/, see its README):
concept patterns, a table of red-flag kinds, context rules in medspaCy's ConText
schema, and a normalisation lexicon. This package is the small engine that reads
them; it needs spaCy, never Rasa (addons/red_flags.py wraps it for the Rasa server).

    from clinic.red_flags import RedFlagScreen, Outcome
    screen = RedFlagScreen.load()
    screen.screen("my calf is swollen and hot since this morning").outcome  # Outcome.EMERGENCY
"""
from clinic.red_flags.outcome import Outcome
from clinic.red_flags.screen import Finding, RedFlagScreen, Screening, shared_screen

__all__ = ["Finding", "Outcome", "RedFlagScreen", "Screening", "shared_screen"]
