// talkingface web page: pick a portrait, render a video through the REST API, or talk live over
// the WebSocket (protocol: docs/STREAMING.md).
"use strict";

const $ = (id) => document.getElementById(id);
const page = {
  token: sessionStorage.getItem("talkingface-token"),  // bearer token, when the server wants one
  portraitId: null,
  audio: null,          // Blob of the speech to render
  audioName: "speech",
  drive: null,          // File of the driving video, if any
  dub: null,            // File of the video to dub, if any
  recorder: null,
  live: null,           // {ws, context, stream, node, sentSamples, frames, ...}
};
window.talkingface = page;  // for tests and the curious

function setStatus(element, text, error = false) {
  element.textContent = text;
  element.classList.toggle("error", error);
}

async function apiError(response) {
  try {
    const body = await response.json();
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (e) {
    return `${response.status} ${response.statusText}`;
  }
}

// ------------------------------------------------------------------------------------- access token

// Every API call goes through api(): it adds "Authorization: Bearer <token>" when the server asked
// for a token (a 401), which the page asks for once per tab and keeps in sessionStorage.
function api(path, options = {}) {
  const headers = new Headers(options.headers || {});
  if (page.token) headers.set("Authorization", `Bearer ${page.token}`);
  return fetch(path, { ...options, headers }).then((response) => {
    if (response.status === 401) askForToken("The token was not accepted; enter it again.");
    return response;
  });
}

// A URL the browser can load by itself (<img>, <video>, a download link): the API path when no
// token is needed, else a blob: URL of the content fetched with the token.
async function authorizedUrl(path) {
  if (!page.token) return path;
  const response = await api(path);
  if (!response.ok) throw new Error(await apiError(response));
  return URL.createObjectURL(await response.blob());
}

let tokenEntered = null;  // resolves the promise askForToken() waits on

function askForToken(message) {
  page.token = null;
  sessionStorage.removeItem("talkingface-token");
  $("token-form").hidden = false;
  setStatus($("token-status"), message, true);
  $("token-input").focus();
  return new Promise((resolve) => { tokenEntered = resolve; });
}

function onTokenSubmit(event) {
  event.preventDefault();
  page.token = $("token-input").value.trim();
  sessionStorage.setItem("talkingface-token", page.token);
  $("token-input").value = "";
  $("token-form").hidden = true;
  if (tokenEntered) tokenEntered();
}

async function ensureAccess() {
  for (;;) {
    const headers = page.token ? { Authorization: `Bearer ${page.token}` } : {};
    const response = await fetch("/api/health", { headers });
    if (response.status !== 401) return;
    await askForToken(page.token ? "The token was not accepted; enter it again."
                                 : "This server needs its access token.");
  }
}

// ------------------------------------------------------------------------------------- portraits

async function loadExamples() {
  const response = await api("/api/examples");
  if (!response.ok) return;
  const examples = await response.json();
  const box = $("examples");
  for (const example of examples) {
    example.src = await authorizedUrl(example.url);
    const button = document.createElement("button");
    button.type = "button";
    button.className = "example";
    button.dataset.name = example.name;
    const image = document.createElement("img");
    image.src = example.src;
    image.alt = "";
    const label = document.createElement("span");
    label.textContent = example.name;
    button.append(image, label);
    button.addEventListener("click", () => selectExample(example));
    box.appendChild(button);
  }
  if (examples.length && !page.portraitId) selectExample(examples[0]);
}

function selectExample(example) {
  page.portraitId = example.name;
  $("portrait-preview").src = example.src;
  for (const b of document.querySelectorAll(".example")) b.classList.toggle("selected", b.dataset.name === example.name);
  setStatus($("portrait-status"), `Example “${example.name}” selected.`);
}

async function uploadPortrait(file) {
  setStatus($("portrait-status"), "Analysing the face…");
  const form = new FormData();
  form.append("portrait", file, file.name);
  const response = await api("/api/portraits", { method: "POST", body: form });
  if (!response.ok) {
    setStatus($("portrait-status"), await apiError(response), true);
    return;
  }
  const info = await response.json();
  page.portraitId = info.id;
  $("portrait-preview").src = URL.createObjectURL(file);
  for (const b of document.querySelectorAll(".example")) b.classList.remove("selected");
  const faces = info.faces_found > 1 ? ` (${info.faces_found} faces: the largest is animated)` : "";
  setStatus($("portrait-status"), `Uploaded ${info.width}×${info.height}${faces}.`);
}

// ------------------------------------------------------------------------------------- controls

const SLIDERS = ["intensity", "gaze-x", "gaze-y", "head-motion", "articulation"];

function controls() {
  return {
    emotion: $("emotion").value,
    emotion_intensity: Number($("intensity").value),
    gaze: [Number($("gaze-x").value), Number($("gaze-y").value)],
    head_motion: Number($("head-motion").value),
    articulation: Number($("articulation").value),
  };
}

function onControlChange() {
  for (const id of SLIDERS) $(`${id}-value`).textContent = $(id).value;
  if (page.live && page.live.ws.readyState === WebSocket.OPEN) {
    page.live.ws.send(JSON.stringify({ type: "control", ...controls() }));
  }
}

// ------------------------------------------------------------------------------------- audio

function useAudio(blob, name) {
  page.audio = blob;
  page.audioName = name;
  const preview = $("audio-preview");
  preview.src = URL.createObjectURL(blob);
  preview.hidden = false;
  setStatus($("audio-status"), `Speech: ${name} (${Math.round(blob.size / 1024)} KiB).`);
}

async function toggleRecording() {
  const button = $("record");
  if (page.recorder) {
    page.recorder.stop();
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ audio: true });
  } catch (e) {
    setStatus($("audio-status"), `No microphone: ${e.message}`, true);
    return;
  }
  const recorder = new MediaRecorder(stream);
  const parts = [];
  recorder.ondataavailable = (event) => { if (event.data.size) parts.push(event.data); };
  recorder.onstop = () => {
    for (const track of stream.getTracks()) track.stop();
    page.recorder = null;
    button.textContent = "● Record";
    button.classList.remove("recording");
    const type = recorder.mimeType || "audio/webm";
    useAudio(new Blob(parts, { type }), type.includes("ogg") ? "recording.ogg" : "recording.webm");
  };
  recorder.start();
  page.recorder = recorder;
  button.textContent = "■ Stop recording";
  button.classList.add("recording");
  setStatus($("audio-status"), "Recording… click again to stop.");
}

// ------------------------------------------------------------------------------------- render jobs

async function render() {
  const status = $("job-status");
  if (!page.portraitId) return setStatus(status, "Pick a portrait first.", true);
  if (!page.audio && !page.drive) return setStatus(status, "Upload or record speech (or pick a driving video) first.", true);
  const c = controls();
  const form = new FormData();
  if (page.audio) form.append("audio", page.audio, page.audioName);
  if (page.drive) {
    form.append("drive", page.drive, page.drive.name);
    const regions = [...document.querySelectorAll("#drive-regions input:checked")].map((box) => box.value);
    form.append("drive_regions", regions.join(","));
    form.append("drive_strength", $("drive-strength").value);
  }
  form.append("portrait_id", page.portraitId);
  form.append("size", $("size").value);
  form.append("emotion", c.emotion);
  form.append("emotion_intensity", c.emotion_intensity);
  form.append("gaze_x", c.gaze[0]);
  form.append("gaze_y", c.gaze[1]);
  form.append("head_motion", c.head_motion);
  form.append("articulation", c.articulation);
  form.append("phonetic", $("phonetic").checked ? "true" : "false");
  $("render").disabled = true;
  $("progress").value = 0;
  $("result-video").hidden = true;
  $("download").hidden = true;
  setStatus(status, "Uploading…");
  try {
    const response = await api("/api/jobs", { method: "POST", body: form });
    if (!response.ok) return setStatus(status, await apiError(response), true);
    const job = await response.json();
    await follow(job.id);
  } finally {
    $("render").disabled = false;
  }
}

// the elements a job reports into: "" for the render panel, "dub-" for the dub panel
async function follow(jobId, prefix = "") {
  const status = $(`${prefix}job-status`);
  for (;;) {
    const response = await api(`/api/jobs/${jobId}`);
    if (!response.ok) return setStatus(status, await apiError(response), true);
    const job = await response.json();
    $(`${prefix}progress`).value = job.progress;
    if (job.state === "done") {
      const url = await authorizedUrl(`/api/jobs/${jobId}/video`);
      const video = $(`${prefix}result-video`);
      video.src = url;
      video.hidden = false;
      $(`${prefix}download`).href = url;
      $(`${prefix}download`).hidden = false;
      setStatus(status, `Done: ${job.duration_s.toFixed(1)} s of video.`);
      return;
    }
    if (job.state === "failed" || job.state === "cancelled") {
      return setStatus(status, `Job ${job.state}${job.error ? ": " + job.error : ""}`, true);
    }
    setStatus(status, job.state === "queued" ? "Queued…" : `Working: ${Math.round(100 * job.progress)} %…`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

// ------------------------------------------------------------------------------------- dub jobs

async function dub() {
  const status = $("dub-job-status");
  if (!page.dub) return setStatus(status, "Pick a video to dub first.", true);
  if (!page.audio) return setStatus(status, "Upload or record the new speech first (3a).", true);
  const c = controls();
  const form = new FormData();
  form.append("video", page.dub, page.dub.name);
  form.append("audio", page.audio, page.audioName);
  form.append("extend", $("dub-extend").value);
  form.append("keep_length", $("dub-keep-length").checked ? "true" : "false");
  form.append("emotion", c.emotion);
  form.append("emotion_intensity", c.emotion_intensity);
  form.append("articulation", c.articulation);
  form.append("phonetic", $("phonetic").checked ? "true" : "false");
  $("dub").disabled = true;
  $("dub-progress").value = 0;
  $("dub-result-video").hidden = true;
  $("dub-download").hidden = true;
  setStatus(status, "Uploading…");
  try {
    const response = await api("/api/dub", { method: "POST", body: form });
    if (!response.ok) return setStatus(status, await apiError(response), true);
    const job = await response.json();
    await follow(job.id, "dub-");
  } finally {
    $("dub").disabled = false;
  }
}

// ------------------------------------------------------------------------------------- live

async function startLive() {
  const stats = $("live-stats");
  if (!page.portraitId) return setStatus(stats, "Pick a portrait first.", true);
  $("live-start").disabled = true;
  const size = $("size").value;
  const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/api/live` +
              `?portrait=${encodeURIComponent(page.portraitId)}&size=${size}&rate=16000`;
  // browsers cannot set headers on a WebSocket: the token travels as a subprotocol
  const ws = new WebSocket(url, page.token ? ["talkingface", `bearer.${page.token}`] : []);
  ws.binaryType = "arraybuffer";
  const live = { ws, sentSamples: 0, frames: 0, latencies: [], frameTimes: [], context: null, stream: null,
                 closed: null };  // closed: the close event, once the socket has closed
  page.live = live;
  setStatus(stats, "Connecting…");
  ws.onmessage = (event) => onLiveMessage(live, event);
  ws.onclose = (event) => {
    live.closed = event;
    stopMicrophone(live);
    $("live-start").disabled = false;
    $("live-stop").disabled = true;
    if (page.live === live) page.live = null;
    showLiveEnd(live);
  };
}

function showLiveEnd(live) {
  const event = live.closed;
  const why = event.code === 1013 ? "server busy, try again later" : (event.reason || `code ${event.code}`);
  setStatus($("live-stats"), `Disconnected (${why}). ${live.frames} frames shown.`, event.code !== 1000);
}

async function onLiveMessage(live, event) {
  if (typeof event.data === "string") {
    const message = JSON.parse(event.data);
    if (message.type === "ready") {
      live.ws.send(JSON.stringify({ type: "control", ...controls() }));
      await startMicrophone(live);
    } else if (message.type === "error") {
      setStatus($("live-stats"), `${message.code}: ${message.message}`, true);
    }
    return;
  }
  const view = new DataView(event.data);
  const pts = view.getFloat64(8, true);
  const jpeg = new Blob([new Uint8Array(event.data, 24)], { type: "image/jpeg" });
  const bitmap = await createImageBitmap(jpeg);
  // Decoding is asynchronous: the socket may have closed meanwhile (the last frames of a flush
  // arrive just before the close). Such a frame is still drawn, unless a newer session owns the
  // canvas, but it must not replace the "Disconnected" status with live stats.
  if (live.closed && page.live !== null) { bitmap.close(); return; }
  const canvas = $("live-canvas");
  if (canvas.width !== bitmap.width) { canvas.width = bitmap.width; canvas.height = bitmap.height; }
  canvas.getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
  live.frames += 1;
  const now = performance.now();
  live.frameTimes.push(now);
  while (live.frameTimes.length && now - live.frameTimes[0] > 2000) live.frameTimes.shift();
  // latency: how much audio had been sent when the frame showing time `pts` arrived
  live.latencies.push(live.sentSamples / 16000 - pts);
  if (live.latencies.length > 50) live.latencies.shift();
  if (live.closed) {
    showLiveEnd(live);  // keep the end message, with the frame count up to date
  } else if (live.frames % 5 === 0) {
    const fps = live.frameTimes.length / 2;
    const sorted = [...live.latencies].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] * 1000;
    setStatus($("live-stats"), `Live: ${live.frames} frames, ${fps.toFixed(1)} fps, latency ≈ ${median.toFixed(0)} ms`);
  }
}

async function startMicrophone(live) {
  try {
    live.stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, channelCount: 1 } });
  } catch (e) {
    setStatus($("live-stats"), `No microphone: ${e.message}`, true);
    live.ws.close();
    return;
  }
  if (live.closed) return stopMicrophone(live);  // the socket closed while the browser asked
  const context = new AudioContext();
  live.context = context;
  const source = context.createMediaStreamSource(live.stream);
  const send = (buffer) => {
    if (live.ws.readyState !== WebSocket.OPEN) return;
    live.ws.send(buffer);
    live.sentSamples += buffer.byteLength / 2;
  };
  if (context.audioWorklet) {
    await context.audioWorklet.addModule("/static/pcm-worklet.js");
    const node = new AudioWorkletNode(context, "pcm-downsampler");
    node.port.onmessage = (event) => send(event.data);
    live.node = node;
  } else {  // older browsers: ScriptProcessor, same decimation on the main thread
    const node = context.createScriptProcessor(1024, 1, 1);
    const step = context.sampleRate / 16000;
    let phase = 0, sum = 0, count = 0;
    node.onaudioprocess = (event) => {
      const input = event.inputBuffer.getChannelData(0);
      const out = [];
      for (const v of input) {
        sum += v; count += 1; phase += 1;
        if (phase >= step) { phase -= step; out.push(Math.max(-1, Math.min(1, sum / count)) * 32767); sum = 0; count = 0; }
      }
      send(Int16Array.from(out).buffer);
    };
    live.node = node;
  }
  if (live.closed) return stopMicrophone(live);  // closed while the worklet loaded
  const mute = context.createGain();
  mute.gain.value = 0;  // keep the graph pulling audio without playing the microphone back
  source.connect(live.node);
  live.node.connect(mute);
  mute.connect(context.destination);
  $("live-stop").disabled = false;
  setStatus($("live-stats"), "Live: listening…");
}

function stopMicrophone(live) {
  if (live.stream) for (const track of live.stream.getTracks()) track.stop();
  if (live.context) live.context.close();
  live.stream = null;
  live.context = null;
}

function stopLive() {
  const live = page.live;
  if (!live) return;
  stopMicrophone(live);
  if (live.ws.readyState === WebSocket.OPEN) live.ws.send(JSON.stringify({ type: "flush" }));
  $("live-stop").disabled = true;
}

// ------------------------------------------------------------------------------------- wiring

window.addEventListener("DOMContentLoaded", async () => {
  $("token-form").addEventListener("submit", onTokenSubmit);
  await ensureAccess();
  loadExamples();
  $("portrait-file").addEventListener("change", (e) => { if (e.target.files[0]) uploadPortrait(e.target.files[0]); });
  $("audio-file").addEventListener("change", (e) => { if (e.target.files[0]) useAudio(e.target.files[0], e.target.files[0].name); });
  $("record").addEventListener("click", toggleRecording);
  $("drive-file").addEventListener("change", (e) => {
    page.drive = e.target.files[0] || null;
    setStatus($("drive-status"), page.drive ? `Driving video: ${page.drive.name}` : "No driving video.");
  });
  $("drive-strength").addEventListener("input", () => { $("drive-strength-value").textContent = $("drive-strength").value; });
  $("render").addEventListener("click", render);
  $("dub-file").addEventListener("change", (e) => {
    page.dub = e.target.files[0] || null;
    setStatus($("dub-status"), page.dub ? `Video to dub: ${page.dub.name}` : "No video to dub.");
  });
  $("dub").addEventListener("click", dub);
  $("live-start").addEventListener("click", startLive);
  $("live-stop").addEventListener("click", stopLive);
  $("emotion").addEventListener("change", onControlChange);
  for (const id of SLIDERS) $(id).addEventListener("input", onControlChange);
  onControlChange();
});
