"""Every change the project makes to Rasa's own code at run time, installed in one call.

Each patch is one module here with `install()` and `uninstall()`, its reason, its
measurement and its upstream status in addons/patches/README.md. `install()` below is
the only way they are applied, and it is called from one place: the `RasaPatches` line
of credentials.yml (addons/patches/startup.py says why there). It refuses any Rasa but
the pinned version: each patch replaces a private function of that exact release.

Every patch has a switch, RASA_PATCH_<NAME>=on|off (clinic/settings.py, default on), so a
suspected patch can be turned off in production without a code change.
"""
from __future__ import annotations

import importlib
import logging
from typing import Dict, Optional

import rasa
from rasa.shared.exceptions import RasaException

from clinic import settings

logger = logging.getLogger(__name__)

# The only Rasa release the patches were written and measured against (pyproject.toml).
PINNED_RASA_VERSION = "3.6.21"


class PatchError(RasaException):
    """The patches cannot be installed on this Rasa: the server must not start (Rasa's
    command line prints a RasaException as one line, without a traceback)."""


def check_rasa_version(version: str) -> None:
    """Refuse any Rasa but the pinned release, before a patch module is even imported."""
    if version != PINNED_RASA_VERSION:
        raise PatchError(
            f"The Rasa server refuses to start: Rasa {version} is installed, but the project's changes to "
            f"Rasa (addons/patches) replace private code of Rasa {PINNED_RASA_VERSION} only. Install "
            f"rasa=={PINNED_RASA_VERSION}, or port and re-measure each patch (addons/patches/README.md) "
            f"and change PINNED_RASA_VERSION."
        )


def install(rasa_version: Optional[str] = None) -> Dict[str, bool]:
    """Make Rasa match the switches: each patch on installs it, each off restores Rasa's own code.

    Safe to call again (each patch assigns the same function, never a wrapper of a wrapper).
    Returns the switches applied."""
    check_rasa_version(rasa_version if rasa_version is not None else rasa.__version__)
    switches = settings.rasa_patch_switches()
    for name, on in switches.items():
        # Imported only now: on another Rasa a patch module could fail to import at all.
        patch = importlib.import_module(f"{__name__}.{name}")
        (patch.install if on else patch.uninstall)()
    off = [name for name, on in switches.items() if not on]
    logger.info("Rasa %s patches installed%s.", PINNED_RASA_VERSION, f" (off: {', '.join(off)})" if off else "")
    return switches
