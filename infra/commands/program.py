"""The command line's own mistakes, said like every other bad input: one line `error: ...`,
exit code 2, the misspelt name and the closest right one.

invoke itself reports them in its parser's words and exits 1 (`No idea what 'local' is!`,
`Flag <Argument: env (e) *> needed value and was not given one!`), or with a traceback for a
value it can't convert (`--port abc`). `adopt()`, called by tasks.py while `invoke` loads it,
makes the running program a `Program` below: the same invoke, with its parse errors
translated. The command stays `invoke`.

Every task flag is a flag (`task` below: no positional arguments, so a misspelt `--evn` is
not taken for the environment's value); a parameter without a default is a required flag,
checked here before anything runs.
"""

from __future__ import annotations

import ast
import difflib
import functools
import inspect
import re
from collections.abc import Iterable
from typing import Any

import invoke
from invoke import Exit, ParseError
from invoke.parser import Argument, ParserContext

USAGE_CODE = 2  # bad input (infra/core/errors.py)

# Every flag must be named: invoke would otherwise fill a required parameter with the next
# word, whatever it is (`invoke deploy --evn local` made '--evn' the environment).
task = functools.partial(invoke.task, positional=())


def adopt() -> None:
    """Make the `invoke` program that is loading tasks.py a `Program` (no-op otherwise)."""
    frame = inspect.currentframe()
    while frame is not None:
        owner = frame.f_locals.get("self")
        if type(owner) is invoke.Program:
            owner.__class__ = Program
            return
        frame = frame.f_back


class Program(invoke.Program):
    """invoke's Program; its parse errors leave as one line and exit code 2."""

    def parse_tasks(self) -> None:
        try:
            super().parse_tasks()
        except ParseError as exc:
            raise _usage(explain(exc, self.collection)) from None
        except ValueError as exc:  # a flag's value that its type refuses (--port abc)
            raise _usage(bad_value(exc)) from None

    def parse_cleanup(self) -> None:
        try:
            super().parse_cleanup()
        except ParseError as exc:  # --help NAME of no task
            raise _usage(explain(exc, self.collection)) from None

    def execute(self) -> None:
        for context in self.tasks:
            missing = missing_flags(self.collection[context.name], context)
            if missing:
                raise _usage(missing)
        super().execute()


def _usage(message: str) -> Exit:
    return Exit(f"error: {message}", code=USAGE_CODE)


def explain(exc: ParseError, collection: invoke.Collection) -> str:
    """One sentence for one of invoke's parse errors."""
    text = str(exc)
    context = exc.context if exc.context is not None and exc.context.name else None
    where = f"{context.name}: " if context else ""
    unknown = re.fullmatch(r"No idea what (.+) is!", text)
    if unknown:
        token = _literal(unknown.group(1))
        if token.startswith("-"):
            flags = _flags(context) if context else []
            if not context:
                return (
                    f"unknown option {token}: a task's flags go after its name (`invoke "
                    "deploy --env local`); `invoke --help` lists invoke's own options."
                )
            return (
                f"{where}unknown flag {token}.{_close(token.split('=')[0], flags)} "
                f"Its flags: {', '.join(flags) or 'none'}."
            )
        if context:
            return (
                f"{where}unexpected {token!r}: not a task, nor a flag of {context.name}; "
                f"a value goes after its flag (`invoke --help {context.name}`)."
            )
        names = list(collection.task_names)
        return f"no task {token!r}.{_close(token, names)} `invoke --list` lists them."
    needs_value = re.fullmatch(
        r"Flag <Argument: (\w+).*> needed value and was not given one!", text
    )
    if needs_value and context:
        argument = context.args[needs_value.group(1)]
        return f"{where}{_flag(argument)} needs a value: {argument.help or 'see --help'}"
    no_value = re.fullmatch(r"Flag <Argument: (\w+).*> doesn't take any value!", text)
    if no_value and context:
        argument = context.args[no_value.group(1)]
        return f"{where}{_flag(argument)} takes no value: give it alone to turn it on."
    return f"{where}{text}"


def bad_value(exc: ValueError) -> str:
    """The flag whose value its type refused, found where invoke was converting it."""
    argument, context = None, None
    traceback = exc.__traceback__
    while traceback is not None:
        owner = traceback.tb_frame.f_locals.get("self")
        if isinstance(owner, Argument):
            argument = owner
        elif isinstance(getattr(owner, "context", None), ParserContext):
            context = owner.context
        traceback = traceback.tb_next
    if argument is None:
        return f"bad value: {exc}"
    where = f"{context.name}: " if context is not None and context.name else ""
    kind = {int: "a whole number"}.get(argument.kind, f"a {argument.kind.__name__}")
    return f"{where}{_flag(argument)} must be {kind} (got {argument.raw_value!r})."


def missing_flags(task: invoke.Task, context: ParserContext) -> str | None:
    """The required flags (parameters without a default) not given, said as such."""
    parameters = list(inspect.signature(task.body).parameters.values())[1:]  # after `c`
    missing = [
        context.args[parameter.name]
        for parameter in parameters
        if parameter.default is inspect.Parameter.empty
        and context.args[parameter.name].value is None
    ]
    if not missing:
        return None
    said = "; ".join(f"{_flag(a)} {a.name.upper()} ({a.help or 'see --help'})" for a in missing)
    return f"{context.name}: missing {said}"


def _flag(argument: Argument) -> str:
    return f"--{argument.names[0].replace('_', '-')}"


def _flags(context: ParserContext) -> list[str]:
    return sorted(
        name for name in [*context.flags, *context.inverse_flags] if name.startswith("--")
    )


def _close(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    if not close:
        return ""
    return f" Did you mean {close[0] if close[0].startswith('-') else repr(close[0])}?"


def _literal(text: str) -> Any:
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


__all__ = ["Program", "adopt", "task"]
