"""Runs Rasa's prediction graph node by node, in an order computed once.

Rasa 3.6 runs the NLU and policy graphs through dask for every message, two to
five times a turn: it rebuilds the minimal schema (a recursive walk without
memory that visits shared ancestors again and again), builds a dask graph, lets
dask order and schedule it, then calls the same GraphNode objects one after the
other on the server's single thread. That bookkeeping cost more than a
millisecond per message, about a tenth of the server's time
(benchmarks/TUNING.md). This runner calls the same nodes, with the same inputs,
in a dependency order it computes once per set of targets.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Text, Tuple

import rasa.core.processor
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner


class SequentialGraphRunner(DaskGraphRunner):
    """Same nodes and results as DaskGraphRunner; no per-run scheduling."""

    def run(
        self,
        inputs: Optional[Dict[Text, Any]] = None,
        targets: Optional[List[Text]] = None,
    ) -> Dict[Text, Any]:
        run_targets = list(targets) if targets else list(self._graph_schema.target_names)
        values: Dict[Text, Any] = {}
        for name, value in (inputs or {}).items():
            if name in self._graph_schema.nodes:
                raise GraphRunError(
                    f"Input value '{name}' clashes with a node name. Make sure that none of "
                    f"the input names passed to the `run` method are the same as node names "
                    f"in the graph schema."
                )
            values[name] = (name, value)
        for name in self.execution_order(tuple(run_targets)):
            needs = self._graph_schema.nodes[name].needs.values()
            # A need nobody provides is passed as its name, as dask does; GraphNode reports it.
            values[name] = self._instantiated_nodes[name](*(values.get(need, need) for need in needs))
        try:
            return dict(values[target] for target in run_targets)  # {target: its output}
        except KeyError as missing:
            raise GraphRunError(f"Target {missing} is not a node of the graph.") from None

    def execution_order(self, targets: Tuple[Text, ...]) -> List[Text]:
        """The nodes the targets depend on, each after everything it needs (memoised)."""
        orders = self.__dict__.setdefault("_orders", {})
        if targets not in orders:
            order: List[Text] = []
            done: set = set()
            visiting: set = set()

            def visit(name: Text) -> None:
                if name in done or name not in self._graph_schema.nodes:
                    return  # done already, or an input placeholder
                if name in visiting:
                    raise GraphRunError(f"The graph has a cycle through '{name}'.")
                visiting.add(name)
                for need in self._graph_schema.nodes[name].needs.values():
                    visit(need)
                visiting.discard(name)
                done.add(name)
                order.append(name)

            for target in targets:
                visit(target)
            orders[targets] = order
        return orders[targets]


def install() -> None:
    """Make the Rasa server's message processor load its models with this runner.

    Must run before the model is loaded. Upstream this could be a one-line option: the
    processor passes the runner class it names to `load_predict_graph_runner`."""
    rasa.core.processor.DaskGraphRunner = SequentialGraphRunner  # type: ignore[misc]


def uninstall() -> None:
    rasa.core.processor.DaskGraphRunner = DaskGraphRunner  # type: ignore[misc]
