"""Grasp synthesis: stable grasps to start episodes from, and the command that builds the cache.

Synthesis (per object and named wrist orientation; see dexndm_envs.sim.grasps.cache for what a grasp
holds):
  1. place the object near the grasp centre in a random orientation that fits the hand
     (scale drawn per grasp; thin objects sit nearer the palm, narrow ones between index and
     middle finger);
  2. inverse kinematics puts the fingertips `open_margin_m` outside the object (fingers on the
     +x side, thumb opposite; a finger that would crowd its neighbour stays out) and a second
     solve aims them `contact_depth_m` inside it;
  3. with gravity off, the fingers close on the free object for `close_s`; then the targets
     are set to the reached pose plus `squeeze_rad` in the closing direction (a grip well
     under the torque limit: deep squeezes only sink fingertips into soft contacts), and
     gravity, in the wrist's direction, acts for `settle_s`;
  4. the settled state is kept if holding still (the same targets) keeps the object within
     half the drop distance for `validate_s` more.
The paper generates grasps palm-down from a canonical pose plus noise (DexNDM, base-policy
details); we generate them under each wrist orientation so every named one starts stable.

Rebuild the shipped cache (about 40 minutes on 2 cores; a second pass gives the hard
object/wrist pairs more attempts, holding the object nearer the palm). --out is required: the
shipped cache is overwritten only when named.
    python -m dexndm_envs.sim.grasps.synthesis --out dexndm_envs/assets/grasps.npz
    python -m dexndm_envs.sim.grasps.synthesis --out grasps.npz --objects cube --per-key 4
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import mujoco
import numpy as np

from dexndm_envs.core import geometry
from dexndm_envs.core.cli import UsageError, check_at_least, checking_input, run
from dexndm_envs.core.constants import FINGERTIP_SITES, NUM_JOINTS
from dexndm_envs.core.provenance import build_info
from dexndm_envs.core.task import WRISTS
from dexndm_envs.sim import scene
from dexndm_envs.sim.config import RandomizationConfig, RotateConfig
from dexndm_envs.sim.grasps.cache import (
    CACHE_VERSION,
    ROW_SIZE,
    Grasp,
    GraspCache,
)
from dexndm_envs.sim.objects.catalog import ObjectSpec, object_library

_NOMINAL_POSE = np.array([0.8, 0.0, 0.8, 0.5] * 3 + [1.5, 0.8, 0.5, 0.3])
"""IK seed and null-space pull: fingers half flexed, thumb swung in front of the palm."""
_MAX_PENETRATION_M = 0.005
_MAX_HALF_Z_M = 0.045
"""Largest half extent along the palm normal: the grasp centre is 5.1 cm off the palm face."""
_MAX_HALF_X_M = 0.045
"""Largest half extent between the fingers' and the thumb's side."""
_FINGER_SPACING_M = 0.021
"""Closest two fingertip aims may be across y: a finger is 2.2 cm wide."""
_NARROW_HALF_Y_M = 0.02
_PALM_FACE_Z_M = -0.034
_FINGER_Y = np.array([0.0076, -0.0378, -0.0832])
"""Fingertip y of index, middle and ring in the palm frame (straight fingers, public kinematics)."""


@dataclass(frozen=True)
class SynthesisConfig:
    """Parameters of grasp synthesis (see the module docstring)."""

    open_margin_m: float = 0.02
    contact_depth_m: float = 0.003
    squeeze_rad: float = 0.08
    center_noise_m: float = 0.004
    close_s: float = 0.6
    settle_s: float = 1.0
    validate_s: float = 1.5
    drop_distance_m: float = RotateConfig.drop_distance_m
    scale_range: tuple[float, float] = RandomizationConfig.object_scale
    center_z_m: float = float(scene.GRASP_CENTER_PALM[2])
    """Height of the grasp centre along the palm normal (the palm face is at z = -0.034)."""
    palm_clearance_m: float = 0.012
    """Gap left between a thin object and the palm face."""
    nominal_fraction: float = 0.34
    """Share of grasps made at scale 1 (used when scale randomisation is off)."""


class HandIK:
    """Damped least-squares fingertip IK, finger by finger, in the palm frame."""

    def __init__(self, model: mujoco.MjModel) -> None:
        self.model = model
        self.data = mujoco.MjData(model)
        self.sites = [model.site(name).id for name in FINGERTIP_SITES]
        self.palm = model.body("palm").id
        self.qadr = model.jnt_qposadr[:NUM_JOINTS]
        self.lower = model.jnt_range[:NUM_JOINTS, 0]
        self.upper = model.jnt_range[:NUM_JOINTS, 1]
        self._jac = np.zeros((3, model.nv))

    def solve(self, tips_palm: np.ndarray, q_init: np.ndarray, iters: int = 60) -> np.ndarray:
        """Joint angles that put the four fingertips at tips_palm (4, 3), within limits."""
        model, data = self.model, self.data
        q = q_init.copy()
        for _ in range(iters):
            data.qpos[self.qadr] = q
            mujoco.mj_kinematics(model, data)
            mujoco.mj_comPos(model, data)
            rot, origin = data.xmat[self.palm].reshape(3, 3), data.xpos[self.palm]
            for finger, site in enumerate(self.sites):
                cols = slice(4 * finger, 4 * finger + 4)
                err = rot.T @ (data.site_xpos[site] - origin)
                err = tips_palm[finger] - err
                mujoco.mj_jacSite(model, data, self._jac, None, site)
                jac = rot.T @ self._jac[:, self.qadr[cols]]
                step = jac.T @ np.linalg.solve(jac @ jac.T + 1e-4 * np.eye(3), err)
                # a weak pull towards the nominal pose keeps abduction joints from drifting
                step += 0.05 * (_NOMINAL_POSE[cols] - q[cols])
                q[cols] += np.clip(step, -0.2, 0.2)
            q = np.clip(q, self.lower, self.upper)
        return q


def _tip_targets(center: np.ndarray, half_x: float, half_y: float) -> tuple[np.ndarray, np.ndarray]:
    """Fingertip aims and which fingers engage: fingers on the +x face, thumb on the -x face.

    A finger presses at its own y, pulled within the object's width; a finger that would then
    come closer than _FINGER_SPACING_M to one already placed (nearest to the centre first)
    stays out of the grasp, straight.

    Returns:
        tips (4, 3) in the palm frame and a bool mask (4,) of the digits that engage.
    """
    tips = np.tile(center, (4, 1))
    engaged = np.ones(4, dtype=bool)
    reach = max(0.8 * half_y, 0.5 * _FINGER_SPACING_M)
    aim_y = center[1] + np.clip(_FINGER_Y - center[1], -reach, reach)
    placed: list[float] = []
    for finger in np.argsort(np.abs(_FINGER_Y - center[1])):
        if any(abs(aim_y[finger] - y) < _FINGER_SPACING_M for y in placed):
            engaged[finger] = False
            continue
        placed.append(aim_y[finger])
    tips[:3, 0] += half_x
    tips[:3, 1] = aim_y
    tips[3, 0] -= half_x
    return tips, engaged


def _grasp_center(half: np.ndarray, rng: np.random.Generator, cfg: SynthesisConfig) -> np.ndarray:
    """Where to hold an object of half extents `half` (palm axes), in the palm frame, with noise.

    Narrow objects are held between index and middle finger, wider ones at the middle finger;
    thin ones nearer the palm (`palm_clearance_m` off it), within reach of curled fingertips.
    """
    center = np.array([scene.GRASP_CENTER_PALM[0], scene.GRASP_CENTER_PALM[1], cfg.center_z_m])
    if half[1] < _NARROW_HALF_Y_M:
        center[1] = 0.5 * (_FINGER_Y[0] + _FINGER_Y[1])
    center[2] = max(center[2], _PALM_FACE_Z_M - half[2] - cfg.palm_clearance_m)
    return center + rng.normal(0.0, cfg.center_noise_m, 3)


def _deepest_contact_m(data: mujoco.MjData) -> float:
    """Largest penetration depth among the current contacts (0 without contacts)."""
    return float(max(0.0, -data.contact.dist[: data.ncon].min())) if data.ncon else 0.0


class GraspSynthesizer:
    """Makes and validates grasps of one object under one wrist orientation."""

    def __init__(
        self, obj: ObjectSpec, sim_dt_s: float = 0.01, config: SynthesisConfig | None = None
    ) -> None:
        self.obj = obj
        self.config = config or SynthesisConfig()
        self.model = scene.compile_scene(obj, sim_dt_s)
        self.data = mujoco.MjData(self.model)
        self.physics = scene.ObjectPhysics(self.model)
        self.ik = HandIK(self.model)
        self.palm = self.model.body("palm").id
        self.camera = self.model.camera("closeup").id
        joint = self.model.joint("object_joint").id
        self.obj_qpos = self.model.jnt_qposadr[joint]
        self.obj_dof = self.model.jnt_dofadr[joint]

    def _steps(self, seconds: float) -> int:
        return max(1, round(seconds / self.model.opt.timestep))

    def attempt(
        self, wrist_quat: np.ndarray, scale: float, rng: np.random.Generator
    ) -> Grasp | None:
        """One synthesis attempt; the grasp if it held, else None."""
        cfg, model, data = self.config, self.model, self.data
        scene.place_hand(model, self.palm, self.camera, wrist_quat)
        self.physics.apply(model, scale=scale)
        mujoco.mj_setConst(model, data)
        obj_quat_palm, half = self._orientation(scale, rng)
        center = _grasp_center(half, rng, cfg)
        tips_open, engaged = _tip_targets(center, half[0] + cfg.open_margin_m, half[1])
        tips_close, _ = _tip_targets(center, max(half[0] - cfg.contact_depth_m, 0.0), half[1])
        q_open = self.ik.solve(tips_open, _NOMINAL_POSE)
        q_close = self.ik.solve(tips_close, q_open)
        idle = np.repeat(~engaged, 4)
        q_open[idle] = q_close[idle] = 0.0

        mujoco.mj_resetData(model, data)
        rot = geometry.quat_to_mat(wrist_quat)
        origin = model.body_pos[self.palm]
        data.qpos[:NUM_JOINTS] = q_open
        data.ctrl[:] = q_close
        obj_pos = slice(self.obj_qpos, self.obj_qpos + 3)
        data.qpos[obj_pos] = origin + rot @ center
        data.qpos[self.obj_qpos + 3 : self.obj_qpos + 7] = geometry.quat_mul(
            wrist_quat, obj_quat_palm
        )
        mujoco.mj_forward(model, data)
        if _deepest_contact_m(data) > _MAX_PENETRATION_M:
            return None  # the open pose already cuts into the object
        # Close on a weightless object, so it settles into the fingers instead of being
        # squeezed against a pinned pose (which stores contact energy that ejects it later).
        gravity = model.opt.gravity.copy()
        model.opt.gravity[:] = 0.0
        try:
            mujoco.mj_step(model, data, nstep=self._steps(cfg.close_s))
        finally:
            model.opt.gravity[:] = gravity
        q = data.qpos[:NUM_JOINTS]
        closing = np.sign(q_close - q_open) * np.repeat(engaged, 4)
        data.ctrl[:] = np.clip(q + cfg.squeeze_rad * closing, self.ik.lower, self.ik.upper)
        mujoco.mj_step(model, data, nstep=self._steps(cfg.settle_s))
        # place_hand puts the grasp centre at WORLD_CENTER
        if not np.all(np.isfinite(data.qpos)) or (
            np.linalg.norm(data.qpos[obj_pos] - scene.WORLD_CENTER) > 0.5 * cfg.drop_distance_m
        ):
            return None
        grasp = Grasp(
            scale=scale,
            joint_pos=data.qpos[:NUM_JOINTS].copy(),
            joint_targets=data.ctrl.copy(),
            object_pos_palm=rot.T @ (data.qpos[obj_pos] - origin),
            object_quat_palm=geometry.quat_mul(
                geometry.quat_conj(wrist_quat), data.qpos[self.obj_qpos + 3 : self.obj_qpos + 7]
            ),
        )
        return grasp if self.holds(wrist_quat, grasp, cfg.validate_s) else None

    def _orientation(self, scale: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """A random object orientation that fits between palm, fingers and thumb.

        Returns the quaternion (palm frame) and the object's half extents along the palm axes.
        Long objects rarely fit a random orientation; after 50 draws the longest side is laid
        along the palm's y axis (across the fingers).
        """
        extents = self.obj.bounding_half_extents() * scale
        for _ in range(50):
            quat = geometry.random_quat(rng)
            half = np.abs(geometry.quat_to_mat(quat)) @ extents
            if half[2] < _MAX_HALF_Z_M and half[0] < _MAX_HALF_X_M:
                return quat, half
        order = np.argsort(extents)  # shortest first: shortest -> palm z, longest -> palm y
        rot = np.zeros((3, 3))
        rot[2, order[0]] = rot[0, order[1]] = rot[1, order[2]] = 1.0
        if np.linalg.det(rot) < 0:
            rot[2] *= -1.0
        return geometry.mat_to_quat(rot), np.abs(rot) @ extents

    def holds(self, wrist_quat: np.ndarray, grasp: Grasp, seconds: float) -> bool:
        """Whether holding still keeps the object within half the drop distance for seconds."""
        model, data = self.model, self.data
        scene.place_hand(model, self.palm, self.camera, wrist_quat)
        self.physics.apply(model, scale=grasp.scale)
        mujoco.mj_resetData(model, data)
        mujoco.mj_setConst(model, data)
        grasp.write_state(model, data, self.palm, self.obj_qpos, wrist_quat)
        mujoco.mj_step(model, data, nstep=self._steps(seconds))
        distance = np.linalg.norm(data.qpos[self.obj_qpos : self.obj_qpos + 3] - scene.WORLD_CENTER)
        return bool(np.all(np.isfinite(data.qpos)) and distance < 0.5 * self.config.drop_distance_m)

    def generate(
        self, wrist: str, count: int, rng: np.random.Generator, max_attempts: int | None = None
    ) -> np.ndarray:
        """Up to count grasps as rows (count, ROW_SIZE); fewer if max_attempts runs out."""
        cfg = self.config
        wrist_quat = WRISTS[wrist]
        n_nominal = round(cfg.nominal_fraction * count)
        rows: list[np.ndarray] = []
        for _ in range(max_attempts or 20 * count):
            if len(rows) == count:
                break
            scale = 1.0 if len(rows) < n_nominal else float(rng.uniform(*cfg.scale_range))
            grasp = self.attempt(wrist_quat, scale, rng)
            if grasp is not None:
                rows.append(grasp.to_row())
        return np.array(rows, dtype=np.float64).reshape(-1, ROW_SIZE)


def _build_key(
    name: str,
    wrist: str,
    count: int,
    seed: Sequence[int],
    config: SynthesisConfig,
    max_attempts: int | None,
) -> tuple[tuple[str, str], np.ndarray]:
    # Unstable candidates are expected and rejected (non-finite state); keep MuJoCo from
    # printing and logging a warning for each of them in this worker.
    mujoco.set_mju_user_warning(lambda _message: None)
    synth = GraspSynthesizer(object_library()[name], config=config)
    rows = synth.generate(wrist, count, np.random.default_rng(list(seed)), max_attempts)
    return (name, wrist), rows


def build_cache(
    objects: Sequence[str],
    wrists: Sequence[str],
    per_key: int,
    seed: int,
    config: SynthesisConfig,
    workers: int = 1,
    progress: bool = True,
    base: GraspCache | None = None,
    max_attempts: int | None = None,
) -> GraspCache:
    """Synthesise grasps for every object x wrist (see the module docstring).

    With `base`, only keys holding fewer than per_key grasps are worked on, and what is found
    is added to theirs (a top-up with more attempts for hard object/wrist pairs). Keys are
    spread over `workers` processes; the result does not depend on their number.
    """
    from concurrent.futures import ProcessPoolExecutor

    from tqdm import tqdm

    grasps = dict(base.grasps) if base is not None else {}
    jobs = []
    for i, name in enumerate(objects):
        for j, wrist in enumerate(wrists):
            have = len(grasps.get((name, wrist), ()))
            if have < per_key:
                key_seed = (seed, i, j, have)  # a top-up draws new candidates
                jobs.append((name, wrist, per_key - have, key_seed, config, max_attempts))
    desc = "grasp synthesis (object x wrist)"
    with tqdm(total=len(jobs), desc=desc, disable=not progress) as bar:
        if workers <= 1:
            results = (_build_key(*job) for job in jobs)
        else:
            pool = ProcessPoolExecutor(workers)
            results = pool.map(_build_key, *zip(*jobs, strict=True))
        for key, rows in results:
            old = grasps.get(key, np.zeros((0, ROW_SIZE)))
            grasps[key] = np.concatenate([old, rows])
            bar.set_postfix_str(f"{key[0]}/{key[1]}: {len(grasps[key])}")
            bar.update()
        if workers > 1:
            pool.shutdown()
    meta = dict(base.meta) if base is not None else {}
    meta.update(
        version=CACHE_VERSION,
        seed=seed,
        grasp_center_palm=scene.GRASP_CENTER_PALM.tolist(),
        build=build_info(),
    )
    record = {"objects": sorted(set(objects)), "seed": seed, "per_key": per_key}
    record |= {"max_attempts": max_attempts, "synthesis": dataclasses.asdict(config)}
    meta.setdefault("passes", []).append(record)
    return GraspCache(grasps, meta)


@dataclass
class BuildArgs:
    """Build the grasp cache that episodes start from."""

    out: Path
    """Where to write the .npz cache (the shipped one is dexndm_envs/assets/grasps.npz)."""
    objects: tuple[str, ...] = ("all",)
    """Object names or categories (dexndm_envs.sim.objects.catalog), or "all"."""
    wrists: tuple[Literal[tuple(WRISTS)], ...] = tuple(WRISTS)
    """Named wrist orientations to make grasps for."""
    per_key: int = 32
    """Grasps per object and wrist."""
    workers: int = 2
    """Processes to spread the object x wrist pairs over."""
    seed: int = 0
    scale_range: tuple[float, float] = RandomizationConfig.object_scale
    """Object scale multipliers covered (must contain the env's object_scale range)."""
    top_up: bool = False
    """Keep the cache at --out and only fill keys with fewer than --per-key grasps."""
    max_attempts: int | None = None
    """Synthesis attempts per key (default 20 per grasp wanted)."""
    min_per_key: int = 8
    """Second pass: keys with fewer grasps than this get --hard-attempts more attempts."""
    hard_attempts: int = 2500
    """Synthesis attempts per key in the second pass."""


def check_args(args: BuildArgs) -> tuple[list[str], GraspCache | None]:
    """The object names and, with --top-up, the cache to fill; before any synthesis."""
    from dexndm_envs.sim.objects.catalog import resolve_object_set

    check_at_least({
        "--per-key": (args.per_key, 1), "--workers": (args.workers, 1),
        "--max-attempts": (args.max_attempts, 1), "--min-per-key": (args.min_per_key, 0),
        "--hard-attempts": (args.hard_attempts, 1),
    })  # fmt: skip
    if not args.objects or not args.wrists:
        raise UsageError("--objects and --wrists need at least one name each")
    low, high = args.scale_range
    if not 0 < low <= high:
        raise UsageError(f"--scale-range must be 0 < low <= high, got {low:g} {high:g}")
    with checking_input("--objects"):
        names = [spec.name for spec in resolve_object_set(list(args.objects))]
    if not args.top_up:
        return names, None
    with checking_input("--out"):  # --top-up fills the cache that is there
        return names, GraspCache.load(args.out)


def main(args: BuildArgs) -> None:
    names, cache_ = check_args(args)
    config = SynthesisConfig(scale_range=args.scale_range)
    # The second pass gives the pairs still short of grasps more attempts, and holds objects
    # nearer the palm: small composites under sideways gravity slip out of fingertip grasps.
    near_palm = dataclasses.replace(config, center_z_m=-0.07, palm_clearance_m=0.004)
    passes = [
        (args.per_key, args.max_attempts, config),
        (args.min_per_key, args.hard_attempts, near_palm),
    ]
    for per_key, max_attempts, pass_config in passes:
        cache_ = build_cache(
            names,
            args.wrists,
            per_key,
            args.seed,
            pass_config,
            workers=args.workers,
            base=cache_,
            max_attempts=max_attempts,
        )
    cache_.save(args.out)
    counts = [len(rows) for rows in cache_.grasps.values()]
    print(f"wrote {args.out}: {len(counts)} keys, {sum(counts)} grasps (min {min(counts)} per key)")


if __name__ == "__main__":
    run(main, BuildArgs)
