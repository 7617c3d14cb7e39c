"""cae_lib: the code behind cae-book; the chapters import it and tell the story.

Modules, in the order a run flows through them:
``config`` (a run's settings and the profiles), ``paths`` (where data and artifacts live),
``data`` (MNIST as tensors), ``models`` (the two autoencoders), ``train`` (the loop),
``cache`` (trained runs on disk), ``study`` (both models of a profile, for a chapter),
``analysis`` (baselines and noise), ``plots`` (figures), ``report`` (tables and glued numbers) and
``explorer`` (the explorer chapter's widgets). ``site_assets`` is a Sphinx extension for the build.
"""

from .cache import load_or_train
from .config import MODELS, PROFILES, RunConfig, make_config
from .study import Study, load_study

__all__ = ["MODELS", "PROFILES", "RunConfig", "Study", "load_or_train", "load_study", "make_config"]
