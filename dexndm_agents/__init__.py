"""dexndm_agents: learning on the dexndm environments (SB3 glue, dynamics models, residuals).

Imports flow one way: dexndm_agents -> dexndm_envs.
"""

from __future__ import annotations

__all__: list[str] = []
