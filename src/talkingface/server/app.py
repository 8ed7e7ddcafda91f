"""The FastAPI application: REST render jobs, the live WebSocket and the web page.

    from talkingface.server import ServerSettings, create_app
    app = create_app(ServerSettings(max_sessions=2))      # serve with uvicorn

Routes (the OpenAPI schema is at /openapi.json, interactive docs at /docs):

    GET  /                          the web page
    GET  /api/health                status and load
    GET  /api/examples              example portraits;  GET /api/examples/{name} its image
    POST /api/portraits             upload + analyse a portrait -> id
    POST /api/jobs                  portrait (file or id) + audio and/or a driving video + options -> job (202)
    POST /api/dub                   video + new speech + options -> dub job (202), as `talkingface dub`
    POST /api/capture               a talking video -> its motion timeline (JSON, as `talkingface capture`)
    GET  /api/jobs                  all jobs;  GET /api/jobs/{id} one job with its progress
    POST /api/jobs/{id}/cancel      stop a job;  DELETE /api/jobs/{id} stop and remove it
    GET  /api/jobs/{id}/video       the MP4 of a finished job
    WS   /api/live                  live session (docs/STREAMING.md)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile, WebSocket, WebSocketDisconnect
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from talkingface.audio import load_audio
from talkingface.dub import DubOptions
from talkingface.errors import InputFileError, OptionError, TalkingFaceError
from talkingface.media import probe_video
from talkingface.mocap import CaptureOptions, capture_video
from talkingface.motion.controls import EMOTIONS, Controls
from talkingface.motion.drive import DriveOptions
from talkingface.motion.io import motion_document
from talkingface.pipeline import AnimateOptions
from talkingface.server.jobs import InvalidJobId, JobInfo, JobManager, QueueFullError, UnknownJob, render_here
from talkingface.server.limits import BodyLimitMiddleware, SameOriginMiddleware
from talkingface.server.live import CLOSE_BUSY, CLOSE_POLICY, CLOSE_UNKNOWN_PORTRAIT, LiveConnection, live_params
from talkingface.server.portraits import PortraitInfo, PortraitStore, UnknownPortrait
from talkingface.server.security import (HostAllowlistMiddleware, SecurityHeadersMiddleware, TokenMiddleware,
                                         chosen_subprotocol)
from talkingface.server.settings import ServerSettings
from talkingface.stream import StreamOptions, StreamSession

STATIC_DIR = Path(__file__).resolve().parent / "static"
_COPY_CHUNK = 1 << 20


class Slots:
    """A counter of live sessions with a hard limit (event-loop only, no locking needed)."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0

    def acquire(self) -> bool:
        if self.used >= self.limit:
            return False
        self.used += 1
        return True

    def release(self) -> None:
        self.used -= 1


@dataclass
class ServerState:
    """Everything the routes share; one per application (no module globals)."""

    settings: ServerSettings
    root: Path
    jobs: JobManager
    portraits: PortraitStore
    slots: Slots
    live_executor: ThreadPoolExecutor
    owns_root: bool
    ray_renderer: Any = None  # talkingface.batch.remote.RayRenderer when jobs render on Ray


# --------------------------------------------------------------------------------- response models

class ExampleModel(BaseModel):
    name: str
    url: str


class HealthModel(BaseModel):
    status: str
    live_sessions: int
    max_live_sessions: int
    jobs_active: int
    emotions: list[str]


# --------------------------------------------------------------------------------- application

def create_app(settings: ServerSettings | None = None) -> FastAPI:
    """Build the application for ``settings`` (default settings when None); its state lives in
    ``app.state.talkingface`` while the application runs (between lifespan start and stop)."""
    settings = settings if settings is not None else ServerSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        state = _start(settings)
        app.state.talkingface = state
        try:
            yield
        finally:
            _stop(state)

    app = FastAPI(title="talkingface", version="0.1.0", lifespan=lifespan,
                  description="One portrait + speech -> a talking-head video; live over WebSocket.")
    # added innermost first: headers -> Host allowlist -> token -> same origin -> body limits -> routes
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_upload_bytes, timeout_s=settings.body_timeout_s)
    app.add_middleware(SameOriginMiddleware)
    if settings.token is not None:
        app.add_middleware(TokenMiddleware, token=settings.token)
    app.add_middleware(HostAllowlistMiddleware, allowed=settings.host_allowlist)
    app.add_middleware(SecurityHeadersMiddleware)
    _add_error_handlers(app)
    _add_api_routes(app, settings)
    _add_live_route(app, settings)
    _add_page_routes(app)
    return app


def prepare_data_dir(folder: Path) -> Path:
    """Create the data folder (and its ``uploads``) if needed; OptionError naming it when it is not a
    writable folder."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "uploads").mkdir(exist_ok=True)
    except OSError as error:
        problem = "is not a folder" if folder.exists() and not folder.is_dir() else f"cannot be used ({error.strerror})"
        raise OptionError("data_dir", str(folder), problem) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OptionError("data_dir", str(folder), "is not writable")
    return folder


def _start(settings: ServerSettings) -> ServerState:
    owns_root = settings.data_dir is None
    root = Path(tempfile.mkdtemp(prefix="talkingface-server-")) if owns_root else settings.data_dir
    prepare_data_dir(root)
    ray_renderer = None
    if settings.ray_address is not None:
        from talkingface.batch.remote import RayRenderer

        ray_renderer = RayRenderer(settings.ray_address)
    jobs = JobManager(root / "jobs", workers=settings.job_workers, max_queued=settings.max_queued_jobs,
                      max_kept=settings.max_jobs_kept, ttl_s=settings.job_ttl_s,
                      render=ray_renderer if ray_renderer is not None else render_here)
    portraits = PortraitStore(settings.max_portraits, settings.examples_dir, settings.max_image_pixels)
    executor = ThreadPoolExecutor(max_workers=max(2, settings.max_sessions), thread_name_prefix="talkingface-live")
    return ServerState(settings=settings, root=root, jobs=jobs, portraits=portraits,
                       slots=Slots(settings.max_sessions), live_executor=executor, owns_root=owns_root,
                       ray_renderer=ray_renderer)


def _stop(state: ServerState) -> None:
    state.jobs.shutdown()
    if state.ray_renderer is not None:
        state.ray_renderer.close()
    state.live_executor.shutdown(wait=False, cancel_futures=True)
    shutil.rmtree(state.root / "uploads", ignore_errors=True)
    if state.owns_root:
        shutil.rmtree(state.root, ignore_errors=True)


def _add_error_handlers(app: FastAPI) -> None:
    def handler(status: int):
        async def respond(request, error: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(error)}, status_code=status)
        return respond

    app.add_exception_handler(InvalidJobId, handler(400))
    app.add_exception_handler(UnknownJob, handler(404))
    app.add_exception_handler(QueueFullError, handler(503))
    app.add_exception_handler(InputFileError, handler(400))  # ImageError, AudioError, NoFaceError
    app.add_exception_handler(OptionError, handler(400))


def _state(request_or_socket) -> ServerState:
    return request_or_socket.app.state.talkingface


async def _save_upload(upload: UploadFile, path: Path, limit: int) -> Path:
    """Copy an upload to ``path`` (at most ``limit`` bytes: 413 beyond)."""
    size = 0
    with path.open("wb") as out:
        while chunk := await upload.read(_COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                out.close()
                path.unlink(missing_ok=True)
                raise HTTPException(413, f"{upload.filename or 'upload'}: larger than {limit} bytes")
            out.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise HTTPException(400, f"{upload.filename or 'upload'}: the file is empty")
    return path


def _label(upload: UploadFile, fallback: str) -> str:
    """A display name for an upload (its base name, no folders), for error messages."""
    name = Path(upload.filename or fallback).name[:100]
    return name or fallback


def _add_api_routes(app: FastAPI, settings: ServerSettings) -> None:
    @app.get("/api/health", response_model=HealthModel, tags=["server"])
    async def health(request: Request) -> HealthModel:
        state = _state(request)
        active = sum(job.state in ("queued", "running") for job in state.jobs.list())
        return HealthModel(status="ok", live_sessions=state.slots.used, max_live_sessions=state.slots.limit,
                           jobs_active=active, emotions=sorted(EMOTIONS))

    @app.get("/api/examples", response_model=list[ExampleModel], tags=["portraits"])
    async def examples(request: Request) -> list[ExampleModel]:
        return [ExampleModel(name=name, url=f"/api/examples/{name}")
                for name in _state(request).portraits.example_files()]

    @app.get("/api/examples/{name}", tags=["portraits"], response_class=FileResponse)
    async def example_image(name: str, request: Request) -> FileResponse:
        path = _state(request).portraits.example_files().get(name)
        if path is None:
            raise HTTPException(404, f"no example portrait {name[:60]!r}")
        return FileResponse(path)

    @app.post("/api/portraits", response_model=PortraitInfo, tags=["portraits"])
    async def upload_portrait(request: Request, portrait: UploadFile = File(...)) -> PortraitInfo:
        """Upload and analyse a portrait; the id can then be used by jobs and live sessions."""
        state = _state(request)
        path = state.root / "uploads" / f"{_uuid()}.upload"
        return await _add_portrait_upload(state, portrait, path, settings)

    @app.get("/api/portraits/{portrait_id}", response_model=PortraitInfo, tags=["portraits"])
    async def portrait_info(portrait_id: str, request: Request) -> PortraitInfo:
        try:
            info = await run_in_threadpool(_state(request).portraits.info, portrait_id)
        except UnknownPortrait:
            raise HTTPException(404, f"no portrait {portrait_id[:60]!r}") from None
        return info

    @app.post("/api/jobs", response_model=JobInfo, status_code=202, tags=["jobs"])
    async def create_job(
        request: Request,
        audio: UploadFile | None = File(None, description="speech: any audio FFmpeg reads (optional with "
                                                             "a driving video: its soundtrack is used)"),
        portrait: UploadFile | None = File(None, description="portrait image (or give portrait_id)"),
        drive: UploadFile | None = File(None, description="a talking video whose motion the portrait performs"),
        drive_regions: str = Form("head,expression,lips,eyes",
                                  description="what the driving video controls: any of head,expression,lips,eyes"),
        drive_strength: float = Form(1.0, description="scale of the driving video's motion (0-2)"),
        portrait_id: str | None = Form(None, description="id from POST /api/portraits, or an example name"),
        fps: float = Form(25.0), size: int = Form(512), seed: int = Form(0),
        articulation: float = Form(1.0), head_motion: float = Form(1.0), blink_rate: float = Form(17.0),
        emotion: str = Form("neutral"), emotion_intensity: float = Form(1.0),
        gaze_x: float = Form(0.0), gaze_y: float = Form(0.0), head_distance: float = Form(1.0),
        phonetic: bool = Form(True), transcript: str | None = Form(None),
    ) -> JobInfo:
        """Queue a render; poll GET /api/jobs/{id} for progress, then GET /api/jobs/{id}/video."""
        state = _state(request)
        if size > settings.max_render_size:
            raise OptionError("size", size, f"must be at most {settings.max_render_size} px on this server")
        controls = Controls(gaze=(gaze_x, gaze_y), head_distance=head_distance, emotion=emotion,
                            emotion_intensity=emotion_intensity)
        has_audio, has_drive = _given(audio), _given(drive)
        if not (has_audio or has_drive):
            raise HTTPException(400, "give the speech audio, or a driving video to take it from")
        drive_options = DriveOptions(regions=tuple(r.strip() for r in drive_regions.split(",") if r.strip()),
                                     strength=drive_strength)
        options = AnimateOptions(fps=fps, size=size, seed=seed, articulation=articulation,
                                 head_motion=head_motion, blink_rate=blink_rate, controls=controls,
                                 phonetic=phonetic, transcript=transcript or None, drive=drive_options,
                                 max_audio_s=settings.max_audio_s, max_image_pixels=settings.max_image_pixels)
        state.jobs.check_capacity()
        job_id, folder = state.jobs.new_folder()
        try:
            audio_path = drive_path = None
            if has_audio:
                audio_path = await _save_upload(audio, folder / "audio.upload", settings.max_upload_bytes)
                await _check_audio(audio_path, _label(audio, "audio"), settings.max_audio_s)
            if has_drive:
                drive_path = await _save_upload(drive, folder / "drive.upload", settings.max_upload_bytes)
                await _check_video(drive_path, _label(drive, "video"), settings.max_audio_s)
            avatar = await _job_avatar(state, folder, portrait, portrait_id, settings)
            summary = {"fps": fps, "size": size, "seed": seed, "emotion": emotion,
                       "emotion_intensity": emotion_intensity, "gaze": [gaze_x, gaze_y],
                       "head_motion": head_motion, "articulation": articulation, "phonetic": phonetic,
                       "portrait": _label(portrait, "portrait") if portrait and portrait.filename else portrait_id,
                       "audio": _label(audio, "audio") if has_audio else None,
                       "drive": _label(drive, "video") if has_drive else None}
            info = state.jobs.submit(job_id, avatar, audio_path, options, summary, drive=drive_path)
        except BaseException:
            state.jobs.discard_folder(job_id)
            raise
        return info

    @app.post("/api/dub", response_model=JobInfo, status_code=202, tags=["jobs"])
    async def create_dub_job(
        request: Request,
        video: UploadFile = File(..., description="a video with a face (any format FFmpeg reads)"),
        audio: UploadFile = File(..., description="the new speech: any audio FFmpeg reads"),
        face: int = Form(1, description="whom to dub when several faces show, 1 = the largest"),
        extend: str = Form("pingpong", description="speech longer than the video: pingpong, loop or hold"),
        keep_length: bool = Form(False, description="keep the whole of a video longer than the speech"),
        mix: float = Form(0.0, description="level (0-1) of the video's own soundtrack under the new speech"),
        articulation: float = Form(1.0), emotion: str = Form("neutral"), emotion_intensity: float = Form(1.0),
        phonetic: bool = Form(True), transcript: str | None = Form(None),
    ) -> JobInfo:
        """Queue a dub (the video's speaker re-lipped to the new speech); poll GET /api/jobs/{id} for
        progress, then GET /api/jobs/{id}/video."""
        state = _state(request)
        if face < 1:
            raise OptionError("face", face, "faces are counted from 1 (the largest)")
        options = DubOptions(transcript=transcript or None, phonetic=phonetic, articulation=articulation,
                             controls=Controls(emotion=emotion, emotion_intensity=emotion_intensity),
                             face=face - 1, extend=extend, keep_length=keep_length, mix=mix,
                             max_audio_s=settings.max_audio_s)
        state.jobs.check_capacity()
        job_id, folder = state.jobs.new_folder()
        try:
            video_path = await _save_upload(video, folder / "video.upload", settings.max_upload_bytes)
            await _check_video(video_path, _label(video, "video"), settings.max_audio_s)
            audio_path = await _save_upload(audio, folder / "audio.upload", settings.max_upload_bytes)
            await _check_audio(audio_path, _label(audio, "audio"), settings.max_audio_s)
            summary = {"kind": "dub", "video": _label(video, "video"), "audio": _label(audio, "audio"),
                       "face": face, "extend": extend, "keep_length": keep_length, "mix": mix,
                       "articulation": articulation, "emotion": emotion, "emotion_intensity": emotion_intensity,
                       "phonetic": phonetic}
            info = state.jobs.submit_dub(job_id, video_path, audio_path, options, summary)
        except BaseException:
            state.jobs.discard_folder(job_id)
            raise
        return info

    @app.post("/api/capture", tags=["capture"],
              responses={200: {"description": "the motion timeline, as `talkingface capture -o x.json` writes"}})
    async def capture_motion(request: Request,
                             video: UploadFile = File(..., description="a talking video (any format FFmpeg reads)"),
                             start: float = Form(0.0), end: float | None = Form(None), face: int = Form(1)
                             ) -> JSONResponse:
        """Capture the motion of the face in an uploaded video: head pose and ARKit-named expression
        coefficients per frame, at the video's frame rate."""
        state = _state(request)
        options = CaptureOptions(start_s=start, end_s=end, face=face - 1)
        label = _label(video, "video")
        path = state.root / "uploads" / f"{_uuid()}.upload"
        try:
            await _save_upload(video, path, settings.max_upload_bytes)
            await _check_video(path, label, settings.max_audio_s)
            result = await run_in_threadpool(capture_video, path, options)
        except InputFileError as error:
            raise HTTPException(400, f"{label}: {error.problem}") from None
        finally:
            path.unlink(missing_ok=True)
        document = motion_document(result.motion)
        document["missing_spans"] = [list(span) for span in result.gaps.missing]
        return JSONResponse(document)

    @app.get("/api/jobs", response_model=list[JobInfo], tags=["jobs"])
    async def list_jobs(request: Request) -> list[JobInfo]:
        return list(_state(request).jobs.list())

    @app.get("/api/jobs/{job_id}", response_model=JobInfo, tags=["jobs"])
    async def get_job(job_id: str, request: Request) -> JobInfo:
        return _state(request).jobs.get(job_id)

    @app.post("/api/jobs/{job_id}/cancel", response_model=JobInfo, tags=["jobs"])
    async def cancel_job(job_id: str, request: Request) -> JobInfo:
        return _state(request).jobs.cancel(job_id)

    @app.delete("/api/jobs/{job_id}", status_code=204, tags=["jobs"])
    async def delete_job(job_id: str, request: Request) -> None:
        _state(request).jobs.delete(job_id)

    @app.get("/api/jobs/{job_id}/video", tags=["jobs"], response_class=FileResponse,
             responses={200: {"content": {"video/mp4": {}}}, 409: {"description": "not finished"}})
    async def job_video(job_id: str, request: Request) -> FileResponse:
        state = _state(request)
        path = state.jobs.video(job_id)
        if path is None or not path.is_file():
            raise HTTPException(409, f"job {job_id} has no video yet (state {state.jobs.get(job_id).state})")
        return FileResponse(path, media_type="video/mp4", filename=f"talkingface-{job_id[:8]}.mp4")


def _given(upload: UploadFile | None) -> bool:
    """Whether a multipart file field was sent with a file (browsers send empty ones)."""
    return upload is not None and bool(upload.filename)


async def _check_video(path: Path, label: str, max_seconds: float) -> None:
    """400 unless the file is a video (with a video stream) no longer than max_seconds."""
    try:
        info = await run_in_threadpool(probe_video, path)
    except InputFileError as error:
        raise HTTPException(400, f"{label}: {error.problem}") from None
    if info.duration_s > max_seconds:
        raise HTTPException(400, f"{label}: {info.duration_s:.0f} s long; this server takes at most {max_seconds:.0f} s")


async def _check_audio(path: Path, label: str, max_seconds: float) -> None:
    try:
        await run_in_threadpool(load_audio, path, max_seconds=max_seconds)
    except InputFileError as error:
        raise HTTPException(400, f"{label}: {error.problem}") from None


async def _add_portrait_upload(state: ServerState, portrait: UploadFile, path: Path,
                               settings: ServerSettings):
    """Save an uploaded portrait to path, analyse and register it, delete the file; 400 if unusable."""
    await _save_upload(portrait, path, settings.max_upload_bytes)
    try:
        return await run_in_threadpool(state.portraits.add_file, path)
    except InputFileError as error:
        raise HTTPException(400, f"{_label(portrait, 'portrait')}: {error.problem}") from None
    finally:
        path.unlink(missing_ok=True)


async def _job_avatar(state: ServerState, folder: Path, portrait: UploadFile | None,
                      portrait_id: str | None, settings: ServerSettings):
    if portrait is not None and portrait.filename:
        info = await _add_portrait_upload(state, portrait, folder / "portrait.upload", settings)
        return state.portraits.get(info.id)
    if not portrait_id:
        raise HTTPException(400, "give a portrait file or a portrait_id")
    try:
        return await run_in_threadpool(state.portraits.get, portrait_id)
    except UnknownPortrait:
        raise HTTPException(404, f"no portrait {portrait_id[:60]!r}") from None


def _uuid() -> str:
    return uuid.uuid4().hex


def _add_live_route(app: FastAPI, settings: ServerSettings) -> None:
    @app.websocket("/api/live")
    async def live(websocket: WebSocket) -> None:
        state = _state(websocket)
        await websocket.accept(subprotocol=chosen_subprotocol(websocket.scope))
        if not state.slots.acquire():
            await _refuse(websocket, CLOSE_BUSY, "busy",
                          f"all {state.slots.limit} live sessions are in use; try again later")
            return
        try:
            await _run_live(websocket, state, settings)
        except WebSocketDisconnect:  # the client left during the set-up
            pass
        finally:
            state.slots.release()


async def _run_live(websocket: WebSocket, state: ServerState, settings: ServerSettings) -> None:
    try:
        params = live_params(dict(websocket.query_params), max_size=settings.max_live_size)
        options = StreamOptions(fps=params.fps, size=params.size, lookahead_s=params.lookahead_ms / 1000,
                                sample_rate=params.rate, seed=params.seed)
    except OptionError as error:
        await _refuse(websocket, CLOSE_POLICY, "bad_option", str(error))
        return
    loop = asyncio.get_running_loop()
    try:
        avatar = await loop.run_in_executor(state.live_executor, state.portraits.get, params.portrait)
        session = await loop.run_in_executor(state.live_executor, StreamSession, avatar, options)
    except UnknownPortrait:
        await _refuse(websocket, CLOSE_UNKNOWN_PORTRAIT, "unknown_portrait",
                      f"no portrait {params.portrait[:60]!r}; upload one or use an example name")
        return
    except TalkingFaceError as error:
        await _refuse(websocket, CLOSE_POLICY, "bad_portrait", str(error))
        return
    connection = LiveConnection(websocket, session, params, executor=state.live_executor,
                                idle_s=settings.session_idle_s, max_message_bytes=settings.max_message_bytes)
    await connection.run()


async def _refuse(websocket: WebSocket, code: int, error: str, message: str) -> None:
    try:
        await websocket.send_json({"type": "error", "code": error, "message": message})
        await websocket.close(code=code, reason=message[:120])
    except RuntimeError:
        pass


def _add_page_routes(app: FastAPI) -> None:
    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
