"""Where episodes start: seeds mean distinct grasps, and each episode says which grasp it was."""

from __future__ import annotations

import collections

import gymnasium as gym
import numpy as np

import dexndm_envs  # noqa: F401
from dexndm_envs.core import geometry, task
from dexndm_envs.sim import scene
from dexndm_envs.sim.grasps import cache as grasps


def _start(info: dict) -> tuple[str, str, int]:
    obj, wrist, index = info["start"].split("/")
    return obj, wrist, int(index)


def test_a_range_of_seeds_starts_from_as_many_distinct_grasps():
    """Seeded resets take object and grasp by seed (RotateEnv._draw_start): 400 seeds, 400
    grasps, with the 9 cylinders taken in turn; drawing them at random would repeat about a
    tenth of them with this cache, and repeat episodes bit for bit without randomisation."""
    env = gym.make("DexNDM-Rotate-v0")  # the shipped policy's task
    starts = [env.reset(seed=seed)[1]["start"] for seed in range(1000, 1400)]
    assert len(set(starts)) == 400
    objects = collections.Counter(start.split("/")[0] for start in starts)
    assert len(objects) == 9 and max(objects.values()) - min(objects.values()) <= 1
    env.close()


def test_the_start_an_episode_reports_is_the_grasp_it_started_from():
    env = gym.make("DexNDM-Rotate-v0")
    palm = env.unwrapped.model.body("palm").id
    for seed in (0, 7, 123456):
        _, info = env.reset(seed=seed)
        obj, wrist, index = _start(info)
        assert (obj, wrist) == (info["object"], "palm_up")
        grasp = grasps.Grasp.from_row(env.unwrapped.grasp_cache.grasps[(obj, wrist)][index])
        assert grasp.scale == 1.0  # nominal: no randomisation
        np.testing.assert_allclose(info["joint_targets"], grasp.joint_targets)
        wrist_quat = task.WRISTS["palm_up"]
        palm_pos = env.unwrapped.model.body_pos[palm]
        expected_pos = palm_pos + geometry.quat_to_mat(wrist_quat) @ grasp.object_pos_palm
        np.testing.assert_allclose(info["object_pos"], expected_pos, atol=1e-9)
        expected_quat = geometry.quat_mul(wrist_quat, grasp.object_quat_palm)
        assert geometry.quat_angle(info["object_quat"], expected_quat) < 1e-9
        assert np.linalg.norm(info["object_pos"] - scene.WORLD_CENTER) < 0.05
    env.close()


def test_seeded_starts_repeat_and_unseeded_ones_draw_objects_evenly():
    env = gym.make("DexNDM-Rotate-v0", domain_randomization=True)
    first = env.reset(seed=42)
    again = env.reset(seed=42)
    assert first[1]["start"] == again[1]["start"]
    np.testing.assert_array_equal(first[0], again[0])
    env.reset(seed=0)
    drawn = [env.reset()[1]["start"] for _ in range(900)]
    objects = collections.Counter(start.split("/")[0] for start in drawn)
    assert len(objects) == 9 and min(objects.values()) > 60  # 100 each on average
    # under randomisation every scale in the range is a start: more grasps than nominal
    scales = [
        env.unwrapped.grasp_cache.grasps[(o, w)][int(i)][0]
        for o, w, i in (start.split("/") for start in drawn)
    ]
    assert np.ptp(scales) > 0.1
    env.close()


def test_start_tilt_ranges_keep_seeded_starts_distinct_and_in_range():
    env = gym.make("DexNDM-Rotate-v0", start_tilt_deg=(60, 90))
    up, z = task.WRISTS["palm_up"], np.array([0.0, 0.0, 1.0])
    starts = []
    for seed in range(200):
        obj, wrist, index = _start(env.reset(seed=seed)[1])
        row = env.unwrapped.grasp_cache.grasps[(obj, wrist)][index : index + 1]
        assert 60 <= grasps.grasp_tilt_deg(row, up, z)[0] <= 90
        starts.append((obj, index))
    assert len(set(starts)) == 200
    env.close()
