"""Small rotation helpers on (w, x, y, z) quaternions, in NumPy, built on MuJoCo's own."""

from __future__ import annotations

import mujoco
import numpy as np


def quat_to_mat(quat: np.ndarray) -> np.ndarray:
    """3x3 rotation matrix of a unit quaternion (w, x, y, z)."""
    mat = np.empty(9)
    mujoco.mju_quat2Mat(mat, np.asarray(quat, dtype=np.float64))
    return mat.reshape(3, 3)


def mat_to_quat(mat: np.ndarray) -> np.ndarray:
    """Unit quaternion (w, x, y, z) of a 3x3 rotation matrix, with w >= 0."""
    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, np.ascontiguousarray(mat, dtype=np.float64).reshape(9))
    return quat if quat[0] >= 0 else -quat


def quat_mul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Product a * b of two quaternions."""
    out = np.empty(4)
    mujoco.mju_mulQuat(out, np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return out


def axis_angle_quat(axis: np.ndarray, angle_rad: float) -> np.ndarray:
    """Quaternion of a rotation by angle_rad about a unit axis."""
    out = np.empty(4)
    mujoco.mju_axisAngle2Quat(out, np.asarray(axis, dtype=np.float64), float(angle_rad))
    return out


def quat_angle(a: np.ndarray, b: np.ndarray) -> float:
    """Angle in radians of the rotation between two quaternions (normalised here).

    4 atan2(|a - b|, |a + b|), with b's sign taken to match a's: unlike 2 arccos(a . b), exact
    near 0, where a norm off by 1e-8 (a float32 round trip) would read as 3e-4 rad.
    """
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    if np.dot(a, b) < 0.0:
        b = -b
    return 4.0 * float(np.arctan2(np.linalg.norm(a - b), np.linalg.norm(a + b)))


def random_quat(rng: np.random.Generator) -> np.ndarray:
    """A rotation drawn uniformly (Haar measure): a normalised 4D Gaussian sample."""
    quat = rng.normal(size=4)
    quat /= np.linalg.norm(quat)
    return quat if quat[0] >= 0 else -quat


def look_at_quat(eye: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Quaternion of a MuJoCo camera at eye looking at target (camera looks along its -z)."""
    back = np.asarray(eye, dtype=np.float64) - np.asarray(target, dtype=np.float64)
    back /= np.linalg.norm(back)
    right = np.cross(up, back)
    if np.linalg.norm(right) < 1e-6:  # looking along up: any perpendicular will do
        right = np.cross(np.array([1.0, 0.0, 0.0]), back)
    right /= np.linalg.norm(right)
    cam_up = np.cross(back, right)
    return mat_to_quat(np.column_stack([right, cam_up, back]))


def quat_conj(quat: np.ndarray) -> np.ndarray:
    """Conjugate (inverse, for unit quaternions) of (w, x, y, z)."""
    q = np.asarray(quat, dtype=np.float64)
    return np.array([q[0], -q[1], -q[2], -q[3]])


def z_axis(quat: np.ndarray) -> np.ndarray:
    """The z axis of the frames that quaternions (..., 4), w x y z, rotate to: the third column
    of their rotation matrices, (..., 3)."""
    w, x, y, z = np.moveaxis(np.asarray(quat, dtype=np.float64), -1, 0)
    return np.stack([2 * (x * z + w * y), 2 * (y * z - w * x), 1 - 2 * (x * x + y * y)], axis=-1)


def tilt_deg(direction: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Angle (deg, 0-90) between unit directions (..., 3) and a unit axis, folded: a direction
    and its opposite tilt alike."""
    cosine = np.abs(np.asarray(direction, dtype=np.float64) @ np.asarray(axis, dtype=np.float64))
    return np.degrees(np.arccos(np.minimum(cosine, 1.0)))
