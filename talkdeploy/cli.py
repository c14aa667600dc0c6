"""The talkdeploy command line: the click group, its global options, and the one place
errors become output and exit codes.

Each command lives in talkdeploy/commands/<name>.py as a thin click command that calls
the module owning the job; heavy imports (ansible, aioice, docker, rich, yaml) happen
inside those modules' functions, so `talkdeploy --help` stays instant. Commands are
registered explicitly with `main.add_command(...)`, as molecule's src/molecule/shell.py
does.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from talkdeploy import __version__
from talkdeploy.commands import (
    apply,
    init,
    lab,
    paths,
    plan,
    render,
    secret,
    status,
    validate,
    verify,
)
from talkdeploy.errors import ExitCode, TalkdeployError, exit_code_for
from talkdeploy.report import OutputFormat, Reporter

DEBUG_HINT = "run with --debug for the traceback"

# click >= 8.2 raises NoArgsIsHelpError (a UsageError) for a group given no command;
# click 8.1 printed the help itself and exited 0 (click's CHANGES.rst, 8.2.0).
_NO_ARGS_IS_HELP: tuple[type[Exception], ...] = tuple(
    kind
    for kind in (getattr(click.exceptions, "NoArgsIsHelpError", None),)
    if isinstance(kind, type) and issubclass(kind, Exception)
)


class TalkdeployGroup(click.Group):
    """A click group whose `main` owns every error: exit code from talkdeploy/errors.py,
    text on stderr, and under `--output json` a JSON document on stdout as well.

    Click's own `main` (src/click/core.py, Command.main) exits 2 for usage errors and
    prints only text; with `standalone_mode=False` it raises them instead, and this
    wrapper reports them.
    """

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:  # the caller asked for click's exceptions: hand them over
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        output, debug = _early_settings(sys.argv[1:] if args is None else args)
        obj = extra.setdefault("obj", Reporter(output, debug=debug))
        reporter = obj if isinstance(obj, Reporter) else Reporter(output, debug=debug)
        try:
            returned = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except Exception as error:
            sys.exit(report_error(reporter, error))
        # Without standalone mode click returns the code of a `ctx.exit(N)` (click.Exit),
        # else the command's return value (None for every talkdeploy command).
        is_code = isinstance(returned, int) and not isinstance(returned, bool)
        sys.exit(returned if is_code else ExitCode.SUCCESS)


def _early_settings(args: Sequence[str]) -> tuple[OutputFormat, bool]:
    """--output and --debug as given before the command name: an error click raises while
    parsing the global options (an unknown option, say) comes before the group's callback
    has stored them, and stdout must still be JSON under `--output json`."""
    output = os.environ.get("TALKDEPLOY_OUTPUT", "text")
    debug = False
    words = iter(args)
    for word in words:
        if word == "--output":
            output = next(words, output)
        elif word.startswith("--output="):
            output = word.partition("=")[2]
        elif word == "--debug":
            debug = True
        elif not word.startswith("-"):
            break  # the command name: what follows belongs to the command
    return ("json" if output == "json" else "text"), debug


def report_error(reporter: Reporter, error: Exception) -> int:
    """Turn an exception into output; return the exit code (talkdeploy/errors.py)."""
    code = exit_code_for(error)
    if isinstance(error, _NO_ARGS_IS_HELP) and isinstance(error, click.UsageError):
        # `talkdeploy` (or `talkdeploy lab`) alone: the help, as `--help` prints it.
        ctx = error.ctx
        hint = f"run '{ctx.command_path} --help'" if ctx else None
        if not reporter.wants_json and ctx is not None:
            click.echo(ctx.get_help(), color=ctx.color)
            return ExitCode.SUCCESS
        reporter.error("missing command", hint, code)
        return code
    if isinstance(error, click.ClickException):
        fix: str | None = None
        if isinstance(error, TalkdeployError):
            fix = error.fix
        elif isinstance(error, click.UsageError) and error.ctx is not None:
            fix = f"run '{error.ctx.command_path} --help'"
        reporter.error(error.format_message(), fix, code, error.show)
        return code
    if isinstance(error, click.Abort):  # a declined confirmation, Ctrl-C, end of input
        reporter.error("aborted", None, code, lambda: click.echo("Aborted!", err=True))
        return code
    if reporter.debug:
        traceback.print_exception(error, file=sys.stderr)
    if isinstance(error, OSError):  # a file that is missing or may not be written
        reporter.error(str(error), None if reporter.debug else DEBUG_HINT, code)
        return code
    first_line = (str(error).strip().splitlines() or [""])[0]
    message = f"unexpected error ({type(error).__name__}: {first_line})"
    if reporter.debug:
        reporter.error(message, None, code)
        return code
    one_line = f"Error: {message}; {DEBUG_HINT}"
    reporter.error(message, DEBUG_HINT, code, lambda: click.echo(one_line, err=True))
    return code


@click.group(cls=TalkdeployGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="talkdeploy")
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    envvar="TALKDEPLOY_OUTPUT",
    help="Result format; json is for pipelines.",
)
@click.option("--no-color", is_flag=True, envvar="NO_COLOR", help="Plain text without colours.")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error.")
@click.pass_context
def main(ctx: click.Context, output: str, no_color: bool, debug: bool) -> None:
    """Deploy and verify coTURN and Nextcloud Talk with Ansible."""
    # The Reporter the wrapper made (so it can report errors) takes the parsed options.
    reporter = ctx.ensure_object(Reporter)
    reporter.output = "json" if output == "json" else "text"
    reporter.color = not no_color
    reporter.debug = debug


main.add_command(init.command)
main.add_command(validate.command)
main.add_command(render.command)
main.add_command(plan.command)
main.add_command(apply.command)
main.add_command(verify.command)
main.add_command(status.command)
main.add_command(secret.command)
main.add_command(paths.command)
main.add_command(lab.command)
