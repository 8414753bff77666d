"""MuJoCo scenes: the LEAP hand, one object, lights and a camera.

The hand's MJCF (assets/leap_hand.xml) is included unchanged; the object body comes from
dexndm_envs.sim.objects.catalog. Every compiled scene's hand actuators are then set from a hand
config (dexndm_envs.sim.nominal_hand): the ideal hand runs the registers the real hand runs. The
palm is placed by the environment at each reset so that the grasp centre sits at WORLD_CENTER
whatever the wrist orientation.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import mujoco
import numpy as np

from dexndm_envs.core import geometry
from dexndm_envs.sim.nominal_hand import NominalActuators
from dexndm_envs.sim.objects.catalog import ObjectSpec

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"
HAND_XML = ASSETS_DIR / "leap_hand.xml"

GRASP_CENTER_PALM = np.array([-0.03, -0.035, -0.085])
"""Where objects are held, in the palm frame: in front of the palm face (z = -0.034), between
the fingers' knuckle line (x ~ 0) and the thumb's base (x ~ -0.08), level with the middle
finger (y = -0.038)."""

WORLD_CENTER = np.array([0.0, 0.0, 0.3])
"""World position of the grasp centre."""

OBJECT_FRICTION = 1.0
"""Nominal sliding friction of the object. Object geoms carry priority 1, so their friction is
the contact's (MuJoCo otherwise takes the max of the pair and randomising it would do nothing
against the fingertips' 1.0)."""

OBJECT_MASS_KG = 0.03
"""Nominal object mass, the middle of the paper's randomisation range (0.01-0.05 kg)."""

CAMERA_OFFSET_PALM = np.array([0.15, -0.16, -0.24])
"""Camera position relative to the grasp centre, in the palm frame: in front of the palm face,
towards the fingertips and the ring finger, so hand and object are both in view."""

STAGE_XML = """\
    <light name="key" pos="0.4 -0.4 1.2" dir="-0.3 0.3 -0.9" directional="true"
           diffuse="0.6 0.6 0.6"/>
    <camera name="closeup" pos="0.3 -0.3 0.5" fovy="50"/>"""
"""The key light and the close-up camera every scene of the hand has (the env aims the camera
at each reset)."""

_SCENE = """<mujoco model="dexndm_rotate_{name}">
  <include file="leap_hand.xml"/>
  <option timestep="{timestep}" integrator="implicitfast"/>
  <visual>
    <global offwidth="640" offheight="480"/>
    <headlight ambient="0.35 0.35 0.35" diffuse="0.5 0.5 0.5"/>
  </visual>
  <asset>
    <texture name="sky" type="skybox" builtin="gradient" rgb1="0.32 0.40 0.48" rgb2="0.04 0.05 0.07"
             width="128" height="128"/>
  </asset>
  <default>
    <default class="object">
      <geom contype="1" conaffinity="1" condim="3" priority="1" friction="{friction} 0.005 0.0001"
            density="300" rgba="0.95 0.55 0.15 1"/>
    </default>
  </default>
  <worldbody>
{stage}
    {object}
  </worldbody>
</mujoco>
"""


@cache
def scene_xml(obj: ObjectSpec, sim_dt_s: float) -> str:
    """The MJCF text of the rotation scene for one object (hand included by file name)."""
    return _SCENE.format(
        name=obj.name,
        stage=STAGE_XML,
        timestep=sim_dt_s,
        friction=OBJECT_FRICTION,
        # not "simple": randomising the centre of mass moves the inertial frame off the body frame
        object=obj.to_mjcf(body_name="object", body_attrs='simple="false"'),
    )


@cache
def _hand_xml_bytes() -> bytes:
    return HAND_XML.read_bytes()


def compile_scene(
    obj: ObjectSpec, sim_dt_s: float, actuators: NominalActuators | None = None
) -> mujoco.MjModel:
    """A freshly compiled model of the scene (each env owns and mutates its own), its hand
    actuators set from `actuators` (the LEAP default hand config's when None)."""
    model = mujoco.MjModel.from_xml_string(
        scene_xml(obj, sim_dt_s), assets={"leap_hand.xml": _hand_xml_bytes()}
    )
    (actuators or NominalActuators.from_hand_config()).apply(model)
    return model


class ObjectPhysics:
    """Sets the object's scale, mass, centre of mass and friction in a compiled model.

    The nominal geometry is recorded once; every call to `apply` starts from it, so settings
    never accumulate. Scaling edits geom sizes, positions and the broad-phase bounds that
    MuJoCo computed at compile time (geom_rbound, geom_aabb), and the body inertia (I ~ m s^2).
    Call `mujoco.mj_setConst` after `apply` (once, after all model edits): MuJoCo 4 keeps
    mass-derived constants from compile time, and without it a heavier object falls faster.
    """

    def __init__(self, model: mujoco.MjModel) -> None:
        self.body = model.body("object").id
        self.geoms = np.flatnonzero(model.geom_bodyid == self.body)
        self._size = model.geom_size[self.geoms].copy()
        self._pos = model.geom_pos[self.geoms].copy()
        self._rbound = model.geom_rbound[self.geoms].copy()
        self._aabb = model.geom_aabb[self.geoms].copy()
        self._ipos = model.body_ipos[self.body].copy()
        self._inertia_per_kg = model.body_inertia[self.body] / model.body_mass[self.body]
        self.scale = 1.0
        self.mass_kg = OBJECT_MASS_KG
        self.friction = OBJECT_FRICTION
        self.com_offset_m = np.zeros(3)

    def apply(
        self,
        model: mujoco.MjModel,
        scale: float = 1.0,
        mass_kg: float = OBJECT_MASS_KG,
        friction: float = OBJECT_FRICTION,
        com_offset_m: np.ndarray | None = None,
    ) -> None:
        """Write one setting of the object's physical parameters into model."""
        offset = np.zeros(3) if com_offset_m is None else np.asarray(com_offset_m, dtype=np.float64)
        model.geom_size[self.geoms] = self._size * scale
        model.geom_pos[self.geoms] = self._pos * scale
        model.geom_rbound[self.geoms] = self._rbound * scale
        model.geom_aabb[self.geoms] = self._aabb * scale
        model.geom_friction[self.geoms, 0] = friction
        model.body_mass[self.body] = mass_kg
        model.body_inertia[self.body] = self._inertia_per_kg * mass_kg * scale**2
        model.body_ipos[self.body] = self._ipos * scale + offset
        self.scale, self.mass_kg, self.friction, self.com_offset_m = (
            scale,
            mass_kg,
            friction,
            offset,
        )

    def params(self) -> np.ndarray:
        """(mass_kg, friction, scale, com offset x, y, z): the oracle's view of the object."""
        return np.array([self.mass_kg, self.friction, self.scale, *self.com_offset_m])


def place_hand(model: mujoco.MjModel, palm_body: int, camera: int, wrist_quat: np.ndarray) -> None:
    """Orient the palm as wrist_quat with the grasp centre at WORLD_CENTER; aim the camera."""
    rot = geometry.quat_to_mat(wrist_quat)
    model.body_quat[palm_body] = wrist_quat
    model.body_pos[palm_body] = WORLD_CENTER - rot @ GRASP_CENTER_PALM
    eye = WORLD_CENTER + rot @ CAMERA_OFFSET_PALM
    model.cam_pos[camera] = eye
    model.cam_quat[camera] = geometry.look_at_quat(eye, WORLD_CENTER, np.array([0.0, 0.0, 1.0]))
