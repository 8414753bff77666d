"""DexNDM-Rotate-v0: rotate an object in the LEAP hand about a given axis, in MuJoCo or PhysX.

Usage:
    import gymnasium as gym
    import dexndm_envs  # registers the environments

    env = gym.make("DexNDM-Rotate-v0", wrist="palm_up", axis="+z", object_set="cylinder")
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(env.action_space.sample())
    print(info["rot_vel"], info["reward/rot"])

Actions and proprioceptive observations follow dexndm_envs.core.interface (the interface shared
with the hardware). The reward is the paper's (see config.RewardConfig); every term is also in
`info` as `reward/<term>`. Episodes end when the object leaves the hand (terminated) or after
400 steps (truncated, by the TimeLimit wrapper that gym.make adds).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import mujoco
import numpy as np

from dexndm_envs.core import checks, interface, task
from dexndm_envs.core.constants import FINGERTIP_SITES, NUM_JOINTS
from dexndm_envs.engines.engine import make_engine
from dexndm_envs.engines.world import WorldProfile
from dexndm_envs.hand.config import HandConfig, load_hand_config
from dexndm_envs.sim import scene
from dexndm_envs.sim.config import MAX_DELTA_RULE, RotateConfig, resolve_config
from dexndm_envs.sim.grasps.cache import GraspCache, resolve_cache
from dexndm_envs.sim.grasps.starts import StartSampler
from dexndm_envs.sim.nominal_hand import NominalActuators
from dexndm_envs.sim.objects.catalog import ObjectSpec
from dexndm_envs.sim.options import ENV_ID, RENDER_MODES, check_options, check_reset_options
from dexndm_envs.sim.randomization import Randomizer
from dexndm_envs.sim.rewards import RewardTerms
from dexndm_envs.virtual.profiles import HardwareProfile
from dexndm_envs.virtual.servos import VirtualMotors

_WORLD_CENTER = tuple(scene.WORLD_CENTER.tolist())

ORACLE_BLOCKS: list[tuple[str, int]] = [
    ("object_pos", 3),  # world frame, relative to the grasp centre (m)
    ("object_quat", 4),  # world frame (w, x, y, z)
    ("object_linvel", 3),  # world frame (m/s)
    ("object_angvel", 3),  # world frame (rad/s)
    ("object_params", 6),  # mass (kg), friction, scale, centre-of-mass offset (m, 3)
    ("fingertip_pos", 12),  # world frame, relative to the grasp centre, JOINT order of fingers
    ("fingertip_contact", 4),  # 1 where the fingertip touches the object
]
"""Privileged simulator state appended in obs_mode="oracle"."""


class RotateEnv(gym.Env):
    """In-hand rotation with the LEAP hand (see the module docstring).

    Args:
        object_set: a category ("cylinder", "cuboid", "long_cuboid", "small_cylinder",
            "complex"), "all", an object name, or a list of those. The default, cylinders
            palm up about +z, is the shipped policy's task (load_pretrained()).
        wrist: a named wrist orientation (task.WRISTS), "random", or a quaternion (w, x, y, z).
        axis: "+x", "-x", "+y", "-y", "+z", "-z", "random", "general", or a 3-vector (world).
        obs_mode: "proprio" (what hardware offers) or "oracle" (plus privileged state).
        history_len: T, the number of (joint position, joint target) pairs observed.
        hardware: "ideal" (the nominal position actuators policies train on, with the gains
            and torque limit of hand_config: dexndm_envs.sim.nominal_hand) or "virtual" (the
            virtual LEAP hand: Dynamixel servos and gear trains, dexndm_envs.virtual.servos;
            joint positions are then the servos' quantised, delayed readings).
        hardware_profile: the virtual hand's profile: a preset name (virtual.profiles.PROFILES),
            a YAML/JSON file of HardwareProfile fields, or a HardwareProfile.
        hardware_seed: which virtual hand (an integer >= 0): the per-motor spread is drawn from it.
        engine: which physics computes the world: "mujoco" (the training world) or "physx"
            (PhysX through SAPIEN, a world nobody here wrote; dexndm_envs.engines). Either
            hardware runs on either engine.
        world_profile: how PhysX runs the scene: a preset name (engines.world.WORLDS), a
            YAML/JSON file of WorldProfile fields, or a WorldProfile (checked on MuJoCo too).
        hand_config: the hand's servo settings (gains, Goal Current: its torque limit) as
            DexNDM-Real-v0 takes them: a HandConfig or a YAML/JSON hand config
            (real/leap_hand.yaml); the public LEAP defaults when None. Both the ideal and
            the virtual hand run them.
        domain_randomization: True or False switches randomisation on or off (the config's
            flag); None keeps the config's.
        config: a RotateConfig or a nested dict of overrides of default_config().
        grasp_cache: a GraspCache or a path to one; the shipped cache by default.
        start_tilt_deg: (low, high): start only from grasps whose object z axis makes an angle
            in [low, high] deg (folded to 0-90) with the episode's rotation axis (cylinders: 0
            a disc spun flat, 90 one rolled about its side); all grasps when None. An object
            with none in the range gives way to another of the set; if none has one, reset
            raises ValueError.
        render_mode: None, "rgb_array" or "human".
        width, height: size of rendered frames (pixels).
    Every option is checked before anything is built (sim.options): a bad value raises a
    ValueError, a wrong type a TypeError, naming the option and what is valid.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": list(RENDER_MODES), "render_fps": 20}

    def __init__(
        self,
        object_set: str | Sequence[str] = "cylinder",
        wrist: str | Sequence[float] = "palm_up",
        axis: str | Sequence[float] = "+z",
        obs_mode: str = "proprio",
        history_len: int = interface.DEFAULT_HISTORY_LEN,
        hardware: str = "ideal",
        hardware_profile: HardwareProfile | str | Path = "default",
        hardware_seed: int = 0,
        engine: str = "mujoco",
        world_profile: WorldProfile | str | Path = "default",
        hand_config: HandConfig | str | Path | None = None,
        domain_randomization: bool | None = None,
        config: RotateConfig | dict[str, Any] | None = None,
        grasp_cache: GraspCache | str | Path | None = None,
        start_tilt_deg: Sequence[float] | None = None,
        render_mode: str | None = None,
        width: int = 480,
        height: int = 480,
    ) -> None:
        check_options(locals())  # every option by name, before anything is built
        self.start_tilt_deg = task.check_tilt_range(start_tilt_deg)
        self.config = resolve_config(config, domain_randomization)
        self.wrist_option = task.resolve_wrist(wrist)
        self.axis_option = task.resolve_axis(axis)
        self.hardware = hardware
        # the ideal hand ignores the profile; it is still checked, so a typo never goes unseen
        self.hand_config = load_hand_config(hand_config)
        self.actuators = NominalActuators.from_hand_config(self.hand_config)
        motors = VirtualMotors(hardware_profile, hardware_seed, self.hand_config)
        if hardware == "virtual":  # its latencies must be whole physics steps (ProfileError)
            motors.profile.latency_steps(self.config.sim_dt_s)
        self.motors = motors if hardware == "virtual" else None
        self.engine = make_engine(engine, world_profile)
        self.obs_mode = obs_mode
        self.render_mode = render_mode
        self.width, self.height = width, height
        self.grasp_cache = resolve_cache(grasp_cache)
        rcfg = self.config.randomization
        self.starts = StartSampler(
            self.grasp_cache,
            object_set,
            self.wrist_option,
            rcfg.object_scale if rcfg.enabled else None,
            self.start_tilt_deg,
        )
        self.objects: list[ObjectSpec] = self.starts.objects
        self.left_out_objects = self.starts.left_out

        self.frame_skip = self.config.frame_skip
        self.history = interface.ProprioHistory(
            history_len, ORACLE_BLOCKS if obs_mode == "oracle" else ()
        )
        self.obs_layout = self.history.layout
        self.action_space = interface.action_space()
        self.observation_space = gym.spaces.Box(
            -np.inf, np.inf, (self.obs_layout.size,), np.float32
        )
        self.randomizer = Randomizer(
            self.config.randomization, self.config.sim_dt_s, self.frame_skip
        )
        self.reward_terms = RewardTerms(self.config.reward)
        self._randomize = self.config.randomization.enabled

        self._models: dict[str, tuple[mujoco.MjModel, mujoco.MjData, scene.ObjectPhysics]] = {}
        self._renderer = None
        self._closed = False
        self._resets = 0
        self._use_object(self.objects[0])
        self._targets = np.zeros(NUM_JOINTS)
        self._axis = np.array([0.0, 0.0, 1.0])
        self._wrist_quat = np.array([1.0, 0.0, 0.0, 0.0])

    # ----------------------------------------------------------------- set-up
    def _use_object(self, obj: ObjectSpec) -> None:
        """Make obj's scene the current model (compiled on first use, then kept)."""
        if obj.name not in self._models:
            model = scene.compile_scene(obj, self.config.sim_dt_s, self.actuators)
            self._models[obj.name] = (model, mujoco.MjData(model), scene.ObjectPhysics(model))
        model, data, physics = self._models[obj.name]
        if getattr(self, "model", None) is model:
            return
        self.model, self.data, self.object_physics = model, data, physics
        self.object = obj
        self._palm = model.body("palm").id
        self._camera = model.camera("closeup").id
        self._obj_body = physics.body
        joint = model.joint("object_joint").id
        self._obj_qpos = int(model.jnt_qposadr[joint])
        self._obj_dof = int(model.jnt_dofadr[joint])
        self._tip_sites = np.array([model.site(name).id for name in FINGERTIP_SITES])
        self._tip_geoms = np.array([model.geom(f"{name}_col").id for name in FINGERTIP_SITES])
        self._obj_geoms = set(physics.geoms.tolist())
        # views into data, made once: step is a hot path
        self._joint_pos = data.qpos[:NUM_JOINTS]
        self._obj_pos = data.qpos[self._obj_qpos : self._obj_qpos + 3]
        self._obj_quat = data.qpos[self._obj_qpos + 3 : self._obj_qpos + 7]
        self.randomizer.bind(model)
        self.reward_terms.bind(data, self._obj_body, self._obj_dof)
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None

    @property
    def joint_targets(self) -> np.ndarray:
        """The joint targets commanded now (rad, a copy)."""
        return self._targets.copy()

    @property
    def object_body(self) -> int:
        """The object's body id in `model` (the current object's scene)."""
        return self._obj_body

    @property
    def object_qpos(self) -> np.ndarray:
        """A view of the object's position (3, m) and quaternion (4) in `data.qpos`."""
        return self.data.qpos[self._obj_qpos : self._obj_qpos + 7]

    @property
    def object_qvel(self) -> np.ndarray:
        """A view of its linear (world) and angular (body frame) velocity in `data.qvel`."""
        return self.data.qvel[self._obj_dof : self._obj_dof + 6]

    @property
    def dt(self) -> float:
        """Control period in seconds (0.05 s: 20 Hz)."""
        return float(self.model.opt.timestep) * self.frame_skip

    @property
    def max_delta_rad(self) -> float:
        """Target change of a full action (rad per step), as on DexNDM-Real-v0."""
        return self.config.max_delta_rad

    @max_delta_rad.setter
    def max_delta_rad(self, value: float) -> None:
        checks.check_value("max_delta_rad", value, MAX_DELTA_RULE)  # as the config's field
        self.config = dataclasses.replace(self.config, max_delta_rad=float(value))

    # ------------------------------------------------------------------ reset
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        """Draw object, wrist, axis, grasp and randomisation; start holding the object.

        info also carries the episode's draw: object, start (the grasp, named as
        grasps.starts.start_id; reset(seed=s) takes it by the seed, so that a range of seeds
        starts from distinct grasps), wrist ("free" for a quaternion), axis and the
        randomisation parameters. options: none are taken (an unknown key is a
        SettingError); after close(), EnvClosedError.
        """
        if self._closed:
            raise checks.closed_error(ENV_ID, "reset")
        check_reset_options(options)
        super().reset(seed=seed)
        rng = self.np_random
        wrist_name, self._wrist_quat = task.sample_wrist(self.wrist_option, rng)
        self._axis = task.sample_axis(self.axis_option, rng)
        wrist = wrist_name or task.nearest_named_wrist(self._wrist_quat)
        start = self.starts.draw(wrist, self._wrist_quat, self._axis, seed, rng)
        self._use_object(start.object)
        grasp = start.grasp

        model, data = self.model, self.data
        params = self.randomizer.sample(rng, grasp.scale)
        self.randomizer.apply(model, self.object_physics, params)
        if self.motors is not None:  # after the randomiser: the servos own the hand's joints
            self.motors.bind(model)
        scene.place_hand(model, self._palm, self._camera, self._wrist_quat)
        mujoco.mj_resetData(model, data)
        mujoco.mj_setConst(model, data)  # masses and inertias may have changed
        grasp.write_state(model, data, self._palm, self._obj_qpos, self._wrist_quat)
        self._targets = grasp.joint_targets.copy()
        mujoco.mj_forward(model, data)
        self.engine.reset(model, data)
        if self.motors is not None:
            self.motors.reset(data, self._targets)

        self._resets += 1
        self.reward_terms.reset(self._resets, grasp.joint_pos, self._obj_quat, self._axis)
        self.history.reset(self._observed_joint_pos(), self._targets, self._wrist_quat, self._axis)
        if self.obs_mode == "oracle":
            self._write_oracle()
        info = self._info(dropped=False)
        info.update(
            {
                "object": self.object.name,
                "start": start.name,
                "wrist": wrist_name or "free",
                "axis": self._axis.copy(),
                "randomization": params.as_dict(),
                "hardware": self._hardware_description(),
                "engine": self._engine_description(),
            }
        )
        if self.render_mode == "human":
            self.render()
        return self.history.observation(), info

    # ------------------------------------------------------------------- step
    def step(self, action: np.ndarray):
        """Move the joint targets by action / 24 rad, simulate 0.05 s, report (module doc)."""
        if self._closed:
            raise checks.closed_error(ENV_ID, "step")
        action = interface.check_action(action)
        model, data = self.model, self.data
        self._targets = interface.next_targets(self._targets, action, self.config.max_delta_rad)
        if self._randomize:  # disturbances and observation noise exist only with randomisation
            self.randomizer.disturb(data, self._obj_body, self.np_random)
        if self.motors is not None:
            self.motors.write_goal_rad(self._targets)
            self.motors.run(model, data, self.frame_skip, self.engine.step)
        else:
            latency = self.randomizer.latency_steps
            if latency:
                self.engine.step(model, data, latency)  # the old targets are still in ctrl
            data.ctrl[:] = self._targets
            self.engine.step(model, data, self.frame_skip - latency)

        x, y, z = self._obj_pos.tolist()
        cx, cy, cz = _WORLD_CENTER
        dropped = (x - cx) ** 2 + (y - cy) ** 2 + (z - cz) ** 2 > self.config.drop_distance_m**2
        reward, terms = self.reward_terms.compute(dropped)
        self.history.push(self._observed_joint_pos(), self._targets)
        if self.obs_mode == "oracle":
            self._write_oracle()
        info = self._info(dropped)
        info.update(terms)
        if self.render_mode == "human":
            self.render()
        return self.history.observation(), reward, dropped, False, info

    def _observed_joint_pos(self) -> np.ndarray:
        if self.motors is not None:
            return self.motors.read_joint_pos()  # quantised and delayed: noise enough
        if not self._randomize:
            return self._joint_pos
        return self.randomizer.observe(self._joint_pos, self.np_random)

    def _hardware_description(self) -> dict[str, Any]:
        if self.motors is None:
            return {"kind": "ideal"}
        return {"kind": "virtual", "profile": self.motors.profile.name, "seed": self.motors.seed}

    def _engine_description(self) -> dict[str, Any]:
        if self.engine.name == "mujoco":
            return {"name": "mujoco"}
        return {"name": self.engine.name, "world_profile": self.engine.world.name}

    def _info(self, dropped: bool) -> dict[str, Any]:
        qpos = self.data.qpos.copy()  # one copy; the arrays below are views of it
        obj = self._obj_qpos
        joint_pos = qpos[:NUM_JOINTS] if self.motors is None else self.motors.read_joint_pos()
        return {
            "rot_vel": self.reward_terms.rot_vel,
            "rot_perp": self.reward_terms.rot_perp,
            "object_pos": qpos[obj : obj + 3],
            "object_quat": qpos[obj + 3 : obj + 7],
            "dropped": dropped,
            "joint_pos": joint_pos,  # what the servos report, on the virtual hand
            "joint_targets": self._targets.copy(),
        }

    def _write_oracle(self) -> None:
        data, buf, layout = self.data, self.history.buffer, self.obs_layout
        obj_quat = data.qpos[self._obj_qpos + 3 : self._obj_qpos + 7]
        buf[layout["object_pos"]] = (
            data.qpos[self._obj_qpos : self._obj_qpos + 3] - scene.WORLD_CENTER
        )
        buf[layout["object_quat"]] = obj_quat
        buf[layout["object_linvel"]] = data.qvel[self._obj_dof : self._obj_dof + 3]
        buf[layout["object_angvel"]] = self.reward_terms.angvel_world
        buf[layout["object_params"]] = self.object_physics.params()
        buf[layout["fingertip_pos"]] = (
            data.site_xpos[self._tip_sites] - scene.WORLD_CENTER
        ).ravel()
        buf[layout["fingertip_contact"]] = self._fingertip_contacts()

    def _fingertip_contacts(self) -> np.ndarray:
        touching = np.zeros(len(FINGERTIP_SITES), dtype=np.float32)
        contact = self.data.contact
        for g1, g2 in zip(contact.geom1, contact.geom2, strict=True):
            pair = (int(g1), int(g2))
            for finger, tip in enumerate(self._tip_geoms):
                if tip in pair and (pair[0] in self._obj_geoms or pair[1] in self._obj_geoms):
                    touching[finger] = 1.0
        return touching

    # -------------------------------------------------------------- rendering
    def render(self):
        if self.render_mode is None:
            gym.logger.warn("render() called without a render_mode; pass render_mode= to gym.make")
            return None
        if self._renderer is None:
            from gymnasium.envs.mujoco.mujoco_rendering import MujocoRenderer

            self._renderer = MujocoRenderer(
                self.model, self.data, width=self.width, height=self.height, camera_name="closeup"
            )
        return self._renderer.render(self.render_mode)

    def close(self) -> None:
        """Release the renderer; step() and reset() are refused from now on (EnvClosedError)."""
        self._closed = True
        if self._renderer is not None:
            self._renderer.close()
            self._renderer = None
