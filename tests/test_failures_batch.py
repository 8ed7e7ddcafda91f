"""Batch manifests: every malformed manifest is refused before anything renders, naming row and column."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from talkingface.batch import manifest as manifest_module
from talkingface.batch.manifest import ManifestError, load_manifest
from talkingface.cli import main
from talkingface.errors import InputNotFoundError, TalkingFaceError


def write(folder: Path, name: str, text: str | bytes) -> Path:
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def refused(path: Path, *expected: str) -> ManifestError:
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    message = str(caught.value)
    assert path.name in message
    for text in expected:
        assert text in message, message
    return caught.value


# ------------------------------------------------------------------------------------- columns

def test_unknown_column_is_named_with_a_suggestion(tmp_path):
    error = refused(write(tmp_path, "jobs.csv", "portrait,audio,sed\np.png,a.wav,1\n"), "'sed'", "did you mean 'seed'")
    assert error.column == "sed" and error.line == 1


def test_column_given_twice_and_empty_column_name(tmp_path):
    refused(write(tmp_path, "twice.csv", "portrait,audio,seed,Seed\np.png,a.wav,1,2\n"), "'seed'", "twice")
    refused(write(tmp_path, "empty.csv", "portrait,,audio\np.png,x,a.wav\n"), "empty column name")


def test_row_without_a_required_input_names_the_column(tmp_path):
    error = refused(write(tmp_path, "jobs.csv", "portrait,audio\np.png,a.wav\np.png,\n"), "row 2", "'audio'")
    assert (error.row, error.line) == (2, 3)


def test_more_values_than_columns(tmp_path):
    refused(write(tmp_path, "jobs.csv", "portrait,audio\np.png,a.wav,extra\n"), "row 1", "3 values", "2 columns")


def test_a_video_column_makes_a_dub_row(tmp_path):
    path = write(tmp_path, "jobs.jsonl", '{"video": "v.mp4", "audio": "a.wav", "extend": "loop", "face": 2}\n')
    (job,) = load_manifest(path)
    assert job.kind == "dub" and str(job.output) == "v-a.mp4"
    assert (job.request.extend, job.request.face) == ("loop", 1)
    mixed = write(tmp_path, "mixed.jsonl", '{"portrait": "p.png", "audio": "a.wav", "video": "v.mp4"}\n')
    error = refused(mixed, "'portrait'", "not an option of dub jobs")
    assert error.row == 1
    refused(write(tmp_path, "silent.jsonl", '{"video": "v.mp4"}\n'), "row 1", "'audio'")
    refused(write(tmp_path, "bad.jsonl", '{"video": "v.mp4", "audio": "a.wav", "extend": "bounce"}\n'), "extend")


def test_driven_rows_need_no_audio_but_need_one_of_them(tmp_path):
    path = write(tmp_path, "jobs.csv", "portrait,audio,drive,regions,drive-strength,face\n"
                                       "p.png,,talk.mp4,\"head,eyes\",0.5,2\n")
    (job,) = load_manifest(path)
    assert set(job.inputs) == {"portrait", "drive"} and str(job.output) == "p-talk.mp4"
    drive = job.request.options.drive
    assert (drive.regions, drive.strength, drive.face) == (("head", "eyes"), 0.5, 1)
    refused(write(tmp_path, "none.csv", "portrait,audio,drive\np.png,,\n"), "row 1", "'audio'", "'drive'")
    refused(write(tmp_path, "region.csv", "portrait,drive,regions\np.png,t.mp4,mouth\n"), "row 1", "mouth")


# ------------------------------------------------------------------------------------- values

@pytest.mark.parametrize("cells, column, text", [
    ("fps=0", "fps", "fps=0.0"),
    ("fps=abc", "fps", "expected a number, got 'abc'"),
    ("fps=nan", "fps", "expected a finite number"),
    ("head-motion=inf", "head-motion", "expected a finite number"),
    ("size=big", "size", "invalid int value"),
    ("full-frame=maybe", "full-frame", "expected true or false"),
    ("emotion=furious", "emotion", "furious"),
    ("gaze=2,0", "gaze", "gaze"),
    ("gaze=left", "gaze", "RIGHT,UP"),
    ("seed=1.5", "seed", "invalid int value"),
])
def test_bad_option_value_names_row_and_column(tmp_path, cells, column, text):
    name, value = cells.split("=")
    path = write(tmp_path, "jobs.csv", f'portrait,audio,output,{name}\np.png,a.wav,1.mp4,\np.png,a.wav,2.mp4,"{value}"\n')
    error = refused(path, f"row 2 (line 3), column '{column}'", text)
    assert (error.row, error.column) == (2, column)


def test_nothing_is_rendered_or_created_for_an_invalid_manifest(tmp_path, capsys):
    path = write(tmp_path, "jobs.csv", "portrait,audio,fps\np.png,a.wav,25\np.png,a.wav,-1\n")
    code = main(["batch", str(path), "-o", str(tmp_path / "out")])
    assert code == 2
    assert "row 2 (line 3), column 'fps'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------- outputs

@pytest.mark.parametrize("output, text", [
    ("../escape.mp4", "inside the output folder"),
    ("/tmp/abs.mp4", "inside the output folder"),
    (".hidden.mp4", "inside the output folder"),
    ("clip.avi", "must end in one of"),
])
def test_output_names_stay_in_the_output_folder(tmp_path, output, text):
    refused(write(tmp_path, "jobs.csv", f"portrait,audio,output\np.png,a.wav,{output}\n"), "'output'", text)


def test_two_rows_with_one_output_are_refused(tmp_path):
    path = write(tmp_path, "jobs.csv", "portrait,audio,seed\np.png,a.wav,1\np.png,a.wav,2\n")
    refused(path, "row 2", "'p-a.mp4' is also the output of row 1")
    path = write(tmp_path, "case.csv", "portrait,audio,output\np.png,a.wav,Clip.mp4\np.png,b.wav,clip.MP4\n")
    refused(path, "row 2", "also the output of row 1")


# ------------------------------------------------------------------------------------- file level

def test_json_lines_that_are_not_flat_objects(tmp_path):
    refused(write(tmp_path, "a.jsonl", '{"portrait": "p.png", "audio": "a.wav"}\n{"portrait": \n'),
            "row 2 (line 2)", "not valid JSON")
    refused(write(tmp_path, "b.jsonl", '["p.png", "a.wav"]\n'), "must be a JSON object")
    refused(write(tmp_path, "c.jsonl", '{"portrait": "p.png", "audio": "a.wav", "seed": {"x": 1}}\n'),
            "column 'seed'", "got dict")
    refused(write(tmp_path, "d.jsonl", '{"portrait": "p.png", "audio": "a.wav", "gaze": [[0.1], 0]}\n'),
            "column 'gaze'", "got list")
    deep = '{"portrait": "p.png", "audio": "a.wav", "seed": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
    refused(write(tmp_path, "e.jsonl", deep), "row 1")
    huge = '{"portrait": "p.png", "audio": "a.wav", "seed": ' + "9" * 5000 + "}\n"  # was a ValueError traceback
    refused(write(tmp_path, "f.jsonl", huge), "row 1", "5000 digits")
    refused(write(tmp_path, "g.jsonl", '{"portrait": "p.png", "audio": "a.wav", "seed": 1e999}\n'), "out of range")


def test_unreadable_or_empty_manifests(tmp_path):
    refused(write(tmp_path, "jobs.txt", "portrait,audio\n"), "unknown manifest type '.txt'")
    refused(write(tmp_path, "empty.csv", ""), "is empty")
    refused(write(tmp_path, "header.csv", "portrait,audio\n\n"), "has no jobs")
    refused(write(tmp_path, "latin1.csv", "portrait,audio\nport\xe9.png,a.wav\n".encode("latin-1")),
            "line 2", "not UTF-8")
    with pytest.raises(InputNotFoundError, match="no such manifest file"):
        load_manifest(tmp_path / "missing.csv")


def test_size_and_row_limits(tmp_path, monkeypatch):
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(manifest_module.MAX_MANIFEST_BYTES + 1)
    refused(big, "larger than")
    monkeypatch.setattr(manifest_module, "MAX_ROWS", 2)
    refused(write(tmp_path, "rows.csv", "portrait,audio,output\n" + "".join(f"p.png,a.wav,{i}.mp4\n" for i in range(3))),
            "row 3", "more than 2 jobs")
    monkeypatch.setattr(manifest_module, "MAX_CELL_CHARS", 10)
    refused(write(tmp_path, "cell.csv", "portrait,audio\np.png,a-very-long-name.wav\n"), "column 'audio'", "longer than")


# ------------------------------------------------------------------------------------- accepted

def test_valid_manifest_becomes_validated_jobs(tmp_path):
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/words.txt", "hello there")
    path = write(tmp_path, "sub/jobs.jsonl", "\n".join([
        '{"portrait": "p.png", "audio": "/abs/a.wav", "emotion": "happy:0.5", "gaze": [0.3, -0.2], "full_frame": true}',
        '',
        '{"portrait": "p.png", "audio": "b.wav", "output": "x/y.mp4", "transcript": "words.txt", "seed": 7, '
        '"no-phonetic": "yes", "fps": null}',
    ]) + "\n")
    first, second = load_manifest(path)
    folder = path.resolve().parent
    assert first.inputs == {"portrait": folder / "p.png", "audio": Path("/abs/a.wav")}
    assert str(first.output) == "p-a.mp4" and first.kind == "render" and first.problem is None
    options = first.request.options
    assert (options.controls.emotion, options.controls.emotion_intensity) == ("happy", 0.5)
    assert options.controls.gaze == (0.3, -0.2) and options.framing == "full"
    assert (second.row, second.line, str(second.output)) == (2, 3, "x/y.mp4")
    assert second.request.options.transcript == "hello there"
    assert (second.request.options.seed, second.request.options.phonetic, second.request.options.fps) == (7, False, 25.0)


def test_csv_with_bom_and_transcript_text(tmp_path):
    path = write(tmp_path, "jobs.csv", '\ufeffPortrait, Audio ,transcript,head_distance\n'
                                       'p.png,a.wav,"Hello, world",1.2\n')
    (job,) = load_manifest(path)
    assert job.request.options.transcript == "Hello, world"
    assert job.request.options.controls.head_distance == 1.2


def test_missing_side_file_fails_only_its_row(tmp_path):
    path = write(tmp_path, "jobs.csv", "portrait,audio,transcript,output\np.png,a.wav,gone.txt,1.mp4\n"
                                       "p.png,a.wav,,2.mp4\n")
    broken, fine = load_manifest(path)
    assert broken.request is None and "gone.txt" in broken.problem
    assert fine.problem is None


def test_batch_without_ray_names_the_extra(tmp_path, monkeypatch):
    import sys

    from talkingface.batch.runner import RayMissingError, import_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # what an environment without the extra looks like
    with pytest.raises(RayMissingError, match=r"talkingface\[ray\]") as caught:
        import_ray()
    assert isinstance(caught.value, (TalkingFaceError, ImportError))


def test_bad_or_unreachable_ray_address(tmp_path, portrait_path, speech_path, capsys):
    path = write(tmp_path, "jobs.csv", f"portrait,audio\n{portrait_path},{speech_path}\n")
    assert main(["batch", str(path), "-o", str(tmp_path / "a"), "--ray-address", "head-node"]) == 2
    assert "ray_address" in capsys.readouterr().err and not (tmp_path / "a").exists()
    start = time.monotonic()
    assert main(["batch", str(path), "-o", str(tmp_path / "b"), "--ray-address", "127.0.0.1:1", "--quiet"]) == 2
    assert "cannot reach the Ray cluster at 127.0.0.1:1" in capsys.readouterr().err
    assert time.monotonic() - start < 30
    assert '"interrupted"' in (tmp_path / "b" / "batch-report.jsonl").read_text()
