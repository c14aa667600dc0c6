"""What a template in the inventory may run while talkdeploy reads it on the workstation.

`validate`, `render` and `plan` template the inventory on an operator's machine or in a CI
merge-request job, where the inventory under review must not run a program, read the
machine's files or reach the network. Ansible's Jinja environment is a SandboxedEnvironment
(ansible-core 2.19 ansible/_internal/_templating/_jinja_bits.py `AnsibleEnvironment`), so the
ways out of it are plugins and template files:

    with workstation_templating(inventory_root) as policy:
        policy.refused.clear()
        templar.template(value)          # lookup('pipe', ...) raises instead of running
        policy.refused                   # ["uses lookup('pipe'), which talkdeploy does not ..."]

- Lookups run only from the allowlist below. In ansible-core 2.19 every lookup a template
  makes, `lookup()`, `query()` and `q()`, goes through `lookup_loader.get(plugin_name, ...)`
  in ansible/_internal/_templating/_jinja_plugins.py `_invoke_lookup`; that module's
  `lookup_loader` is replaced for the duration. (`with_<lookup>` loops call the lookup from
  the task executor, ansible/executor/task_executor.py `_get_loop_items`: not templating, and
  talkdeploy runs no task.)
- Filters and tests come only from ansible-core (`ansible.builtin.*`, Jinja's own included)
  and this project's collection (`talkdeploy.talk.*`). No ansible-core filter or test runs a
  program, nor (searching their code and the plugin_utils/module_utils they import for
  subprocess, os.system, Popen, run_command) does one of the collections ansible 12 ships,
  but some read any file (ansible.netcommon.parse_cli, parse_cli_textfsm and parse_xml open
  the path they are given) or query DNS (the ansible.utils.resolvable test, a way to send
  an `env` secret out).
  Checked on the resolved name (`JinjaPluginIntercept._wrap_and_set_func`), so an old short
  name that ansible-core redirects to a collection (`json_query`) is refused too.
- `{% include %}`, `{% import %}` and `{% extends %}` read template files through the
  environment's FileSystemLoader (`AnsibleEnvironment.__init__`); they are refused.

Not bounded here: plain expressions can still burn CPU or memory (`9 ** 9 ** 9`, or
`range(10 ** 10) | list`: ansible-core 2.19 gives templates Python's own `range`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

# env: CI passes secrets through the environment. file/unvault: only files inside the
# inventory directory (what the merge request can already see), read through the bounded
# DataLoader. vars: other variables, under this same policy. Everything else waits for
# `apply`: pipe/lines run programs, url/hashi_vault reach the network (community.hashi_vault
# would also send the job's VAULT_TOKEN to a URL the template picks), password writes files,
# template renders files, and even pure ones (subelements, sequence) are loop helpers that a
# role variable has no use for; `sequence` can build a list of any length.
ALLOWED_LOOKUPS = ("env", "file", "unvault", "vars")
FILE_LOOKUPS = ("file", "unvault")
ALLOWED_PLUGIN_PREFIXES = ("ansible.builtin.", "talkdeploy.talk.")
LEGACY_PREFIXES = ("ansible.builtin.", "ansible.legacy.")
WHEN_IT_RUNS = "it runs when Ansible applies the roles"


class PolicyUnavailable(RuntimeError):
    """This ansible-core templates differently: refuse to template rather than run anything."""


class Refused(Exception):
    """A template asked for something talkdeploy does not run on the workstation."""


class TemplatePolicy:
    """Which lookups, filters and template files a template may use; what was refused."""

    def __init__(self, inventory_root: Path) -> None:
        self.root = Path(os.path.realpath(inventory_root))
        self.refused: list[str] = []  # reasons, in order; the caller clears it per value

    def refuse(self, reason: str) -> NoReturn:
        self.refused.append(reason)
        raise Refused(reason)

    def lookup(self, real_loader: Any, plugin_name: Any, *args: Any, **kwargs: Any) -> Any:
        """`lookup_loader.get` for templates: only the allowlist, pinned to ansible-core's."""
        name = plugin_name if isinstance(plugin_name, str) else repr(plugin_name)
        short = name
        for prefix in LEGACY_PREFIXES:
            short = short.removeprefix(prefix)
        if short not in ALLOWED_LOOKUPS:
            self.refuse(
                f"uses lookup({name!r}), which talkdeploy does not run on the workstation; "
                + WHEN_IT_RUNS
            )
        # Asked by short name (talkdeploy does not set up Ansible's collection loader, which
        # FQCNs need), then pinned: a lookup_plugins/ file of the configuration resolves
        # to ansible.legacy.<name> and is refused.
        wanted = f"ansible.builtin.{short}"
        instance = real_loader.get(short, *args, **kwargs)
        if instance is None or getattr(instance, "ansible_name", None) != wanted:
            self.refuse(f"uses lookup({name!r}), which does not resolve to ansible-core's {wanted}")
        if short in FILE_LOOKUPS:
            self._confine(instance, name)
        return instance

    def _confine(self, instance: Any, name: str) -> None:
        """Let a file lookup read only files inside the inventory directory."""
        run = instance.run

        def confined_run(terms: list[Any], variables: Any = None, **kwargs: Any) -> Any:
            for term in terms:
                found = instance.find_file_in_search_path(
                    variables or {}, "files", term, ignore_missing=True
                )
                if found and not self.inside_root(str(found)):
                    self.refuse(
                        f"uses lookup({name!r}) on {found}, outside the inventory directory "
                        f"{self.root}, which talkdeploy does not read on the workstation; "
                        + WHEN_IT_RUNS
                    )
            return run(terms, variables=variables, **kwargs)

        instance.run = confined_run

    def inside_root(self, path: str) -> bool:
        resolved = Path(os.path.realpath(Path(path).expanduser()))
        return resolved == self.root or self.root in resolved.parents

    def plugin_allowed(self, instance: Any) -> bool:
        name = getattr(instance, "ansible_name", None) or ""
        return bool(name.startswith(ALLOWED_PLUGIN_PREFIXES))

    def refused_plugin(self, kind: str, instance: Any) -> Any:
        """What a template gets for a filter or test from another collection: a refusal."""
        name = getattr(instance, "ansible_name", None) or "?"

        def refused(*args: Any, **kwargs: Any) -> NoReturn:
            self.refuse(
                f"uses the {kind} {name!r} from a collection, which talkdeploy does not run "
                "on the workstation; " + WHEN_IT_RUNS
            )

        return refused

    def no_template_files(self, searchpath: Any = None) -> Any:
        """A Jinja loader for the environment: every template file it is asked for is refused."""
        import jinja2

        policy = self

        class NoTemplateFiles(jinja2.BaseLoader):
            def get_source(self, environment: Any, template: str) -> NoReturn:
                policy.refuse(
                    f"reads the template file {template!r} ({{% include %}}, {{% import %}} "
                    "or {% extends %}), which talkdeploy does not do on the workstation; "
                    + WHEN_IT_RUNS
                )

        return NoTemplateFiles()


class _PolicyLookupLoader:
    """Stands in for ansible's lookup_loader inside the templating module only."""

    def __init__(self, real: Any, policy: TemplatePolicy) -> None:
        self._real = real
        self._policy = policy

    def get(self, plugin_name: Any, *args: Any, **kwargs: Any) -> Any:
        return self._policy.lookup(self._real, plugin_name, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


@contextmanager
def workstation_templating(inventory_root: Path) -> Iterator[TemplatePolicy]:
    """Apply the policy to every template rendered inside the block; restore Ansible on exit.

    Fails closed: an ansible-core whose internals moved raises PolicyUnavailable instead of
    templating without the policy.
    """
    from ansible._internal._templating import _jinja_bits, _jinja_plugins

    intercept = getattr(_jinja_plugins, "JinjaPluginIntercept", None)
    hooks: tuple[Any, Any, Any] = (
        getattr(_jinja_plugins, "lookup_loader", None),
        getattr(intercept, "_wrap_and_set_func", None),
        getattr(_jinja_bits, "FileSystemLoader", None),
    )
    if None in hooks or intercept is None:
        raise PolicyUnavailable(
            "this ansible-core does not template the way talkdeploy's lookup policy expects "
            "(written for 2.19); install the ansible version talkdeploy requires"
        )
    real_lookup_loader, real_wrap, real_file_loader = hooks
    policy = TemplatePolicy(inventory_root)

    def checked_wrap(self: Any, instance: Any) -> Any:
        if policy.plugin_allowed(instance):
            return real_wrap(self, instance)
        return policy.refused_plugin(self._plugin_loader.type, instance)

    _jinja_plugins.lookup_loader = _PolicyLookupLoader(real_lookup_loader, policy)
    intercept._wrap_and_set_func = checked_wrap
    _jinja_bits.FileSystemLoader = policy.no_template_files
    try:
        yield policy
    finally:
        _jinja_plugins.lookup_loader = real_lookup_loader
        intercept._wrap_and_set_func = real_wrap
        _jinja_bits.FileSystemLoader = real_file_loader
