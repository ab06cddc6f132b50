"""Cycles in a dependency graph (node -> the nodes it needs): the step graph's MLS203."""

from __future__ import annotations


def find_cycle(graph: dict[str, list[str]]) -> list[str] | None:
    """A cycle in a dependency graph (node -> nodes it needs), deterministic, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in graph.get(node, []):
            if state.get(dep) == 1:
                return stack[stack.index(dep):]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in graph:
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None
