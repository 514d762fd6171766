"""The `needs` graph: unknown ids, self-needs and cycles (each named like `a -> b -> a`)."""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

from .source import Reporter
from .templates import StepTemplate, Text, did_you_mean


def resolve_needs(
    steps: Sequence[StepTemplate], expansions: Mapping[str, Sequence[str]], rep: Reporter
) -> dict[str, list[Text]]:
    """Per step id, the needs that name a known step (or one matrix expansion of one)."""
    owner = {expanded: step_id for step_id, ids in expansions.items() for expanded in ids}
    ids = [s.id for s in steps]
    known = set(ids)
    resolved: dict[str, list[Text]] = {}
    for step in steps:
        valid: list[Text] = []
        for need in step.needs:
            target = need.value if need.value in known else owner.get(need.value)
            if target is None:
                hint = did_you_mean(need.value, ids)
                rep.at(need.node, need.path, f"unknown step '{need.value}' in needs{hint}")
            elif target == step.id:
                rep.at(need.node, need.path, f"step '{step.id}' needs itself")
            elif all(v.value != need.value for v in valid):
                valid.append(need)
        resolved[step.id] = valid
    cycles(steps, resolved, owner, rep)
    return resolved


def cycles(
    steps: Sequence[StepTemplate],
    resolved: Mapping[str, Sequence[Text]],
    owner: Mapping[str, str],
    rep: Reporter,
) -> None:
    """Report one cycle per strongly connected component, starting at its first step."""
    order = {s.id: i for i, s in enumerate(steps)}
    edges: dict[str, list[tuple[str, Text]]] = {
        step_id: [(owner.get(n.value, n.value), n) for n in needs]
        for step_id, needs in resolved.items()
    }
    for component in strongly_connected(order, {k: [t for t, _ in v] for k, v in edges.items()}):
        if len(component) < 2:
            continue
        start = min(component, key=order.__getitem__)
        path = _shortest_cycle(start, component, edges)
        first_need = next(n for t, n in edges[start] if t == path[1])
        rep.at(first_need.node, first_need.path, "dependency cycle: " + " -> ".join(path))


def _shortest_cycle(
    start: str, component: set[str], edges: Mapping[str, Sequence[tuple[str, Text]]]
) -> list[str]:
    """Breadth-first from `start` back to itself, following needs in written order."""
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        for target, _ in edges[node]:
            if target not in component:
                continue
            if target == start:
                path = [node]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [start, *reversed(path[:-1]), start] if node != start else [start, start]
            if target not in parent:
                parent[target] = node
                queue.append(target)
    raise AssertionError("a strongly connected component always has a cycle")


def strongly_connected(
    order: Mapping[str, int], edges: Mapping[str, Sequence[str]]
) -> list[set[str]]:
    """Tarjan's algorithm, iterative so a long chain of steps cannot hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []
    for root in sorted(order, key=order.__getitem__):
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            targets = edges.get(node, ())
            if i < len(targets):
                work.append((node, i + 1))
                target = targets[i]
                if target not in index:
                    work.append((target, 0))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                components.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return components
