"""engine="physx": PhysX steps the environments' MuJoCo state (dexndm_envs.engines), behind
the one interface; world profiles say how it runs."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_envs.chaos.virtual_env import VirtualChaosBoxEnv
from dexndm_envs.core.checks import SettingError, SettingTypeError
from dexndm_envs.engines.engine import make_engine
from dexndm_envs.engines.world import WORLDS, WorldProfile, WorldProfileError, load_world

BODY_XML = """<mujoco><option timestep="0.01" gravity="{gravity}"/><worldbody>
<body name="block" pos="0 0 1"><freejoint/>
<inertial pos="{com}" mass="0.05" diaginertia="2e-5 3e-5 4e-5"/>
<geom type="box" size="0.02 0.03 0.04" contype="1" conaffinity="1"/></body></worldbody></mujoco>"""


def _free_block(gravity: str = "0 0 -9.81", com: str = "0.01 -0.005 0.002"):
    model = mujoco.MjModel.from_xml_string(BODY_XML.format(gravity=gravity, com=com))
    return model, mujoco.MjData(model)


def _run(engine_name: str, model, data, steps: int) -> np.ndarray:
    mujoco.mj_forward(model, data)
    engine = make_engine(engine_name)
    engine.reset(model, data)
    states = []
    for _ in range(steps):
        engine.step(model, data)
        states.append(np.concatenate([data.qpos, data.qvel]))
    return np.array(states)


def test_free_body_state_round_trips_in_mujocos_convention():
    """A spinning, drifting body with an offset centre of mass: velocities go in and come
    back as MuJoCo's free joint has them (origin velocity, body-frame angular velocity)."""
    model, data = _free_block()
    data.qvel[:] = [0.1, -0.2, 0.3, 2.0, -1.0, 0.5]
    mujoco.mj_forward(model, data)
    engine = make_engine("physx")
    engine.reset(model, data)
    before = np.concatenate([data.qpos, data.qvel])
    engine._read_state(data)
    np.testing.assert_allclose(np.concatenate([data.qpos, data.qvel]), before, atol=1e-6)


def test_free_motion_matches_mujoco():
    model, data = _free_block(gravity="0 0 0")
    data.qvel[:] = [0.1, -0.2, 0.3, 0.0, 0.0, 3.0]  # about a principal axis: no precession
    mujoco_states = _run("mujoco", model, data, 20)
    model, data = _free_block(gravity="0 0 0")
    data.qvel[:] = [0.1, -0.2, 0.3, 0.0, 0.0, 3.0]
    physx_states = _run("physx", model, data, 20)
    # the engines integrate differently (MuJoCo the origin, PhysX the centre of mass): 1e-4 m
    # apart after 20 steps; a wrong velocity convention puts them 7e-3 m apart
    np.testing.assert_allclose(physx_states[:, :3], mujoco_states[:, :3], atol=3e-4)
    np.testing.assert_allclose(physx_states[:, 7:], mujoco_states[:, 7:], atol=1e-3)


def test_applied_forces_reach_free_bodies():
    """xfrc_applied (the randomiser's disturbances) holds a body up against gravity."""
    model, data = _free_block()
    data.xfrc_applied[1, 2] = 0.05 * 9.81
    held = _run("physx", model, data, 10)
    model, data = _free_block()
    fallen = _run("physx", model, data, 10)
    assert abs(held[-1, 2] - 1.0) < 1e-4
    assert fallen[-1, 2] < 0.99


def test_step_before_reset_is_refused():
    model, data = _free_block()
    with pytest.raises(RuntimeError, match="reset"):
        make_engine("physx").step(model, data)


# ------------------------------------------------------------------ world profiles
def test_world_profiles_load_from_presets_and_files(tmp_path):
    assert load_world("fine") is WORLDS["fine"]
    path = tmp_path / "soft_world.yaml"
    path.write_text("position_iterations: 4\nfriction_mapping: raw\n")
    world = load_world(path)
    assert (world.name, world.position_iterations, world.friction_mapping) == (
        "soft_world",
        4,
        "raw",
    )
    assert world.substeps == WorldProfile().substeps  # the rest from the default


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("substeps: 0\n", "substeps must be an integer in 1 .. 20, got 0"),
        ("solver: newton\n", "solver must be one of: tgs, pgs"),
        ("gravity: 1\n", "unknown fields .*gravity"),
        ("rest_offset_m: 0.005\n", "rest_offset_m .* must be below contact_offset_m"),
        ("- 1\n", "must hold a mapping"),
    ],
)
def test_bad_world_profiles_are_named(tmp_path, text, match):
    path = tmp_path / "world.yaml"
    path.write_text(text)
    with pytest.raises(WorldProfileError, match=match):
        load_world(path)


def test_unknown_world_presets_and_engines_are_refused():
    with pytest.raises(WorldProfileError, match="presets: default, coarse, fine"):
        load_world("bullet")
    with pytest.raises(WorldProfileError, match="engine must be one of: mujoco, physx"):
        make_engine("bullet")


# ------------------------------------------------------------------ the environments
def test_rotate_env_on_physx_passes_the_checkers():
    env = gym.make("DexNDM-Rotate-v0", engine="physx").unwrapped
    check_env(env, skip_render_check=True)
    sb3_check_env(env)
    obs, info = env.reset(seed=3)
    assert info["engine"] == {"name": "physx", "world_profile": "default"}
    assert env.observation_space.contains(obs)
    env.close()


def test_rotate_env_on_physx_repeats_itself_and_differs_from_mujoco():
    def rollout(engine: str, hardware: str = "ideal") -> np.ndarray:
        env = gym.make("DexNDM-Rotate-v0", engine=engine, hardware=hardware)
        env.reset(seed=7)
        rng = np.random.default_rng(0)
        for _ in range(10):
            obs, _, _, _, info = env.step(rng.uniform(-1, 1, 16))
        env.close()
        return np.concatenate([obs, info["object_pos"]])

    physx = rollout("physx")
    np.testing.assert_array_equal(rollout("physx"), physx)
    assert not np.allclose(rollout("mujoco"), physx, atol=1e-6)
    assert not np.allclose(rollout("physx", "virtual"), physx, atol=1e-6)  # servos on PhysX


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"engine": "bullet"}, SettingError, "engine must be one of: mujoco, physx"),
        ({"world_profile": 5}, SettingTypeError, "world_profile must be a preset name"),
        ({"world_profile": "rough"}, WorldProfileError, "unknown world profile 'rough'"),
    ],
)
def test_bad_engine_options_are_named(options, error, match):
    with pytest.raises(error, match=match):
        gym.make("DexNDM-Rotate-v0", **options)
    with pytest.raises(error, match=match):
        VirtualChaosBoxEnv(**options)


def test_randomised_parameters_reach_physx():
    env = gym.make("DexNDM-Rotate-v0", engine="physx", domain_randomization=True).unwrapped
    for seed in (0, 1):
        env.reset(seed=seed)
        built, model = env.engine.built, env.model
        stiffness = [j.get_stiffness() for j in built.articulation.get_active_joints()]
        actuators = [model.actuator(model.joint(int(q)).name).id for q in built.joint_qpos]
        np.testing.assert_allclose(stiffness, model.actuator_gainprm[actuators, 0], rtol=1e-6)
        np.testing.assert_allclose(env.engine._damping, model.dof_damping[built.joint_dof])
        obj = dict(built.free_bodies)[env.object_body]
        assert obj.mass == pytest.approx(model.body_mass[env.object_body], rel=1e-6)
        material = obj.get_collision_shapes()[0].physical_material
        mu = model.geom_friction[env.object_physics.geoms[0], 0]
        assert material.dynamic_friction == pytest.approx(2 * mu - 0.5, rel=1e-6)  # "pair"
    env.close()


def test_chaos_box_runs_on_physx_and_says_so():
    env = VirtualChaosBoxEnv("palm_down", num_balls=20, engine="physx", world_profile="coarse")
    obs, info = env.reset(seed=0)
    assert info["hardware"]["engine"] == "physx"
    assert info["hardware"]["world_profile"] == "coarse"
    rng = np.random.default_rng(0)
    for _ in range(5):
        obs, _, _, _, info = env.step(rng.uniform(-1, 1, 16))
    assert np.all(np.isfinite(obs))
    assert env.box.inside(env.data)
    assert (
        VirtualChaosBoxEnv("palm_down", num_balls=20).hardware_description().get("engine") is None
    )
