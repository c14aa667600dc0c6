"""`talkdeploy render`: exactly what each host will get, rendered locally."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from talkdeploy.commands.inventory_options import inventory_options, load_deployment
from talkdeploy.report import Reporter, pass_reporter

if TYPE_CHECKING:
    from rich.console import Console


@click.command("render")
@inventory_options
@click.option("--host", "hosts", multiple=True, help="Only this host (repeatable).")
@click.option("--show-secrets", is_flag=True, help="Print secrets instead of masking them.")
@click.option(
    "--coturn-version",
    default="4.6.1",
    show_default=True,
    help="coturn version the TURN hosts run (options differ by version); 4.6.1 is Debian 12/13's.",
)
@click.option(
    "--output-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Also write each file to DIR/<host>/ (e.g. for review in a merge request); "
    "a host name that is not a plain file name (/, .., control characters) is refused.",
)
@pass_reporter
def command(
    reporter: Reporter,
    inventory: Path,
    vault_password_file: Path | None,
    hosts: tuple[str, ...],
    show_secrets: bool,
    coturn_version: str,
    output_dir: Path | None,
) -> None:
    """Print the turnserver.conf of each TURN server and the Talk settings of each Nextcloud host.

    turnserver.conf is rendered from the coturn role's own template with the role defaults
    and the inventory values. Secrets are masked unless --show-secrets is given.
    """
    from talkdeploy.render import RenderError, talk_settings, turnserver_conf

    deployment, problems = load_deployment(inventory, vault_password_file)
    known = {s.name for s in deployment.turn_servers} | {h.name for h in deployment.nextcloud_hosts}
    unknown = [name for name in hosts if name not in known]
    if unknown:
        raise click.ClickException(
            f"not a TURN server or Nextcloud host of the inventory: {', '.join(unknown)}"
        )
    for problem in problems:
        if problem.severity == "error":
            reporter.warn(
                f"{problem.file} {problem.key}: {problem.message} "
                "(run `talkdeploy validate` for all problems)"
            )
    wanted = set(hosts) or known
    configs: dict[str, str] = {}
    talk: dict[str, dict[str, Any]] = {}
    try:
        for server in deployment.turn_servers:
            if server.name in wanted:
                configs[server.name] = turnserver_conf(
                    deployment, server.name, coturn_version, show_secrets
                )
        for host in deployment.nextcloud_hosts:
            if host.name in wanted:
                talk[host.name] = talk_settings(deployment, host.name, show_secrets)
    except RenderError as error:
        raise click.ClickException(str(error)) from error

    written: list[str] = []
    if output_dir is not None:
        files = [(name, "turnserver.conf", text) for name, text in configs.items()]
        files += [
            (name, "talk-settings.json", json.dumps(settings, indent=2) + "\n")
            for name, settings in talk.items()
        ]
        targets = _targets(output_dir, files)  # every name checked before anything is written
        for target, (_, _, text) in zip(targets, files, strict=True):
            written.append(_write(target, text, show_secrets))

    data = {
        "coturn_version": coturn_version,
        "secrets_shown": show_secrets,
        "turnserver_conf": configs,
        "talk_settings": talk,
        "written": written,
    }

    def draw(console: Console) -> None:
        from rich.markup import escape

        for name, text in configs.items():
            console.print(
                f"[bold]# {escape(name)}: /etc/turnserver.conf[/bold] "
                f"[dim](coturn {escape(coturn_version)}; --coturn-version to change)[/dim]"
            )
            console.print(escape(text), end="" if text.endswith("\n") else "\n")
            console.print()
        for name, settings in talk.items():
            console.print(f"[bold]# {escape(name)}: Talk settings (app spreed)[/bold]")
            console.print(escape(json.dumps(settings, indent=2)))
            console.print()
        for path in written:
            console.print(f"wrote {escape(path)}")

    reporter.result(data, draw)


def _targets(output_dir: Path, files: list[tuple[str, str, str]]) -> list[Path]:
    """DIR/<host>/<file> for each file; a host name that would leave DIR stops the command."""
    from talkdeploy.host_files import UnsafeHostName, host_path

    targets: list[Path] = []
    problems: list[str] = []
    for host, file_name, _ in files:
        try:
            targets.append(host_path(output_dir, host, file_name))
        except UnsafeHostName as error:
            problems.append(str(error))
    if problems:
        raise click.ClickException("nothing was written: " + "; ".join(dict.fromkeys(problems)))
    return targets


def _write(path: Path, text: str, secret: bool) -> str:
    from talkdeploy.secrets import write_private

    try:
        if secret:
            write_private(path, text)  # holds secrets: mode 0600 from the first byte
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as error:
        raise click.ClickException(f"cannot write {path}: {error.strerror or error}") from error
    return str(path)
