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
    for t in range(triangles.shape[0]):
        a, b, c = triangles[t, 0], triangles[t, 1], triangles[t, 2]
        ax, ay = xy[a, 0], xy[a, 1]
        bx, by = xy[b, 0], xy[b, 1]
        cx, cy = xy[c, 0], xy[c, 1]
        area = (bx - ax) * (cy - ay) - (by - ay) * (cx - ax)
        if abs(area) < 1e-8:
            continue
        inv_area = 1.0 / area
        x0 = max(int(np.floor(min(ax, bx, cx))), 0)
        x1 = min(int(np.ceil(max(ax, bx, cx))), width - 1)
        y0 = max(int(np.floor(min(ay, by, cy))), 0)
        y1 = min(int(np.ceil(max(ay, by, cy))), height - 1)
        for py in range(y0, y1 + 1):
            for px in range(x0, x1 + 1):
                # barycentric weights of (px, py); a small negative tolerance closes hairline gaps
                wa = ((bx - px) * (cy - py) - (by - py) * (cx - px)) * inv_area
                wb = ((cx - px) * (ay - py) - (cy - py) * (ax - px)) * inv_area
                wc = 1.0 - wa - wb
                if wa < -1e-4 or wb < -1e-4 or wc < -1e-4:
                    continue
                z = wa * depth[a] + wb * depth[b] + wc * depth[c]
                if z <= zbuf[py, px]:
                    continue
                zbuf[py, px] = z
                label[py, px] = tri_label[t]
                map_xy[py, px, 0] = wa * uv[a, 0] + wb * uv[b, 0] + wc * uv[c, 0]
                map_xy[py, px, 1] = wa * uv[a, 1] + wb * uv[b, 1] + wc * uv[c, 1]


def identity_map(height: int, width: int) -> np.ndarray:
    """(H, W, 2) float32 map whose every pixel points at itself."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.ascontiguousarray(np.stack([xs, ys], axis=-1))
