"""One policy interface and its files (files), the SB3 algorithms (algorithms), the policy
kinds beside SB3 models (gait, gait_offsets, generalist), the baselines they are measured
against (baselines) and the shipped policies (pretrained).
"""
