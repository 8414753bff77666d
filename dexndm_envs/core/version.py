"""The package's release, in one place: setup.cfg, dexndm_envs.__version__ and every artifact's
build record read it from here."""

__version__ = "0.2.0"
