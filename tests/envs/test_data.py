"""Episode storage: round trip, atomic writes and resume, and every validation error."""

from __future__ import annotations

import json
import logging
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO_ROOT

from dexndm_envs.data import episodes as data
from dexndm_envs.data.episodes import EpisodeDataError, EpisodeWriter, load_episodes

HARDWARE = {"kind": "virtual", "profile": "default", "seed": 0}


def make_arrays(steps: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "joint_pos": rng.normal(size=(steps, 16)),
        "joint_targets": rng.normal(size=(steps, 16)),
        "joint_vel": rng.normal(size=(steps, 16)),
        "joint_current": rng.normal(size=(steps, 16)) * 100.0,
        "timestamps": np.arange(steps) * 0.05,
    }


def make_meta(**changes) -> dict:
    meta = data.episode_meta(
        wrist="palm_down",
        axis=np.array([0.0, 0.0, 1.0]),
        hardware=HARDWARE,
        action_source="rollouts/palm_down.npz#3",
        action_noise={"kind": "gaussian", "sigma": 0.01},
        extra={"operator": "test"},
    )
    meta.update(changes)
    return meta


def rewrite(path: Path, change) -> None:
    """Rewrite an episode file with its members changed by change(members), bypassing checks."""
    with np.load(path) as npz:
        members = {name: npz[name] for name in npz.files}
    change(members)
    with open(path, "wb") as file:
        np.savez(file, **members)


def set_meta(**changes):
    def change(members):
        meta = json.loads(str(members["meta_json"][()]))
        meta.update(changes)
        members["meta_json"] = np.array(json.dumps(meta))

    return change


def test_round_trip(tmp_path):
    writer = EpisodeWriter(tmp_path / "new" / "dir")  # created on demand
    written = {index: make_arrays(seed=index) for index in (3, 0, 1)}
    for index, arrays in written.items():
        path = writer.write(index, arrays, make_meta())
        assert path.name == f"episode_{index:06d}.npz"
    episodes = load_episodes(writer.directory)
    assert [ep.index for ep in episodes] == [0, 1, 3]
    for ep in episodes:
        for name, array in written[ep.index].items():
            np.testing.assert_array_equal(getattr(ep, name), array)
            assert not getattr(ep, name).flags.writeable
        assert ep.num_steps == 40
        assert ep.meta["wrist"] == "palm_down" and ep.meta["axis"] == [0.0, 0.0, 1.0]
        assert ep.meta["hardware"] == HARDWARE and ep.meta["extra"] == {"operator": "test"}
        assert ep.meta["format_version"] == data.FORMAT_VERSION
        assert ep.meta["software_version"] == data.software_version()
        assert ep.path == writer.path(ep.index)


def test_optional_arrays_and_quaternion_wrist(tmp_path):
    writer = EpisodeWriter(tmp_path)
    arrays = make_arrays()
    arrays["joint_vel"] = None  # absent
    del arrays["joint_current"], arrays["timestamps"]
    quat = np.array([0.5, 0.5, 0.5, 0.5], dtype=np.float32)
    writer.write(0, arrays, make_meta(wrist=quat.tolist()))
    (ep,) = load_episodes(tmp_path)
    assert ep.joint_vel is None and ep.joint_current is None and ep.timestamps is None
    assert ep.meta["wrist"] == [0.5, 0.5, 0.5, 0.5]
    with pytest.raises(EpisodeDataError, match=r"episode_000000\.npz: missing .*joint_vel"):
        load_episodes(tmp_path, require=("joint_pos", "joint_vel"))
    with pytest.raises(ValueError, match="unknown required"):
        load_episodes(tmp_path, require=("joint_torque",))


def test_completed_lists_episodes_for_resume(tmp_path):
    writer = EpisodeWriter(tmp_path)
    assert writer.completed() == []
    for index in (0, 1, 5):
        writer.write(index, make_arrays(), make_meta())
    (tmp_path / "notes.txt").write_text("not an episode")
    assert EpisodeWriter(tmp_path).completed() == [0, 1, 5]  # a restarted collection
    with pytest.raises(FileExistsError, match="overwrite"):
        writer.write(1, make_arrays(seed=9), make_meta())
    writer.write(1, make_arrays(seed=9), make_meta(), overwrite=True)
    np.testing.assert_array_equal(
        load_episodes(tmp_path)[1].joint_pos, make_arrays(seed=9)["joint_pos"]
    )


def test_temp_file_of_a_killed_writer_is_ignored_then_cleaned(tmp_path, caplog):
    writer = EpisodeWriter(tmp_path)
    writer.write(0, make_arrays(), make_meta())
    stale = tmp_path / ".episode_000001.x8k2j.tmp"  # as a SIGKILL mid-write leaves it
    stale.write_bytes(writer.path(0).read_bytes()[:500])
    assert [ep.index for ep in load_episodes(tmp_path)] == [0]
    with caplog.at_level(logging.WARNING, logger="dexndm_envs.data.episodes"):
        assert writer.completed() == [0]
    assert not stale.exists()
    assert "interrupted" in caplog.text


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    writer = EpisodeWriter(tmp_path)

    def disk_full(*_args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(data.os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        writer.write(0, make_arrays(), make_meta())
    assert list(tmp_path.iterdir()) == []


def test_truncated_or_damaged_file_is_reported(tmp_path, caplog):
    writer = EpisodeWriter(tmp_path)
    for index in (0, 1, 2):
        writer.write(index, make_arrays(), make_meta())
    size = writer.path(1).stat().st_size
    writer.path(1).write_bytes(writer.path(1).read_bytes()[: size // 2])
    with pytest.raises(EpisodeDataError, match=r"episode_000001\.npz: unreadable or corrupt"):
        load_episodes(tmp_path)
    with caplog.at_level(logging.WARNING, logger="dexndm_envs.data.episodes"):
        assert [ep.index for ep in load_episodes(tmp_path, skip_invalid=True)] == [0, 2]
    assert "episode_000001" in caplog.text
    damaged = bytearray(writer.path(2).read_bytes())
    damaged[size // 2] ^= 0xFF  # one flipped bit inside joint data: the zip CRC catches it
    writer.path(2).write_bytes(bytes(damaged))
    with pytest.raises(EpisodeDataError, match=r"episode_000002\.npz: unreadable or corrupt"):
        data.load_episode(writer.path(2))


@pytest.mark.parametrize(
    ("content", "what"),
    [
        (b"", "empty"),
        (bytes(4096), "it does not start as an .npz"),  # as a power cut can leave a file
        (pickle.dumps({"joint_pos": [0.0]}), "it does not start as an .npz"),
    ],
    ids=["empty", "zeroed", "pickle"],
)
def test_a_file_that_is_no_npz_is_called_corrupt_not_pickled(tmp_path, content, what):
    path = tmp_path / "episode_000000.npz"
    path.write_bytes(content)
    with pytest.raises(EpisodeDataError) as caught:
        data.load_episode(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: corrupt or truncated episode file ({what}")
    assert "pickle" not in message


def test_completed_sets_incomplete_episodes_aside_to_be_written_again(tmp_path, caplog):
    writer = EpisodeWriter(tmp_path)
    for index in (0, 1, 2, 3):
        writer.write(index, make_arrays(steps=20 if index == 3 else 40), make_meta())
    whole = writer.path(1).read_bytes()
    writer.path(1).write_bytes(whole[: len(whole) // 2])  # a copy cut short
    writer.path(2).write_bytes(bytes(len(whole)))  # zeroed by a failing disk
    with caplog.at_level(logging.WARNING, logger="dexndm_envs.data.episodes"):
        assert writer.completed(steps=40) == [0]
    for index in (1, 2, 3):
        assert f"episode {index} is not complete" in caplog.text
    assert "20 steps, not 40" in caplog.text
    assert "corrupt or truncated" in caplog.text
    assert sorted(p.name for p in tmp_path.glob("*.invalid")) == [
        f"episode_00000{i}.npz.invalid" for i in (1, 2, 3)
    ]
    assert (tmp_path / "episode_000001.npz.invalid").read_bytes() == whole[: len(whole) // 2]
    writer.write(1, make_arrays(), make_meta())  # redone: no FileExistsError
    assert writer.completed(steps=40) == [0, 1]


def test_lock_keeps_a_second_writer_out_and_dies_with_its_holder(tmp_path):
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(tmp_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    try:
        assert holder.stdout.readline() == "LOCKED\n"
        with pytest.raises(data.DirectoryLockedError, match=f"pid {holder.pid} holds"):
            EpisodeWriter(tmp_path).lock()
        holder.kill()  # SIGKILL: no clean-up runs, the kernel drops the flock
        holder.wait()
    finally:
        holder.kill()
        holder.wait()
    writer = EpisodeWriter(tmp_path).lock()  # a lock left by a dead process does not block
    with pytest.raises(data.DirectoryLockedError, match=f"pid {os.getpid()} holds"):
        EpisodeWriter(tmp_path).lock()  # one writer per directory, in one process too
    writer.unlock()
    EpisodeWriter(tmp_path).lock().unlock()


LOCK_HOLDER = """
import sys
from dexndm_envs.data.episodes import EpisodeWriter
writer = EpisodeWriter(sys.argv[1]).lock()
print("LOCKED", flush=True)
sys.stdin.read()
"""


def _with(name: str, value):
    def change(arrays):
        arrays[name] = value

    return change


BAD_ARRAYS = {
    "missing": (lambda a: a.pop("joint_targets"), "missing required arrays"),
    "shape": (_with("joint_pos", np.zeros((40, 15))), r"joint_pos has shape \(40, 15\)"),
    "steps": (_with("joint_vel", np.zeros((39, 16))), "step counts differ"),
    "nan": (
        lambda a: a["joint_current"].__setitem__((7, 1), np.nan),
        "non-finite.*step 7, joint if_rot",
    ),
    "timestamps": (_with("timestamps", np.arange(40)[::-1] * 0.05), "backwards"),
    "unknown": (_with("joint_torque", np.zeros((40, 16))), "unknown arrays"),
    "dtype": (_with("joint_pos", np.full((40, 16), "x")), "real numbers"),
    "empty": (
        lambda a: a.update({n: a[n][:0] for n in data.ARRAY_NAMES}),
        "no steps",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_bad_arrays_are_rejected_before_writing(tmp_path, case):
    change, message = BAD_ARRAYS[case]
    arrays = make_arrays()
    change(arrays)
    with pytest.raises(EpisodeDataError, match=message):
        EpisodeWriter(tmp_path).write(4, arrays, make_meta())
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("case", list(BAD_ARRAYS))
def test_bad_arrays_on_disk_are_reported_with_the_file(tmp_path, case):
    change, message = BAD_ARRAYS[case]
    path = EpisodeWriter(tmp_path).write(4, make_arrays(), make_meta())
    rewrite(path, change)
    with pytest.raises(EpisodeDataError, match=rf"episode_000004\.npz: .*{message}"):
        load_episodes(tmp_path)


BAD_META = {
    "newer format": (set_meta(format_version=data.FORMAT_VERSION + 1), "newer.*upgrade"),
    "odd format": (set_meta(format_version="one"), "unknown format version"),
    "no format": (set_meta(format_version=None), "unknown format version"),
    "no meta": (lambda m: m.pop("meta_json"), "no metadata"),
    "bad json": (_with("meta_json", np.array("{'wrist': ")), "not valid JSON"),
    "not object": (_with("meta_json", np.array("[1, 2]")), "JSON object"),
    "lacks key": (lambda m: _drop_meta_key(m, "hardware"), "lacks hardware"),
    "bad axis": (set_meta(axis=[0, 1]), "axis must be 3 numbers"),
    "pickle": (_with("meta_json", np.array([{"a": 1}], dtype=object)), "pickled"),
}


def _drop_meta_key(members, key: str) -> None:
    meta = json.loads(str(members["meta_json"][()]))
    del meta[key]
    members["meta_json"] = np.array(json.dumps(meta))


@pytest.mark.parametrize("case", list(BAD_META))
def test_bad_metadata_on_disk_is_reported(tmp_path, case):
    change, message = BAD_META[case]
    path = EpisodeWriter(tmp_path).write(0, make_arrays(), make_meta())
    rewrite(path, change)
    with pytest.raises(EpisodeDataError, match=rf"episode_000000\.npz: .*{message}"):
        load_episodes(tmp_path)


@pytest.mark.parametrize(
    ("meta", "message"),
    [
        (make_meta(acton_source="typo"), "unknown metadata keys acton_source.*extra"),
        (make_meta(format_version=1), "writer sets"),
        (make_meta(hardware={"port": "/dev/ttyUSB0"}), "'kind'"),
        (make_meta(extra={"gain": float("nan")}), "JSON"),
        (make_meta(extra={"when": object()}), "JSON"),
        ({"wrist": "palm_up"}, "lacks axis"),
    ],
)
def test_bad_metadata_is_rejected_before_writing(tmp_path, meta, message):
    with pytest.raises(EpisodeDataError, match=message):
        EpisodeWriter(tmp_path).write(0, make_arrays(), meta)
    assert list(tmp_path.iterdir()) == []


def test_directory_errors(tmp_path):
    with pytest.raises(EpisodeDataError, match="not a directory"):
        load_episodes(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(EpisodeDataError, match="no episodes"):
        load_episodes(tmp_path)
    with pytest.raises(ValueError, match="index"):
        EpisodeWriter(tmp_path).write(-1, make_arrays(), make_meta())


def test_stack_transitions(tmp_path):
    writer = EpisodeWriter(tmp_path)
    writer.write(0, make_arrays(steps=40, seed=0), make_meta())
    writer.write(2, make_arrays(steps=30, seed=1), make_meta())
    episodes = load_episodes(tmp_path)
    stacked = data.stack_transitions(episodes)
    assert stacked.joint_pos.shape == stacked.next_joint_pos.shape == (39 + 29, 16)
    np.testing.assert_array_equal(stacked.next_joint_pos[0], episodes[0].joint_pos[1])
    np.testing.assert_array_equal(stacked.joint_targets[39], episodes[1].joint_targets[0])
    assert np.bincount(stacked.episode).tolist() == [39, 0, 29]
    assert data.stack_transitions([]).joint_pos.shape == (0, 16)
