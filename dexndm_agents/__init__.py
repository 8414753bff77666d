"""dexndm_agents: training, evaluating and shipping policies for the DexNDM environments.

    import dexndm_agents
    policy = dexndm_agents.load_pretrained()        # the shipped base policy (palm up, +z)
    policy = dexndm_agents.load_policy("runs/ppo/best_model.zip")
    action, _ = policy.predict(obs, deterministic=True)
    env = dexndm_agents.NDMResidualWrapper(real_env, bundle="default")   # DexNDM's residual

Subpackages, lowest first (docs/architecture.md): policies (one policy interface, its files,
gaits, offsets on a gait, the distilled generalist, the shipped policies), evaluation (one
harness: episodes, grids, summaries, paired differences), base_policy (SB3 training, gait
search, distillation) and dexndm (the DexNDM method: rollouts, data, dynamics models, adapters,
bundles, NDMResidualWrapper, the loop).
"""

from __future__ import annotations

from dexndm_agents.dexndm.wrapper import NDMResidualWrapper
from dexndm_agents.policies.files import Policy, load_policy, save_sb3_policy
from dexndm_agents.policies.pretrained import load_pretrained

__all__ = ["NDMResidualWrapper", "Policy", "load_policy", "load_pretrained", "save_sb3_policy"]
