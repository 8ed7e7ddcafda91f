"""Batch rendering on Ray: ``talkingface batch JOBS.csv -o OUTDIR``, locally or on a cluster.

    from talkingface.batch import BatchOptions, load_manifest, run_batch
    summary = run_batch(load_manifest("jobs.csv"), "out/", BatchOptions(workers=2))

Modules: ``manifest`` (read and validate CSV/JSONL -> JobSpec), ``kinds`` (what each kind of job
needs and how it runs), ``runner`` (Ray scheduling, retries, resume, interrupts), ``worker`` (code run
inside Ray workers), ``outputs`` (finished outputs, leftovers, folder lock), ``report``
(batch-report.jsonl), ``cli`` (the ``batch`` subcommand). Ray is imported only when a batch runs.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "JobSpec": "talkingface.batch.manifest",
    "ManifestError": "talkingface.batch.manifest",
    "load_manifest": "talkingface.batch.manifest",
    "BatchOptions": "talkingface.batch.runner",
    "BatchSummary": "talkingface.batch.runner",
    "run_batch": "talkingface.batch.runner",
    "JobOutcome": "talkingface.batch.report",
}

__all__ = list(_LAZY)


def __getattr__(name: str) -> object:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'talkingface.batch' has no attribute {name!r}")
