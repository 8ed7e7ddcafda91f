"""A small z-buffered triangle rasterizer (numba) that produces backward warp maps.

Each output pixel covered by a triangle receives the texture coordinate interpolated from the
triangle's corners (an exact piecewise-affine inverse warp), the triangle's label and its depth.
Pixels no triangle covers keep the identity map and label -1.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def rasterize(triangles, xy, depth, uv, tri_label, map_xy, label, zbuf):  # pragma: no cover - jitted
    """Rasterize triangles into warp maps, in place.

    triangles: (M, 3) int32 vertex indices; xy: (N, 2) float32 output pixel positions of the vertices;
    depth: (N,) float32, larger is closer; uv: (N, 2) float32 texture coordinates; tri_label: (M,) int8.
    map_xy: (H, W, 2) float32 texture coordinates per pixel (initialise to identity);
    label: (H, W) int8 (initialise to -1); zbuf: (H, W) float32 (initialise to -inf).
    """
    height, width = label.shape
    eps = 1e-4  # a small negative tolerance on the barycentric weights closes hairline gaps
    for t in range(triangles.shape[0]):
        a, b, c = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        ax, ay = xy[a, 0], xy[a, 1]
        bx, by = xy[b, 0], xy[b, 1]
        cx, cy = xy[c, 0], xy[c, 1]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-8:
            continue
        inv_area = 1.0 / area
        # barycentric weights are affine in the pixel position: w = gx * px + gy * py + g0
        ax_, ay_, a0 = (by - cy) * inv_area, (cx - bx) * inv_area, (bx * cy - by * cx) * inv_area
        bx_, by_, b0 = (cy - ay) * inv_area, (ax - cx) * inv_area, (cx * ay - cy * ax) * inv_area
        y0 = max(int(np.floor(min(ay, by, cy))), 0)
        y1 = min(int(np.ceil(max(ay, by, cy))), height - 1)
        xmin = max(int(np.floor(min(ax, bx, cx))), 0)
        xmax = min(int(np.ceil(max(ax, bx, cx))), width - 1)
        for py in range(y0, y1 + 1):
            # the row's span where all three weights are >= -eps
            wa_row, wb_row = ay_ * py + a0, by_ * py + b0
            lo, hi = float(xmin), float(xmax)
            lo, hi = _clip_span(ax_, wa_row, eps, lo, hi)
            lo, hi = _clip_span(bx_, wb_row, eps, lo, hi)
            lo, hi = _clip_span(-ax_ - bx_, 1.0 - wa_row - wb_row, eps, lo, hi)
            if lo > hi:
                continue
            for px in range(int(np.ceil(lo)), int(np.floor(hi)) + 1):
                wa = ax_ * px + wa_row
                wb = bx_ * px + wb_row
                wc = 1.0 - wa - wb
                z = wa * depth[a] + wb * depth[b] + wc * depth[c]
                if z <= zbuf[py, px]:
                    continue
                zbuf[py, px] = z
                label[py, px] = tri_label[t]
                map_xy[py, px, 0] = wa * uv[a, 0] + wb * uv[b, 0] + wc * uv[c, 0]
                map_xy[py, px, 1] = wa * uv[a, 1] + wb * uv[b, 1] + wc * uv[c, 1]


@numba.njit(cache=True, nogil=True, inline="always")
def _clip_span(slope, offset, eps, lo, hi):  # pragma: no cover - jitted
    """Narrow [lo, hi] to the x where slope * x + offset >= -eps."""
    if slope > 1e-12:
        lo = max(lo, (-eps - offset) / slope)
    elif slope < -1e-12:
        hi = min(hi, (-eps - offset) / slope)
    elif offset < -eps:
        hi = lo - 1.0
    return lo, hi


def identity_map(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 map whose every pixel points at itself."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.ascontiguousarray(np.stack([xs, ys], axis=-1))
