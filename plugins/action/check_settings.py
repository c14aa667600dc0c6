"""Action plugin talkdeploy.talk.check_settings: a role's variables checked on the controller.

Each role's first task runs it (before any host is touched). It reads the role's variables as
the role will see them (every precedence level, extra vars included), runs the same checks as
`talkdeploy validate` (plugins/module_utils/{coturn,firewall,talk}.py), fails with every error
at once (key, what is wrong, how to fix it) and returns the accepted values in normal form as
`settings`. Secrets are checked but never returned and never quoted.
"""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase
from ansible_collections.talkdeploy.talk.plugins.module_utils import coturn, firewall, talk
from ansible_collections.talkdeploy.talk.plugins.module_utils.argspec import is_secret
from ansible_collections.talkdeploy.talk.plugins.module_utils.findings import Finding, Report
from ansible_collections.talkdeploy.talk.plugins.module_utils.plain import plain

# Its documentation is plugins/modules/check_settings.py (Ansible keeps an action plugin's
# docs in the module file of the same name, as ansible.builtin.set_fact does).
ROLES = {"coturn": coturn, "firewall": firewall, "nextcloud_talk": talk}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("role",))
    _requires_connection = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        result: dict[str, Any] = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        role = self._task.args.get("role")
        if role not in ROLES:
            return {**result, "failed": True, "msg": f"role must be one of {', '.join(ROLES)}"}
        variables, unreadable = self._variables(role, ROLES[role].VARIABLES, task_vars)
        report = self._check(role, variables, task_vars)
        report.findings[:0] = unreadable
        result["changed"] = False
        result["warnings"] = [f"{w.message}. Fix: {w.fix}" for w in report.warnings]
        if report.errors:
            result["failed"] = True
            result["msg"] = f"{role}: invalid settings, nothing was changed:\n" + "\n".join(
                f"- {e.message}. Fix: {e.fix}" for e in report.errors
            )
            result["findings"] = [vars(finding) for finding in report.errors]
            return result
        result["settings"] = {
            key: value for key, value in report.settings.items() if not is_secret(role, key)
        }
        return result

    def _variables(
        self, role: str, names: frozenset[str], task_vars: dict[str, Any]
    ) -> tuple[dict[str, Any], list[Finding]]:
        variables: dict[str, Any] = {}
        unreadable: list[Finding] = []
        for name in sorted(names):
            if name not in task_vars:
                continue
            try:
                variables[name] = plain(self._templar.template(task_vars[name]))
            except AnsibleError as error:
                reason = "template error" if is_secret(role, name) else str(error).splitlines()[0]
                unreadable.append(
                    Finding(
                        name,
                        f"{name} cannot be templated: {reason}",
                        "make it a literal, or a template of variables that are defined",
                    )
                )
        return variables, unreadable

    @staticmethod
    def _check(role: str, variables: dict[str, Any], task_vars: dict[str, Any]) -> Report:
        groups = tuple(str(group) for group in task_vars.get("group_names", []))
        if role == "coturn":
            return coturn.check(variables, coturn.Context(coturn.ssh_port(task_vars), groups))
        if role == "firewall":
            return firewall.check(variables, groups)
        return talk.check(variables)
