"""tg.optim: PyTorch's optimizers (same numbers), the course's Momentum, EWA and lr schedules."""

from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .ewa import EWA
from .momentum import Momentum
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Momentum", "RMSprop", "Adagrad", "Adadelta", "Adam", "AdamW",
           "Adamax", "NAdam", "EWA", "lr_scheduler"]


def __getattr__(name: str) -> object:
    """Only for a name lookup did not find: it explains itself (see tinygrad_c2/_missing.py)."""
    from tinygrad_c2._missing import module_getattr  # here, so dir() gains no name

    return module_getattr(__name__, name)
