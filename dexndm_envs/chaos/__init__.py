"""The chaos box: the hand among soft balls (box), the random joint targets (actions), the
hardware collection loop (collection) and the virtual hand in the box as DexNDM-ChaosBox-v0
(virtual_env).
"""
