"""What every command shares: the consoles, errors, progress lines, option types and help text."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

out = Console()
err = Console(stderr=True)

TrackingUri = Annotated[
    str | None, typer.Option("--tracking-uri", help="MLflow store (default: $MLFLOW_TRACKING_URI, else SQLite).")
]


def fail(exc: Exception) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(str(exc))}", soft_wrap=True, markup=True, highlight=False)
    raise typer.Exit(2) from None


def parse_shapes(items: list[str]) -> dict[str, tuple[int, ...]]:
    shapes: dict[str, tuple[int, ...]] = {}
    for item in items:
        name, sep, dims = item.partition("=")
        try:
            if not sep:
                raise ValueError
            shapes[name] = tuple(int(d) for d in dims.replace("x", ",").split(","))
        except ValueError:
            raise typer.BadParameter(f"{item!r}: expected NAME=D0,D1,... (e.g. x=1,3,224,224)") from None
    return shapes


def si(x: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= scale:
            return f"{x / scale:.2f}{unit}"
    return f"{x:.0f}"


def say(message: str) -> None:
    """A training's progress line; one ending in "…" is a step starting: shown live (with its elapsed
    time) under the finished steps while a :func:`working` block runs, never left behind."""
    live = _LIVE.get("progress")
    if message.endswith("…") and live is not None:
        live.update(_LIVE["task"], description=message)
        live.reset(_LIVE["task"])
        return
    err.print(message, highlight=False, markup=False)


_LIVE: dict[str, object] = {}


@contextlib.contextmanager
def working():
    """A spinner with the current step and its elapsed time on stderr (for steps of seconds to minutes)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err,
                  transient=True) as progress:  # fmt: skip
        _LIVE.update(progress=progress, task=progress.add_task("starting …", total=None))
        try:
            yield
        finally:
            _LIVE.clear()


def plain_metavars(command) -> None:
    """Help shows plain value names (TEXT, INTEGER, nearest|batch; nothing for a flag) instead of the
    Python types recent typer prints (``<list[str]>``, ``<bool>``). Set on this command's own parameter
    objects (typer's classes are untouched)."""
    from typing import get_args, get_origin

    names = {str: "TEXT", int: "INTEGER", float: "NUMBER", Path: "PATH"}

    def plain(param):
        described = getattr(param, "type_descriptor", None)
        if param.metavar is not None or described is None:
            return param
        if getattr(param, "is_flag", False):
            label = ""
        elif described.is_choice:
            label = "|".join(str(getattr(c, "value", c)) for c in described.choices or ())
        else:
            kind = described.annotation
            many = get_origin(kind) is list
            kind = get_args(kind)[0] if many else kind
            label = names.get(kind, "VALUE") + (" ..." if many else "")
        if isinstance(param, typer.core.TyperArgument):
            param.display_type_rich = lambda ctx: label  # its name column stays the argument's name
        else:
            param.metavar = label
        return param

    for param in command.params:
        plain(param)
    make_help = command.get_help_option
    command.get_help_option = lambda ctx: plain(make_help(ctx))
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)
