"""Stable grasps that episodes start from: what a grasp holds, and the shipped cache.

A grasp is a hand pose, the joint targets that hold it, the object's pose in the palm frame
and the object scale it was made for. The cache holds grasps per object and named wrist
orientation; dexndm_envs.sim.grasps.synthesis makes them and (re)builds the shipped file:
    python -m dexndm_envs.sim.grasps.synthesis --out dexndm_envs/assets/grasps.npz
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import mujoco
import numpy as np

from dexndm_envs.core import geometry
from dexndm_envs.core.atomic import atomic_write
from dexndm_envs.core.constants import NUM_JOINTS
from dexndm_envs.core.provenance import check_build
from dexndm_envs.sim import scene

GRASP_CACHE_PATH = scene.ASSETS_DIR / "grasps.npz"
CACHE_VERSION = 1

# Row layout of a grasp: scale, joint_pos (16), joint_targets (16), object pos (3) and quat (4)
# in the palm frame.
_SCALE = 0
_QPOS = slice(1, 1 + NUM_JOINTS)
_TARGETS = slice(1 + NUM_JOINTS, 1 + 2 * NUM_JOINTS)
_OBJ_POS = slice(1 + 2 * NUM_JOINTS, 4 + 2 * NUM_JOINTS)
_OBJ_QUAT = slice(4 + 2 * NUM_JOINTS, 8 + 2 * NUM_JOINTS)
ROW_SIZE = 8 + 2 * NUM_JOINTS
OBJECT_QUAT_COLUMNS = _OBJ_QUAT
"""Where a row holds the object's quaternion in the palm frame (w, x, y, z)."""


@dataclass(frozen=True)
class Grasp:
    """One cached grasp (angles in rad, positions in m, quaternion w x y z, palm frame)."""

    scale: float
    joint_pos: np.ndarray
    joint_targets: np.ndarray
    object_pos_palm: np.ndarray
    object_quat_palm: np.ndarray

    def to_row(self) -> np.ndarray:
        return np.concatenate(
            [
                [self.scale],
                self.joint_pos,
                self.joint_targets,
                self.object_pos_palm,
                self.object_quat_palm,
            ]
        )

    def write_state(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        palm_body: int,
        object_qpos: int,
        wrist_quat: np.ndarray,
    ) -> None:
        """Put hand and object in this grasp and hold it (ctrl = targets), for a palm already
        placed with scene.place_hand(wrist_quat). Velocities are left as they are."""
        rot = geometry.quat_to_mat(wrist_quat)
        data.qpos[:NUM_JOINTS] = self.joint_pos
        data.qpos[object_qpos : object_qpos + 3] = (
            model.body_pos[palm_body] + rot @ self.object_pos_palm
        )
        data.qpos[object_qpos + 3 : object_qpos + 7] = geometry.quat_mul(
            wrist_quat, self.object_quat_palm
        )
        data.ctrl[:NUM_JOINTS] = self.joint_targets

    @classmethod
    def from_row(cls, row: np.ndarray) -> Grasp:
        row = np.asarray(row, dtype=np.float64)
        return cls(float(row[_SCALE]), row[_QPOS], row[_TARGETS], row[_OBJ_POS], row[_OBJ_QUAT])


class GraspCache:
    """Grasps by (object name, wrist name), loaded from an .npz file.

    The file holds one array per key "<object>/<wrist>" and a JSON "meta" entry (version,
    synthesis config, grasp centre).
    """

    def __init__(self, grasps: dict[tuple[str, str], np.ndarray], meta: dict) -> None:
        self.grasps = grasps
        self.meta = meta

    @classmethod
    def load(cls, path: str | Path = GRASP_CACHE_PATH) -> GraspCache:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"no grasp cache at {path}; build one with "
                f"`python -m dexndm_envs.sim.grasps.synthesis --out {path}`"
            )
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta.get("version") != CACHE_VERSION:
                raise ValueError(
                    f"grasp cache {path} has version {meta.get('version')}, this "
                    f"package reads version {CACHE_VERSION}; rebuild it"
                )
            grasps = {}
            for key in npz.files:
                if key == "meta":
                    continue
                obj, wrist = key.split("/")
                rows = np.asarray(npz[key], dtype=np.float64)
                if rows.ndim != 2 or rows.shape[1] != ROW_SIZE:
                    raise ValueError(
                        f"grasp cache {path}: {key} has shape {rows.shape}, "
                        f"expected (N, {ROW_SIZE})"
                    )
                grasps[(obj, wrist)] = rows
        check_build(meta.get("build"), f"grasp cache {path}")
        return cls(grasps, meta)

    def save(self, path: str | Path) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half of one.
        meta["build"] should say which versions made or last validated the grasps
        (provenance.build_info)."""
        path = Path(path)
        arrays = {
            f"{obj}/{wrist}": rows.astype(np.float32) for (obj, wrist), rows in self.grasps.items()
        }
        with atomic_write(path) as file:
            np.savez_compressed(file, meta=np.array(json.dumps(self.meta)), **arrays)

    def rows(self, obj: str, wrist: str, scale_range: tuple[float, float] | None) -> np.ndarray:
        """The grasps of one key; with scale_range None only those made at scale 1.

        Raises:
            KeyError: when the cache has no grasp for the object, wrist and scales asked for.
        """
        return self.select(obj, wrist, scale_range)[1]

    def select(
        self, obj: str, wrist: str, scale_range: tuple[float, float] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """rows(), with each row's index among all grasps of its key: (indices, rows).

        The index names a grasp for good (starts.start_id): rows are only ever appended to
        a key.

        Raises:
            KeyError: as rows().
        """
        rows = self.grasps.get((obj, wrist))
        if rows is None or len(rows) == 0:
            raise KeyError(
                f"the grasp cache has no grasps for object {obj!r} with wrist {wrist!r}; "
                "rebuild it with `python -m dexndm_envs.sim.grasps.synthesis --out PATH`"
            )
        scales = rows[:, _SCALE]
        if scale_range is None:
            keep = np.abs(scales - 1.0) < 1e-6
        else:
            keep = (scales >= scale_range[0] - 1e-6) & (scales <= scale_range[1] + 1e-6)
        if not keep.any():
            raise KeyError(
                f"the grasp cache has no grasps for {obj!r} / {wrist!r} at scales "
                f"{scale_range or 1.0}; rebuild it with matching --scale-range"
            )
        return np.flatnonzero(keep), rows[keep]


@cache
def default_cache() -> GraspCache:
    """The cache shipped with the package (loaded once per process)."""
    return GraspCache.load(GRASP_CACHE_PATH)


def resolve_cache(grasp_cache: GraspCache | str | Path | None) -> GraspCache:
    """A GraspCache as given, one loaded from a path, or the shipped one for None."""
    if isinstance(grasp_cache, GraspCache):
        return grasp_cache
    return default_cache() if grasp_cache is None else GraspCache.load(grasp_cache)


def grasp_tilt_deg(rows: np.ndarray, wrist_quat: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Angle (deg, 0-90) between the axis (world) and the object's z axis of each cached grasp
    row under this wrist orientation."""
    object_z_palm = geometry.z_axis(np.asarray(rows)[:, OBJECT_QUAT_COLUMNS])
    return geometry.tilt_deg(object_z_palm @ geometry.quat_to_mat(wrist_quat).T, axis)
