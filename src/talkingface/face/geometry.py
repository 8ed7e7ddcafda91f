"""Rigid geometry of landmark sets: similarity alignment, rotations, the skull's rigid points.

Shared by motion capture (head pose of a tracked face) and evaluation (head pose of a rendered one).
"""

from __future__ import annotations

import numpy as np

RIGID_POINTS = (33, 133, 362, 263, 168, 6, 197, 195, 5, 4, 1, 10, 234, 454, 127, 356, 93, 323, 116, 345)
"""Points of the skull (eyes' corners, nose, hairline, temples, cheekbones, face sides): head pose.
The forehead (which the brows pull) and the cheeks (which a smile lifts) are left out."""


def similarity_transform(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-squares similarity (rotation, uniform scale, translation) mapping source onto target.

    Parameters
    ----------
    source, target : (N, D) corresponding points

    Returns
    -------
    matrix : (D, D) scale times rotation; offset : (D,); apply as ``points @ matrix.T + offset``.
    (Umeyama 1991, reflections excluded.)
    """
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    covariance = t.T @ s / source.shape[0]
    u, sigma, vt = np.linalg.svd(covariance)
    d = np.ones(source.shape[1])
    d[-1] = np.sign(np.linalg.det(u @ vt)) or 1.0
    rotation = u @ np.diag(d) @ vt
    variance = (s * s).sum() / source.shape[0]
    scale = (sigma * d).sum() / variance if variance > 0 else 1.0
    matrix = scale * rotation
    return matrix, mu_t - mu_s @ matrix.T


def mean_rotation(rotations: np.ndarray) -> np.ndarray:
    """Chordal L2 mean of rotations (K, 3, 3): the mean matrix projected back onto SO(3)."""
    u, _, vt = np.linalg.svd(rotations.mean(axis=0))
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ np.diag([1.0, 1.0, d]) @ vt
