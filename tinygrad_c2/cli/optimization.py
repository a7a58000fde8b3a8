"""The optimization flags (--optimizer, --lr, --decay, --l2, --batch-size, --epochs,
--early-stopping) and the optimizer and scheduler they build."""

from __future__ import annotations

import argparse
from typing import Any

from .. import nn, optim
from ..nn.modules.module import Module
from ..optim.lr_scheduler import LRScheduler
from .flags import parse_non_negative, parse_non_negative_int, parse_positive_int

OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam", "adamw")
DECAYS = ("inverse_time", "exponential", "step", "none")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.1, "rmsprop": 0.001, "adam": 0.003, "adamw": 0.003}


def add_optimizer_arguments(parser: argparse.ArgumentParser) -> None:
    """--optimizer, --lr, --decay, --decay-rate, --l2, --batch-size, --epochs, --early-stopping."""
    group = parser.add_argument_group("optimization")
    group.add_argument("--optimizer", choices=OPTIMIZERS, default="adam",
                       help="sgd (plain), momentum (the course's, beta 0.9), rmsprop, adam, "
                            "adamw (decoupled weight decay) (default adam)")
    group.add_argument("--lr", type=parse_non_negative, default=None,
                       help="learning rate alpha0 (default: 0.1 for sgd/momentum, 0.001 for "
                            "rmsprop, 0.003 for adam/adamw)")
    group.add_argument("--decay", choices=DECAYS, default="inverse_time",
                       help="learning-rate decay per epoch: inverse_time alpha0/(1+rate*epoch), "
                            "exponential alpha0*(1-rate)^epoch, step (halve every 1/rate "
                            "epochs) or none (default inverse_time)")
    group.add_argument("--decay-rate", type=parse_non_negative, default=0.05,
                       help="the decay rate (default 0.05)")
    group.add_argument("--l2", type=parse_non_negative, default=0.0, metavar="LAMBDA",
                       help="the course's L2 lambda: adds lambda/(2m)*sum||W||^2 to the cost, "
                            "i.e. weight decay lambda/m on weight matrices only (default 0)")
    group.add_argument("--batch-size", type=parse_positive_int, default=64,
                       help="mini-batch size (default 64; the training-set size = batch GD, "
                            "1 = stochastic, which needs --no-batchnorm)")
    group.add_argument("--epochs", type=parse_positive_int, default=100,
                       help="maximum number of epochs (default 100)")
    group.add_argument("--early-stopping", type=parse_non_negative_int, default=20,
                       metavar="PATIENCE",
                       help="stop when the dev loss has not improved for PATIENCE epochs and "
                            "restore the best weights; 0 turns it off (default 20)")


def build_optimizer(args: argparse.Namespace, model: Module, m_train: int) -> optim.Optimizer:
    """The --optimizer with --lr; --l2 becomes weight decay lambda/m on Linear weights only."""
    lr = DEFAULT_LR[args.optimizer] if args.lr is None else args.lr
    params: Any = model.parameters()
    if args.l2 > 0:
        params = nn.param_groups_for_weight_decay(model, args.l2 / m_train)
    if args.optimizer == "sgd":
        return optim.SGD(params, lr=lr)
    if args.optimizer == "momentum":
        return optim.Momentum(params, lr=lr, beta=0.9)
    if args.optimizer == "rmsprop":
        return optim.RMSprop(params, lr=lr)
    if args.optimizer == "adam":
        return optim.Adam(params, lr=lr)
    # AdamW's decoupled decay: PyTorch's default 0.01 on every parameter, or the --l2 groups
    return optim.AdamW(params, lr=lr)


def build_scheduler(args: argparse.Namespace, optimizer: optim.Optimizer) -> LRScheduler | None:
    """The --decay schedule (stepped once per epoch), or None."""
    rate = args.decay_rate
    if args.decay == "none" or rate == 0:
        return None
    if args.decay == "inverse_time":
        return optim.lr_scheduler.InverseTimeDecay(optimizer, decay_rate=rate)
    if args.decay == "exponential":
        return optim.lr_scheduler.ExponentialLR(optimizer, gamma=max(1.0 - rate, 1e-6))
    return optim.lr_scheduler.StepLR(optimizer, step_size=max(1, round(1 / rate)), gamma=0.5)
