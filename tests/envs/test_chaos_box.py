"""The chaos box: the hand model unchanged, balls scattered reproducibly, stable loaded motion."""

from __future__ import annotations

from dataclasses import dataclass

import mujoco
import numpy as np
import pytest

from dexndm_envs.chaos import box as chaos_box
from dexndm_envs.core import constants, task
from dexndm_envs.sim import scene


@dataclass
class RandomRun:
    """What a random-action run in the chaos box saw, step by step."""

    finite: np.ndarray
    inside: np.ndarray
    finger_touch: np.ndarray
    warnings: int
    mean_abs_force_Nm: float


def random_action_run(wrist: str, num_balls: int, steps: int, seed: int = 0) -> RandomRun:
    """Targets += U(-1, 1) / 24 rad per 0.05 s control step, clipped to the joint limits."""
    model = chaos_box.compile_chaos_box(wrist, num_balls=num_balls, seed=seed)
    data = mujoco.MjData(model)
    box = chaos_box.ChaosBoxScene(model)
    rng = np.random.default_rng(seed)
    box.reset(model, data, rng)
    data.ctrl[:] = data.qpos[: constants.NUM_JOINTS]
    box.settle(model, data, duration_s=0.5)
    targets = data.ctrl.copy()
    finite, inside, touch = (np.zeros(steps, bool) for _ in range(3))
    force = 0.0
    for step in range(steps):
        targets += rng.uniform(-1.0, 1.0, constants.NUM_JOINTS) * constants.MAX_DELTA_RAD
        data.ctrl[:] = np.clip(targets, constants.JOINT_LOWER_RAD, constants.JOINT_UPPER_RAD)
        targets[:] = data.ctrl
        mujoco.mj_step(model, data, nstep=5)
        finite[step] = np.all(np.isfinite(data.qpos)) and np.all(np.isfinite(data.qvel))
        inside[step] = box.inside(data)
        touch[step] = box.finger_contacts(data) > 0
        force += float(np.abs(data.actuator_force).mean())
    return RandomRun(finite, inside, touch, int(data.warning.number.sum()), force / steps)


@pytest.fixture(scope="module")
def palm_down_run() -> RandomRun:
    return random_action_run("palm_down", chaos_box.NUM_BALLS, steps=200)


@pytest.mark.parametrize("wrist", list(task.WRISTS))
def test_compiles_for_every_wrist_with_the_hand_unchanged(wrist):
    model = chaos_box.compile_chaos_box(wrist)
    hand = mujoco.MjModel.from_xml_path(str(scene.HAND_XML))
    names = tuple(model.joint(j).name for j in range(constants.NUM_JOINTS))
    assert names == constants.JOINT_NAMES
    assert model.jnt_qposadr[: constants.NUM_JOINTS].tolist() == list(range(constants.NUM_JOINTS))
    assert model.njnt == constants.NUM_JOINTS + chaos_box.NUM_BALLS  # one free joint per ball
    assert tuple(model.actuator(i).name for i in range(model.nu)) == constants.JOINT_NAMES
    np.testing.assert_array_equal(model.actuator_gainprm, hand.actuator_gainprm)
    np.testing.assert_array_equal(model.actuator_forcerange, hand.actuator_forcerange)
    np.testing.assert_array_equal(model.dof_damping[:16], hand.dof_damping)
    # the palm is placed as scene.place_hand does, inside the box
    np.testing.assert_allclose(model.body_quat[model.body("palm").id], task.WRISTS[wrist])
    box = chaos_box.ChaosBoxScene(model)
    data = mujoco.MjData(model)
    mujoco.mj_kinematics(model, data)
    hand_geoms = data.geom_xpos[np.flatnonzero(model.geom_contype & (2 | 4 | 8))]
    assert np.all((hand_geoms > box.lower) & (hand_geoms < box.upper))


def test_walls_hold_balls_and_let_the_hand_through():
    model = chaos_box.compile_chaos_box("palm_up", num_balls=1)
    walls = [g for g in range(model.ngeom) if model.geom(g).name.startswith("box_")]
    hand = np.flatnonzero(model.geom_contype & (2 | 4 | 8))
    ball = model.geom(f"{chaos_box.BALL_PREFIX}000").id

    def collide(a: int, b: int) -> bool:
        return bool(
            model.geom_contype[a] & model.geom_conaffinity[b]
            or model.geom_contype[b] & model.geom_conaffinity[a]
        )

    assert len(walls) == 6
    assert all(collide(ball, w) for w in walls)
    assert not any(collide(h, w) for h in hand for w in walls)
    assert all(collide(ball, h) for h in hand)  # palm, fingers and thumb
    assert collide(ball, ball)


def test_wrist_options():
    quat = task.WRISTS["thumb_up"] * 2.0  # any norm: resolved like task.resolve_wrist
    model = chaos_box.compile_chaos_box(tuple(quat), num_balls=4)
    np.testing.assert_allclose(model.body_quat[model.body("palm").id], task.WRISTS["thumb_up"])
    with pytest.raises(ValueError, match="fixed wrist"):
        chaos_box.chaos_box_xml("random")
    with pytest.raises(ValueError, match="unknown wrist"):
        chaos_box.chaos_box_xml("sideways")
    with pytest.raises(ValueError, match="num_balls"):
        chaos_box.chaos_box_xml("palm_up", num_balls=-1)


def test_ball_sizes_are_foam_like_and_drawn_from_the_seed():
    radii, masses = chaos_box.ball_sizes(200, seed=3)
    assert np.all((radii >= 0.015) & (radii <= 0.035))
    assert np.all((masses >= 0.005) & (masses <= 0.030))
    assert np.all(np.diff(masses[np.argsort(radii)]) >= 0)  # bigger balls are not lighter
    np.testing.assert_array_equal(radii, chaos_box.ball_sizes(200, seed=3)[0])
    assert not np.array_equal(radii, chaos_box.ball_sizes(200, seed=4)[0])


def test_reset_is_reproducible_and_free_of_overlaps():
    model = chaos_box.compile_chaos_box("base_up")
    box = chaos_box.ChaosBoxScene(model)
    placements = []
    for seed in (7, 7, 8):
        data = mujoco.MjData(model)
        box.reset(model, data, np.random.default_rng(seed))
        assert box.inside(data, tolerance_m=0.0)
        pairs = data.contact.geom[: data.ncon]
        with_ball = np.isin(pairs, box.geoms).any(axis=1)
        assert np.all(data.contact.dist[: data.ncon][with_ball] >= 0.0)  # no ball overlaps
        np.testing.assert_array_equal(data.qvel, 0.0)
        placements.append(box.positions(data).copy())
    np.testing.assert_array_equal(placements[0], placements[1])
    assert not np.allclose(placements[0], placements[2])


def test_not_a_chaos_box():
    with pytest.raises(ValueError, match="compile_chaos_box"):
        chaos_box.ChaosBoxScene(mujoco.MjModel.from_xml_path(str(scene.HAND_XML)))


def test_random_actions_stay_finite_with_the_balls_in_the_box(palm_down_run):
    assert palm_down_run.finite.all()
    assert palm_down_run.inside.all()
    assert palm_down_run.warnings == 0


def test_balls_load_the_fingers(palm_down_run):
    # the fingers plough through the pile: a ball touches a finger link in most control steps
    assert palm_down_run.finger_touch.mean() > 0.8


@pytest.mark.slow
@pytest.mark.parametrize("wrist", list(task.WRISTS))
def test_long_random_run_for_every_wrist(wrist):
    loaded = random_action_run(wrist, chaos_box.NUM_BALLS, steps=2000)
    empty = random_action_run(wrist, 0, steps=2000)
    assert loaded.finite.all() and loaded.inside.all() and loaded.warnings == 0
    assert loaded.finger_touch.mean() > 0.8
    assert loaded.mean_abs_force_Nm > 1.05 * empty.mean_abs_force_Nm
