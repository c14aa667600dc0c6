"""The one place talkdeploy writes results: rich text for people, JSON for pipelines.

Every command hands its result here as plain data plus a function that draws
it as text, so `--output json` works the same way everywhere.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import click

if TYPE_CHECKING:  # rich is imported lazily: `talkdeploy --help` must stay instant
    from rich.console import Console

OutputFormat = Literal["text", "json"]

# Wider than any line talkdeploy prints (the callback caps a message at 2,000 characters).
NO_TERMINAL_WIDTH = 100_000


class Reporter:
    def __init__(
        self, output: OutputFormat = "text", color: bool = True, debug: bool = False
    ) -> None:
        self.output: OutputFormat = output
        self.color = color
        self.debug = debug
        self._console: Console | None = None
        self._err_console: Console | None = None

    @property
    def wants_json(self) -> bool:
        return self.output == "json"

    @property
    def console(self) -> Console:
        if self._console is None:
            self._console = self._make_console(sys.stdout)
        return self._console

    @property
    def err_console(self) -> Console:
        """Progress and warnings go to stderr so stdout stays parseable."""
        if self._err_console is None:
            self._err_console = self._make_console(sys.stderr)
        return self._err_console

    def _make_console(self, stream: Any) -> Console:
        from rich.console import Console

        return Console(
            file=stream,
            width=_width_for(stream),
            no_color=not self.color,
            highlight=False,
            soft_wrap=True,
        )

    def result(self, data: Mapping[str, Any], draw_text: Callable[[Console], None]) -> None:
        if self.wants_json:
            sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        else:
            draw_text(self.console)

    def error(
        self,
        message: str,
        fix: str | None,
        exit_code: int,
        show_text: Callable[[], None] | None = None,
    ) -> None:
        """An error, as cli.py's wrapper hands it over: under --output json stdout gets
        `{"ok": false, "error": {"message", "fix", "exit_code"}}`; the text (click's own
        `show_text` when given) goes to stderr in both formats, so a log still shows it."""
        if self.wants_json:
            document = {
                "ok": False,
                "error": {"message": message, "fix": fix, "exit_code": exit_code},
            }
            sys.stdout.write(json.dumps(document, indent=2, sort_keys=True, default=str) + "\n")
            sys.stdout.flush()
        if show_text is not None:
            show_text()
            return
        click.echo(f"Error: {message}", err=True)
        if fix:
            click.echo(f"fix: {fix}", err=True)

    def warn(self, message: str) -> None:
        if self.wants_json:
            sys.stderr.write(f"warning: {message}\n")
        else:
            self.err_console.print(f"[yellow]warning:[/yellow] {message}")


def _width_for(stream: Any) -> int | None:
    """None (rich finds the width) on a terminal; without one, no limit at all.

    Without a terminal rich takes the size of whichever standard stream is one, else 80 columns
    (rich console.py, Console.size), and wraps table cells to fit, cutting words longer than a
    column with "…": a CI log or `| cat` would lose the end of verify's details. COLUMNS, when
    set, is an explicit width and rich keeps honouring it.
    """
    isatty = getattr(stream, "isatty", None)
    if (callable(isatty) and isatty()) or os.environ.get("COLUMNS", "").isdigit():
        return None
    return NO_TERMINAL_WIDTH


# Commands receive the Reporter the group created from the global options.
pass_reporter = click.make_pass_decorator(Reporter)
