"""The chaos box: the LEAP hand inside a closed box of soft balls.

DexNDM collects its real-world data autonomously (arXiv 2510.08556, "Chaos Box"): the hand sits
in a box of soft balls and replays action sequences open loop with no resets, so every joint
moves under varied, changing contact loads. This module builds that scene in MuJoCo around the
same hand model as the rotation task (assets/leap_hand.xml, included unchanged, with its
position actuators, which a virtual-hand motor model may replace at run time).

The box is static, axis-aligned in the world and sized per wrist orientation: it is the
bounding box of everything the hand's collision geoms can reach over the full joint range,
with the palm placed as in `scene.place_hand` (grasp centre at `scene.WORLD_CENTER`), plus a
margin. Its six faces are planes, i.e. half-spaces: a ball cannot tunnel through them at any
speed. They touch only the balls (collision bit 1), never the hand.

Usage:
    model = compile_chaos_box("palm_down")
    data = mujoco.MjData(model)
    box = ChaosBoxScene(model)
    box.reset(model, data, np.random.default_rng(0))
    box.settle(model, data)
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import mujoco
import numpy as np

from dexndm_envs.core import constants, geometry, task
from dexndm_envs.sim import scene

BALL_RADIUS_RANGE_M = (0.015, 0.035)
"""Radii of the balls, drawn uniformly per ball from the scene seed."""

BALL_DENSITY_KG_M3 = 150.0
"""Foam-like. With the mass clip below: 5 g for the smallest balls, 27 g for the largest."""

BALL_MASS_RANGE_KG = (0.005, 0.030)

BALL_FRICTION = 0.7
"""Sliding friction of foam on the printed links; the balls carry geom priority 2, so theirs is
the contact's friction, softness and damping against the hand (MuJoCo takes the
higher-priority geom's parameters instead of mixing them)."""

BALL_SOLREF = (0.02, 1.0)
"""Contact time constant (s) and damping ratio: the stiffest MuJoCo allows at the package's
0.01 s timestep (it clamps to 2 timesteps; softer, the pile sinks into the floor under its own
weight), critically damped so the balls do not bounce."""

BALL_SOLIMP = (0.8, 0.95, 0.01)
"""Impedance 0.8 at first touch rising to 0.95 over 1 cm of penetration. Contact softness acts
on accelerations, so a resting ball sinks about 1 mm while a ball of a few grams pinched by a
finger squashes by up to ~7 mm instead of stopping the finger dead."""

NUM_BALLS = 100
"""Default ball count: enough that the balls settle around the hand up to about the palm for
every named wrist, so that the fingers work against them most of the time. More balls fill the
box faster than random placement can find room (it fails above ~150) and cost speed (contacts
grow with the pile)."""

BOX_MARGIN_M = 0.02
"""Clearance between the hand's reach and the box walls."""

BALL_PREFIX = "ball_"
_LOWER_FIELD = "chaos_box_lower"
_UPPER_FIELD = "chaos_box_upper"
_WORKSPACE_SAMPLES = 1000
_PLACEMENT_DRAWS = 20_000

_SCENE = """<mujoco model="dexndm_chaos_box_{name}">
  <include file="leap_hand.xml"/>
  <!-- CG, not Newton: Newton factorises a dense Hessian over nv = 16 + 6 per ball dofs and is
       4x slower here; CG stops at the same tolerance (without balls the hand's joints agree to
       1e-8 rad with the rotation scene's Newton) -->
  <option timestep="{timestep}" integrator="implicitfast" solver="CG"/>
  <visual>
    <global offwidth="640" offheight="480"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.5 0.5 0.5"/>
  </visual>
  <custom>
    <numeric name="{lower_field}" data="{lower}"/>
    <numeric name="{upper_field}" data="{upper}"/>
  </custom>
  <default>
    <default class="chaos_wall">
      <!-- bit 1 only: the walls hold the balls and let the hand through -->
      <geom type="plane" contype="0" conaffinity="1" rgba="0.6 0.6 0.65 0.12"/>
    </default>
    <default class="chaos_ball">
      <!-- an object (bit 1) that touches objects, palm, fingers and thumb (1|2|4|8) -->
      <geom type="sphere" contype="1" conaffinity="15" condim="3" priority="2"
            friction="{friction} 0.005 0.0001" solref="{solref}" solimp="{solimp}"/>
    </default>
  </default>
  <worldbody>
{stage}
{walls}
{balls}
  </worldbody>
</mujoco>
"""


@cache
def _hand_reach_palm() -> np.ndarray:
    """Corners of the hand's collision-geom bounding boxes over sampled joint configurations.

    Returns:
        (N, 3) points in the palm frame, relative to the grasp centre (m), read-only. Joint
        configurations are drawn uniformly over the joint limits with a fixed seed, plus both
        limit corners, so the cloud (and every box built from it) is deterministic.
    """
    model = mujoco.MjModel.from_xml_path(str(scene.HAND_XML))
    data = mujoco.MjData(model)
    geoms = np.flatnonzero((model.geom_contype != 0) | (model.geom_conaffinity != 0))
    rng = np.random.default_rng(0)
    configs = rng.uniform(
        constants.JOINT_LOWER_RAD, constants.JOINT_UPPER_RAD, (_WORKSPACE_SAMPLES, model.nq)
    )
    configs = np.vstack([configs, constants.JOINT_LOWER_RAD, constants.JOINT_UPPER_RAD])
    signs = np.array(np.meshgrid([-1, 1], [-1, 1], [-1, 1])).reshape(3, -1).T  # (8, 3)
    corners = []
    for qpos in configs:
        data.qpos[:] = qpos
        mujoco.mj_kinematics(model, data)
        rot = data.geom_xmat[geoms].reshape(-1, 3, 3)
        centre = data.geom_xpos[geoms] + np.einsum("gij,gj->gi", rot, model.geom_aabb[geoms, :3])
        half = model.geom_aabb[geoms, 3:]
        local = signs[None, :, :] * half[:, None, :]  # (G, 8, 3) box corners, geom frame
        corners.append(centre[:, None, :] + np.einsum("gij,gkj->gki", rot, local))
    points = np.concatenate(corners).reshape(-1, 3) - scene.GRASP_CENTER_PALM
    points.flags.writeable = False
    return points


def box_bounds(wrist_quat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inner corners of the chaos box for one wrist orientation.

    Args:
        wrist_quat: orientation world <- palm (w, x, y, z); the grasp centre is at
            `scene.WORLD_CENTER`, as `scene.place_hand` puts it.

    Returns:
        (lower, upper) world corners (m) of the axis-aligned box around the hand's reach.
    """
    reach = _hand_reach_palm() @ geometry.quat_to_mat(wrist_quat).T + scene.WORLD_CENTER
    return reach.min(axis=0) - BOX_MARGIN_M, reach.max(axis=0) + BOX_MARGIN_M


def ball_sizes(num_balls: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Radii (m) and masses (kg) of the balls of one scene seed."""
    rng = np.random.default_rng(seed)
    radii = rng.uniform(*BALL_RADIUS_RANGE_M, size=num_balls)
    masses = np.clip(BALL_DENSITY_KG_M3 * 4.0 / 3.0 * np.pi * radii**3, *BALL_MASS_RANGE_KG)
    return radii, masses


def _wrist_quat(wrist: str | Sequence[float]) -> tuple[str, np.ndarray]:
    """(name for the model, quaternion) of a named or free wrist; "random" is refused."""
    resolved = task.resolve_wrist(wrist)
    if isinstance(resolved, str):
        if resolved not in task.WRISTS:
            raise ValueError(
                f"the chaos box is built around one fixed wrist; got {resolved!r}. Pass one of "
                f"{', '.join(task.WRISTS)} or a quaternion (w, x, y, z)"
            )
        return resolved, task.WRISTS[resolved]
    return "custom", resolved


def _fmt(values: Sequence[float]) -> str:
    return " ".join(f"{float(v):.6g}" for v in values)


def _walls_xml(lower: np.ndarray, upper: np.ndarray) -> str:
    """Six inward-facing planes: floor, lid and four walls."""
    centre, half = (lower + upper) / 2.0, (upper - lower) / 2.0
    walls = []
    for axis, label in enumerate("xyz"):
        for sign, bound in ((1.0, lower), (-1.0, upper)):
            pos = centre.copy()
            pos[axis] = bound[axis]
            normal = np.zeros(3)
            normal[axis] = sign  # the plane's +z faces into the box
            size = np.delete(half, axis)  # only drawn size; collision is the whole half-space
            name = f"box_{'-' if sign > 0 else '+'}{label}"
            walls.append(
                f'    <geom name="{name}" class="chaos_wall" pos="{_fmt(pos)}" '
                f'zaxis="{_fmt(normal)}" size="{_fmt(size)} 0.05"/>'
            )
    return "\n".join(walls)


def _balls_xml(radii: np.ndarray, masses: np.ndarray, parking: np.ndarray) -> str:
    """Free sphere bodies, all parked at the box's centre until `ChaosBoxScene.reset`."""
    rgb = np.array([[0.9, 0.3, 0.3], [0.3, 0.6, 0.9], [0.95, 0.8, 0.2], [0.4, 0.8, 0.4]])
    balls = []
    for i, (radius, mass) in enumerate(zip(radii, masses, strict=True)):
        name = f"{BALL_PREFIX}{i:03d}"
        balls.append(
            f'    <body name="{name}" pos="{_fmt(parking)}">\n'
            f'      <freejoint name="{name}"/>\n'
            f'      <geom name="{name}" class="chaos_ball" size="{radius:.6g}" mass="{mass:.6g}" '
            f'rgba="{_fmt(rgb[i % len(rgb)])} 1"/>\n'
            "    </body>"
        )
    return "\n".join(balls)


def chaos_box_xml(
    wrist: str | Sequence[float],
    num_balls: int = NUM_BALLS,
    seed: int = 0,
    sim_dt_s: float = 0.01,
) -> str:
    """The MJCF text of the chaos box (the hand included by file name, as in scene.py).

    The palm body of leap_hand.xml has no pose of its own: `compile_chaos_box` places it.

    Args:
        wrist: a name from `task.WRISTS` or a quaternion (w, x, y, z), world <- palm.
        num_balls: number of soft balls (0 gives the empty box).
        seed: draws the balls' radii and masses (their positions come from `reset`).
        sim_dt_s: physics timestep (s).

    Raises:
        ValueError: for an unknown wrist, "random", a negative ball count or a bad timestep.
    """
    name, quat = _wrist_quat(wrist)
    if num_balls < 0:
        raise ValueError(f"num_balls must be >= 0, got {num_balls}")
    if not sim_dt_s > 0:
        raise ValueError(f"sim_dt_s must be > 0 s, got {sim_dt_s}")
    lower, upper = box_bounds(quat)
    radii, masses = ball_sizes(num_balls, seed)
    return _SCENE.format(
        name=name,
        stage=scene.STAGE_XML,
        timestep=sim_dt_s,
        lower_field=_LOWER_FIELD,
        upper_field=_UPPER_FIELD,
        lower=_fmt(lower),
        upper=_fmt(upper),
        friction=BALL_FRICTION,
        solref=_fmt(BALL_SOLREF),
        solimp=_fmt(BALL_SOLIMP),
        walls=_walls_xml(lower, upper),
        balls=_balls_xml(radii, masses, (lower + upper) / 2.0),
    )


def compile_chaos_box(
    wrist: str | Sequence[float],
    num_balls: int = NUM_BALLS,
    seed: int = 0,
    sim_dt_s: float = 0.01,
) -> mujoco.MjModel:
    """A freshly compiled chaos box with the palm placed for the wrist (see `chaos_box_xml`)."""
    _, quat = _wrist_quat(wrist)
    model = mujoco.MjModel.from_xml_string(
        chaos_box_xml(wrist, num_balls, seed, sim_dt_s),
        assets={"leap_hand.xml": scene.HAND_XML.read_bytes()},
    )
    scene.place_hand(model, model.body("palm").id, model.camera("closeup").id, quat)
    mujoco.mj_setConst(model, mujoco.MjData(model))  # mass-derived constants after the move
    return model


class ChaosBoxScene:
    """The balls of a compiled chaos box: where they are in the model, and how to scatter them.

    A compiled model parks every ball at the box's centre: call `reset` before stepping.

    Args:
        model: a model from `compile_chaos_box`.

    Attributes:
        lower, upper: inner corners of the box in the world (m).
        bodies, geoms: body and geom ids of the balls; radii: their radii (m).
        qpos_adr, dof_adr: start of each ball's free joint in qpos (7 numbers) and qvel (6).

    Raises:
        ValueError: for a model that is not a chaos box.
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        try:
            self.lower = np.array(model.numeric(_LOWER_FIELD).data, dtype=np.float64)
            self.upper = np.array(model.numeric(_UPPER_FIELD).data, dtype=np.float64)
        except KeyError:
            raise ValueError(
                f"this model has no chaos box (no custom numeric {_LOWER_FIELD!r}); build it "
                "with dexndm_envs.chaos.box.compile_chaos_box"
            ) from None
        names = [model.body(b).name for b in range(model.nbody)]
        self.bodies = np.array([b for b, n in enumerate(names) if n.startswith(BALL_PREFIX)], int)
        joints = model.body_jntadr[self.bodies]
        self.qpos_adr = model.jnt_qposadr[joints]
        self.dof_adr = model.jnt_dofadr[joints]
        self.geoms = model.body_geomadr[self.bodies]
        self.radii = model.geom_size[self.geoms, 0].copy()
        self.num_balls = len(self.bodies)
        # lookup tables over all geoms, so contact lists are classified without Python loops
        self._is_ball = np.zeros(model.ngeom, bool)
        self._is_ball[self.geoms] = True
        # leap_hand.xml's collision bits: 2 palm, 4 index/middle/ring links, 8 thumb links
        self._is_finger = (model.geom_contype & (4 | 8)) != 0
        self._hand_geoms = np.flatnonzero((model.geom_contype & (2 | 4 | 8)) != 0)

    def positions(self, data: mujoco.MjData) -> np.ndarray:
        """(num_balls, 3) ball centres in the world (m)."""
        return data.qpos[self.qpos_adr[:, None] + np.arange(3)]

    def inside(self, data: mujoco.MjData, tolerance_m: float = 0.01) -> bool:
        """Whether every ball is inside the box, squashed into a wall by at most tolerance_m.

        The walls are half-spaces, so a ball cannot pass them; a ball pressed into a wall by a
        finger squashes by millimetres (`BALL_SOLIMP`), which the default tolerance allows.
        """
        pos = self.positions(data)
        lo = self.lower[None, :] + self.radii[:, None] - tolerance_m
        hi = self.upper[None, :] - self.radii[:, None] + tolerance_m
        return bool(np.all((pos >= lo) & (pos <= hi)))

    def finger_contacts(self, data: mujoco.MjData) -> int:
        """Number of active ball-finger contacts (palm contacts do not load a joint)."""
        pairs = data.contact.geom[: data.ncon]
        ball, finger = self._is_ball[pairs], self._is_finger[pairs]
        return int(np.count_nonzero((ball[:, 0] & finger[:, 1]) | (ball[:, 1] & finger[:, 0])))

    def reset(self, model: mujoco.MjModel, data: mujoco.MjData, rng: np.random.Generator) -> None:
        """Scatter the balls at rest in free space, touching neither each other nor the hand.

        The hand keeps its current joint positions. Balls are placed largest first (the small
        ones fit in the gaps) by rejection sampling, then `mj_forward` updates data.

        Raises:
            RuntimeError: if a ball finds no free space (too many balls for the box).
        """
        mujoco.mj_kinematics(model, data)  # the hand's geoms where its joints are now
        pos = np.zeros((self.num_balls, 3))
        placed = np.zeros(self.num_balls, bool)
        for ball in np.argsort(-self.radii, kind="stable"):
            pos[ball] = self._free_point(model, data, rng, ball, pos[placed], self.radii[placed])
            placed[ball] = True
        data.qpos[self.qpos_adr[:, None] + np.arange(3)] = pos
        data.qpos[self.qpos_adr[:, None] + np.arange(3, 7)] = (1.0, 0.0, 0.0, 0.0)
        data.qvel[self.dof_adr[:, None] + np.arange(6)] = 0.0
        mujoco.mj_forward(model, data)

    def settle(self, model: mujoco.MjModel, data: mujoco.MjData, duration_s: float = 1.0) -> None:
        """Let the balls fall and come to rest, with the hand holding data.ctrl."""
        mujoco.mj_step(model, data, nstep=max(1, round(duration_s / model.opt.timestep)))

    def _free_point(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        rng: np.random.Generator,
        ball: int,
        others: np.ndarray,
        other_radii: np.ndarray,
    ) -> np.ndarray:
        """A point in the box where `ball` overlaps neither the hand nor the balls at others."""
        radius = self.radii[ball]
        for _ in range(_PLACEMENT_DRAWS):
            point = rng.uniform(self.lower + radius, self.upper - radius)
            if np.any(np.linalg.norm(others - point, axis=1) < other_radii + radius):
                continue
            if self._clear_of_hand(model, data, ball, point):
                return point
        raise RuntimeError(
            f"no free space left for ball {ball} (radius {radius * 100:.1f} cm) in the chaos "
            f"box after {_PLACEMENT_DRAWS} draws; use fewer balls"
        )

    def _clear_of_hand(
        self, model: mujoco.MjModel, data: mujoco.MjData, ball: int, point: np.ndarray
    ) -> bool:
        """Whether a ball centred at point would be clear of every hand collision geom."""
        geom, radius = self.geoms[ball], self.radii[ball]
        near = self._hand_geoms[
            np.linalg.norm(data.geom_xpos[self._hand_geoms] - point, axis=1)
            < radius + model.geom_rbound[self._hand_geoms]
        ]
        data.geom_xpos[geom] = point  # a sphere needs no orientation; mj_forward redoes this
        return all(mujoco.mj_geomDistance(model, data, geom, g, radius, None) > 0.0 for g in near)
