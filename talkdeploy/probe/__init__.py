"""Proofs from outside: STUN/TURN probes against coturn, Talk's settings against coturn's."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class Check:
    """One named check on one host: passed or not, how long it took, and why.

    `seconds`: measured for this check alone (its probe, or the host reads that gave its
    evidence plus the judgement), never a run's total shared out or a constant.
    `skipped`: not run, because it only follows from a failure another check already shows
    (a host that was unreachable); `ok` stays False, as nothing was proven, and seconds is 0
    as nothing ran.
    """

    host: str
    name: str
    ok: bool
    seconds: float
    detail: str
    data: dict[str, Any] = field(default_factory=dict)
    skipped: bool = False

    @classmethod
    def not_run(cls, host: str, name: str, reason: str) -> Check:
        return cls(host, name, False, 0.0, reason, skipped=True)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
