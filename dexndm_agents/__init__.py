"""dexndm_agents: training, evaluating and shipping policies for the DexNDM environments.

    import dexndm_agents
    policy = dexndm_agents.load_pretrained()        # the shipped base policy (palm up, +z)
    policy = dexndm_agents.load_policy("runs/ppo/best_model.zip")
    action, _ = policy.predict(obs, deterministic=True)

Modules: training (any SB3 algorithm; examples/train.py), vec_env (the vectorisation that is
fastest here), evaluation (the paper's metrics over a grid), gait (periodic gait teachers),
generalist and distillation (specialists -> proprioceptive generalist), policies (one policy
interface and its files), pretrained (the shipped policies).
"""

from __future__ import annotations

from dexndm_agents.policies import Policy, load_policy, save_sb3_policy
from dexndm_agents.pretrained import load_pretrained

__all__ = ["Policy", "load_policy", "load_pretrained", "save_sb3_policy"]
