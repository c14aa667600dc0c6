"""Problems found in an inventory: values, not exceptions, until the CLI prints them."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Problem:
    """One mistake, located precisely enough that an operator can fix it without searching."""

    file: str  # the inventory file that set the value (or would set it)
    key: str  # the variable, e.g. coturn_listening_port
    message: str  # what is wrong
    fix: str  # how to fix it
    severity: Severity = "error"
    host: str | None = None  # the host it applies to, when host-specific

    def as_dict(self) -> dict[str, str | None]:
        return asdict(self)


def has_errors(problems: list[Problem]) -> bool:
    return any(problem.severity == "error" for problem in problems)
