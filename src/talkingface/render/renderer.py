"""Render frames of a prepared portrait from motion parameters (textured-mesh warp).

Only the head region is re-rendered. In "crop" framing the output is the square head crop resampled to
`size` px; in "full" framing the head region is rendered at a working resolution (at most `work_size`
px) and pasted back, upsampled and feathered, into the untouched full frame wherever it changed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from talkingface.errors import OptionError
from talkingface.face.avatar import Avatar
from talkingface.face.topology import CHIN, FOREHEAD_TOP
from talkingface.motion.params import HEAD_PARAMETERS, PARAMETERS, Motion
from talkingface.render.eyes import draw_irises, prepare_irises
from talkingface.render.glasses import draw_glasses, prepare_glasses
from talkingface.render.layers import build_layers, composite
from talkingface.render.mouth import draw_mouth_interior, draw_own_interior, mouth_palette, own_mouth
from talkingface.render.paste import change_weight, paste_head, rest_pose
from talkingface.render.raster import identity_map, rasterize
from talkingface.render.rig import LABEL_EYE, LABEL_MOUTH, Rig, build_rig, mouth_is_open, pose_vertices
from talkingface.validation import check_number

FRAMINGS = ("crop", "full")
HEAD_BOX_SCALE = 2.0  # side of the head crop, in face heights (forehead top to chin)
MIN_HEAD_BOX_SCALE = 1.5  # the tightest head crop, for photos cropped close around the face
SILHOUETTE_MAP_JUMP = 6.0  # texture px spanned by a 3x3 window (2 at rest) that marks an occlusion edge


@dataclass(frozen=True)
class RenderOptions:
    """size: output side in px for framing "crop"; framing: "crop" (square head crop) or "full"
    (the whole portrait, head region re-rendered and pasted back); work_size: for framing "full", the
    head region is rendered at most this many px on a side, then upsampled where it changed (larger is
    sharper and slower; regions smaller than this render at their own resolution)."""

    size: int = 512
    framing: str = "crop"
    work_size: int = 640

    def __post_init__(self) -> None:
        check_number("size", self.size, low=64, high=4096, integer=True, unit=" px")
        check_number("work_size", self.work_size, low=64, high=4096, integer=True, unit=" px")
        if self.framing not in FRAMINGS:
            raise OptionError("framing", self.framing, f"must be one of {FRAMINGS}")


def head_box(avatar: Avatar) -> tuple[int, int, int]:
    """Square head region (x0, y0, side) in portrait pixels.

    Centred on the face, shrunk (down to MIN_HEAD_BOX_SCALE face heights) and shifted to stay inside
    the image, so that padding (edge replication) is only needed for photos cropped very tightly.
    """
    points = avatar.landmarks.points
    top, chin = points[FOREHEAD_TOP, :2], points[CHIN, :2]
    face_height = float(np.linalg.norm(top - chin))
    centre = 0.5 * (top + chin) - np.array([0.0, 0.08 * face_height])
    width, height = avatar.size
    # a photo cropped tighter than the head box gets a tighter box rather than a padded one (edge
    # replication smears streaks), down to a margin of MIN_HEAD_BOX_SCALE face heights
    side = round(HEAD_BOX_SCALE * face_height)
    side = max(min(side, width, height), round(MIN_HEAD_BOX_SCALE * face_height))
    x0, y0 = round(centre[0] - side / 2), round(centre[1] - side / 2)
    x0 = min(max(x0, 0), width - side) if side <= width else x0
    y0 = min(max(y0, 0), height - side) if side <= height else y0
    return x0, y0, side


def _crop(image: np.ndarray, x0: int, y0: int, side: int) -> np.ndarray:
    """Square crop (side, side, 3) of image, padded by edge replication where it leaves the image."""
    height, width = image.shape[:2]
    pads = (max(0, -y0), max(0, y0 + side - height), max(0, -x0), max(0, x0 + side - width))
    inside = image[max(y0, 0):min(y0 + side, height), max(x0, 0):min(x0 + side, width)]
    return cv2.copyMakeBorder(inside, *pads, cv2.BORDER_REPLICATE) if any(pads) else inside.copy()


def smooth_silhouettes(frame: np.ndarray, texture_map: np.ndarray) -> None:
    """Anti-alias occlusion edges in place: blur frame (H, W, 3) uint8 where the backward map
    (H, W, 2) float32 jumps between neighbouring pixels (a turned cheek's silhouette over the hair
    behind it), which the rasterizer otherwise draws as a jagged cut. At rest the map is the identity
    and nothing is touched."""
    kernel = np.ones((3, 3), np.uint8)
    spread = np.maximum(cv2.morphologyEx(texture_map[..., 0], cv2.MORPH_GRADIENT, kernel),
                        cv2.morphologyEx(texture_map[..., 1], cv2.MORPH_GRADIENT, kernel))
    jump = spread > SILHOUETTE_MAP_JUMP
    rows, cols = np.nonzero(jump)
    if rows.size == 0:
        return
    y0, y1 = max(rows.min() - 2, 0), rows.max() + 3
    x0, x1 = max(cols.min() - 2, 0), cols.max() + 3
    window = frame[y0:y1, x0:x1]
    blurred = cv2.GaussianBlur(window, (5, 5), 1.0)
    weight = cv2.GaussianBlur(jump[y0:y1, x0:x1].astype(np.float32), (5, 5), 1.0)
    weight = np.minimum(weight * 2.0, 1.0)
    window[:] = cv2.blendLinear(blurred, window, weight, 1.0 - weight)


def _working_region(avatar: Avatar, options: RenderOptions
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, int, int, int] | None]:
    """The head region the renderer works on: texture (h, w, 3) uint8, person mask (h, w) float32,
    landmarks (478, 3) in its px, and for framing "full" the region's (x0, y0, x1, y1) in the
    portrait (None for "crop"). "crop" resamples the square head box to size px; "full" takes the box
    clipped to the image, resampled to at most work_size px."""
    x0, y0, side = head_box(avatar)
    if options.framing == "crop":
        region = None
        scale = options.size / side
        work = (options.size, options.size)
        image, mask = _crop(avatar.image, x0, y0, side), _crop(avatar.mask, x0, y0, side)
    else:
        height, width = avatar.image.shape[:2]
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x0 + side, width), min(y0 + side, height)
        region = (x0, y0, x1, y1)
        scale = min(1.0, options.work_size / max(x1 - x0, y1 - y0))
        work = (max(1, round((x1 - x0) * scale)), max(1, round((y1 - y0) * scale)))
        image, mask = avatar.image[y0:y1, x0:x1], avatar.mask[y0:y1, x0:x1]
    shrink = scale < 1
    texture = cv2.resize(image, work, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    mask = cv2.resize(mask, work, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    points = avatar.landmarks.points.astype(np.float32)
    points[:, 0] = (points[:, 0] - x0) * scale
    points[:, 1] = (points[:, 1] - y0) * scale
    points[:, 2] *= scale
    return texture, mask, points, region


class Renderer:
    """Renders frames of one avatar; build once, call render() per frame.

    Output frames are (size, size, 3) uint8 RGB for framing "crop", the portrait's own (H, W, 3) for
    framing "full".
    """

    def __init__(self, avatar: Avatar, options: RenderOptions = RenderOptions()) -> None:
        self.options = options
        self._avatar = avatar
        self._texture, mask, points, self._region = _working_region(avatar, options)
        height, width = self._texture.shape[:2]
        if self._region is not None:
            self._factor = (self._region[2] - self._region[0]) / width  # native px per working px
        self._layers = build_layers(self._texture, mask, points)
        self.rig: Rig = build_rig(points, width, height, self._layers.alpha)
        self._palette = mouth_palette(self._texture, points)
        # glasses come out of the texture and are drawn back moved with the head only, so expressions
        # never bend the frames; then the irises are cut from the clean texture
        self._texture, self._glasses = prepare_glasses(self._texture, points)
        self._texture, self._irises = prepare_irises(self._texture, points)
        # a portrait that already shows its mouth interior keeps its own teeth (upper with the upper
        # lip, lower with the lower) rather than getting a second, synthetic set drawn over them
        self._own = own_mouth(self._texture, points, self._palette) if mouth_is_open(points) else None
        self._identity = identity_map(height, width)
        self._map = np.empty_like(self._identity)
        self._label = np.empty((height, width), np.int8)
        self._zbuf = np.empty((height, width), np.float32)
        # full framing pastes only what differs from the rest pose, so a still frame is the portrait itself
        self._rest = None
        if self._region is not None:
            rest = np.zeros(len(PARAMETERS), np.float32)
            self._rest = rest_pose(self._render_region(rest)[0], self._map, self._identity)

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) of the frames render() returns."""
        if self._region is None:
            return self.options.size, self.options.size
        return self._avatar.size

    def render(self, params: np.ndarray) -> np.ndarray:
        """One frame for motion parameters (P,) float32 ordered as PARAMETERS."""
        if params.shape != (len(PARAMETERS),):
            raise OptionError("params", params.shape, f"must have shape ({len(PARAMETERS)},)")
        head, coverage = self._render_region(params)
        if self._region is None:
            return head
        weight = change_weight(head, self._map, coverage, self._rest)
        frame = self._avatar.image.copy()
        paste_head(frame, head, weight, self._region[:2], self._factor)
        return frame

    def _render_region(self, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The rendered region (h, w, 3) uint8 for motion parameters (P,), and the person's coverage
        (h, w) float32 in it."""
        vertices = pose_vertices(self.rig, params)
        np.copyto(self._map, self._identity)
        self._label.fill(-1)
        self._zbuf.fill(-np.inf)
        rasterize(self.rig.triangles, np.ascontiguousarray(vertices[:, :2]),
                  np.ascontiguousarray(-vertices[:, 2]), self.rig.uv, self.rig.labels,
                  self._map, self._label, self._zbuf)
        person = cv2.remap(self._texture, self._map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        alpha = cv2.remap(self._layers.alpha, self._map, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        draw_irises(person, self._label == LABEL_EYE, vertices, self._irises)
        opening = self._label == LABEL_MOUTH
        if self._own is None:
            draw_mouth_interior(person, opening, vertices, self._palette)
        else:
            draw_own_interior(person, opening, vertices, self._own)
        frame = composite(person, alpha, self._layers.plate)
        if self._glasses is not None:
            draw_glasses(frame, self.rig.rest, self._rigid_vertices(params), self._glasses)
        smooth_silhouettes(frame, self._map)
        return frame, alpha

    def _rigid_vertices(self, params: np.ndarray) -> np.ndarray:
        """Vertices (N, 3) posed by the head pose alone (no expression), for rigid accessories."""
        rigid = np.zeros_like(params)
        rigid[:len(HEAD_PARAMETERS)] = params[:len(HEAD_PARAMETERS)]
        return pose_vertices(self.rig, rigid)

    def frames(self, motion: Motion):
        """Yield one rendered frame per motion frame."""
        for t in range(motion.frames):
            yield self.render(motion.values[t])
