"""Everything the Rasa server changes in Rasa 3.6 when it starts, in one place.

Installed by addons/nlg.py, which the Rasa server imports (endpoints.yml, nlg) when
it creates the agent, before it loads the model. Each change has its own module,
its reason and its measurement (benchmarks/TUNING.md), and its own tests.
"""
from __future__ import annotations

from addons import admission, gc_freeze, graph_runner, keep_alive, log_copies, resilience


def install() -> None:
    """Idempotent."""
    resilience.install()  # a failed custom action apologises instead of going silent
    graph_runner.install()  # the model's graph runs without dask's per-message bookkeeping
    keep_alive.install()  # connections to the action server stay open between calls
    admission.install()  # messages are processed a few at a time, in arrival order
    log_copies.install()  # no deep copies for debug log lines nobody prints
    gc_freeze.install()  # start-up objects are left out of full garbage collections
