"""Proofs from outside: STUN/TURN probes against coturn, Talk's settings against coturn's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Check:
    """One named check on one host: passed or not, how long it took, and why."""

    host: str
    name: str
    ok: bool
    seconds: float
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
