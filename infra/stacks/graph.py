"""The stack graph: which stack needs which, which outputs feed which parameters, and a
parallel runner that starts each stack as soon as everything it needs has finished.

No AWS here: the runner takes a function that deploys (or destroys, or plans) one stack.

```
gif-registry   gif-ci                          (standalone, account-wide)
network ──> database ──┐
   └──────> cluster ───┴──> workload
```
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from infra.stacks.specs import PRODUCER, SPECS

# Views of the stack table (infra/stacks/specs.py): which stacks each stack needs, and which
# outputs each produces (a parameter named like one of these is fed from it).
DEPENDS_ON: dict[str, tuple[str, ...]] = {key: spec.needs for key, spec in SPECS.items()}
PRODUCES: dict[str, tuple[str, ...]] = {key: spec.produces for key, spec in SPECS.items()}


class GraphError(ValueError):
    """The graph or a template's parameters don't fit together (a programming error)."""


def upstream(key: str) -> set[str]:
    """Every stack `key` needs, directly or through another stack."""
    seen: set[str] = set()
    todo = list(DEPENDS_ON[key])
    while todo:
        stack = todo.pop()
        if stack not in seen:
            seen.add(stack)
            todo.extend(DEPENDS_ON[stack])
    return seen


def dependents(key: str, among: Iterable[str]) -> set[str]:
    """The stacks in `among` that need `key`, directly or through another stack."""
    return {stack for stack in among if key in upstream(stack)}


def inputs(key: str, parameter_names: Iterable[str]) -> dict[str, str]:
    """parameter name -> the stack whose output of that name feeds it.

    Parameters named like no output are the template's own (they carry defaults).
    A parameter named like an output of a stack that `key` doesn't depend on means the
    graph is missing an edge; say so rather than deploy with a stale value.
    """
    wired: dict[str, str] = {}
    for name in parameter_names:
        producer = PRODUCER.get(name)
        if producer is None:
            continue
        if producer not in upstream(key):
            raise GraphError(
                f"stack {key!r} takes parameter {name!r}, an output of {producer!r}, "
                f"but does not depend on {producer!r} in infra/stacks/specs.py"
            )
        wired[name] = producer
    return wired


def run_order(keys: Iterable[str]) -> list[str]:
    """The stacks in an order where each comes after what it needs (stable, deterministic)."""
    return [key for wave in waves(keys) for key in wave]


def waves(keys: Iterable[str]) -> list[list[str]]:
    """Groups that can run at the same time: wave n needs only waves before it."""
    selected = list(dict.fromkeys(keys))
    result: list[list[str]] = []
    placed: set[str] = set()
    while len(placed) < len(selected):
        wave = [
            key
            for key in selected
            if key not in placed and not (upstream(key) & set(selected)) - placed
        ]
        if not wave:  # pragma: no cover - DEPENDS_ON is acyclic
            raise GraphError(f"cycle among {sorted(set(selected) - placed)}")
        result.append(wave)
        placed.update(wave)
    return result


def reverse_dependencies(keys: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """For teardown: a stack may go only after every stack that needs it has gone."""
    selected = list(dict.fromkeys(keys))
    return {key: tuple(sorted(dependents(key, selected))) for key in selected}


@dataclass
class Outcome:
    """What happened to one stack in a run of the graph."""

    key: str
    value: object | None = None  # whatever the work function returned
    error: Exception | None = None
    duration_s: float = 0.0
    blocked_by: str | None = None  # a failed stack this one needed; it did not run
    started_at: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None and self.blocked_by is None and not _reports_failure(self.value)


def _reports_failure(value: object) -> bool:
    return getattr(value, "status", None) == "failed"


@dataclass
class GraphRun:
    """The outcomes of one run, in the order stacks finished."""

    outcomes: dict[str, Outcome] = field(default_factory=dict)
    wall_s: float = 0.0

    @property
    def ok(self) -> bool:
        return all(outcome.ok for outcome in self.outcomes.values())


def run(
    keys: Iterable[str],
    work: Callable[[str], object],
    *,
    depends_on: Mapping[str, Iterable[str]] | None = None,
    max_workers: int | None = None,
    on_done: Callable[[Outcome], None] | None = None,
) -> GraphRun:
    """Run `work(key)` for every stack, each as soon as the stacks it needs have succeeded.

    Independent stacks run at the same time in threads. When a stack fails (its work
    raised, or returned something whose `.status` is "failed"), every stack that needs it
    is not started (`blocked_by`), while stacks that don't need it carry on to the end.
    `depends_on` defaults to each stack's upstream (pass `reverse_dependencies(...)` for
    teardown); stacks outside `keys` are ignored (their outputs are read, not produced).

    The threads are daemons: Ctrl-C ends the command at once instead of waiting for every
    stack (CloudFormation carries on by itself; the next deploy waits for it to settle).
    """
    selected = list(dict.fromkeys(keys))
    if depends_on is None:
        needs = {key: upstream(key) & set(selected) for key in selected}
    else:
        needs = {key: {dep for dep in depends_on[key] if dep in selected} for key in selected}
    result = GraphRun()
    finished: queue.Queue[Outcome] = queue.Queue()
    slots = threading.Semaphore(max_workers or max(1, len(selected)))
    started = time.perf_counter()

    def timed(key: str) -> None:
        with slots:
            outcome = Outcome(key, started_at=time.perf_counter() - started)
            begin = time.perf_counter()
            try:
                outcome.value = work(key)
            except Exception as exc:  # reported per stack; the run goes on for the others
                outcome.error = exc
            outcome.duration_s = time.perf_counter() - begin
        finished.put(outcome)

    def finish(outcome: Outcome) -> None:
        result.outcomes[outcome.key] = outcome
        if on_done is not None:
            on_done(outcome)

    pending = dict(needs)
    running = 0
    while pending or running:
        ready = [k for k, deps in pending.items() if not deps - result.outcomes.keys()]
        for key in ready:
            del pending[key]
            # name the stack that failed, not one that was blocked by it
            failed = sorted(
                result.outcomes[dep].blocked_by or dep
                for dep in needs[key]
                if not result.outcomes[dep].ok
            )
            if failed:
                finish(Outcome(key, blocked_by=failed[0]))
            else:
                threading.Thread(
                    target=timed, args=(key,), name=f"stack-{key}", daemon=True
                ).start()
                running += 1
        if not running:
            if not ready:  # pragma: no cover - only a cyclic depends_on gets here
                raise GraphError(f"cycle among {sorted(pending)}")
            continue  # a blocked stack may block its own dependents: look again
        finish(_next(finished))
        running -= 1
    result.wall_s = time.perf_counter() - started
    return result


def _next(finished: queue.Queue[Outcome]) -> Outcome:
    """The next finished stack; waits in short steps so Ctrl-C gets through at once."""
    while True:
        try:
            return finished.get(timeout=0.2)
        except queue.Empty:
            continue
