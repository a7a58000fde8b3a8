"""tg.optim: PyTorch's optimizers (same numbers), the course's Momentum, EWA and lr schedules."""

from . import lr_scheduler
from .adam import Adam, AdamW
from .ewa import EWA
from .momentum import Momentum
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Momentum", "RMSprop", "Adam", "AdamW", "EWA", "lr_scheduler"]
