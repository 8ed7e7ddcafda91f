"""Analysed portraits kept in memory, by id: uploaded ones (uuid hex) and bundled examples (name)."""

from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from talkingface.face.avatar import Avatar
from talkingface.pipeline import prepare_avatar

ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
EXAMPLE_PATTERN = re.compile(r"^[a-z][a-z0-9_-]{0,40}$")
EXAMPLE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class UnknownPortrait(KeyError):
    """No portrait has this id (never uploaded, evicted, or not an example name)."""


@dataclass(frozen=True)
class PortraitInfo:
    """id: uuid hex or example name; width, height: px; faces_found: faces in the image."""

    id: str
    width: int
    height: int
    faces_found: int


class PortraitStore:
    """Thread-safe LRU of analysed portraits (uploads) plus lazily analysed, pinned examples."""

    def __init__(self, capacity: int, examples_dir: Path | None, max_image_pixels: int) -> None:
        self._capacity = capacity
        self._examples_dir = examples_dir
        self._max_pixels = max_image_pixels
        self._uploads: OrderedDict[str, Avatar] = OrderedDict()
        self._examples: dict[str, Avatar] = {}
        self._lock = threading.Lock()

    def example_files(self) -> dict[str, Path]:
        """Example name -> image file."""
        if self._examples_dir is None or not self._examples_dir.is_dir():
            return {}
        return {path.stem: path for path in sorted(self._examples_dir.iterdir())
                if path.suffix.lower() in EXAMPLE_SUFFIXES and EXAMPLE_PATTERN.match(path.stem)}

    def add_file(self, path: Path) -> PortraitInfo:
        """Analyse an uploaded image file (blocking, ~0.3-2 s); raises ImageError / NoFaceError."""
        return self.add_avatar(prepare_avatar(path, max_image_pixels=self._max_pixels))

    def add_avatar(self, avatar: Avatar, name: str | None = None) -> PortraitInfo:
        """Serve an avatar prepared elsewhere, under an example-style ``name`` (pinned) or a new id."""
        if name is None:
            portrait_id = uuid.uuid4().hex
            with self._lock:
                self._uploads[portrait_id] = avatar
                while len(self._uploads) > self._capacity:
                    self._uploads.popitem(last=False)
            return _info(portrait_id, avatar)
        if not EXAMPLE_PATTERN.match(name):
            raise ValueError(f"portrait name {name!r} must match {EXAMPLE_PATTERN.pattern}")
        with self._lock:
            self._examples[name] = avatar
        return _info(name, avatar)

    def get(self, portrait_id: str) -> Avatar:
        """The avatar of an uploaded id or an example name (analysed on first use; blocking)."""
        with self._lock:
            if ID_PATTERN.match(portrait_id) and portrait_id in self._uploads:
                self._uploads.move_to_end(portrait_id)
                return self._uploads[portrait_id]
            if portrait_id in self._examples:
                return self._examples[portrait_id]
        path = self.example_files().get(portrait_id)
        if path is None:
            raise UnknownPortrait(portrait_id)
        avatar = prepare_avatar(path, max_image_pixels=self._max_pixels)
        with self._lock:
            self._examples[portrait_id] = avatar
        return avatar

    def info(self, portrait_id: str) -> PortraitInfo:
        return _info(portrait_id, self.get(portrait_id))


def _info(portrait_id: str, avatar: Avatar) -> PortraitInfo:
    width, height = avatar.size
    return PortraitInfo(id=portrait_id, width=width, height=height, faces_found=avatar.faces_found)
