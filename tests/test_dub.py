"""Visual dubbing on talking videos rendered here: the speaker of a video is re-lipped to new speech.

The source video is the example portrait performing a known motion (a nodding head whose jaw opens
and closes); the new speech is silence, then speech-like sound, then silence. The dub is re-tracked
with the evaluation tracker and compared with the source.
"""

from __future__ import annotations

import numpy as np
import pytest

from talkingface.cli import main
from talkingface.dub import DubOptions, dub_video
from talkingface.dub.lengths import output_timeline, replay_order
from talkingface.dub.lowerface import LowerFaceWarp, MouthInterior, mouth_parameters
from talkingface.errors import NoFaceError, OptionError, OutputPathError
from talkingface.evaluate.metrics import mouth_opening
from talkingface.evaluate.tracking import following_detector, track_video
from talkingface.media import iter_video_frames, probe_video
from talkingface.motion.params import PARAMETER_INDEX, PARAMETERS, Motion
from talkingface.render.mouth import mouth_palette
from talkingface.render.rig import build_rig
from tests.synthetic import speech_like, write_rendered_video, write_wav

FPS = 25.0
SECONDS = 4.0
SIZE = 256
SPEECH = (1.2, 2.8)  # the new speech's span, s; silence around it


def _performance(seconds: float = SECONDS) -> Motion:
    """A nodding head that talks all the time (the jaw opens and closes 2.5 times a second)."""
    times = np.arange(int(seconds * FPS)) / FPS
    values = np.zeros((len(times), len(PARAMETERS)), np.float32)
    values[:, PARAMETER_INDEX["headPitch"]] = 7 * np.sin(2 * np.pi * times / 1.6)
    values[:, PARAMETER_INDEX["jawOpen"]] = 0.6 * np.clip(np.sin(2 * np.pi * times / 0.4), 0, None)
    return Motion(fps=FPS, values=values)


def _new_speech(seconds: float = SECONDS) -> np.ndarray:
    samples = np.zeros(int(seconds * 16000), np.float32)
    a, b = (int(t * 16000) for t in SPEECH)
    voice = speech_like(SPEECH[1] - SPEECH[0] + 0.01, seed=4)
    samples[a:b] = voice[:b - a]
    return samples


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("dub")


@pytest.fixture(scope="module")
def talking_video(avatar, folder):
    return write_rendered_video(folder / "talking.mp4", avatar, _performance(), size=SIZE,
                                audio=speech_like(SECONDS, seed=1))


@pytest.fixture(scope="module")
def speech(folder):
    return write_wav(folder / "speech.wav", _new_speech())


@pytest.fixture(scope="module")
def dubbed(talking_video, speech, folder):
    output = folder / "dubbed.mp4"
    # the default crf: the source is itself a crf-20 encode of a detailed 256 px texture, the hardest
    # case for a re-encode (at crf 14 it measured 44.8 dB)
    result = dub_video(talking_video, speech, output, DubOptions(phonetic=False))
    return result, output


@pytest.fixture(scope="module")
def tracks(talking_video, dubbed):
    with following_detector() as detect:
        source = track_video(talking_video, detect=detect).track
    with following_detector() as detect:
        ours = track_video(dubbed[1], detect=detect).track
    return source, ours


def test_dub_keeps_frame_count_rate_and_size(dubbed):
    result, output = dubbed
    info = probe_video(output)
    assert (info.width, info.height) == (SIZE, SIZE)
    assert info.fps == pytest.approx(FPS, rel=0.01)
    assert info.frame_count == result.frames == int(SECONDS * FPS)
    assert result.frames_dubbed == result.frames and result.no_face == ()
    assert info.has_audio and info.audio_duration_s == pytest.approx(SECONDS, abs=0.1)


def test_pixels_outside_the_lower_face_are_kept(talking_video, dubbed, tracks):
    """Above the nose the dub is the source video re-encoded, its samples never converted: luma PSNR
    >= 45 dB in every frame."""
    source_points = tracks[0].points
    worst = np.inf
    frames = zip(iter_video_frames(talking_video, i420=True), iter_video_frames(dubbed[1], i420=True))
    for k, ((_, a), (_, b)) in enumerate(frames):
        nose_y = int(np.nanmin(source_points[k, [1, 4, 5, 195], 1])) - 4
        mse = max(np.mean((a[:nose_y].astype(np.float64) - b[:nose_y]) ** 2), 1e-10)
        worst = min(worst, 10 * np.log10(255.0 ** 2 / mse))
    assert worst >= 45.0


def test_mouth_follows_the_new_speech(tracks):
    """The dubbed mouth closes in the new silence (although the source talks all along) and opens in
    the new speech; the head keeps nodding as in the source."""
    source, ours = tracks
    opening_source, opening = mouth_opening(source.points), mouth_opening(ours.points)
    times = ours.times
    silence = (times < SPEECH[0] - 0.3) | (times > SPEECH[1] + 0.4)
    talking = (times > SPEECH[0] + 0.1) & (times < SPEECH[1] - 0.1)
    assert np.nanmean(opening[silence]) < 0.4 * np.nanmean(opening_source[silence])
    assert np.nanmedian(opening[silence]) < 0.03  # closed lips read about 0.016 here
    assert np.nanmax(opening[talking]) > 0.08
    assert np.nanmean(opening[talking]) > 2.0 * np.nanmean(opening[silence])
    nod_source = source.points[:, 152, 1] - source.points[:, 6, 1]  # chin below the nose bridge
    head_source, head = source.points[:, 6, 1], ours.points[:, 6, 1]
    assert np.corrcoef(head_source, head)[0, 1] > 0.98
    assert np.isfinite(nod_source).all()


def test_emotion_shows_on_the_mouth(talking_video, speech, folder, dubbed, tracks):
    """--emotion happy widens the dubbed mouth's corners (a smile on top of the new speech)."""
    from talkingface.motion.controls import Controls

    output = folder / "happy.mp4"
    dub_video(talking_video, speech, output,
              DubOptions(phonetic=False, controls=Controls(emotion="happy", emotion_intensity=1.0)))
    with following_detector() as detect:
        happy = track_video(output, detect=detect).track

    def width(points):
        return np.nanmean(np.linalg.norm(points[:, 291, :2] - points[:, 61, :2], axis=1)
                          / np.linalg.norm(points[:, 263, :2] - points[:, 33, :2], axis=1))

    assert width(happy.points) > width(tracks[1].points) + 0.03


def test_cli_articulation_zero_closes_the_mouth_the_source_opens(talking_video, speech, folder, tracks, capsys):
    """`talkingface dub --articulation 0 --transcript ...`: the new mouth stays at rest, and little of
    the source's talking mouth shows through."""
    output = folder / "still.mp4"
    assert main(["dub", str(talking_video), str(speech), "-o", str(output), "--articulation", "0",
                 "--transcript", "hello there", "--face", "1"]) == 0
    summary = capsys.readouterr().err
    assert '"frames_dubbed": 100' in summary  # (the words do not align to this synthetic voice)
    with following_detector() as detect:
        still = track_video(output, detect=detect).track
    source = mouth_opening(tracks[0].points)
    assert np.nanstd(mouth_opening(still.points)) < 0.3 * np.nanstd(source)


def test_warp_changes_nothing_when_the_mouth_stays(avatar):
    """A frame re-lipped to its own mouth is bit-identical; to another mouth, only the lower face changes."""
    image = avatar.image.copy()
    points = avatar.landmarks.points
    rig = build_rig(points, image.shape[1], image.shape[0])
    warp = LowerFaceWarp(rig, MouthInterior(mouth_palette(image, points), None, np.array([150.0, 80, 80])))
    params = np.zeros(len(PARAMETERS), np.float32)
    same = image.copy()
    warp.apply(same, points, params, params)
    assert np.array_equal(same, image)
    opened = image.copy()
    rest = np.zeros(17, np.float32)
    new = mouth_parameters(params, np.eye(17, dtype=np.float32)[0] * 0.6, rest)  # jawOpen 0.6
    assert new[PARAMETER_INDEX["jawOpen"]] == pytest.approx(0.6)
    assert warp.apply(opened, points, params, new)
    changed = np.flatnonzero(np.any(opened != image, axis=2).any(axis=1))
    eyes = points[[145, 374], 1].max()  # the lower lids
    assert changed.size and changed.min() > eyes, (changed.min(), eyes)  # nothing changes above the eyes


def test_replay_orders():
    assert replay_order(4, 10, "loop").tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    assert replay_order(4, 10, "pingpong").tolist() == [0, 1, 2, 3, 2, 1, 0, 1, 2, 3]
    assert replay_order(4, 6, "hold").tolist() == [0, 1, 2, 3, 3, 3]
    times = np.arange(10) / 25.0
    cut = output_timeline(times, 0.2, 25.0, extend="pingpong", keep_length=False)
    assert cut.frames == 5 and cut.end_s == pytest.approx(0.2)
    kept = output_timeline(times, 0.2, 25.0, extend="pingpong", keep_length=True)
    assert kept.frames == 10 and kept.end_s == pytest.approx(0.4)
    longer = output_timeline(times, 0.6, 25.0, extend="loop", keep_length=False)
    assert longer.frames == 15 and np.allclose(np.diff(longer.times), 0.04)


def _numbered_video(path, avatar, seconds: float):
    """A rendered talking video whose frame k carries the grey level 8 k in its top-left corner."""
    from talkingface.media import VideoWriter
    from talkingface.render.renderer import Renderer, RenderOptions

    renderer = Renderer(avatar, RenderOptions(size=160))
    with VideoWriter(path, fps=FPS, width=160, height=160) as writer:
        for k, frame in enumerate(renderer.frames(_performance(seconds))):
            frame[:16, :16] = 8 * k
            writer.write(frame)
    return path


@pytest.mark.parametrize("extend", ["pingpong", "loop", "hold"])
def test_speech_longer_than_the_video_extends_it(avatar, folder, extend):
    video = _numbered_video(folder / f"short-{extend}.mp4", avatar, 1.0)
    speech = write_wav(folder / f"long-{extend}.wav", speech_like(2.0, seed=2))
    output = folder / f"extended-{extend}.mp4"
    result = dub_video(video, speech, output, DubOptions(phonetic=False, extend=extend))
    assert result.frames == probe_video(output).frame_count == 50
    shown = [int(round(frame[4:12, 4:12].mean() / 8)) for _, frame in iter_video_frames(output)]
    assert shown == replay_order(25, 50, extend).tolist()


def test_variable_frame_rate_keeps_its_timestamps(avatar, folder):
    from talkingface.media import VideoWriter
    from talkingface.render.renderer import Renderer, RenderOptions

    renderer = Renderer(avatar, RenderOptions(size=160))
    steps = np.tile([0.03, 0.05, 0.04, 0.07], 10)
    times = np.concatenate([[0.0], np.cumsum(steps)])[:40]
    path = folder / "vfr.mp4"
    with VideoWriter(path, fps=22, width=160, height=160, variable_rate=True) as writer:
        for t, frame in zip(times, renderer.frames(_performance(1.6))):
            writer.write(frame, float(t))
    speech = write_wav(folder / "vfr.wav", speech_like(1.0, seed=10))
    result = dub_video(path, speech, folder / "vfr-dubbed.mp4", DubOptions(phonetic=False))
    shown = np.array([t for t, _ in iter_video_frames(folder / "vfr-dubbed.mp4")])
    assert result.frames == int(np.sum(times < 1.0)) == len(shown)
    assert np.allclose(shown, times[:len(shown)], atol=1e-4)


def test_i420_region_edit_touches_only_the_changed_pixels():
    from talkingface.media import BT709, YCbCr
    from talkingface.media.colour import (
        i420_region_to_rgb,
        paste_rgb_into_i420,
        rgb_to_i420,
    )

    rng = np.random.default_rng(0)
    for colour in (BT709, YCbCr(colorspace=2, color_range=2)):
        frame = rgb_to_i420(rng.integers(0, 256, (64, 96, 3), dtype=np.uint8), colour)
        before = frame.copy()
        box = (20, 10, 60, 50)
        rgb = i420_region_to_rgb(frame, box, colour)
        changed = np.zeros(rgb.shape[:2], np.uint8)
        changed[10:20, 8:16] = 1
        rgb[10:20, 8:16] = (250, 10, 10)
        paste_rgb_into_i420(frame, box, rgb, changed, colour)
        luma = np.flatnonzero((frame[:64] != before[:64]).any(axis=1))
        assert luma.min() >= 20 and luma.max() < 30  # rows 10..19 of the box
        back = i420_region_to_rgb(frame, box, colour)[12:18, 10:14].astype(int)
        assert np.abs(back - (250, 10, 10)).max() < 40 and back[..., 0].min() > 200


def test_speech_shorter_than_the_video_cuts_it_or_keeps_length(talking_video, folder):
    speech = write_wav(folder / "short.wav", speech_like(1.0, seed=3))
    cut = dub_video(talking_video, speech, folder / "cut.mp4", DubOptions(phonetic=False))
    assert cut.frames == probe_video(folder / "cut.mp4").frame_count == 25
    kept = dub_video(talking_video, speech, folder / "kept.mp4", DubOptions(phonetic=False, keep_length=True))
    info = probe_video(folder / "kept.mp4")
    assert kept.frames == info.frame_count == int(SECONDS * FPS)
    assert info.audio_duration_s == pytest.approx(SECONDS, abs=0.1)


def test_mix_keeps_the_original_bed_but_not_its_voice(avatar, folder):
    """--mix: the video's own soundtrack comes through where its speaker is silent, not over its voice."""
    from talkingface.audio import load_audio

    rate = 16000
    t = np.arange(3 * rate) / rate
    original = (0.05 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)  # a steady 1 kHz bed
    original[rate:2 * rate] += 4 * speech_like(1.0, seed=8)  # the original speaker talks 1-2 s
    video = write_rendered_video(folder / "bed.mp4", avatar, _performance(3.0), size=160, audio=original)
    brief = write_wav(folder / "brief-line.wav", speech_like(0.4, seed=9))  # then silence: keep_length
    dub_video(video, brief, folder / "bed-dubbed.mp4", DubOptions(phonetic=False, mix=1.0, keep_length=True))
    mixed = load_audio(folder / "bed-dubbed.mp4").samples
    quiet_part, voice_part = mixed[int(0.5 * rate):int(0.8 * rate)], mixed[int(1.3 * rate):int(1.7 * rate)]
    assert 0.02 < np.sqrt(np.mean(quiet_part ** 2)) < 0.06  # the bed, at its level
    voice_before = original[int(1.3 * rate):int(1.7 * rate)]
    assert np.sqrt(np.mean(voice_part ** 2)) < 0.1 * np.sqrt(np.mean(voice_before ** 2))  # old voice ducked out


def test_long_video_short_speech_reads_only_what_it_needs(talking_video, folder):
    """Only the part of the video the dub shows is decoded and tracked (a 2-hour video with a 1 s
    line costs 1 s of video), and progress is reported as one rising count."""
    speech = write_wav(folder / "brief.wav", speech_like(0.6, seed=5))
    seen = []
    dub_video(talking_video, speech, folder / "brief.mp4", DubOptions(phonetic=False),
              progress=lambda done, total: seen.append((done, total)))
    assert len({total for _, total in seen}) == 1
    assert [d for d, _ in seen] == sorted(d for d, _ in seen) and seen[-1][0] == seen[-1][1]
    assert probe_video(folder / "brief.mp4").frame_count == 15


# ---------------------------------------------------------------------------------- bad input


def test_face_in_part_of_the_video_is_dubbed_there_only(avatar, folder):
    video = write_rendered_video(folder / "partly.mp4", avatar, _performance(2.0), size=160, blank=slice(20, 35))
    speech = write_wav(folder / "partly.wav", speech_like(2.0, seed=6))
    result = dub_video(video, speech, folder / "partly-dubbed.mp4", DubOptions(phonetic=False))
    assert result.frames == 50 and result.frames_dubbed == 35
    (start, end), = result.no_face
    assert start == pytest.approx(0.8, abs=0.05) and end == pytest.approx(1.4, abs=0.05)
    frames = [f for _, f in iter_video_frames(folder / "partly-dubbed.mp4")]
    assert np.abs(frames[25].astype(int) - 128).max() <= 3  # the grey frame passes through


@pytest.fixture(scope="module")
def cut_video(avatar, folder):
    """A talking face that jumps across the frame at a scene cut (frame 20): (path, frames)."""
    from talkingface.media import VideoWriter
    from talkingface.render.renderer import Renderer, RenderOptions

    path = folder / "cut.mp4"
    renderer = Renderer(avatar, RenderOptions(size=192))
    canvas = np.full((192, 480, 3), 60, np.uint8)
    frames = []
    for k, frame in enumerate(renderer.frames(_performance(1.6))):
        shot = canvas.copy()
        x = 0 if k < 20 else 288  # the cut: the speaker jumps 1.5 frame heights to the right
        shot[:, x:x + 192] = frame
        frames.append(shot)
    with VideoWriter(path, fps=FPS, width=480, height=192) as writer:
        for shot in frames:
            writer.write(shot)
    return path, frames


def test_the_face_is_followed_across_a_cut_by_identity(cut_video, folder):
    """A scene cut moves the speaker across the frame: found again by identity (dlib embedding), not
    lost; without identity the tracker would have lost it (it only looks near the last position)."""
    pytest.importorskip("dlib")
    from talkingface.mocap.tracker import FaceTracker

    path, frames = cut_video
    with FaceTracker(by_identity=False) as tracker:
        lost = [tracker.step(k / FPS, shot).points is None for k, shot in enumerate(frames)]
    assert not any(lost[:20]) and all(lost[25:])
    speech = write_wav(folder / "cut.wav", speech_like(1.6, seed=7))
    result = dub_video(path, speech, folder / "cut-dubbed.mp4", DubOptions(phonetic=False))
    assert result.frames_dubbed >= 36 and sum(b - a for a, b in result.no_face) <= 0.2


def test_without_dlib_the_only_face_after_a_cut_is_the_speaker(cut_video, folder, monkeypatch):
    """The same cut without an embedding: in a video that began with one person, the only face in view
    is taken (the face's shape picks among several, see the next test)."""
    from talkingface.mocap import tracker

    monkeypatch.setattr(tracker, "_identity_embedder", lambda: None)
    speech = write_wav(folder / "cut-nodlib.wav", speech_like(1.6, seed=7))
    path, _ = cut_video
    result = dub_video(path, speech, folder / "cut-nodlib.mp4", DubOptions(phonetic=False))
    assert result.frames_dubbed >= 36 and sum(b - a for a, b in result.no_face) <= 0.2


def test_face_shape_tells_a_face_from_another_in_any_pose(avatar):
    from talkingface.mocap.tracker import _pick_same_shape, shape_distance

    face = avatar.landmarks.points.astype(np.float64)
    angle = np.radians(20)
    turn = np.array([[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]])
    moved = (face - face.mean(axis=0)) @ turn.T * 0.6 + [300, 40, 0]  # turned, smaller, elsewhere
    other = face.copy()
    centre = face[[33, 133, 362, 263]].mean(axis=0)
    other[[33, 133, 362, 263]] = centre + 1.25 * (face[[33, 133, 362, 263]] - centre)  # eyes set wider
    other[234], other[454] = face[234] + [-8, 0, 0], face[454] + [8, 0, 0]  # a broader face
    assert shape_distance(face, moved) < 1e-6
    assert shape_distance(face, other) > 0.05
    assert _pick_same_shape(face, [other, moved], alone=False) is moved
    assert _pick_same_shape(face, [moved, moved + 1.0], alone=False) is None  # two alike: no guess
    assert _pick_same_shape(face, [other], alone=True) is other  # the only face of a one-person video
    assert _pick_same_shape(face, [other], alone=False) is None


def test_face_picks_whom_to_dub_and_the_other_person_is_untouched(avatar, folder):
    """Two people: --face 2 (face=1) dubs the smaller one; the larger one's pixels stay the source's."""
    from talkingface.media import VideoWriter
    from talkingface.render.renderer import Renderer, RenderOptions

    large, small = Renderer(avatar, RenderOptions(size=224)), Renderer(avatar, RenderOptions(size=160))
    path = folder / "two.mp4"
    performance = _performance(1.2)
    with VideoWriter(path, fps=FPS, width=416, height=224) as writer:
        for a, b in zip(large.frames(performance), small.frames(performance)):
            shot = np.full((224, 416, 3), 70, np.uint8)
            shot[:, :224], shot[32:192, 240:400] = a, b
            writer.write(shot)
    speech = write_wav(folder / "two.wav", speech_like(1.2, seed=11))
    output = folder / "two-dubbed.mp4"
    result = dub_video(path, speech, output, DubOptions(phonetic=False, face=1))
    assert result.faces_at_start == 2 and result.frames_dubbed == 30
    assert any("2 faces" in note for note in result.notes)
    source = [f for _, f in iter_video_frames(path, i420=True)]
    dubbed = [f for _, f in iter_video_frames(output, i420=True)]
    left = [np.abs(a[:224, :224].astype(int) - b[:224, :224]).mean() for a, b in zip(source, dubbed)]
    right = [np.abs(a[32:192, 240:400].astype(int) - b[32:192, 240:400]).max() for a, b in zip(source, dubbed)]
    assert max(left) < 1.0  # re-encoding only
    assert max(right) > 40  # the smaller face's mouth changed


def test_no_face_anywhere_is_an_error_and_writes_nothing(avatar, folder):
    video = write_rendered_video(folder / "noface.mp4", avatar, _performance(1.0), size=128, blank=slice(0, None))
    speech = write_wav(folder / "noface.wav", speech_like(1.0))
    output = folder / "noface-dubbed.mp4"
    with pytest.raises(NoFaceError, match="noface.mp4"):
        dub_video(video, speech, output, DubOptions(phonetic=False))
    assert not output.exists() and not list(folder.glob("noface-dubbed*"))


def test_inputs_without_the_needed_stream(talking_video, speech, folder, capsys):
    # audio without an audio stream: a video with no soundtrack given as the speech
    from talkingface.media import write_video

    mute = folder / "mute.mp4"
    write_video(mute, [np.full((64, 64, 3), 90, np.uint8)] * 10, fps=FPS)
    assert main(["dub", str(talking_video), str(mute), "-o", str(folder / "x.mp4"), "--quiet"]) == 2
    assert "mute.mp4" in capsys.readouterr().err
    # video without a video stream: the speech file given as the video
    assert main(["dub", str(speech), str(speech), "-o", str(folder / "y.mp4"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "speech.wav" in err and "Traceback" not in err
    assert not (folder / "x.mp4").exists() and not (folder / "y.mp4").exists()


def test_output_equal_to_an_input_is_refused(talking_video, speech):
    before = talking_video.read_bytes()
    with pytest.raises(OutputPathError, match="also an input"):
        dub_video(talking_video, speech, talking_video, DubOptions(phonetic=False))
    assert talking_video.read_bytes() == before


def test_options_are_validated():
    with pytest.raises(OptionError, match="extend"):
        DubOptions(extend="bounce")
    with pytest.raises(OptionError, match="mix"):
        DubOptions(mix=2.0)
    with pytest.raises(OptionError, match="face"):
        DubOptions(face=-1)


# ------------------------------------------------------------------------------------- server


def test_server_dub_job(talking_video, speech, tmp_path):
    """POST /api/dub (video + speech) -> a job with progress -> the dubbed MP4; a bad upload is a 400."""
    pytest.importorskip("fastapi")
    pytest.importorskip("multipart")
    import time

    from fastapi.testclient import TestClient

    from talkingface.server import ServerSettings, create_app

    with TestClient(create_app(ServerSettings(data_dir=tmp_path, max_audio_s=30.0)),
                    base_url="http://localhost") as client:
        files = {"video": ("talk.mp4", talking_video.read_bytes(), "video/mp4"),
                 "audio": ("speech.wav", speech.read_bytes(), "audio/wav")}
        response = client.post("/api/dub", files=files, data={"phonetic": "false", "extend": "loop"})
        assert response.status_code == 202, response.text
        job_id = response.json()["id"]
        deadline = time.monotonic() + 60
        while (job := client.get(f"/api/jobs/{job_id}").json())["state"] in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert job["state"] == "done", job
        assert job["options"]["kind"] == "dub" and job["progress"] == 1.0
        video = client.get(f"/api/jobs/{job_id}/video")
        assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
        output = tmp_path / "from-server.mp4"
        output.write_bytes(video.content)
        assert probe_video(output).frame_count == int(SECONDS * FPS)
        bad = client.post("/api/dub", files={"video": ("talk.wav", speech.read_bytes(), "audio/wav"),
                                             "audio": ("speech.wav", speech.read_bytes(), "audio/wav")})
        assert bad.status_code == 400 and "talk.wav" in bad.text
