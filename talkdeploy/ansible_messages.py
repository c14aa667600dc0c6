"""Ansible's loader messages, minus anything they quote from the inventory.

ansible-core 2.19 prints a warning or error about a file with the offending lines under it
(ansible/_internal/_errors/_error_utils.py `SourceContext`: an `Origin: path:line:col` line,
then the source excerpt with a `^ column N` caret), and some messages embed file content in
the text itself (the ini plugin's "Invalid host pattern '...'", the yaml plugin's "expected
dictionary and got: ..."). A secret on that line would reach the terminal or the CI log.

    with captured() as messages:       # Display's warnings, deprecations and errors are kept
        ...                            # and Ansible's own redaction hides every excerpt
    for message in messages:
        print(message.line())          # "YAML syntax error: ... (group_vars/x.yml:3:7)"

Only what cannot hold a value is passed on: the kind, the file and line/column, and the
texts below, which are fixed phrases or name a key; any other message becomes "Ansible
reported a problem" with its location.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

UNKNOWN = "Ansible reported a problem (its text is not shown: it may quote the inventory)"
HOW_TO_FIND = (
    "find the mistake with `yamllint {file}` or `ansible-inventory -i {inventory} --list` "
    "(talkdeploy does not quote the line: it may hold a secret)"
)

# A PyYAML problem ("while scanning a quoted scalar found unexpected end of stream") quotes
# only a character or a token name ('<block end>') with %r; data appears in quotes too, so
# only quotes holding one or two non-alphanumeric characters, an escape or a <token> pass.
_PHRASE = re.compile(
    r"[A-Za-z ,.;()<>-]*(?:'(?:[^\w\s']{1,2}|\\[a-z]|<[a-z ]+>)'[A-Za-z ,.;()<>-]*)*"
)
_KEY = r"'[\w.@-]{1,100}'"


def _yaml_problem(match: re.Match[str]) -> str:
    problem = match["problem"]
    return f"YAML syntax error: {problem}" if _PHRASE.fullmatch(problem) else "YAML syntax error"


_SAFE: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (
        re.compile(rf"Found duplicate mapping key (?P<key>{_KEY})\."),
        lambda m: f"duplicate key {m['key']} (Ansible keeps the last value)",
    ),
    (re.compile(r"Found duplicate mapping key .*"), lambda m: "duplicate key"),
    (
        re.compile(r"(?:YAML parsing failed: )?'[\w-]+' codec can't (?:en|de)code .*"),
        lambda m: "the file is not UTF-8 text (save it as UTF-8)",
    ),
    (
        re.compile(r"File '(?P<path>\S+)' could not be decoded as '[\w-]+'\. Invalid content .*"),
        lambda m: f"{m['path']} is not UTF-8 text (save it as UTF-8)",
    ),
    (re.compile(r"YAML parsing failed: (?P<problem>.+)"), _yaml_problem),
    (re.compile(r"YAML parsing failed\."), lambda m: "YAML syntax error"),
    (re.compile(r"Failed to parse inventory with '[\w.]+' plugin\."), lambda m: m[0]),
    (re.compile(r"Unable to parse \S+ as an inventory source"), lambda m: m[0]),
    (re.compile(r"No inventory was parsed, only implicit localhost is available"), lambda m: m[0]),
    (
        re.compile(r"Found (?:group|host)_vars that is not a directory, skipping: \S+"),
        lambda m: m[0],
    ),
    (
        re.compile(r"Attempting to decrypt but no vault secrets found\.|Decryption failed .*"),
        lambda m: "vault-encrypted and no matching vault password was given",
    ),
    (
        re.compile(
            r"Skipping unexpected key \([\w.-]+\) in group \([\w.-]+\), "
            r'only "vars", "children" and "hosts" are valid'
        ),
        lambda m: m[0],
    ),
)


@dataclass(frozen=True)
class Message:
    kind: str  # "warning", "deprecation" or "error"
    text: str  # safe to print: see _SAFE
    location: str | None  # "path:line:col" of the file Ansible read, when it says

    def line(self) -> str:
        prefix = "" if self.kind == "warning" else f"{self.kind}: "
        return prefix + self.text + (f" ({self.location})" if self.location else "")

    @property
    def clause(self) -> str:
        """The text to put inside a sentence (no final period)."""
        return self.text.rstrip(".")


def safe_text(message: str) -> str | None:
    """The part of one Ansible message that quotes no file content, or None."""
    flat = re.sub(r"\s+", " ", message).strip()
    for pattern, render in _SAFE:
        if match := pattern.fullmatch(flat):
            return render(match)
    return None


def from_event(kind: str, event: Any) -> Message:
    """A Message from an ansible-core Event and its chain of causes."""
    texts: list[str] = []
    locations: list[str] = []
    while event is not None:
        text = safe_text(str(event.msg or ""))
        if text and text not in texts:
            texts.append(text)
        context = str(event.formatted_source_context or "")
        found = re.match(r"Origin: (.+)", context)  # the excerpt below it is dropped
        if found and found[1].strip() != "None":
            locations.append(found[1].strip())
        chain = getattr(event, "chain", None)
        event = chain.event if chain is not None else None
    with_line = [loc for loc in locations if re.search(r":\d+(?::\d+)?$", loc)]
    best = with_line or locations
    location = best[-1] if best else None
    text = ": ".join(part.rstrip(".") for part in texts[:-1]) + (": " if len(texts) > 1 else "")
    return Message(kind, (text + texts[-1]) if texts else UNKNOWN, location)


def from_exception(error: BaseException) -> Message:
    from ansible._internal._errors._error_factory import ControllerEventFactory

    return from_event("error", ControllerEventFactory.from_exception(error, False))


@contextmanager
def captured() -> Iterator[list[Message]]:
    """Keep what Ansible's Display would print inside the block; hide source excerpts.

    Display (ansible/utils/display.py, 2.19) funnels warnings and `error_as_warning` into
    `_warning`, deprecations into `_deprecated` and errors into `_error`, each with a
    Summary whose Event carries the message, its source context and its causes; the
    singleton's three are replaced for the block. (Ansible's RedactAnnotatedSourceContext
    would hide the excerpts too, but it also drops the Origin of a duplicate key.)
    """
    from ansible import constants as C
    from ansible.utils.display import Display

    display = Display()
    messages: list[Message] = []
    names = {"_warning": "warning", "_deprecated": "deprecation", "_error": "error"}
    saved = {name: display.__dict__.get(name) for name in names}

    def keeper(kind: str) -> Callable[..., None]:
        def keep(summary: Any, *args: Any, **kwargs: Any) -> None:
            if kind == "deprecation" and not C.config.get_config_value("DEPRECATION_WARNINGS"):
                return  # ansible.cfg deprecation_warnings=False, as Display._deprecated honours
            message = from_event(kind, summary.event)
            if message not in messages:
                messages.append(message)

        return keep

    for name, kind in names.items():
        setattr(display, name, keeper(kind))
    try:
        yield messages
    finally:
        for name, previous in saved.items():
            if previous is None:
                delattr(display, name)
            else:
                setattr(display, name, previous)


def show(messages: list[Message]) -> None:
    """Print the captured messages as Ansible would have, without what they quoted."""
    from ansible.utils.display import Display

    for message in messages:
        Display().warning(message.line())
