"""Speed benchmark: prints one JSON object (stage throughput, whole-render fps, preparation time).

Uses the bundled example; also the dev-data 3511 px portrait when ../shared/dev-data is present,
otherwise the example upscaled to 2048 px. Run with `make bench`.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
DEV_DATA = ROOT.parent / "shared" / "dev-data"


def timed(function, *args, repeat: int = 1, **kwargs):
    """(result of the last call, mean seconds per call)."""
    start = time.perf_counter()
    for _ in range(repeat):
        result = function(*args, **kwargs)
    return result, (time.perf_counter() - start) / repeat


def render_fps(renderer, motion, frames: int) -> dict[str, float]:
    """Frames per second of pose+rasterize+warp+mouth over the first `frames` motion frames."""
    count = min(frames, motion.frames)
    for t in range(count):  # warm-up: numba compiles each kernel on its first use (an open mouth, ...)
        renderer.render(motion.values[t])
    def render_all() -> None:  # frames are dropped as they come, as a video writer would
        for t in range(count):
            renderer.render(motion.values[t])

    _, seconds = timed(render_all)
    return {"fps": round(count / seconds, 1), "ms_per_frame": round(1000 * seconds / count, 2)}


def encode_fps(width: int, height: int, frames: int = 100) -> float:
    from talkingface.media import VideoWriter

    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.integers(0, 255, (height, width, 3), dtype=np.uint8), (0, 0), 3)
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        with VideoWriter(Path(folder) / "bench.mp4", fps=25, width=width, height=height) as writer:
            for t in range(frames):
                writer.write(np.roll(image, t, axis=1))
        return round(frames / (time.perf_counter() - start), 1)


def capture_fps(avatar, motion, frames: int = 250) -> dict[str, float]:
    """Motion capture speed on a 512x512 talking video (our own render of the example, 10 s)."""
    from talkingface.media import VideoWriter
    from talkingface.mocap import capture_video
    from talkingface.motion.params import Motion
    from talkingface.render.renderer import Renderer, RenderOptions

    renderer = Renderer(avatar, RenderOptions(size=512))
    clip = Motion(fps=motion.fps, values=motion.values[:frames])
    with tempfile.TemporaryDirectory() as folder:
        video = Path(folder) / "talk.mp4"
        with VideoWriter(video, fps=clip.fps, width=512, height=512) as writer:
            for frame in renderer.frames(clip):
                writer.write(frame)
        result, seconds = timed(capture_video, video)
    return {"frames": result.frames_read, "seconds": round(seconds, 3), "fps": round(result.frames_read / seconds, 1)}


def main() -> None:
    from talkingface.audio import analyse_audio, audio_from_array, load_audio
    from talkingface.face.avatar import analyse_portrait
    from talkingface.media import load_image
    from talkingface.motion.generate import MotionOptions, generate_motion
    from talkingface.pipeline import AnimateOptions, animate
    from talkingface.render.renderer import Renderer, RenderOptions

    report: dict[str, object] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                                             "processor": platform.processor() or platform.machine()}}
    portrait = EXAMPLES / "astronaut.jpg"
    speech = EXAMPLES / "speech.ogg"
    transcript = (EXAMPLES / "speech.txt").read_text()

    analyse_portrait(load_image(portrait))  # warm-up: MediaPipe graph start-up
    avatar, prepare_s = timed(lambda: analyse_portrait(load_image(portrait)), repeat=3)
    sound, decode_s = timed(load_audio, speech)
    # model start-up (Whisper, its encoder weights, Silero, pocketsphinx) once per process, like MediaPipe's
    # above: a 2 s analysis first
    _, warm_up_s = timed(analyse_audio, audio_from_array(sound.samples[:32000], 16000))
    track, analysis_s = timed(analyse_audio, sound, transcript=None)
    _, aligned_s = timed(analyse_audio, sound, transcript=transcript)
    motion, motion_s = timed(generate_motion, track, MotionOptions(fps=25))
    report["audio"] = {"duration_s": round(sound.duration_s, 2), "decode_s": round(decode_s, 3),
                       "warm_up_s": round(warm_up_s, 3),
                       "analysis_s_recognise": round(analysis_s, 3),
                       "realtime_factor_recognise": round(sound.duration_s / analysis_s, 1),
                       "analysis_s_with_transcript": round(aligned_s, 3),
                       "realtime_factor_with_transcript": round(sound.duration_s / aligned_s, 1)}
    report["motion"] = {"frames": motion.frames, "fps": round(motion.frames / motion_s, 1)}
    report["prepare_s_512"] = round(prepare_s, 3)

    renderer, setup_s = timed(Renderer, avatar, RenderOptions(size=512))
    report["render_512"] = {"setup_s": round(setup_s, 3), **render_fps(renderer, motion, 200)}
    report["encode_fps_512"] = encode_fps(512, 512)

    big_path = DEV_DATA / "portraits" / "older_man_3511px.jpg"
    if big_path.is_file():
        big_image, big_name = load_image(big_path), big_path.name
    else:
        big_image, big_name = cv2.resize(load_image(portrait), (2048, 2048), interpolation=cv2.INTER_CUBIC), "astronaut@2048"
    big_avatar, big_prepare_s = timed(analyse_portrait, big_image)
    report["large_portrait"] = {"name": big_name, "size": list(big_image.shape[1::-1]),
                                "prepare_s": round(big_prepare_s, 3)}
    report["large_portrait"]["crop_512"] = render_fps(Renderer(big_avatar, RenderOptions(size=512)), motion, 100)
    for work_size in (512, 640, 1024):
        full = Renderer(big_avatar, RenderOptions(framing="full", work_size=work_size))
        x0, y0, x1, y1 = full._region
        report["large_portrait"][f"full_frame_work_{work_size}"] = {
            "head_region_px": [x1 - x0, y1 - y0], "rendered_at_px": list(full._texture.shape[1::-1]),
            **render_fps(full, motion, 60)}

    report["capture_512"] = capture_fps(avatar, motion)

    with tempfile.TemporaryDirectory() as folder:
        result, whole_s = timed(animate, portrait, speech, Path(folder) / "out.mp4",
                                AnimateOptions(transcript=transcript))
    report["whole_render_512"] = {"frames": result.frames, "seconds": round(whole_s, 3),
                                  "fps": round(result.frames / whole_s, 1),
                                  "realtime_factor": round(result.duration_s / whole_s, 2),
                                  "stages_s": {k: round(v, 3) for k, v in result.timings.items()}}
    json.dump(report, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
