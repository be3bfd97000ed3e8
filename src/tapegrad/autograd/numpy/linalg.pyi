from numpy.linalg import *  # noqa: F403
