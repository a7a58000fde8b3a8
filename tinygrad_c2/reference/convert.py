"""Copy weights between an ``nn.Sequential`` MLP and the reference ``MLP`` (both directions).

A model is read layer by layer: ``Linear -> [BatchNorm1d] -> ReLU|Tanh|Sigmoid -> [Dropout]``
for each hidden layer, then a final ``Linear`` optionally followed by ``Sigmoid``, ``Softmax``
or ``LogSoftmax``. Modules are recognised by class name, so a PyTorch ``nn.Sequential`` of the
same layers converts too (handy for checking against PyTorch).
"""

from __future__ import annotations

import numpy as np

from tinygrad_c2.reference.mlp import MLP

_ACTIVATION_NAMES = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid"}
_OUTPUT_NAMES = {"Sigmoid": "sigmoid", "Softmax": "softmax", "LogSoftmax": "softmax"}
_SKIPPED = ("Identity", "Flatten")


def _is_torch(t) -> bool:
    return type(t).__module__.startswith("torch")


def _read(t) -> np.ndarray:
    """A copy of a tinygrad_c2 Tensor's, a torch tensor's or an array's values as numpy."""
    if _is_torch(t):
        return t.detach().cpu().numpy().copy()
    return np.array(getattr(t, "_data", t), copy=True)


def _write(t, value: np.ndarray) -> None:
    """Copy ``value`` into ``t`` in place (same dtype and shape as ``t``)."""
    if _is_torch(t):
        import torch

        with torch.no_grad():
            t.copy_(torch.from_numpy(np.ascontiguousarray(value)))
        return
    target = getattr(t, "_data", t)
    if target.shape != value.shape:
        raise ValueError(
            f"to_model: shape mismatch, the model has {target.shape}, the reference {value.shape}")
    np.copyto(target, value, casting="same_kind")


def _layers(model) -> list[list]:
    """Split the model's modules into per-layer groups: [Linear, BatchNorm1d?, act?, Dropout?]."""
    groups: list[list] = []
    for module in model:
        kind = type(module).__name__
        if kind in _SKIPPED:
            continue
        if kind == "Linear":
            groups.append([module])
        elif not groups:
            raise ValueError(f"from_model: expected a Linear first, got {kind}")
        else:
            groups[-1].append(module)
    if not groups:
        raise ValueError("from_model: the model has no Linear layer")
    return groups


def from_model(
    model, output: str | None = None, lambd: float = 0.0, rng: np.random.Generator | None = None
) -> MLP:
    """The reference ``MLP`` with a copy of an ``nn.Sequential`` MLP's weights and buffers.

    ``output`` defaults to what the last layer says: a trailing Sigmoid means "sigmoid", a
    trailing Softmax/LogSoftmax "softmax"; after a bare final Linear (logits fed to
    BCEWithLogitsLoss or CrossEntropyLoss) one output unit means "sigmoid", more "softmax".
    The dtype follows the model's weights. Dropout's ``p`` becomes ``keep_prob = 1 - p``.
    """
    groups = _layers(model)
    L = len(groups)
    parameters: dict[str, np.ndarray] = {}
    running_mean: dict[int, np.ndarray] = {}
    running_var: dict[int, np.ndarray] = {}
    activations, keep_probs = [], []
    bn_eps, bn_momentum, inferred_output = None, None, None
    for layer, group in enumerate(groups, start=1):
        linear, rest = group[0], group[1:]
        parameters[f"W{layer}"] = _read(linear.weight)
        if linear.bias is not None:
            parameters[f"b{layer}"] = _read(linear.bias)
        kinds = [type(module).__name__ for module in rest]
        if layer == L:
            if len(rest) > 1 or (rest and kinds[0] not in _OUTPUT_NAMES):
                raise ValueError(f"from_model: the output Linear may be followed by one of "
                                 f"{sorted(_OUTPUT_NAMES)}, got {kinds}")
            n_out = parameters[f"W{layer}"].shape[0]
            if rest:
                inferred_output = _OUTPUT_NAMES[kinds[0]]
            else:
                inferred_output = "sigmoid" if n_out == 1 else "softmax"
            break
        if rest and kinds[0] == "BatchNorm1d":
            bn = rest.pop(0)
            kinds.pop(0)
            if (bn.weight is None or bn.bias is None or bn.running_mean is None
                    or bn.momentum is None):
                raise ValueError(f"from_model: layer {layer} BatchNorm1d needs affine=True, "
                                 "bias=True, track_running_stats=True and a float momentum")
            parameters[f"gamma{layer}"] = _read(bn.weight)
            parameters[f"beta{layer}"] = _read(bn.bias)
            running_mean[layer] = _read(bn.running_mean)
            running_var[layer] = _read(bn.running_var)
            if bn_eps not in (None, bn.eps) or bn_momentum not in (None, bn.momentum):
                raise ValueError("from_model: all BatchNorm1d layers must share eps and momentum")
            bn_eps, bn_momentum = bn.eps, bn.momentum
        if not rest or kinds[0] not in _ACTIVATION_NAMES:
            raise ValueError(f"from_model: hidden layer {layer} needs an activation "
                             f"{sorted(_ACTIVATION_NAMES)} after Linear/BatchNorm1d, got {kinds}")
        activations.append(_ACTIVATION_NAMES[kinds[0]])
        keep_prob = 1.0
        if kinds[1:] == ["Dropout"]:
            keep_prob = 1.0 - rest[1].p
        elif kinds[1:]:
            raise ValueError(f"from_model: hidden layer {layer} ends with {kinds[1:]}, "
                             "expected nothing or one Dropout")
        keep_probs.append(keep_prob)
    return MLP(
        parameters,
        activation=activations,
        output=output or inferred_output,
        keep_prob=keep_probs,
        lambd=lambd,
        running_mean=running_mean,
        running_var=running_var,
        bn_eps=1e-5 if bn_eps is None else bn_eps,
        bn_momentum=0.1 if bn_momentum is None else bn_momentum,
        rng=rng,
    )


def to_model(ref: MLP, model) -> None:
    """Copy the reference's parameters and batch-norm running statistics into ``model`` in place.

    The model must have the same layers (as ``from_model`` reads them); values are copied into
    the model's existing arrays, so optimizers holding the model's tensors keep working.
    """
    groups = _layers(model)
    if len(groups) != ref.L:
        raise ValueError(
            f"to_model: the model has {len(groups)} Linear layers, the reference {ref.L}")
    for layer, group in enumerate(groups, start=1):
        linear = group[0]
        _write(linear.weight, ref.parameters[f"W{layer}"])
        if (linear.bias is not None) != (f"b{layer}" in ref.parameters):
            raise ValueError(f"to_model: layer {layer} has a bias in only one of the two")
        if linear.bias is not None:
            _write(linear.bias, ref.parameters[f"b{layer}"])
        bns = [m for m in group[1:] if type(m).__name__ == "BatchNorm1d"]
        if bool(bns) != ref.batch_norm[layer]:
            raise ValueError(f"to_model: layer {layer} has batch norm in only one of the two")
        if bns:
            _write(bns[0].weight, ref.parameters[f"gamma{layer}"])
            _write(bns[0].bias, ref.parameters[f"beta{layer}"])
            _write(bns[0].running_mean, ref.running_mean[layer])
            _write(bns[0].running_var, ref.running_var[layer])
