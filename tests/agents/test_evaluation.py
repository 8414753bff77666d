"""Policy evaluation: metrics against an analytic spin in the env, grids, tables, the program."""

from __future__ import annotations

import csv
import dataclasses
import json
import subprocess
import sys

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import dexndm_envs  # noqa: F401  (registers the environments)
from dexndm_agents.evaluation.harness import (
    EpisodeResult,
    EpisodeRow,
    GridRow,
    evaluate_grid,
    make_eval_env,
    run_episode,
)
from dexndm_agents.evaluation.reports import (
    format_table,
    format_tilt_summary,
    save_episodes,
    save_table,
    tilt_summary,
)
from dexndm_agents.evaluation.summary import ConditionSummary, mean_and_se, paired_difference
from dexndm_agents.policies.baselines import ZeroPolicy
from dexndm_envs.core import geometry
from dexndm_envs.core.metrics import EpisodeMetrics
from dexndm_envs.hand.config import default_hand_config

GRID = {"object_sets": ["cube"], "wrists": ["palm_up", "palm_down"], "axes": ["+z"]}


class FreeSpin(gym.Wrapper):
    """After each reset: no gravity, no contacts, the object spinning about world z at omega.

    With nothing acting on it, a body whose inertia is isotropic (the cube's is) keeps spinning
    at exactly omega about the same world axis, so every step's info["rot_vel"] is omega.
    """

    def __init__(self, env: gym.Env, omega_rad_s: float) -> None:
        super().__init__(env)
        self.omega_rad_s = omega_rad_s

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        model, data = self.env.unwrapped.model, self.env.unwrapped.data
        model.opt.gravity[:] = 0.0
        model.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
        joint = model.joint("object_joint").id
        dof, qpos = int(model.jnt_dofadr[joint]), int(model.jnt_qposadr[joint])
        # a free joint's angular velocity is in the body frame: rotate world z into it
        body_rot = data.xmat[model.body("object").id].reshape(3, 3)
        data.qvel[dof : dof + 6] = 0.0
        data.qvel[dof + 3 : dof + 6] = body_rot.T @ np.array([0.0, 0.0, self.omega_rad_s])
        self.object_qpos = qpos
        self.start_quat = data.qpos[qpos + 3 : qpos + 7].copy()
        return obs, info


@pytest.mark.parametrize(
    ("axis", "omega_rad_s", "max_steps", "steps"),
    [("+z", 1.0, 40, 40), ("-z", 0.15, None, 400)],  # None: to the env's 400-step time limit
)
def test_free_spin_gives_the_analytic_rotr_ttf_and_rotation(axis, omega_rad_s, max_steps, steps):
    env = gym.make("DexNDM-Rotate-v0", object_set="cube", axis=axis, domain_randomization=False)
    model = env.unwrapped.model
    joint = model.joint("object_joint").id
    dof = int(model.jnt_dofadr[joint])
    # nothing may slow the spin: no damping, armature or friction loss on the free joint, and
    # an isotropic inertia (no precession) about the body origin (no wobble)
    assert not model.dof_damping[dof : dof + 6].any()
    assert not model.dof_armature[dof : dof + 6].any()
    assert not model.dof_frictionloss[dof : dof + 6].any()
    inertia = model.body_inertia[model.body("object").id]
    assert np.ptp(inertia) == pytest.approx(0.0, abs=1e-12 * inertia.max())
    assert not model.body_ipos[model.body("object").id].any()

    spin = FreeSpin(env, omega_rad_s)
    result = run_episode(spin, ZeroPolicy(), seed=0, max_steps=max_steps)
    env.close()

    dt_s = env.unwrapped.dt
    sign = 1.0 if axis == "+z" else -1.0
    m = result.metrics
    assert m.steps == steps and not m.dropped
    assert m.rotr == pytest.approx(sign * omega_rad_s * steps, rel=1e-12)
    assert m.rotation_rad == pytest.approx(sign * omega_rad_s * steps * dt_s, rel=1e-12)
    assert m.ttf == 1.0
    assert m.ttf_s == pytest.approx(steps * dt_s)
    assert m.rotp == pytest.approx(0.0, abs=1e-9)
    expected_curve = sign * omega_rad_s * dt_s * np.arange(1, steps + 1)
    np.testing.assert_allclose(result.rotation_curve_rad, expected_curve, rtol=1e-12)
    # and the object did turn that far about world z (qpos: xquat lags one substep behind)
    end_quat = env.unwrapped.data.qpos[spin.object_qpos + 3 : spin.object_qpos + 7]
    turned = geometry.axis_angle_quat(np.array([0.0, 0.0, 1.0]), omega_rad_s * steps * dt_s)
    expected_quat = geometry.quat_mul(turned, spin.start_quat)
    assert geometry.quat_angle(end_quat, expected_quat) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(
    "env_kwargs",
    [{}, {"hardware": "virtual", "domain_randomization": True}],
    ids=["ideal", "virtual_dr"],
)
def test_grid_rows_are_the_episodes_run_directly_with_the_same_seeds(env_kwargs):
    def grid(episode_rows: list[EpisodeRow] | None = None) -> list[GridRow]:
        return evaluate_grid(
            ZeroPolicy(),
            **GRID,
            episodes=2,
            seed=5,
            env_kwargs=env_kwargs,
            max_steps=15,
            progress=False,
            episode_rows=episode_rows,
        )

    episode_rows: list[EpisodeRow] = []
    rows = grid(episode_rows)
    assert [(e.wrist, e.seed) for e in episode_rows] == [
        ("palm_up", 5),
        ("palm_up", 6),
        ("palm_down", 5),
        ("palm_down", 6),
    ]
    assert [(r.object_set, r.wrist, r.axis, r.summary.episodes) for r in rows] == [
        ("cube", "palm_up", "+z", 2),
        ("cube", "palm_down", "+z", 2),
    ]
    for row in rows:
        metrics = []
        cell_episodes = [e for e in episode_rows if e.wrist == row.wrist]
        for seed, episode in zip((5, 6), cell_episodes, strict=True):
            # a fresh env per episode: the grid's reuse of one env changes nothing
            env = gym.make(
                "DexNDM-Rotate-v0", object_set="cube", wrist=row.wrist, axis="+z", **env_kwargs
            )
            result = run_episode(env, ZeroPolicy(), seed, max_steps=15)
            metrics.append(result.metrics)
            env.close()
            assert (episode.rotr, episode.ttf, episode.dropped) == (
                result.metrics.rotr,
                result.metrics.ttf,
                result.metrics.dropped,
            )
            assert episode.start_tilt_deg == result.start_tilt_deg
            assert (episode.object, episode.object_set, episode.axis) == ("cube", "cube", "+z")
        summary = row.summary
        assert summary.rotr == np.mean([m.rotr for m in metrics])
        assert summary.rotr_std == np.std([m.rotr for m in metrics])
        assert summary.ttf == np.mean([m.ttf for m in metrics])
        assert summary.rotp == np.mean([m.rotp for m in metrics])
        assert summary.rotation_rad == np.mean([m.rotation_rad for m in metrics])
        assert summary.drops == np.mean([m.dropped for m in metrics])
        assert summary.first_seed == 5 and summary.starts == [e.start for e in cell_episodes]
    assert [r.as_dict() for r in grid()] == [r.as_dict() for r in rows]


class RecordingPolicy:
    """Zero actions; records what predict is given, and hands out a counter as its state."""

    def __init__(self) -> None:
        self.env_kwargs = {"obs_mode": "oracle", "history_len": 2, "object_set": "cylinder"}
        self.calls: list[tuple[tuple[int, ...], object, bool]] = []

    def predict(self, observation, state=None, episode_start=None, deterministic=False):
        self.calls.append((np.shape(observation), state, bool(episode_start[0])))
        return np.zeros((1, 16), dtype=np.float32), len(self.calls)  # a batch of one is fine


def test_grid_envs_take_the_policys_options_under_the_callers_and_the_grids(monkeypatch):
    made = []
    make = gym.make
    monkeypatch.setattr(gym, "make", lambda env_id, **kw: made.append(kw) or make(env_id, **kw))
    policy = RecordingPolicy()
    evaluate_grid(
        policy,
        ["cube"],
        ["palm_up"],
        ["-x"],
        2,
        env_kwargs={"history_len": 4},
        max_steps=3,
        progress=False,
    )
    assert made == [
        {
            "obs_mode": "oracle",
            "history_len": 4,
            "object_set": "cube",
            "wrist": "palm_up",
            "axis": "-x",
        }
    ]
    env = make("DexNDM-Rotate-v0", object_set="cube", obs_mode="oracle", history_len=4)
    obs_shape = env.observation_space.shape
    env.close()
    # recurrent state goes back in; episode_start is set on each episode's first step only
    assert policy.calls == [
        (obs_shape, None, True),
        (obs_shape, 1, False),
        (obs_shape, 2, False),
        (obs_shape, None, True),
        (obs_shape, 4, False),
        (obs_shape, 5, False),
    ]


@pytest.mark.parametrize(
    ("turn_axis", "angle_deg", "axis", "tilt_deg"),
    [
        ((1, 0, 0), 30.0, (0, 0, 1), 30.0),
        ((1, 0, 0), 30.0, (0, 0, -1), 30.0),  # folded: an axis and its opposite tilt alike
        ((0, 1, 0), 120.0, (0, 0, 1), 60.0),
        ((0, 0, 1), 75.0, (0, 0, 1), 0.0),  # spun about its own z: no tilt
        ((0, 1, 0), 90.0, (1, 0, 0), 0.0),
    ],
)
def test_start_tilt_is_the_angle_between_the_axis_and_the_objects_z(
    turn_axis, angle_deg, axis, tilt_deg
):
    quat = geometry.axis_angle_quat(np.array(turn_axis, float), np.radians(angle_deg))
    metrics = EpisodeMetrics(0.0, 1.0, 20.0, 0.0, 0.0, 400, False)
    result = EpisodeResult(metrics, "cube", "palm_up", list(axis), "", np.zeros(1), list(quat))
    assert result.start_tilt_deg == pytest.approx(tilt_deg, abs=1e-6)


def _episode(tilt: float, rotr: float, dropped: bool = False, start: str = "") -> EpisodeRow:
    ttf = 0.5 if dropped else 1.0
    start = start or f"c/palm_up/{tilt}"
    return EpisodeRow(
        "cylinder", "palm_up", "+z", 0, "c", start, rotr, ttf, 0.1, rotr / 20, dropped, tilt
    )


def test_one_grasp_in_two_cells_is_two_starts_in_the_tilt_summary():
    up = _episode(10, 5.0, start="c/palm_up/3")
    down = dataclasses.replace(up, axis="-z", rotr=-5.0)
    again = dataclasses.replace(up, seed=9)  # the same cell and grasp: a repeat
    (_, summary), *_ = tilt_summary([up, down, again])
    assert summary.episodes == 3 and summary.distinct_starts == 2


def test_tilt_summary_bins_episodes_by_start_tilt(tmp_path):
    rows = [_episode(5, 10), _episode(29.9, 30), _episode(61, 200, True), _episode(90, 300)]
    summary = tilt_summary(rows)
    assert [(tilt, s.episodes) for tilt, s in summary] == [((0, 30), 2), ((60, 90), 2)]
    assert summary[0][1].rotr == 20.0 and summary[0][1].rotr_se == pytest.approx(10.0)
    assert summary[1][1].drops == 0.5 and summary[1][1].ttf == 0.75
    text = format_tilt_summary(rows)
    assert "0-30 deg" in text and "60-90 deg" in text and "30-60" not in text
    csv_path, json_path = save_episodes(rows, tmp_path)
    with csv_path.open() as f:
        assert [float(r["start_tilt_deg"]) for r in csv.DictReader(f)] == [5, 29.9, 61, 90]
    assert [r["dropped"] for r in json.loads(json_path.read_text())] == [False, False, True, False]


def _cell(object_set: str, wrist: str, axis: str, rotr: list[float], drops: float) -> GridRow:
    summary = ConditionSummary(
        rotr=float(np.mean(rotr)), rotr_std=float(np.std(rotr)), ttf=0.75, rotp=0.3,
        drops=drops, episodes=len(rotr), rotr_per_episode=rotr, first_seed=0,
        starts=[f"c/palm_up/{i % 2}" for i in range(len(rotr))],
        ttf_per_episode=[0.75] * len(rotr), ttf_std=0.125, rotation_rad=0.625,
    )  # fmt: skip
    return GridRow(object_set, wrist, axis, summary)


def test_save_table_round_trips_through_csv_and_json(tmp_path):
    rows = [
        _cell("cube", "palm_up", "+z", [11.0, 12.5, 14.0], 1 / 3),
        _cell("cylinder", "palm_down", "-x", [-4.0, -4.0, -4.0], 0.0),
    ]
    csv_path, json_path = save_table(rows, tmp_path / "out", stem="grid")
    assert (csv_path.name, json_path.name) == ("grid.csv", "grid.json")
    saved = json.loads(json_path.read_text())
    assert saved == [row.as_dict() for row in rows] and "RotR_per_episode" not in saved[0]
    assert saved[0]["RotR"] == 12.5 and saved[0]["first_seed"] == 0
    assert saved[0]["distinct_starts"] == 2 and "seeds" not in saved[0]
    with csv_path.open(newline="") as f:
        read = list(csv.DictReader(f))
    assert list(read[0]) == list(GridRow.COLUMNS)
    assert [float(r["RotR"]) for r in read] == [12.5, -4.0]
    table = format_table(rows).splitlines()
    words = [" ".join(line.split()) for line in table]  # the words, without the alignment
    assert (
        words[0] == "object set wrist axis eps starts RotR ± s.e. TTF ± s.e. RotP rot (rad) drops"
    )
    # 3 episodes from 2 starts (seeds 0 and 2 share one): s.e. over the 2 clusters
    se = rows[0].summary.rotr_se
    assert se == pytest.approx(np.sqrt(2 * ((11 - 12.5 + 14 - 12.5) ** 2 + 0)) / 3)
    assert words[2] == f"cube palm_up +z 3 2 12.50 ± {se:.2f} 0.750 ± 0.000 0.300 0.62 33%"
    assert len({len(line) for line in table[:2]}) == 1  # header and rule aligned


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"object_sets": []}, "object_sets is empty"),
        ({"wrists": []}, "wrists is empty"),
        ({"axes": "+z"}, "axes must be a list"),
        ({"episodes": 0}, "episodes must be at least 1"),
        ({"max_steps": 0}, "max_steps must be at least 1"),
        ({"wrists": ["palm_up", "sideways"]}, "unknown wrist 'sideways'"),
        ({"axes": ["+w"]}, "unknown axis '\\+w'"),
        ({"object_sets": ["cube", "teapot"]}, "unknown object set 'teapot'"),
    ],
)
def test_bad_grids_are_refused_before_any_env_is_made(monkeypatch, kwargs, message):
    monkeypatch.setattr(gym, "make", lambda *a, **kw: pytest.fail("an env was made"))
    with pytest.raises(ValueError, match=message):
        evaluate_grid(ZeroPolicy(), **{**GRID, **kwargs}, progress=False)


def test_recording_needs_an_rgb_array_env():
    env = gym.make("DexNDM-Rotate-v0", object_set="cube")
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        run_episode(env, ZeroPolicy(), seed=0, record=True)
    with pytest.raises(ValueError, match="max_steps must be at least 1"):
        run_episode(env, ZeroPolicy(), seed=0, max_steps=0)
    env.close()


def test_evaluate_program_names_what_policy_it_wants(repo_root, tmp_path):
    result = subprocess.run(
        [sys.executable, str(repo_root / "examples/evaluate.py"), "--policy", "nope.zip"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "no such file" in result.stderr and "zero, random" in result.stderr
    assert "'pretrained' or a shipped policy: rotate_palm_up_z" in result.stderr


def test_paired_difference_removes_the_seeds_share_of_the_spread():
    rng = np.random.default_rng(0)
    seed_effect = rng.normal(200.0, 100.0, 400)  # episodes differ far more than conditions
    baseline = seed_effect + rng.normal(0.0, 5.0, 400)
    better = seed_effect + 10.0 + rng.normal(0.0, 5.0, 400)
    starts = [f"s{i}" for i in range(400)]
    gain, gain_se = paired_difference(better, baseline, starts)
    assert abs(gain - 10.0) < 3 * gain_se
    unpaired_se = np.hypot(mean_and_se(better)[1], mean_and_se(baseline)[1])
    assert gain_se < unpaired_se / 5
    with pytest.raises(ValueError, match="same seeds"):
        paired_difference(better, baseline[:-1], starts)
    assert mean_and_se([3.0])[0] == 3.0 and np.isnan(mean_and_se([3.0])[1])


def test_eval_envs_take_the_policys_task_and_the_hand_asked_for():
    policy = ZeroPolicy()
    policy.env_kwargs = {"object_set": "cube", "wrist": "palm_down", "history_len": 4}
    hand = dataclasses.replace(default_hand_config(), goal_current_ma=(200,) * 16)
    ideal = make_eval_env(policy, hand_config=hand)
    virtual = make_eval_env(policy, "worn", hardware_seed=3, hand_config=hand)
    try:
        for env in (ideal, virtual):
            assert [o.name for o in env.unwrapped.objects] == ["cube"]
            assert env.unwrapped.wrist_option == "palm_down"
            assert (
                env.observation_space.shape
                == gym.make("DexNDM-Rotate-v0", history_len=4).observation_space.shape
            )
            assert env.unwrapped.hand_config == hand
        assert ideal.unwrapped.hardware == "ideal" and ideal.unwrapped.motors is None
        assert virtual.unwrapped.hardware == "virtual"
        assert virtual.unwrapped.motors.profile.name == "worn"
    finally:
        ideal.close()
        virtual.close()
