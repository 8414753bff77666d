"""A physical LEAP hand's servo settings (the hand config that DexNDM-Real-v0, the virtual hand
and the ideal sim hand all take).
"""
