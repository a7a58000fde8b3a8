"""tg.train: the training workflow: `fit` with callbacks and a History, the bias/variance diagnosis.

>>> from tinygrad_c2.train import fit, diagnose, EarlyStopping, Checkpoint, GradientMonitor
>>> diagnose(0.15, 0.30).verdict
'high bias and high variance'

Plots live in `tinygrad_c2.train.plots` (matplotlib optional, imported only when plotting).
"""

from .callbacks import (
    Callback,
    Checkpoint,
    EarlyStopping,
    GradientMonitor,
    SchedulerStep,
    TrainState,
)
from .diagnose import Diagnosis, diagnose
from .history import History
from .loop import fit
from .metrics import accuracy, evaluate
from .progress import Progress

__all__ = [
    "Callback",
    "Checkpoint",
    "Diagnosis",
    "EarlyStopping",
    "GradientMonitor",
    "History",
    "Progress",
    "SchedulerStep",
    "TrainState",
    "accuracy",
    "diagnose",
    "evaluate",
    "fit",
]
