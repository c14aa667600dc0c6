"""Run talkdeploy's playbooks with ansible-playbook: the command line, its environment, the
process and the stream of callback events it writes. Folding the events is run_result's job,
drawing them run_view's; this module imports run_result and never run_view. Code that reaches
hosts imports it (commands/playbook_steps, host_reports, conversation_check, bench, tests).

Why ansible-playbook plus our own callback plugin, and not ansible-runner:
ansible-runner is built for AWX-style job isolation (a private data dir with
env/, project/, artifacts/, its own event files and process management); we
need none of that and would still post-process its event files. Our callback
(talkdeploy/ansible_plugins/callback/talkdeploy_events.py) is ~200 lines of
plain Ansible API, streams events over a pipe as they happen, masks secrets
before anything leaves the Ansible process, and the playbooks stay plain
`ansible-playbook` runs that an operator (or AWX) can repeat by hand
(build_command is the line a person would type). One dependency fewer, nothing hidden.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from talkdeploy.errors import ExitCode
from talkdeploy.run_result import Event, Masker, RunResult

PLUGIN_DIR = Path(__file__).resolve().parent / "ansible_plugins" / "callback"
# What ansible-playbook searches besides talkdeploy's own collection (its documented default).
DEFAULT_COLLECTIONS = os.pathsep.join(("~/.ansible/collections", "/usr/share/ansible/collections"))

# The checkout's ansible.cfg as environment variables, so that every run gets it whatever the
# working directory: ansible-playbook reads only ANSIBLE_CONFIG, ./ansible.cfg, ~/.ansible.cfg or
# /etc/ansible/ansible.cfg (ansible-core lib/ansible/config/manager.py, find_ini_config_file), and
# an operator runs talkdeploy from their own directory. tests/test_runner.py checks that ansible.cfg
# and this table agree, in Ansible's own terms (which ini key each variable stands for).
ANSIBLE_SETTINGS: Mapping[str, str] = MappingProxyType(
    {
        # The general setting (ansible-core lib/ansible/config/base.yml, ANSIBLE_PIPELINING), where
        # ansible.cfg's [ssh_connection] pipelining reaches ssh alone: ssh, local and
        # community.docker.docker (the lab) pipeline with it. paramiko cannot pipeline at all
        # (ansible-core lib/ansible/plugins/connection/paramiko_ssh.py: has_pipelining stays False).
        "ANSIBLE_PIPELINING": "True",
        # Ansible's default, stated so that an ANSIBLE_CONFIG pointing elsewhere without the key
        # does not change it.
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_PYTHON_INTERPRETER": "auto_silent",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
        "ANSIBLE_RETRY_FILES_ENABLED": "False",
    }
)
# The ini key of each setting above: an ansible.cfg of the operator's that sets it is obeyed.
INI_KEYS: Mapping[str, str] = MappingProxyType(
    {
        "ANSIBLE_PIPELINING": "pipelining",
        "ANSIBLE_HOST_KEY_CHECKING": "host_key_checking",
        "ANSIBLE_PYTHON_INTERPRETER": "interpreter_python",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "callback_result_format",
        "ANSIBLE_RETRY_FILES_ENABLED": "retry_files_enabled",
    }
)
CHECKOUT_CONFIG = Path(__file__).resolve().parent.parent / "ansible.cfg"


def keys_of_operator_config(found: str | None) -> set[str]:
    """The ini keys the ansible.cfg ansible-playbook will read sets, unless it is the checkout's
    own (its values are the table above). The environment outranks every ansible.cfg, so a
    setting in the operator's own file would otherwise be overridden without a word."""
    import configparser

    if not found or Path(found).resolve() == CHECKOUT_CONFIG:
        return set()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(found)
    except configparser.Error:
        return set()  # ansible-playbook will say what is wrong with it
    return {key for section in parser.sections() for key in parser[section]}


def _config_file_ansible_will_read() -> str | None:
    """The same search as ansible-playbook's, from the same working directory and environment."""
    from ansible.config.manager import find_ini_config_file

    found: str | None = find_ini_config_file()
    return found


@dataclass(frozen=True)
class RunOptions:
    inventory: Path
    limit: str | None = None
    tags: str | None = None
    check: bool = False
    diff: bool = False
    extra_vars: tuple[str, ...] = ()
    vault_password_file: Path | None = None
    connection: str | None = None  # ssh | paramiko | None (the inventory's choice)


def build_command(playbook: Path, options: RunOptions) -> list[str]:
    """The ansible-playbook command line (the same a person would type)."""
    command = [sys.executable, "-m", "ansible", "playbook", "-i", str(options.inventory)]
    if options.limit:
        command += ["--limit", options.limit]
    if options.tags:
        command += ["--tags", options.tags]
    if options.check:
        command.append("--check")
    if options.diff:
        command.append("--diff")
    for extra in options.extra_vars:
        command += ["-e", extra]
    if options.vault_password_file:
        command += ["--vault-password-file", str(options.vault_password_file)]
    if options.connection:
        command += ["--connection", options.connection]
    command.append(str(playbook))
    return command


def ansible_environment(
    collections: Path, events_fd: int | None = None, mask_file: Path | None = None
) -> dict[str, str]:
    env = dict(os.environ)
    operator_keys = keys_of_operator_config(_config_file_ansible_will_read())
    for name, value in ANSIBLE_SETTINGS.items():
        if INI_KEYS[name] in operator_keys:
            continue
        # setdefault: an operator's own variable (ANSIBLE_PIPELINING=False for hosts whose sudo
        # wants a tty) still wins, as does their ansible.cfg's key (skipped above), and inventory
        # variables such as ansible_pipelining win over all (Ansible's precedence: variables,
        # then environment, then ansible.cfg).
        env.setdefault(name, value)
    env["ANSIBLE_STDOUT_CALLBACK"] = "talkdeploy_events"
    env["ANSIBLE_CALLBACK_PLUGINS"] = os.pathsep.join(
        p for p in (str(PLUGIN_DIR), env.get("ANSIBLE_CALLBACK_PLUGINS", "")) if p
    )
    # The playbooks use the roles as talkdeploy.talk.* (the collection talkdeploy ships).
    env["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(
        p for p in (str(collections), env.get("ANSIBLE_COLLECTIONS_PATH", DEFAULT_COLLECTIONS)) if p
    )
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["ANSIBLE_NOCOLOR"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if events_fd is not None:
        env["TALKDEPLOY_EVENTS_FD"] = str(events_fd)
    if mask_file is not None:
        env["TALKDEPLOY_MASK_FILE"] = str(mask_file)
    return env


def run_playbook(
    playbook: Path,
    options: RunOptions,
    *,
    collections: Path,
    on_event: Callable[[Event], None] | None = None,
    masker: Masker | None = None,
) -> RunResult:
    """Run one playbook; every event goes through `on_event` as it happens."""
    masker = masker or Masker()
    command = build_command(playbook, options)
    result = RunResult()
    with tempfile.TemporaryDirectory(prefix="talkdeploy-run-") as private:
        Path(private).chmod(0o700)
        mask_file = Path(private) / "mask.json"
        fd = os.open(mask_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(sorted(masker.secrets), handle)
        log_path = Path(private) / "ansible.log"
        read_end, write_end = os.pipe()
        with log_path.open("wb") as log:
            try:
                process = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    pass_fds=(write_end,),
                    env=ansible_environment(collections, write_end, mask_file),
                )
            finally:
                os.close(write_end)
            with os.fdopen(read_end, encoding="utf-8", errors="replace") as events:
                for line in events:
                    try:
                        event = json.loads(line)
                    except json.JSONDecodeError:
                        continue
                    event = masker.deep(event)
                    result.apply(event)
                    if on_event is not None:
                        on_event(event)
            result.returncode = process.wait()
        if result.exit_code == ExitCode.USER_ERROR or result.failures:
            text = log_path.read_text(errors="replace")
            result.log_tail = masker("\n".join(text.strip().splitlines()[-30:]))
    return result
