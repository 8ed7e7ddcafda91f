"""Run a manifest's jobs on Ray: a local runtime started for the run, or an existing cluster.

    summary = run_batch(load_manifest("jobs.csv"), "out/", BatchOptions(workers=2))

The same code runs in both cases: each job is a Ray task asking for ``threads`` CPUs and pinned to
that many threads; a shared input (a portrait used by many jobs) is prepared by one task and
handed to every job that needs it through the object store. Finished outputs are skipped, input
errors fail only their job, crashed or lost workers are retried (``retries``), and an interrupt
(Ctrl-C, SIGTERM) cancels the running jobs, removes their temporary files and still writes the
report. Inputs and the output folder must be at the same path on every node (a shared file system).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from talkingface.batch import worker
from talkingface.batch.kinds import KINDS
from talkingface.batch.manifest import JobSpec
from talkingface.batch.outputs import output_folder_lock, remove_leftovers
from talkingface.batch.report import REPORT_NAME, JobOutcome, count, write_report
from talkingface.errors import OptionError, TalkingFaceError
from talkingface.signals import signals_as_exceptions

RAY_EXTRA = "pip install 'talkingface[ray]'"
CANCEL_GRACE_S = 10.0  # a cancelled job gets this long to stop and delete its temporary file
CONNECT_TIMEOUT_S = 5.0


class RayMissingError(TalkingFaceError, ImportError):
    """Ray is not installed (it is the optional extra ``ray``)."""


@dataclass(frozen=True)
class BatchOptions:
    """How to run a batch.

    workers: jobs at once (None: the machine's cores locally, the cluster's CPUs // threads on a
    cluster); threads: threads of each job (None: cores // workers locally, 1 on a cluster);
    ray_address: None starts a local Ray runtime for the run; "auto" or "HOST:PORT" joins an
    existing cluster; retries: extra attempts of a job whose worker crashed, was killed or lost
    its node (input errors are never retried); progress: show a progress bar on stderr.
    """

    workers: int | None = None
    threads: int | None = None
    ray_address: str | None = None
    retries: int = 1
    progress: bool = True

    def __post_init__(self) -> None:
        for name, high in (("workers", 4096), ("threads", 1024)):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high):
                raise OptionError(name, value, f"must be a whole number from 1 to {high}")
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or not 0 <= self.retries <= 100:
            raise OptionError("retries", self.retries, "must be a whole number from 0 to 100")
        if self.ray_address is not None:
            split_address(self.ray_address)


@dataclass(frozen=True)
class BatchSummary:
    """What a run did: one outcome per job (row order), the report file, wall seconds."""

    outcomes: tuple[JobOutcome, ...]
    report: Path
    seconds: float

    @property
    def counts(self) -> dict[str, int]:
        return count(self.outcomes)

    @property
    def succeeded(self) -> bool:
        """True when every job is rendered (now or by an earlier run)."""
        return all(outcome.status in ("ok", "skipped") for outcome in self.outcomes)


def import_ray() -> Any:
    """The ray module, or RayMissingError naming the extra to install."""
    try:
        import ray
    except ImportError as error:
        raise RayMissingError(f"talkingface batch runs on Ray, which is not installed: {RAY_EXTRA}") from error
    return ray


def run_batch(jobs: Sequence[JobSpec], outdir: str | os.PathLike[str],
              options: BatchOptions = BatchOptions()) -> BatchSummary:
    """Run ``jobs`` into ``outdir`` (created) and write ``outdir/batch-report.jsonl``.

    Raises KeyboardInterrupt after cleaning up when interrupted (the report lists what finished).
    """
    start = time.perf_counter()
    outdir = Path(outdir).expanduser().resolve()
    outdir.mkdir(parents=True, exist_ok=True)
    outputs = [outdir / job.output for job in jobs]
    outcomes: dict[int, JobOutcome] = {}
    with output_folder_lock(outdir):
        remove_leftovers(outputs)
        todo = []
        for job in jobs:
            settled = _settled_before_running(job, outdir)
            if settled is None:
                todo.append(job)
            else:
                outcomes[job.row] = settled
        bar = _ProgressBar(len(jobs), outcomes.values(), enabled=options.progress)
        try:
            if todo:
                with ray_runtime(options) as (ray, slots, threads):
                    _Schedule(ray, todo, outdir, slots, threads, options.retries, outcomes, bar).run()
        except BaseException as error:
            why = "interrupted" if isinstance(error, KeyboardInterrupt) else f"{type(error).__name__}: {error}"
            for job in jobs:
                outcomes.setdefault(job.row, JobOutcome(row=job.row, kind=job.kind, status="interrupted",
                                                        output=str(outdir / job.output),
                                                        error=f"the run stopped before this job finished ({why}); "
                                                              "run the same command to resume"))
            raise
        finally:
            bar.close()
            remove_leftovers(outputs)  # of workers killed mid-write (crashes, forced cancels)
            report = write_report(outcomes.values(), outdir / REPORT_NAME)
    ordered = tuple(outcomes[job.row] for job in jobs)
    return BatchSummary(outcomes=ordered, report=report, seconds=time.perf_counter() - start)


def _settled_before_running(job: JobSpec, outdir: Path) -> JobOutcome | None:
    """The outcome of a job that needs no worker: a known input problem, or a finished output."""
    from talkingface.media import check_input_file

    output = outdir / job.output
    base = {"row": job.row, "kind": job.kind, "output": str(output)}
    if job.problem is not None:
        return JobOutcome(**base, status="failed", error=job.problem)
    for column, path in job.inputs.items():
        try:
            check_input_file(path, f"a {column} file")
        except TalkingFaceError as error:
            return JobOutcome(**base, status="failed", error=f"{column}: {error}")
    if output.exists() and KINDS[job.kind].is_complete(job.request, job.inputs, output):
        return JobOutcome(**base, status="skipped", details={"reason": "finished by an earlier run"})
    return None


def connect_ray(address: str | None, *, num_cpus: int | None = None) -> tuple[Any, bool]:
    """(ray, whether this call connected): joins ``address`` ("auto", "HOST:PORT"), or starts a local
    runtime of ``num_cpus`` CPUs when it is None; keeps a connection this process already has.

    Quiet (errors only, workers' output not relayed), no usage statistics sent, and the process's
    own SIGTERM handler kept (ray.init would replace it with an immediate exit).
    """
    ray = import_ray()
    if ray.is_initialized():
        return ray, False
    if address is not None and address != "auto":
        _check_reachable(address)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # never phone home
    settings = {"logging_level": logging.ERROR, "log_to_driver": False}
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        if address is None:  # "local": a new runtime even where `ray start` left a cluster address behind
            ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **settings)
        else:
            ray.init(address=address, **settings)
    except (ConnectionError, ValueError, RuntimeError) as error:
        why = " ".join(str(e).strip().splitlines()[0] for e in (error, error.__cause__) if e is not None and str(e).strip())
        raise TalkingFaceError(f"cannot start or join Ray at {address or 'a local runtime'}: {why}") from error
    finally:
        if main and previous is not None:
            signal.signal(signal.SIGTERM, previous)
    return ray, True


def split_address(address: str) -> tuple[str, int] | None:
    """"HOST:PORT" -> (host, port); "auto" -> None; OptionError for anything else."""
    if address == "auto":
        return None
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host.strip("[]") or not port.isdigit() or not 0 < int(port) < 65536:
        raise OptionError("ray_address", address, 'must be "auto" or HOST:PORT (the port of `ray start --head`)')
    return host.strip("[]"), int(port)


def _check_reachable(address: str, timeout_s: float = CONNECT_TIMEOUT_S) -> None:
    """Fail fast when nothing listens at HOST:PORT (ray.init would retry for minutes)."""
    try:
        socket.create_connection(split_address(address), timeout=timeout_s).close()
    except OSError as error:
        raise TalkingFaceError(f"cannot reach the Ray cluster at {address} ({error.strerror or error}); "
                               "is `ray start --head` running there?") from error


@contextmanager
def ray_runtime(options: BatchOptions) -> Iterator[tuple[Any, int, int]]:
    """Connect to Ray -> (ray module, jobs at once, threads per job).

    Uses the connection this process already has (e.g. an application that called ray.init), else
    starts a local runtime sized workers x threads, or joins ``options.ray_address``. SIGINT/SIGTERM
    raise talkingface.signals.Interrupted meanwhile, so a killed run still cleans up.
    """
    ray = import_ray()
    cores = os.cpu_count() or 1
    local = options.ray_address is None and not ray.is_initialized()
    workers = options.workers or (cores if local else None)
    threads = options.threads or (max(1, cores // workers) if local else 1)
    ray, started = connect_ray(options.ray_address, num_cpus=workers * threads if local else None)
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)) // threads)
    try:
        with signals_as_exceptions():  # again: ray.init may have replaced the handlers
            yield ray, workers, threads
    finally:
        if started:
            ray.shutdown()


class _Schedule:
    """Keep ``slots`` jobs running; prepare each shared input once and release it after its last job."""

    def __init__(self, ray: Any, jobs: Sequence[JobSpec], outdir: Path, slots: int, threads: int,
                 retries: int, outcomes: dict[int, JobOutcome], bar: _ProgressBar) -> None:
        self.ray, self.outdir, self.slots, self.threads = ray, outdir, slots, threads
        self.outcomes, self.bar = outcomes, bar
        remote = {"num_cpus": threads, "max_retries": retries,
                  "runtime_env": {"env_vars": worker.thread_environment(threads)}}
        self.prepare_task = ray.remote(worker.prepare_shared).options(num_returns=2, **remote)
        self.run_task = ray.remote(worker.run_job).options(retry_exceptions=True, **remote)
        self.board = worker.progress_board(ray)
        self.retries = retries
        self.pending = deque(_grouped(jobs))
        self.left: dict[Any, int] = {}
        for job in jobs:
            self.left[self._share_key(job)] = self.left.get(self._share_key(job), 0) + 1
        self.shared: dict[Any, tuple[Any, Any]] = {}
        self.running: dict[Any, tuple[JobSpec, float]] = {}

    @staticmethod
    def _share_key(job: JobSpec) -> Any:
        share = KINDS[job.kind].share(job.request, job.inputs)
        return None if share is None else (job.kind, share[0])

    def run(self) -> None:
        try:
            while self.pending or self.running:
                self._fill()
                done, _ = self.ray.wait(list(self.running), num_returns=1, timeout=0.5)
                for ref in done:
                    self._finish(ref)
                if self.bar.enabled:
                    self.bar.show(self.outcomes.values(), running=len(self.running), frames=self._frames())
        except BaseException:
            self._cancel()
            raise

    def _fill(self) -> None:
        while self.pending and len(self.running) < self.slots:
            job = self.pending.popleft()
            error_ref, shared_ref = self._shared_refs(job)
            ref = self.run_task.remote(job, self.outdir, error_ref, shared_ref, self.threads, self.board)
            self.running[ref] = (job, time.perf_counter())
        self.bar.show(self.outcomes.values(), running=len(self.running))

    def _shared_refs(self, job: JobSpec) -> tuple[Any, Any]:
        key = self._share_key(job)
        if key is None:
            return None, None
        if key not in self.shared:
            column = KINDS[job.kind].share(job.request, job.inputs)[1]
            self.shared[key] = self.prepare_task.remote(job.kind, job.inputs[column], job.request, self.threads)
        return self.shared[key]

    def _finish(self, ref: Any) -> None:
        job, submitted = self.running.pop(ref)
        try:
            outcome = self.ray.get(ref)
        except self.ray.exceptions.RayError as error:
            outcome = JobOutcome(row=job.row, kind=job.kind, status="failed", output=str(self.outdir / job.output),
                                 seconds=time.perf_counter() - submitted,
                                 error=_infrastructure_error(job, error, self.retries))
        self.outcomes[job.row] = outcome
        self.board.forget.remote(str(job.row))
        key = self._share_key(job)
        self.left[key] -= 1
        if self.left[key] == 0:
            self.shared.pop(key, None)  # the last job of this portrait: free it in the object store
        self.bar.show(self.outcomes.values(), running=len(self.running), advance=1)

    def _frames(self) -> tuple[int, int] | None:
        """(frames done, frames in all) of the running jobs, as their workers last reported."""
        try:
            frames = self.ray.get(self.board.frames.remote(), timeout=5)
        except (self.ray.exceptions.RayError, TimeoutError):
            return None
        running = [frames[key] for key in (str(job.row) for job, _ in self.running.values()) if key in frames]
        return (sum(done for done, _ in running), sum(total for _, total in running)) if running else None

    def _cancel(self) -> None:
        """Stop every running job: politely first (its writer deletes its temporary file), then by force."""
        refs = list(self.running)
        for ref in refs:
            self.ray.cancel(ref)
        done, rest = self.ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S) if refs else ([], [])
        for ref in rest:
            self.ray.cancel(ref, force=True)
        for ref in done:
            try:
                outcome = self.ray.get(ref, timeout=1)
            except self.ray.exceptions.RayError:
                continue
            if isinstance(outcome, JobOutcome) and outcome.status == "ok":
                self.outcomes[outcome.row] = outcome
        if rest:
            self.ray.wait(rest, num_returns=len(rest), timeout=CANCEL_GRACE_S)


def _grouped(jobs: Sequence[JobSpec]) -> list[JobSpec]:
    """Jobs in manifest order, except that jobs sharing a prepared input run together (so it is freed early)."""
    order: dict[Any, int] = {}
    for job in jobs:
        order.setdefault(_Schedule._share_key(job) or ("row", job.row), len(order))
    return sorted(jobs, key=lambda job: (order[_Schedule._share_key(job) or ("row", job.row)], job.row))


def _infrastructure_error(job: JobSpec, error: BaseException, retries: int) -> str:
    """What to report for a job Ray gave up on: its output and inputs, the attempts, what went wrong."""
    cause = getattr(error, "cause", None) or error
    lines = str(cause).strip().splitlines()
    inputs = ", ".join(f"{column} {path}" for column, path in job.inputs.items())
    return (f"{job.output} ({inputs}): gave up after {retries + 1} attempt(s): "
            f"{type(cause).__name__}: {lines[0] if lines else 'no message'}")


class _ProgressBar:
    """tqdm over jobs with a live summary (ok / failed / skipped / running, frames of the running jobs)
    on stderr; inert when disabled."""

    def __init__(self, total: int, settled: Any, *, enabled: bool) -> None:
        self._bar, self._shown = None, ""
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=len(list(settled)), unit="job", desc="batch", file=sys.stderr,
                             dynamic_ncols=True)

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def show(self, outcomes: Any, *, running: int, advance: int = 0, frames: tuple[int, int] | None = None) -> None:
        if self._bar is None:
            return
        counts = count(outcomes)
        line = f"ok {counts['ok']}, failed {counts['failed']}, skipped {counts['skipped']}, running {running}"
        if frames is not None and running:
            line += f" (frames {frames[0]}/{frames[1]})"
        if line != self._shown or advance:
            self._shown = line
            self._bar.set_postfix_str(line, refresh=False)
            self._bar.update(advance)
            self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

