"""Learning the base policy: SB3 training (training, vec_env, callbacks), gait search
(gait_search) and distillation of specialists into a generalist (distillation).
"""
