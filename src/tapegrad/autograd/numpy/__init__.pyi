# tapegrad.autograd.numpy is NumPy itself (an alias made at import by tapegrad.autograd); this stub
# tells type checkers so.
from numpy import *  # noqa: F403
from numpy import fft as fft
from numpy import linalg as linalg
from numpy import random as random
