"""The ``talkingface batch`` subcommand (wired into talkingface.cli by ``add_batch_command``)."""

from __future__ import annotations

import argparse
import json
import sys

from talkingface.signals import exit_code

EXIT_JOBS_FAILED = 1

_DESCRIPTION = """Render many jobs from a manifest (CSV or JSON Lines, one job per row) on Ray.

Columns: portrait, audio and/or drive (a driving video) - paths relative to the manifest's folder -,
optional output (a name inside OUTDIR; default PORTRAIT-AUDIO.mp4), and any `talkingface render`
option by its long name: seed, emotion, size, fps, transcript, full-frame, gaze, head-distance,
keyframes, motion, regions, drive-strength, ... The whole
manifest is checked before anything renders. Runs on a local Ray runtime (--workers), or on an
existing cluster (--ray-address). Finished outputs are skipped when run again; OUTDIR/batch-report.jsonl
has one line per job. Exit status 0 only when every job succeeded."""


def add_batch_command(commands: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``batch`` to the CLI's subcommands; its handler is set with ``set_defaults(run=...)``."""
    batch = commands.add_parser("batch", help="many renders from a CSV/JSONL manifest, on Ray (local or cluster)",
                                description=_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    batch.add_argument("jobs", help="manifest: .csv or .jsonl, one job per row")
    batch.add_argument("-o", "--outdir", required=True, help="output folder (created)")
    batch.add_argument("--workers", type=int, help="jobs at once (default: this machine's cores; on a cluster: "
                                                   "its CPUs divided by --threads)")
    batch.add_argument("--threads", type=int, help="threads per job (default: cores / workers; 1 on a cluster)")
    batch.add_argument("--ray-address", metavar="HOST:PORT|auto",
                       help="run on this existing Ray cluster instead of a local runtime")
    batch.add_argument("--retries", type=int, default=1,
                       help="extra attempts of a job whose worker crashed or was lost (default 1; "
                            "input errors are never retried)")
    batch.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    batch.set_defaults(run=run_batch_command)
    return batch


def run_batch_command(args: argparse.Namespace) -> int:
    """Handler of ``talkingface batch``: validate the manifest, run it, print a summary; the exit code."""
    from talkingface.batch.manifest import load_manifest
    from talkingface.batch.runner import BatchOptions, import_ray, run_batch

    options = BatchOptions(workers=args.workers, threads=args.threads, ray_address=args.ray_address,
                           retries=args.retries, progress=not args.quiet)
    jobs = load_manifest(args.jobs)
    import_ray()  # before anything is written: a clear error naming the extra
    try:
        summary = run_batch(jobs, args.outdir, options)
    except KeyboardInterrupt as interruption:
        print("talkingface batch: interrupted; finished outputs are kept, run the same command to resume",
              file=sys.stderr)
        return exit_code(interruption)  # 130 for SIGINT, 143 for SIGTERM
    if not args.quiet:
        print(json.dumps({**summary.counts, "jobs": len(summary.outcomes), "seconds": round(summary.seconds, 3),
                          "report": str(summary.report)}), file=sys.stderr)
    for outcome in summary.outcomes:
        if outcome.status == "failed":
            print(f"talkingface batch: row {outcome.row} failed: {outcome.error}", file=sys.stderr)
    return 0 if summary.succeeded else EXIT_JOBS_FAILED
