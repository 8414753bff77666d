"""Loading a policy file never runs code from it: SB3 zips, their records, generalists, bundles."""

from __future__ import annotations

import ast
import io
import json
import shutil

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import VecNormalize
from untrusted_files import RunsCode, poison_sb3_zip, rewrite_zip, torch_file_that_runs_code

import dexndm_envs  # noqa: F401  (registers the env)
from dexndm_agents.base_policy.vec_env import make_vec_env
from dexndm_agents.dexndm.bundle import Bundle, BundleError
from dexndm_agents.policies.algorithms import algorithm_class
from dexndm_agents.policies.files import ObsNormalizer, load_policy, save_sb3_policy
from dexndm_agents.policies.pretrained import resolve_policy
from dexndm_agents.policies.sb3_zip import PolicyFileError

pytestmark = pytest.mark.usefixtures("one_torch_thread")

ENV_KWARGS = {"object_set": "cube", "history_len": 3}
TINY = {
    "ppo": {"n_steps": 32, "batch_size": 32, "n_epochs": 1, "policy_kwargs": {
        "net_arch": {"pi": [16], "vf": [16]}, "activation_fn": torch.nn.ELU,
        "log_std_init": -1.0}},
    "sac": {"learning_starts": 16, "batch_size": 16, "buffer_size": 500,
            "policy_kwargs": {"net_arch": [16], "activation_fn": torch.nn.Tanh}},
    "td3": {"learning_starts": 16, "batch_size": 16, "buffer_size": 500,
            "policy_kwargs": {"net_arch": [16]}},
}  # fmt: skip


def trained(algo: str, steps: int = 64):
    """A model trained for a few steps under VecNormalize, and its VecNormalize."""
    venv = make_vec_env("DexNDM-Rotate-v0", 1, 0, ENV_KWARGS, vec="dummy")
    venv = VecNormalize(venv, norm_reward=False)
    model = algorithm_class(algo)("MlpPolicy", venv, seed=0, device="cpu", **TINY[algo])
    model.learn(steps)
    return model, venv


@pytest.fixture(scope="module")
def saved_ppo(tmp_path_factory):
    """A PPO policy saved with save_sb3_policy, and the model it was saved from."""
    model, venv = trained("ppo")
    path = save_sb3_policy(model, tmp_path_factory.mktemp("ppo") / "p", "ppo", ENV_KWARGS, venv)
    venv.close()
    return path, model


@pytest.fixture
def ppo_copy(saved_ppo, tmp_path):
    """A copy of the saved PPO policy's files to tamper with."""
    path, _ = saved_ppo
    shutil.copytree(path.parent, tmp_path / "policy")
    return tmp_path / "policy" / path.name


def observations(policy, n: int = 4) -> np.ndarray:
    shape = policy.normalizer.mean.shape
    return np.random.default_rng(1).normal(size=(n, *shape)).astype(np.float32)


def acts_as(policy, model) -> bool:
    obs = observations(policy)
    got, _ = policy.predict(obs, deterministic=True)
    want, _ = model.predict(policy.normalizer(obs), deterministic=True)
    return bool(np.array_equal(got, want))


@pytest.mark.parametrize("algo", ["ppo", "sac", "td3"])
def test_a_saved_policy_acts_as_the_trained_model(tmp_path, algo):
    model, venv = trained(algo)
    path = save_sb3_policy(model, tmp_path / algo, algo, ENV_KWARGS, venv)
    policy = load_policy(path)
    assert acts_as(policy, model)
    assert policy.env_kwargs == ENV_KWARGS
    np.testing.assert_array_equal(policy.normalizer.mean, venv.obs_rms.mean)
    network = json.loads(path.with_suffix(".json").read_text())["network"]
    assert network["policy"] == "MlpPolicy" and network["observation_space"]["low"] == "-inf"
    venv.close()


def test_sb3s_own_loader_would_run_the_poisoned_zip(ppo_copy, tmp_path):
    """The payload is live: SB3's load runs it (which is why load_policy never calls it)."""
    marker = tmp_path / "ran"
    poison_sb3_zip(ppo_copy, marker)
    with pytest.raises(Exception):  # noqa: B017  (whatever fails after the code ran)
        algorithm_class("ppo").load(ppo_copy)
    assert marker.exists()


@pytest.mark.parametrize("loader", [load_policy, lambda path: resolve_policy(str(path))])
def test_pickled_entries_of_a_policy_zip_never_run(saved_ppo, ppo_copy, tmp_path, loader):
    marker = tmp_path / "ran"
    poison_sb3_zip(ppo_copy, marker)
    policy = loader(ppo_copy)
    assert not marker.exists()
    assert acts_as(policy, saved_ppo[1])


def test_weights_that_run_code_are_refused(ppo_copy, tmp_path):
    marker = tmp_path / "ran"
    raw = torch_file_that_runs_code(marker)
    torch.load(io.BytesIO(raw), weights_only=False)  # the payload is live: this runs it
    assert marker.exists()
    marker.rmdir()
    rewrite_zip(ppo_copy, members={"policy.pth": raw})
    with pytest.raises(PolicyFileError, match=r"refusing .*policy\.pth.*could run code"):
        load_policy(ppo_copy)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../outside.npz", "ABSOLUTE", "sub/p.obs_norm.npz", ".."])
def test_statistics_outside_the_policys_directory_are_refused(ppo_copy, tmp_path, name):
    stats = ppo_copy.with_suffix(".obs_norm.npz")
    (ppo_copy.parent / "sub").mkdir()
    shutil.copy(stats, ppo_copy.parent / "sub" / stats.name)
    shutil.copy(stats, tmp_path / "outside.npz")
    name = str(tmp_path / "outside.npz") if name == "ABSOLUTE" else name
    meta_path = ppo_copy.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({**meta, "obs_norm": name}))
    with pytest.raises(PolicyFileError, match="must be a file name in the policy's own directory"):
        load_policy(ppo_copy)


def test_statistics_linked_from_outside_are_refused(ppo_copy, tmp_path):
    stats = ppo_copy.with_suffix(".obs_norm.npz")
    shutil.move(stats, tmp_path / "elsewhere.npz")
    stats.symlink_to(tmp_path / "elsewhere.npz")
    with pytest.raises(PolicyFileError, match="leads out of the policy's directory"):
        load_policy(ppo_copy)


def test_statistics_are_read_without_pickle(ppo_copy, tmp_path):
    marker = tmp_path / "ran"
    stats = ppo_copy.with_suffix(".obs_norm.npz")
    with open(stats, "wb") as file:
        np.savez(file, mean=np.array([RunsCode(marker)], dtype=object), var=1.0, clip=10.0,
                 epsilon=1e-8)  # fmt: skip
    with pytest.raises(PolicyFileError, match="not an observation-statistics file"):
        load_policy(ppo_copy)
    assert not marker.exists()


def test_a_record_without_its_network_is_refused_and_resaves_as_documented(saved_ppo, ppo_copy):
    meta_path = ppo_copy.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    meta_path.write_text(json.dumps({k: v for k, v in meta.items() if k != "network"}))
    with pytest.raises(PolicyFileError, match=r"records no network.*docs/training\.md"):
        load_policy(ppo_copy)
    # docs/training.md, "Policies saved before the network record": for a file you made
    old = json.loads(meta_path.read_text())
    model = algorithm_class(old["algo"]).load(ppo_copy)
    normalizer = ObsNormalizer.load(ppo_copy.with_name(old["obs_norm"]))
    save_sb3_policy(model, ppo_copy, old["algo"], old["env_kwargs"], normalizer)
    assert acts_as(load_policy(ppo_copy), saved_ppo[1])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"algo": "dqn"}, "rebuilds a2c, ddpg, ppo, sac, td3 policies, not 'dqn'"),
        ({"network": {"policy": "CnnPolicy"}}, "rebuilds MlpPolicy networks"),
        ({"policy_kwargs": {"activation_fn": "system"}}, r"activation_fn.*valid: ELU"),
        ({"policy_kwargs": {"features_extractor_class": "Evil"}}, "valid: FlattenExtractor"),
        ({"policy_kwargs": {"exec": "print(1)"}}, "'exec'] is not an argument"),
        ({"policy_kwargs": {"net_arch": {"pi": [8], "vf": [16]}}}, "weights do not fit"),
        ({"policy_kwargs": {"net_arch": "wide"}}, "cannot build the recorded ppo network"),
        ({"observation_space": {"type": "Dict"}}, "is not a float Box"),
    ],
)
def test_network_records_name_what_cannot_be_rebuilt(ppo_copy, change, message):
    meta_path = ppo_copy.with_suffix(".json")
    meta = json.loads(meta_path.read_text())
    network = meta["network"]
    if "policy_kwargs" in change:
        network["policy_kwargs"] |= change["policy_kwargs"]
    elif "observation_space" in change:
        network["observation_space"] = change["observation_space"]
    elif "network" in change:
        network |= change["network"]
    else:
        meta |= change
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(PolicyFileError, match=message):
        load_policy(ppo_copy)


def test_a_network_that_cannot_be_recorded_is_refused_before_writing(tmp_path):
    class CustomActivation(torch.nn.ReLU):
        pass

    venv = VecNormalize(make_vec_env("DexNDM-Rotate-v0", 1, 0, ENV_KWARGS, vec="dummy"))
    kwargs = {"n_steps": 8, "batch_size": 8, "policy_kwargs": {"activation_fn": CustomActivation}}
    model = algorithm_class("ppo")("MlpPolicy", venv, device="cpu", **kwargs)
    with pytest.raises(
        PolicyFileError, match=r"activation_fn.*CustomActivation.*cannot be recorded"
    ):
        save_sb3_policy(model, tmp_path / "p", "ppo", ENV_KWARGS, venv)
    assert list(tmp_path.iterdir()) == []
    venv.close()


def test_torch_files_that_run_code_are_refused(tmp_path):
    """Generalists (.pt) and DexNDM bundles are read with weights_only=True: keep them so."""
    marker = tmp_path / "ran"
    for name in ("generalist.pt", "bundle.pt"):
        (tmp_path / name).write_bytes(torch_file_that_runs_code(marker))
    with pytest.raises(ValueError, match="not a generalist"):
        load_policy(tmp_path / "generalist.pt")
    with pytest.raises(BundleError, match="not a readable bundle"):
        Bundle.load(tmp_path / "bundle.pt")
    assert not marker.exists()


# ----------------------------------------------------------------------------- source scan
SOURCE_DIRS = ("dexndm_agents", "dexndm_envs", "examples", "real")
UNPICKLING_CALLS = {
    "pickle.load", "pickle.loads", "cloudpickle.load", "cloudpickle.loads", "dill.load",
    "dill.loads", "joblib.load", "pd.read_pickle", "pandas.read_pickle", "VecNormalize.load",
    "load_from_zip_file", "json_to_data", "read_pickle",
}  # fmt: skip
SB3_CLASSES = {"A2C", "DDPG", "DQN", "PPO", "SAC", "TD3", "ARS", "CrossQ", "QRDQN", "TQC", "TRPO",
               "RecurrentPPO"}  # fmt: skip


def unpickling_calls(source: str) -> list[str]:
    """Calls in source that can unpickle: torch.load without weights_only=True, np.load with
    allow_pickle, pickle-family loads, SB3's zip loaders and an algorithm class's load()."""
    tree = ast.parse(source)
    algorithm_names = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
        and ast.unparse(node.value.func) == "algorithm_class"
        for target in node.targets if isinstance(target, ast.Name)
    }  # fmt: skip
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        owner, _, attr = name.rpartition(".")
        keywords = {k.arg: k.value for k in node.keywords}

        def is_true(key: str, keywords=keywords) -> bool:
            value = keywords.get(key)
            return isinstance(value, ast.Constant) and value.value is True

        unsafe = (
            (name in ("torch.load", "th.load") and not is_true("weights_only"))
            or (name in ("np.load", "numpy.load") and "allow_pickle" in keywords
                and not (isinstance(keywords["allow_pickle"], ast.Constant)
                         and keywords["allow_pickle"].value is False))
            or name in UNPICKLING_CALLS or attr in ("load_from_zip_file", "json_to_data")
            or (attr == "load" and (owner in SB3_CLASSES or owner in algorithm_names
                                    or owner.startswith("algorithm_class(")))
        )  # fmt: skip
        if unsafe:
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_the_package_never_calls_anything_that_unpickles(repo_root):
    found = {
        str(path.relative_to(repo_root)): calls
        for folder in SOURCE_DIRS
        for path in sorted((repo_root / folder).rglob("*.py"))
        if (calls := unpickling_calls(path.read_text()))
    }
    assert not found, found


@pytest.mark.parametrize(
    "source",
    [
        "torch.load(path)",
        "torch.load(path, weights_only=False)",
        "np.load(path, allow_pickle=True)",
        "pickle.loads(raw)",
        "cloudpickle.loads(raw)",
        "VecNormalize.load(path, venv)",
        "save_util.load_from_zip_file(path)",
        "PPO.load(path)",
        "algorithm_class('ppo').load(path)",
        "cls = algorithm_class(name)\nmodel = cls.load(path)",
    ],
)
def test_the_source_scan_finds_each_kind_of_unpickling(source):
    assert unpickling_calls(source), source
    assert not unpickling_calls("torch.load(p, weights_only=True)\nnp.load(p)\nBundle.load(p)")
