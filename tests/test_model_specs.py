"""The model reads the roles' argument specs; it never keeps its own list of variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from inventory_factory import FIXTURE_ROLES, REAL_ROLES

from talkdeploy.specs import (
    ROLE_GROUPS,
    SpecError,
    load_role_specs,
    read_role_spec,
)


def test_specs_are_read_from_every_entry_point() -> None:
    specs = load_role_specs(FIXTURE_ROLES)
    assert set(specs) == {"coturn"}
    coturn = specs["coturn"]
    assert coturn.variables["coturn_listening_port"].type == "int"
    assert coturn.variables["coturn_privileged_port_method"].choices == (
        "setcap",
        "root",
        "ambient",
    )
    assert coturn.defaults["coturn_min_port"] == 49152


def test_type_errors_are_ansibles_own_verdict() -> None:
    import talkdeploy.shared

    talkdeploy.shared.enable()
    from ansible_collections.talkdeploy.talk.plugins.module_utils.argspec import type_errors

    assert type_errors("coturn", "coturn_listening_port", 3478) == []
    assert "unable to convert to int" in type_errors("coturn", "coturn_listening_port", "https")[0]
    assert "must be one of" in type_errors("coturn", "coturn_privileged_port_method", "sudo")[0]


def test_a_broken_spec_file_is_a_clean_error(tmp_path: Path) -> None:
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "argument_specs.yml").write_text("argument_specs: [not, a, mapping]\n")
    with pytest.raises(SpecError, match="mapping of entry points"):
        read_role_spec(tmp_path)


@pytest.mark.parametrize("role", sorted(ROLE_GROUPS))
def test_real_role_spec_and_defaults_name_the_same_variables(role: str) -> None:
    spec = load_role_specs(REAL_ROLES)[role]
    assert set(spec.variables) == set(spec.defaults)
    for name, variable in spec.variables.items():
        default = spec.defaults[name]
        if variable.documented_default is None or (isinstance(default, str) and "{{" in default):
            continue  # undocumented here, or computed per host
        assert variable.documented_default == default, name


def test_real_roles_have_the_entry_points_the_cli_uses() -> None:
    coturn = REAL_ROLES / "coturn"
    assert (coturn / "templates" / "turnserver.conf.j2").is_file()
    for task in ("endpoint.yml", "config.yml"):
        assert (coturn / "tasks" / task).is_file(), task
    from talkdeploy.model import talk_filters

    filters = talk_filters()
    for name in ("talk_turn_entries", "talk_endpoint_servers", "talk_reconcile_stun"):
        assert callable(filters[name]), name
