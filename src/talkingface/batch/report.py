"""What happened to each job, and OUTDIR/batch-report.jsonl."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPORT_NAME = "batch-report.jsonl"
STATUSES = ("ok", "failed", "skipped", "interrupted")
"""ok: rendered now; skipped: a finished output was already there; failed: see error;
interrupted: the run was stopped before this job finished (run the same command again)."""


@dataclass(frozen=True)
class JobOutcome:
    """One job's result: row (1-based), kind, status (one of STATUSES), output (absolute path),
    seconds the job took in its worker (or waiting, for failures outside it), error (names the file
    and the problem; None unless failed/interrupted), details (frames, duration_s, size, ...)."""

    row: int
    kind: str
    status: str
    output: str
    seconds: float = 0.0
    error: str | None = None
    details: dict = field(default_factory=dict)

    def to_json(self) -> str:
        record = asdict(self)
        record["seconds"] = round(self.seconds, 3)
        return json.dumps(record, ensure_ascii=False)


def count(outcomes: Iterable[JobOutcome]) -> dict[str, int]:
    """Jobs per status, every status present (0 when none)."""
    counts = Counter(outcome.status for outcome in outcomes)
    return {status: counts.get(status, 0) for status in STATUSES}


def write_report(outcomes: Iterable[JobOutcome], path: Path) -> Path:
    """Write one JSON line per outcome, in row order, atomically; returns path."""
    from talkingface.media import atomic_output

    lines = [outcome.to_json() for outcome in sorted(outcomes, key=lambda outcome: outcome.row)]
    with atomic_output(path) as temporary:
        Path(temporary).write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path
