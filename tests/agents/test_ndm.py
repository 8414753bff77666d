"""The neural dynamics model: history windows, joint-wise independence, fitting, round trips."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from dexndm_agents.dexndm.data import (
    Windows,
    make_windows,
    split_episodes,
    split_windows,
    synthetic_episodes,
    take_transitions,
    usable_episodes,
)
from dexndm_agents.dexndm.fitting import fit, hold_error, joint_errors, prediction_error
from dexndm_agents.dexndm.models import JointWiseNDM, WholeHandNDM, build_model
from dexndm_envs.data import episodes as data

MODELS = {
    "per_joint": lambda: JointWiseNDM(window=4, hidden=16, layers=2, weights="per_joint"),
    "shared": lambda: JointWiseNDM(window=4, hidden=16, layers=2, weights="shared"),
    "whole_hand": lambda: WholeHandNDM(window=4, hidden=32, layers=2),
}


@pytest.fixture(autouse=True)
def _one_thread(one_torch_thread):
    torch.manual_seed(0)


def labelled_episode(episode: int, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """Position 10^5 episode + 100 t + joint, target that + 50: values name their row (exact
    in float32)."""
    rows = 1e5 * episode + 100.0 * np.arange(steps)[:, None] + np.arange(16)
    return rows, rows + 50


def test_windows_line_up_histories_with_the_next_position():
    episodes = [labelled_episode(e, steps) for e, steps in enumerate((7, 5, 9))]
    windows = make_windows(episodes, window=3)
    assert len(windows) == 4 + 2 + 6 and windows.window == 3
    assert windows.joint_pos.dtype == np.float32 and windows.episode.dtype == np.int64
    np.testing.assert_array_equal(windows.episode, [0] * 4 + [1] * 2 + [2] * 6)
    newest = windows.joint_pos[:, -1]
    np.testing.assert_array_equal(windows.next_joint_pos, newest + 100)  # q[t + 1] of q[t]
    np.testing.assert_array_equal(windows.joint_targets, windows.joint_pos + 50)
    np.testing.assert_array_equal(np.diff(windows.joint_pos, axis=1), 100)  # consecutive rows
    # no window crosses an episode boundary: every row and the next come from its episode
    assert np.all(windows.joint_pos // 1e5 == windows.episode[:, None, None])
    assert np.all(windows.next_joint_pos // 1e5 == windows.episode[:, None])
    first_of_episode_2 = np.flatnonzero(windows.episode == 2)[0]
    np.testing.assert_array_equal(
        windows.joint_pos[first_of_episode_2, :, 0], [2e5, 2e5 + 100, 2e5 + 200]
    )


def test_windows_of_episode_files_carry_their_index(tmp_path):
    writer = data.EpisodeWriter(tmp_path)
    meta = data.episode_meta("palm_down", [0, 0, 1], {"kind": "virtual"}, "test")
    for index in (3, 8):
        joint_pos, joint_targets = labelled_episode(index, 6)
        writer.write(index, {"joint_pos": joint_pos, "joint_targets": joint_targets}, meta)
    windows = make_windows(data.load_episodes(tmp_path), window=2)
    np.testing.assert_array_equal(windows.episode, [3] * 4 + [8] * 4)
    np.testing.assert_array_equal(windows.next_joint_pos[4], labelled_episode(8, 6)[0][2])


def test_split_is_by_episode_nine_to_one_and_seeded():
    episodes = [labelled_episode(e, 6) for e in range(20)]
    train, evaluation = split_episodes(episodes, eval_fraction=0.1, seed=3)
    assert len(train) == 18 and len(evaluation) == 2
    train_w, eval_w = make_windows(train, 2), make_windows(evaluation, 2)
    train_eps = set(np.unique(train_w.joint_pos // 1e5))
    assert not train_eps & set(np.unique(eval_w.joint_pos // 1e5))  # no episode in both
    again = split_episodes(episodes, eval_fraction=0.1, seed=3)[1]
    assert [e[0][0, 0] for e in again] == [e[0][0, 0] for e in evaluation]
    assert len(split_episodes(episodes[:2], eval_fraction=0.01)[1]) == 1  # at least one


def test_take_transitions_draws_a_subset():
    windows = make_windows([labelled_episode(e, 30) for e in range(3)], window=4)
    taken = take_transitions(windows, 10, seed=1)
    assert len(taken) == 10
    assert set(taken.next_joint_pos[:, 0]) <= set(windows.next_joint_pos[:, 0])
    with pytest.raises(ValueError, match="cannot take 100 transitions from 78"):
        take_transitions(windows, 100)


def test_data_errors_are_specific():
    good = labelled_episode(0, 6)
    with pytest.raises(ValueError, match="window must be >= 1"):
        make_windows([good], window=0)
    with pytest.raises(ValueError, match=r"episode 1 has 4 steps; a window of 4 needs at least 5"):
        make_windows([good, labelled_episode(1, 4)], window=4)
    nan = (good[0].copy(), good[1])
    nan[0][2, 5] = np.nan
    with pytest.raises(ValueError, match="1 non-finite values \\(first at step 2, joint mf_rot"):
        make_windows([nan], window=2)
    with pytest.raises(ValueError, match=r"joint_targets has shape \(6, 15\)"):
        make_windows([(good[0], good[1][:, :15])], window=2)
    with pytest.raises(TypeError, match="expected an Episode or a"):
        make_windows([good[0]], window=2)
    with pytest.raises(ValueError, match=r"next_joint_pos has shape \(3, 15\), expected \(3, 16\)"):
        Windows(np.zeros((3, 2, 16)), np.zeros((3, 2, 16)), np.zeros((3, 15)), np.zeros(3))
    with pytest.raises(ValueError, match="at least 2 are needed"):
        split_episodes([good])
    with pytest.raises(ValueError, match="eval_fraction must be in"):
        split_episodes([good, good], eval_fraction=0)


def randomised(model: torch.nn.Module) -> torch.nn.Module:
    """Every weight random: the zero last layer would make any independence test pass."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0, 0.5)
    return model


@pytest.mark.parametrize("kind", ["per_joint", "shared", "whole_hand"])
def test_only_the_joint_wise_models_keep_joints_apart(kind):
    model = randomised(MODELS[kind]())
    joint_pos, joint_targets = torch.rand(2, 8, 4, 16)
    base = model(joint_pos, joint_targets)
    for joint in (0, 7, 15):
        moved_pos, moved_targets = joint_pos.clone(), joint_targets.clone()
        moved_pos[:, :, joint] += 0.3
        moved_targets[:, 1, joint] -= 0.2
        changed = (model(moved_pos, moved_targets) - base).abs().amax(0) > 1e-6
        if kind == "whole_hand":
            assert changed.sum() > 1  # every joint sees every other joint
        else:
            assert changed.tolist() == [j == joint for j in range(16)]


@pytest.mark.parametrize("kind", list(MODELS))
def test_config_round_trip_gives_the_same_model(kind):
    model = randomised(MODELS[kind]())
    config = json.loads(json.dumps(model.config()))
    rebuilt = build_model(config)
    rebuilt.load_state_dict(model.state_dict())
    joint_pos, joint_targets = torch.rand(2, 5, 4, 16)
    torch.testing.assert_close(rebuilt(joint_pos, joint_targets), model(joint_pos, joint_targets))
    assert rebuilt.window == 4 and rebuilt.config() == model.config()


def test_model_errors_are_specific():
    with pytest.raises(ValueError, match="unknown NDM kind 'finger_wise'; known kinds"):
        build_model({"kind": "finger_wise"})
    with pytest.raises(ValueError, match="bad arguments for a whole_hand NDM"):
        build_model({"kind": "whole_hand", "weights": "shared"})
    with pytest.raises(ValueError, match="weights must be one of"):
        JointWiseNDM(weights="per_finger")
    with pytest.raises(ValueError, match=r"must both be \(B, 4, 16\)"):
        MODELS["per_joint"]()(torch.zeros(1, 10, 16), torch.zeros(1, 10, 16))


@pytest.fixture(scope="module")
def synthetic() -> tuple[Windows, Windows]:
    """About 8,700 training windows of per-joint second-order dynamics, 1,000 for eval."""
    train, evaluation = split_episodes(synthetic_episodes(40, 250, seed=1), 0.1, seed=0)
    return make_windows(train, 4), make_windows(evaluation, 4)


def test_an_untrained_model_predicts_that_joints_hold_still(synthetic):
    _, evaluation = synthetic
    model = MODELS["per_joint"]()
    assert prediction_error(model, evaluation) == pytest.approx(hold_error(evaluation), rel=1e-5)
    assert joint_errors(model, evaluation).shape == (16,)


@pytest.mark.parametrize("weights", ["per_joint", "shared"])
def test_the_joint_wise_model_learns_per_joint_dynamics(synthetic, weights):
    train, evaluation = synthetic
    model = JointWiseNDM(window=4, hidden=32, layers=2, weights=weights)
    result = fit(model, train, evaluation, epochs=10, batch_size=128, progress=False)
    error = prediction_error(model, evaluation)
    assert error < 0.1 * hold_error(evaluation)  # hold: about 0.013 rad
    assert error == pytest.approx(result.eval_error_rad[result.best_epoch], rel=1e-4)
    assert result.samples_per_s > 0 and len(result.train_loss) == 10


def test_fit_keeps_the_best_eval_weights_and_fine_tunes(synthetic, tmp_path):
    train, evaluation = synthetic
    # eval asks for the opposite step: the more the model learns, the worse it scores there
    opposite = Windows(
        evaluation.joint_pos,
        evaluation.joint_targets,
        2 * evaluation.joint_pos[:, -1] - evaluation.next_joint_pos,
        evaluation.episode,
    )
    model = MODELS["per_joint"]()
    result = fit(model, train, opposite, epochs=3, lr=3e-4, progress=False, tb_dir=tmp_path)
    assert result.best_epoch == 0 and result.eval_loss[0] < result.eval_loss[-1]
    assert prediction_error(model, opposite) == pytest.approx(result.eval_error_rad[0], 1e-4)
    assert list(tmp_path.glob("events.out.tfevents.*"))
    fresh = fit(MODELS["per_joint"](), train, evaluation, epochs=1, progress=False)
    tuned = fit(model, train, evaluation, epochs=1, progress=False)  # continues from model
    assert tuned.eval_loss[0] < fresh.eval_loss[0]


def test_fit_stops_after_max_seconds(synthetic):
    train, evaluation = synthetic
    result = fit(MODELS["shared"](), train, evaluation, epochs=50, max_seconds=0, progress=False)
    assert result.stopped_early and len(result.eval_loss) == 1 and result.best_epoch == 0


def test_fit_errors_are_specific(synthetic):
    train, evaluation = synthetic
    with pytest.raises(ValueError, match=r"train windows have W = 4, the model W = 10"):
        fit(JointWiseNDM(window=10), train, evaluation, progress=False)
    with pytest.raises(ValueError, match="fit needs training and evaluation windows"):
        fit(MODELS["shared"](), train, evaluation.select(np.zeros(0, int)), progress=False)


def test_split_windows_leaves_out_episodes_too_short_for_a_window(tmp_path):
    writer = data.EpisodeWriter(tmp_path)
    meta = data.episode_meta("palm_up", [0, 0, 1], {"kind": "ideal"}, "test")
    rng = np.random.default_rng(0)
    for index, steps in enumerate([40, 5, 40, 40]):  # episode 1 dropped its object early
        joint_pos = rng.uniform(0.0, 0.5, (steps, 16))
        writer.write(index, {"joint_pos": joint_pos, "joint_targets": joint_pos + 0.01}, meta)
    episodes = data.load_episodes(tmp_path)
    assert [ep.index for ep in usable_episodes(episodes, window=8)] == [0, 2, 3]
    train, evaluation = split_windows(episodes, window=8, eval_fraction=0.3)
    assert not {1} & (set(train.episode) | set(evaluation.episode))
    assert len(train) + len(evaluation) == 3 * (40 - 8)
