"""Hosts the preflight cannot use are left out of the run, and Talk keeps their entries.

`without_hosts` builds the run's --limit and the Talk role's talk_turn_hosts_kept; the limit
is checked here with Ansible's own inventory manager, so the operator's patterns keep their
meaning and only the unusable hosts are dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pytest
from ansible.inventory.manager import InventoryManager
from ansible.parsing.dataloader import DataLoader

from talkdeploy.commands.playbook_steps import exit_code_without, without_hosts
from talkdeploy.preflight import Reach
from talkdeploy.runner import RunOptions

INVENTORY = """\
all:
  children:
    turn_servers:
      hosts:
        turn-a:
        turn-b:
        "2001:db8::5":
    nextcloud:
      hosts:
        cloud:
          talk_turn_hosts_kept: [turn-a]
"""


def unusable(*hosts: str) -> list[Reach]:
    return [Reach(h, "192.0.2.1", 22, False, "refused", "connection refused", "start sshd", 0.1)
            for h in hosts]  # fmt: skip


def deployment() -> SimpleNamespace:
    turn = [SimpleNamespace(name=n) for n in ("turn-a", "turn-b", "2001:db8::5")]
    cloud = SimpleNamespace(name="cloud", variables={"talk_turn_hosts_kept": ["turn-a"]})
    return SimpleNamespace(turn_servers=turn, nextcloud_hosts=[cloud])


def selected(tmp_path: Path, limit: str | None) -> list[str]:
    source = tmp_path / "hosts.yml"
    source.write_text(INVENTORY)
    manager = InventoryManager(loader=DataLoader(), sources=[str(source)])
    manager.subset(limit)
    return sorted(host.name for host in manager.get_hosts("all"))


@pytest.mark.parametrize(
    ("limit", "bad", "expected"),
    [
        (None, ["turn-b"], ["2001:db8::5", "cloud", "turn-a"]),
        (None, ["2001:db8::5"], ["cloud", "turn-a", "turn-b"]),
        ("turn_servers:cloud", ["turn-a"], ["2001:db8::5", "cloud", "turn-b"]),  # colon list
        ("turn_servers:!turn-a", ["turn-b"], ["2001:db8::5"]),
        ("cloud,turn-b", ["turn-b"], ["cloud"]),
    ],
)
def test_the_limit_drops_exactly_the_unusable_hosts(
    tmp_path: Path, limit: str | None, bad: list[str], expected: list[str]
) -> None:
    options = RunOptions(inventory=tmp_path / "hosts.yml", limit=limit)
    assert (
        selected(tmp_path, without_hosts(options, deployment(), unusable(*bad)).limit) == expected
    )  # type: ignore[arg-type]


def test_unusable_turn_servers_are_kept_in_talk_with_the_inventory_ones(tmp_path: Path) -> None:
    options = RunOptions(inventory=tmp_path / "hosts.yml", extra_vars=("@vars.yml",))
    bad = unusable("turn-b", "cloud")
    changed = without_hosts(options, deployment(), bad)  # type: ignore[arg-type]
    assert changed.extra_vars[0] == "@vars.yml"  # the operator's own come first
    # only TURN servers are kept, and the inventory's talk_turn_hosts_kept stays in force
    assert json.loads(changed.extra_vars[-1]) == {"talk_turn_hosts_kept": ["turn-a", "turn-b"]}


def test_a_run_with_every_host_usable_is_unchanged(tmp_path: Path) -> None:
    options = RunOptions(inventory=tmp_path / "hosts.yml", limit="turn-a")
    assert without_hosts(options, deployment(), []) is options  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("ran", "bad", "code"), [(0, 1, 3), (2, 1, 2), (3, 1, 3), (0, 0, 0), (2, 0, 2)]
)
def test_hosts_left_out_make_a_good_run_exit_3(ran: int, bad: int, code: int) -> None:
    result = SimpleNamespace(exit_code=ran)
    assert exit_code_without(result, unusable("turn-b")[:bad]) == code  # type: ignore[arg-type]
