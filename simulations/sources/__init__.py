"""Sources: laws with exact moments (Gaussian, uniform cube / ball, Laplace, Student-t, Gaussian
mixtures) and random SPD pairs. Every sampler takes ``seed: int | Generator | None``."""

from .laws import SOURCE_NAMES, Source, make_source
from .spd import haar_rotation, random_pair, random_spd

__all__ = ["SOURCE_NAMES", "Source", "haar_rotation", "make_source", "random_pair", "random_spd"]
