"""Where DexNDM-Rotate-v0's episodes start: an object of the set and one of its cached grasps.

Without randomisation an episode is fixed by its start, so evaluations over a range of seeds
must not repeat starts by chance. `StartSampler.draw` takes object and grasp by the seed:
object s mod M of the M objects that have grasps, and that object's grasp number s // M, both
in fixed orders (seed_order). Seeds s, s+1, ... then start from distinct grasps for as many
seeds as M times the smallest object's grasp count (1,566 for cylinders palm up). A reset
without a seed draws object and grasp uniformly, the same distribution.

Every start has a name, `start_id`: "<object>/<wrist>/<index in the cache>".
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from dexndm_envs.core import task
from dexndm_envs.sim.grasps.cache import Grasp, GraspCache, grasp_tilt_deg
from dexndm_envs.sim.objects.catalog import ObjectSpec, resolve_object_set


@cache
def seed_order(n: int) -> np.ndarray:
    """A fixed permutation of range(n), the same on every machine: the order in which seeded
    resets take n objects or n grasps. Read-only."""
    order = np.random.default_rng(n).permutation(n)
    order.flags.writeable = False
    return order


def start_id(obj: str, wrist: str, index: int) -> str:
    """The name of one cached grasp, as episodes report their start: "<object>/<wrist>/<i>"."""
    return f"{obj}/{wrist}/{index}"


@dataclass(frozen=True)
class Start:
    """One episode's start: the object, the grasp, and the grasp's name (start_id)."""

    object: ObjectSpec
    grasp: Grasp
    name: str


class StartSampler:
    """The objects of a set that can start episodes, and the draw of a start.

    Args:
        grasp_cache: where the grasps come from.
        object_set: a category, "all", an object name or a list of those.
        wrist_option: what the env draws its wrist from ("random", a name or a quaternion).
        scale_range: the object scales to start from; None: scale 1 only (no randomisation).
        tilt_range_deg: (low, high): only grasps whose object z axis makes an angle in that
            range (folded to 0-90 deg) with the episode's axis; all when None.

    Raises:
        KeyError: an object asked for by name lacks grasps for a wrist the env can draw, or
            no object of the set has any (objects that came in through a category or "all"
            and lack them are left out with a warning: synthesis finds no stable grasp for a
            few complex shapes under some wrist orientations).
    """

    def __init__(
        self,
        grasp_cache: GraspCache,
        object_set: str | Sequence[str],
        wrist_option: str | np.ndarray,
        scale_range: tuple[float, float] | None,
        tilt_range_deg: tuple[float, float] | None,
    ) -> None:
        self.grasp_cache, self.scale_range, self.tilt_range_deg = (
            grasp_cache,
            scale_range,
            tilt_range_deg,
        )
        if isinstance(wrist_option, np.ndarray):
            wrists = [task.nearest_named_wrist(wrist_option)]
        else:
            wrists = list(task.WRISTS) if wrist_option == "random" else [wrist_option]
        named = {object_set} if isinstance(object_set, str) else set(object_set)
        self.objects: list[ObjectSpec] = []
        self.left_out: list[str] = []
        for obj in resolve_object_set(object_set):
            try:
                for wrist in wrists:
                    grasp_cache.rows(obj.name, wrist, scale_range)
            except KeyError:
                if obj.name in named:
                    raise
                self.left_out.append(obj.name)
            else:
                self.objects.append(obj)
        if not self.objects:
            raise KeyError(
                f"the grasp cache has no grasps for any object of {object_set!r} "
                f"with wrist {wrist_option!r}"
            )
        if self.left_out:
            warnings.warn(
                f"no cached grasps for wrist {wrist_option!r}; left out of the object set: "
                f"{', '.join(self.left_out)}",
                stacklevel=3,
            )

    def draw(
        self,
        wrist: str,
        wrist_quat: np.ndarray,
        axis: np.ndarray,
        seed: int | None,
        rng: np.random.Generator,
    ) -> Start:
        """The start of an episode under a named wrist (its quaternion, wrist_quat) about axis:
        by the seed when there is one (the module docstring), else drawn with rng.

        Raises:
            ValueError: no object has a grasp within tilt_range_deg.
        """
        pools = [(obj, *self._grasps(obj, wrist, wrist_quat, axis)) for obj in self.objects]
        pools = [pool for pool in pools if len(pool[1])]
        if not pools:
            low, high = self.tilt_range_deg or (0.0, 90.0)
            raise ValueError(
                f"no cached grasp of any object of the set under wrist {wrist!r} starts with a "
                f"tilt in [{low:g}, {high:g}] deg from the axis {axis.round(3).tolist()}; "
                "widen start_tilt_deg or choose other objects"
            )
        if seed is None:
            obj, ids, rows = pools[rng.integers(len(pools))]
            k = int(rng.integers(len(ids)))
        else:
            obj, ids, rows = pools[seed_order(len(pools))[seed % len(pools)]]
            k = int(seed_order(len(ids))[(seed // len(pools)) % len(ids)])
        return Start(obj, Grasp.from_row(rows[k]), start_id(obj.name, wrist, int(ids[k])))

    def _grasps(
        self, obj: ObjectSpec, wrist: str, wrist_quat: np.ndarray, axis: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(cache indices, rows) of obj's grasps at the scales, within the tilt range."""
        ids, rows = self.grasp_cache.select(obj.name, wrist, self.scale_range)
        if self.tilt_range_deg is not None:
            low, high = self.tilt_range_deg
            tilt = grasp_tilt_deg(rows, wrist_quat, axis)
            keep = (tilt >= low) & (tilt <= high)
            ids, rows = ids[keep], rows[keep]
        return ids, rows
