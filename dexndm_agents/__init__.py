"""dexndm_agents: training, evaluating and shipping policies for the DexNDM environments.

    import dexndm_agents
    policy = dexndm_agents.load_pretrained()        # the shipped base policy (palm up, +z)
    policy = dexndm_agents.load_policy("runs/ppo/best_model.zip")
    action, _ = policy.predict(obs, deterministic=True)
    env = dexndm_agents.NDMResidualWrapper(real_env, bundle="default")   # DexNDM's residual

Modules: training (any SB3 algorithm; examples/train.py), vec_env (the vectorisation that is
fastest here), evaluation (the paper's metrics over a grid), gait (periodic gait teachers),
gait_residual (an agent's bounded offsets from a gait's targets: train.py --gait),
generalist and distillation (specialists -> proprioceptive generalist), policies (one policy
interface and its files), pretrained (the shipped policies); DexNDM itself: rollouts (a base
policy's sim rollouts on disk), ndm_data, ndm and ndm_training (the joint-wise and whole-hand
dynamics models), residual (the adapter trained through a model), bundle (model + adapter in
one file) and wrappers (NDMResidualWrapper).
"""

from __future__ import annotations

from dexndm_agents.dexndm.wrapper import NDMResidualWrapper
from dexndm_agents.policies.files import Policy, load_policy, save_sb3_policy
from dexndm_agents.policies.pretrained import load_pretrained

__all__ = ["NDMResidualWrapper", "Policy", "load_policy", "load_pretrained", "save_sb3_policy"]
