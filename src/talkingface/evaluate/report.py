"""The evaluation report: one figure (PNG), or an HTML page with that figure and the numbers.

Drawn with matplotlib's object API on an Agg canvas (no pyplot, no global state, no display):
mouth opening of the video vs the real speaker vs the loudness envelope over time, head pose curves,
a blink raster, and a strip of face crops.
"""

from __future__ import annotations

import base64
import html
import io
import os
from pathlib import Path

import cv2
import numpy as np

from talkingface.evaluate import metrics as m
from talkingface.evaluate.run import Evaluation
from talkingface.evaluate.tracking import FaceSample, TrackedVideo

PathLike = str | os.PathLike[str]
REPORT_SUFFIXES = (".png", ".html")
STRIP_HEIGHT = 128  # px, height of each face crop in the strip
STRIP_FRAMES = 8

_VIDEO, _REAL, _LOUD = "#1f77b4", "#d62728", "#7f7f7f"


def render_png(evaluation: Evaluation, *, dpi: int = 100) -> bytes:
    """The report figure as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(12, 11), dpi=dpi, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(4, 1, height_ratios=[2.2, 2.0, 0.9, 2.2])
    ax_mouth = figure.add_subplot(grid[0])
    ax_pose = figure.add_subplot(grid[1], sharex=ax_mouth)
    ax_blink = figure.add_subplot(grid[2], sharex=ax_mouth)
    ax_strip = figure.add_subplot(grid[3])
    _mouth_panel(ax_mouth, evaluation)
    _pose_panel(ax_pose, evaluation)
    _blink_panel(ax_blink, evaluation)
    _strip_panel(ax_strip, evaluation)
    figure.suptitle(_title(evaluation), fontsize=11)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def write_report(evaluation: Evaluation, path: PathLike) -> Path:
    """Write the report to ``path`` (.png: the figure; .html: figure + metrics), atomically."""
    from talkingface.media import atomic_output, check_output_path

    target = check_output_path(path, suffixes=REPORT_SUFFIXES)
    png = render_png(evaluation)
    data = png if target.suffix.lower() == ".png" else render_html(evaluation, png).encode("utf-8")
    with atomic_output(target) as temporary:
        Path(temporary).write_bytes(data)
    return target


def render_html(evaluation: Evaluation, png: bytes | None = None) -> str:
    """A self-contained HTML page: the figure (inline PNG), a table of the main numbers, the JSON."""
    png = render_png(evaluation) if png is None else png
    rows = "".join(f"<tr><th>{html.escape(name)}</th><td>{html.escape(value)}</td></tr>"
                   for name, value in _summary_rows(evaluation))
    image = base64.b64encode(png).decode("ascii")
    return ("<!doctype html><html><head><meta charset='utf-8'><title>talkingface evaluation</title>"
            "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:2em}"
            "pre{background:#f4f4f4;padding:1em}</style></head><body>"
            "<h1>talkingface evaluation</h1>"
            f"<table>{rows}</table><p><img alt='report' src='data:image/png;base64,{image}' "
            "style='max-width:100%'></p><h2>JSON</h2>"
            f"<pre>{html.escape(evaluation.result.to_json())}</pre>"
            "<p>Definitions: docs/EVALUATION.md</p></body></html>")


# ------------------------------------------------------------------------------ panels


def _fmt(value: float | None, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None or not np.isfinite(value) else pattern.format(value)


def _summary_rows(evaluation: Evaluation) -> list[tuple[str, str]]:
    r = evaluation.result
    rows: list[tuple[str, str]] = []
    for label, metrics in (("video", r.video), ("real", r.reference)):
        if metrics is None:
            continue
        rows += [(f"{label}: file", metrics.path),
                 (f"{label}: blinks/min", _fmt(metrics.blink_rate_per_min, "{:.1f}")),
                 (f"{label}: pose std yaw/pitch/roll (deg)",
                  "/".join(_fmt(v, "{:.2f}") for v in (metrics.pose_std_deg.yaw, metrics.pose_std_deg.pitch,
                                                        metrics.pose_std_deg.roll))),
                 (f"{label}: rotation (deg/frame)", _fmt(metrics.rotation_deg_per_frame)),
                 (f"{label}: jitter (% IOD)", _fmt(metrics.jitter_pct_iod)),
                 (f"{label}: face detect rate", _fmt(metrics.face_detect_rate))]
        if metrics.av_offset is not None:
            rows.append((f"{label}: A/V offset (ms, r)",
                         f"{metrics.av_offset.lag_ms:+.0f} ms, r={_fmt(metrics.av_offset.peak_correlation)}"))
    for label, sync in (("lip-sync vs real", r.lip_sync), ("loudness baseline vs real", r.baseline)):
        if sync is not None:
            rows.append((label, f"r={_fmt(sync.correlation)} (best {_fmt(sync.best_correlation)} at "
                                f"{sync.best_lag_ms:+.0f} ms), M-LMD {_fmt(sync.mlmd_pct_iod, '{:.2f}')} % IOD"))
    if r.identity is not None:
        rows.append(("identity distance (mean / worst)",
                     f"{_fmt(r.identity.mean_distance)} / {_fmt(r.identity.worst_distance)} "
                     f"(same person below {r.identity.threshold})"))
    if r.speed is not None:
        rows.append(("speed", f"{r.speed.fps:.1f} fps, real-time factor {r.speed.real_time_factor:.2f}"))
    rows += [("note", note) for note in r.notes]
    return rows


def _title(evaluation: Evaluation) -> str:
    r = evaluation.result
    parts = []
    if r.lip_sync is not None:
        parts.append(f"lip-sync r={_fmt(r.lip_sync.correlation, '{:.2f}')}")
    if r.baseline is not None:
        parts.append(f"loudness baseline r={_fmt(r.baseline.correlation, '{:.2f}')}")
    if r.identity is not None:
        parts.append(f"identity {_fmt(r.identity.mean_distance, '{:.2f}')}")
    if r.video is not None and r.video.av_offset is not None:
        parts.append(f"A/V offset {r.video.av_offset.lag_ms:+.0f} ms")
    return "talkingface evaluation" + (": " + ", ".join(parts) if parts else "")


def _tracks(evaluation: Evaluation) -> list[tuple[str, str, TrackedVideo]]:
    out = []
    if evaluation.video is not None:
        out.append(("video", _VIDEO, evaluation.video))
    if evaluation.reference is not None:
        out.append(("real", _REAL, evaluation.reference))
    return out


def _mouth_panel(ax, evaluation: Evaluation) -> None:
    for label, colour, tracked in _tracks(evaluation):
        track = tracked.track
        ax.plot(track.times, m.mouth_opening(track.points), color=colour, lw=1.3, label=f"mouth opening, {label}")
    ax.set_ylabel("opening (IOD)")
    if evaluation.envelope is not None:
        times, envelope = evaluation.envelope
        twin = ax.twinx()
        twin.fill_between(times, envelope, color=_LOUD, alpha=0.25, lw=0, label="loudness envelope")
        twin.set_ylim(0, 1.05)
        twin.set_ylabel("loudness (0-1)")
        twin.legend(loc="upper right", fontsize=8)
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title("mouth opening (inner-lip gap / inter-ocular distance) and loudness", fontsize=10)
    ax.grid(alpha=0.3)


def _pose_panel(ax, evaluation: Evaluation) -> None:
    styles = {"video": "-", "real": "--"}
    colours = {"yaw": "#2ca02c", "pitch": "#9467bd", "roll": "#ff7f0e"}
    for label, _, tracked in _tracks(evaluation):
        angles = m.head_pose(tracked.track.points).angles
        for k, name in enumerate(("yaw", "pitch", "roll")):
            ax.plot(tracked.track.times, angles[:, k], styles[label], color=colours[name], lw=1.1,
                    label=f"{name}, {label}")
    ax.set_ylabel("degrees")
    ax.set_title("head pose relative to the clip's mean (solid: video, dashed: real)", fontsize=10)
    ax.legend(loc="upper left", fontsize=7, ncol=6)
    ax.grid(alpha=0.3)


def _blink_panel(ax, evaluation: Evaluation) -> None:
    names = []
    for row, (label, colour, tracked) in enumerate(_tracks(evaluation)):
        track = tracked.track
        blinks = m.detect_blinks(track.times, m.eye_aspect_ratio(track.points))
        ax.broken_barh([(b.start_s, max(b.end_s - b.start_s, 0.02)) for b in blinks], (row + 0.1, 0.8),
                       color=colour)
        missing = track.times[~track.detected]
        if missing.size:
            ax.plot(missing, np.full(missing.size, row + 0.5), "x", color="black", ms=3)
        names.append(f"{label} ({len(blinks)})")
    ax.set_yticks(np.arange(len(names)) + 0.5, names)
    ax.set_ylim(0, max(len(names), 1))
    ax.set_xlabel("time (s)")
    ax.set_title("blinks (x: no face found)", fontsize=10)


def _strip(samples: tuple[FaceSample, ...], count: int) -> np.ndarray | None:
    if not samples:
        return None
    picks = [samples[i] for i in np.unique(np.linspace(0, len(samples) - 1, count).round().astype(int))]
    tiles = [cv2.resize(s.image, (max(1, round(s.image.shape[1] * STRIP_HEIGHT / s.image.shape[0])),
                                  STRIP_HEIGHT), interpolation=cv2.INTER_AREA) for s in picks]
    return np.concatenate(tiles, axis=1)


def _strip_panel(ax, evaluation: Evaluation) -> None:
    rows = [strip for _, _, tracked in _tracks(evaluation)
            if (strip := _strip(tracked.samples, STRIP_FRAMES)) is not None]
    ax.axis("off")
    if not rows:
        ax.set_title("no face crops", fontsize=10)
        return
    width = max(row.shape[1] for row in rows)
    padded = [np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255) for row in rows]
    ax.imshow(np.concatenate(padded, axis=0))
    labels = " / ".join(label for label, _, tracked in _tracks(evaluation) if tracked.samples)
    ax.set_title(f"sampled frames ({labels}, top to bottom)", fontsize=10)

