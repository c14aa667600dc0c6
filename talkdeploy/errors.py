"""Exit codes and the one error type commands raise; cli.py turns both into output.

As molecule does (src/molecule/exceptions.py: MoleculeError carries its `code`, and one
place exits with it), an error carries the exit code it means. The table is written once
here; README.md ("Exit codes") documents the same four codes.
"""

from __future__ import annotations

import sys
from enum import IntEnum
from typing import IO, Any, ClassVar

import click


class ExitCode(IntEnum):
    SUCCESS = 0
    # Invalid input: a bad option value, a usage error, a missing file, an invalid inventory.
    USER_ERROR = 1
    # A host failed a task, or a check (verify, status) failed.
    HOST_FAILED = 2
    # A host was unreachable.
    UNREACHABLE = 3


# An exception talkdeploy did not expect (a bug) exits 1 too: 2 and 3 say something about
# hosts, and 1 is what Python itself exits with on an uncaught exception. The message says
# it is unexpected and how to see the traceback (`--debug`).
INTERNAL_ERROR = ExitCode.USER_ERROR


class TalkdeployError(click.ClickException):
    """An error with its exit code and, when there is one, how to fix it.

    A ClickException (click's src/click/exceptions.py), so click's own `show()` and
    `exit_code` keep working wherever a command is invoked without talkdeploy's wrapper.
    """

    exit_code: ClassVar[int] = ExitCode.USER_ERROR

    def __init__(self, message: str, fix: str | None = None) -> None:
        super().__init__(message)
        self.fix = fix

    def show(self, file: IO[Any] | None = None) -> None:
        if file is None:
            file = sys.stderr
        super().show(file)
        if self.fix:
            click.echo(f"fix: {self.fix}", file=file, color=self.show_color)


class UserError(TalkdeployError):
    """Invalid input: exit 1."""

    exit_code: ClassVar[int] = ExitCode.USER_ERROR


def exit_code_for(error: BaseException) -> int:
    """The one mapping from an exception to talkdeploy's exit code.

    Click's usage errors (UsageError, BadParameter, NoSuchOption, MissingParameter, ...)
    exit 2 in click (src/click/exceptions.py, UsageError.exit_code); 2 means "a host
    failed" here, so every ClickException that is not a TalkdeployError is a user error.
    """
    if isinstance(error, TalkdeployError):
        return error.exit_code
    if isinstance(error, (click.ClickException, click.Abort, OSError)):
        return ExitCode.USER_ERROR
    return INTERNAL_ERROR
