"""Hand-derived backprop for an L-layer MLP in plain numpy, written the way the course teaches it.

Layout: rows are examples (PyTorch's layout), so a layer computes ``Z = A_prev @ W.T + b``
with ``W`` of shape (n_l, n_{l-1}) (the course's shape and PyTorch ``Linear.weight``'s) and
``A_prev`` of shape (m, n_{l-1}). The course stores examples as columns (``Z = W A + b``);
every formula below is that formula transposed, and no transposed copies are ever made.

Names follow the course: ``parameters["W1"], ["b1"], ["gamma1"], ["beta1"]``, the forward pass
returns ``AL`` and ``caches``, the backward pass returns ``grads["dW1"]`` etc. Layer ``l`` runs
``Linear -> [BatchNorm1d] -> activation -> [Dropout]`` for ``l < L`` and ``Linear -> output``
for ``l == L``, with output ``"sigmoid"`` (binary cross-entropy) or ``"softmax"``
(cross-entropy with integer labels). Both costs are means over the batch, so the output
layer's gradient is ``dZ = (AL - Y) / m`` and ``dW = dZ.T @ A_prev`` already carries the 1/m.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

ACTIVATIONS = ("relu", "tanh", "sigmoid")
OUTPUTS = ("sigmoid", "softmax")


def _global_generator() -> np.random.Generator:
    # NOTE: imported here, not at module level, so the reference stays usable on its own;
    # the library's generator() must be called each time because manual_seed replaces it.
    from tinygrad_c2.rng import generator

    return generator()


def dropout_mask(
    shape: tuple[int, ...],
    keep_prob: float,
    dtype=np.float64,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Inverted-dropout mask D: 1/keep_prob where a unit is kept, 0 where it is dropped.

    Drawn exactly like ``F.dropout`` (one ``random`` call of the activation's shape and dtype),
    so with the same generator state both draw the same units.

    >>> dropout_mask((2, 3), 0.5, rng=np.random.default_rng(0)).tolist()
    [[0.0, 2.0, 2.0], [2.0, 0.0, 0.0]]
    """
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"dropout_mask: keep_prob must be in (0, 1], got {keep_prob}")
    dtype = np.dtype(dtype)
    gen = rng if rng is not None else _global_generator()
    return (gen.random(shape, dtype=dtype) < keep_prob) * dtype.type(1 / keep_prob)


def sigmoid(Z: np.ndarray) -> np.ndarray:
    """sigma(z) = 1 / (1 + e^-z), computed as exp(-log(1 + e^-z)) with np.logaddexp.

    logaddexp(0, -z) = log(1 + e^-z) never overflows, so neither tail warns or loses digits.

    >>> sigmoid(np.array([-1000.0, 0.0, 1000.0])).tolist()
    [0.0, 0.5, 1.0]
    """
    A = np.negative(Z)
    np.logaddexp(0.0, A, out=A)
    np.negative(A, out=A)
    np.exp(A, out=A)
    return A


def relu_backward(dA: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA * 1[z > 0], in place in dA (A = relu(Z) > 0 exactly where Z > 0)."""
    dA *= A > 0
    return dA


def tanh_backward(dA: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA * (1 - A^2), in place in dA."""
    dA *= 1.0 - A * A
    return dA


def sigmoid_backward(dA: np.ndarray, A: np.ndarray) -> np.ndarray:
    """dZ = dA * A * (1 - A), in place in dA."""
    dA *= A * (1.0 - A)
    return dA


def batchnorm_forward(
    Z: np.ndarray,
    gamma: np.ndarray,
    beta: np.ndarray,
    running_mean: np.ndarray,
    running_var: np.ndarray,
    training: bool,
    eps: float = 1e-5,
    momentum: float = 0.1,
) -> tuple[np.ndarray, tuple]:
    """Z_tilde = gamma * (Z - mu) / sqrt(var + eps) + beta, per feature (column).

    Training uses the batch mean and the biased batch variance and updates the running
    statistics in place with PyTorch's rule ``r = (1 - momentum) r + momentum * stat``, using
    the unbiased variance (m / (m - 1) * var). Eval uses the running statistics.
    NOTE: the course notes divide by ``var + eps``; the correct divisor is ``sqrt(var + eps)``.
    """
    if training:
        m = Z.shape[0]
        if m < 2:
            raise ValueError(
                f"batchnorm_forward: training needs more than 1 example per batch, got Z {Z.shape}")
        mu = Z.mean(axis=0)
        Z_centered = Z - mu
        var = (Z_centered * Z_centered).mean(axis=0)
        running_mean *= 1.0 - momentum
        running_mean += momentum * mu
        running_var *= 1.0 - momentum
        running_var += (momentum * m / (m - 1)) * var
    else:
        Z_centered = Z - running_mean
        var = running_var
    inv_std = 1.0 / np.sqrt(var + eps)
    Z_norm = Z_centered
    Z_norm *= inv_std
    Z_tilde = Z_norm * gamma
    Z_tilde += beta
    return Z_tilde, (Z_norm, gamma, inv_std, training)


def batchnorm_backward(dZ_tilde: np.ndarray, bn_cache: tuple) -> tuple[np.ndarray, ...]:
    """Closed-form batch-norm backward: returns (dZ, dgamma, dbeta).

    With Z_norm the normalized input and m the batch size, in training mode
    ``dZ = gamma * inv_std / m * (m * dZ_tilde - dbeta - Z_norm * dgamma)``, where
    ``dbeta = sum(dZ_tilde)`` and ``dgamma = sum(dZ_tilde * Z_norm)`` over the batch (the mean
    and variance depend on every example, hence the two correction terms). In eval mode the
    statistics are constants and ``dZ = dZ_tilde * gamma * inv_std``.
    """
    Z_norm, gamma, inv_std, training = bn_cache
    dbeta = dZ_tilde.sum(axis=0)
    dgamma = (dZ_tilde * Z_norm).sum(axis=0)
    if not training:
        return dZ_tilde * (gamma * inv_std), dgamma, dbeta
    m = dZ_tilde.shape[0]
    dZ = dZ_tilde * m
    dZ -= dbeta
    dZ -= Z_norm * dgamma
    dZ *= gamma * inv_std / m
    return dZ, dgamma, dbeta


def _per_hidden_layer(value, L: int, name: str) -> list:
    """A scalar or one value per hidden layer, as the 1-based list [None, v_1, ..., v_{L-1}]."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [None] + [value] * (L - 1)
    if len(value) != L - 1:
        raise ValueError(
            f"MLP: {name} has {len(value)} entries, expected one per hidden layer ({L - 1})")
    return [None, *value]


class MLP:
    """An L-layer MLP with hand-derived forward, cost, backward: the course's model.

    ``parameters`` maps the course's names to arrays: ``W{l}`` (n_l, n_{l-1}), ``b{l}`` (n_l,)
    (absent for a Linear without bias), and for batch-norm layers ``gamma{l}``, ``beta{l}``
    (n_l,). ``running_mean[l]``/``running_var[l]`` are the batch-norm buffers. The dtype
    (float32 or float64) follows the weights. ``activation`` and ``keep_prob`` are one value or
    one per hidden layer. ``rng`` is the generator for dropout masks (default: the library's
    ``tinygrad_c2.rng.generator()``).

    >>> net = MLP.initialize([2, 3, 1], rng=np.random.default_rng(0))
    >>> AL, caches = net.forward(np.ones((4, 2)))
    >>> AL.shape, sorted(net.backward(AL, np.ones((4, 1)), caches))
    ((4, 1), ['dW1', 'dW2', 'db1', 'db2'])
    """

    def __init__(
        self,
        parameters: dict[str, np.ndarray],
        activation: str | Sequence[str] = "relu",
        output: str = "sigmoid",
        keep_prob: float | Sequence[float] = 1.0,
        lambd: float = 0.0,
        running_mean: dict[int, np.ndarray] | None = None,
        running_var: dict[int, np.ndarray] | None = None,
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        rng: np.random.Generator | None = None,
    ) -> None:
        L = sum(1 for name in parameters if name.startswith("W"))
        if L < 1 or any(f"W{layer}" not in parameters for layer in range(1, L + 1)):
            raise ValueError(f"MLP: parameters need W1..WL, got {list(parameters)}")
        if output not in OUTPUTS:
            raise ValueError(f"MLP: output must be one of {OUTPUTS}, got {output!r}")
        self.L = L
        self.parameters = parameters
        self.activation = _per_hidden_layer(activation, L, "activation")
        self.keep_prob = _per_hidden_layer(keep_prob, L, "keep_prob")
        for layer in range(1, L):
            if self.activation[layer] not in ACTIVATIONS:
                raise ValueError(f"MLP: layer {layer} activation must be one of {ACTIVATIONS}, "
                                 f"got {self.activation[layer]!r}")
            if not 0.0 < self.keep_prob[layer] <= 1.0:
                raise ValueError(
                    f"MLP: layer {layer} keep_prob must be in (0, 1], got {self.keep_prob[layer]}")
        if f"gamma{L}" in parameters:
            raise ValueError(f"MLP: batch norm is for hidden layers only, got gamma{L} (output)")
        self.output = output
        self.lambd = lambd
        self.bn_eps = bn_eps
        self.bn_momentum = bn_momentum
        self.rng = rng
        self.training = True
        self.dtype = parameters["W1"].dtype
        self.batch_norm = [f"gamma{layer}" in parameters for layer in range(L + 1)]
        self.running_mean = dict(running_mean or {})
        self.running_var = dict(running_var or {})
        for layer in range(1, L):
            n = parameters[f"W{layer}"].shape[0]
            if self.batch_norm[layer]:
                self.running_mean.setdefault(layer, np.zeros(n, self.dtype))
                self.running_var.setdefault(layer, np.ones(n, self.dtype))
        for name, p in parameters.items():
            if p.dtype != self.dtype:
                raise TypeError(f"MLP: {name} is {p.dtype}, expected {self.dtype} like W1")
        for layer in range(1, L + 1):
            n_out, n_in = parameters[f"W{layer}"].shape
            if layer > 1 and n_in != parameters[f"W{layer - 1}"].shape[0]:
                raise ValueError(f"MLP: W{layer} has shape {(n_out, n_in)}, expected "
                                 f"({n_out}, {parameters[f'W{layer - 1}'].shape[0]}) to follow "
                                 f"W{layer - 1} {parameters[f'W{layer - 1}'].shape}")
            for name in (f"b{layer}", f"gamma{layer}", f"beta{layer}"):
                if name in parameters and parameters[name].shape != (n_out,):
                    raise ValueError(f"MLP: {name} has shape {parameters[name].shape}, "
                                     f"expected ({n_out},) like W{layer}'s rows")

    @classmethod
    def initialize(
        cls,
        layer_dims: Sequence[int],
        activation: str | Sequence[str] = "relu",
        output: str = "sigmoid",
        batch_norm: bool = False,
        dtype=np.float64,
        rng: np.random.Generator | None = None,
        **kwargs,
    ) -> MLP:
        """He initialization, as in the course: W ~ N(0, 1) * sqrt(2 / n_{l-1}), b = 0.

        Layers followed by batch norm get no bias (the course: b cancels in Z - mu),
        gamma = 1 and beta = 0. Remaining keyword arguments go to ``MLP``.

        >>> MLP.initialize([4, 5, 3], output="softmax").parameters["W2"].shape
        (3, 5)
        """
        gen = rng if rng is not None else _global_generator()
        dtype = np.dtype(dtype)
        L = len(layer_dims) - 1
        parameters = {}
        for layer in range(1, L + 1):
            n_out, n_in = layer_dims[layer], layer_dims[layer - 1]
            W = gen.standard_normal((n_out, n_in)) * np.sqrt(2 / n_in)
            parameters[f"W{layer}"] = W.astype(dtype)
            if batch_norm and layer < L:
                parameters[f"gamma{layer}"] = np.ones(n_out, dtype)
                parameters[f"beta{layer}"] = np.zeros(n_out, dtype)
            else:
                parameters[f"b{layer}"] = np.zeros(n_out, dtype)
        return cls(parameters, activation, output, rng=rng, **kwargs)

    def train(self) -> MLP:
        """Training mode: dropout on, batch norm uses and updates batch statistics."""
        self.training = True
        return self

    def eval(self) -> MLP:
        """Eval mode: no dropout, batch norm uses the running statistics."""
        self.training = False
        return self

    def forward(
        self, X: np.ndarray, masks: dict[int, np.ndarray] | None = None
    ) -> tuple[np.ndarray, list]:
        """Forward propagation: returns AL (probabilities) and the caches for backward.

        ``masks[l]`` (already scaled by 1/keep_prob) replaces the random dropout mask of hidden
        layer l, e.g. to hold the masks fixed for gradient checking. Without masks they are
        drawn in forward order, one per dropout layer, like the autograd's ``nn.Dropout``.
        Each ``caches[l]`` is ``(A_prev, Z, A, D, bn_cache)``; caches[0] is unused.
        """
        params = self.parameters
        A = np.asarray(X, dtype=self.dtype)
        n_in = params["W1"].shape[1]
        if A.ndim != 2 or A.shape[1] != n_in:
            raise ValueError(f"MLP.forward: X must have shape (m, {n_in}), got {A.shape}")
        caches = [None]
        for layer in range(1, self.L + 1):
            A_prev = A
            Z = A_prev @ params[f"W{layer}"].T
            b = params.get(f"b{layer}")
            if b is not None:
                Z += b
            if layer == self.L:
                break
            bn_cache = None
            if self.batch_norm[layer]:
                Z_tilde, bn_cache = batchnorm_forward(
                    Z, params[f"gamma{layer}"], params[f"beta{layer}"], self.running_mean[layer],
                    self.running_var[layer], self.training, self.bn_eps, self.bn_momentum)
            else:
                Z_tilde = Z
            activation = self.activation[layer]
            if activation == "relu":
                A = np.maximum(Z_tilde, 0.0)
            elif activation == "tanh":
                A = np.tanh(Z_tilde)
            else:
                A = sigmoid(Z_tilde)
            D = None
            keep_prob = self.keep_prob[layer]
            if self.training and keep_prob < 1.0:
                if masks is not None:
                    D = masks[layer]
                else:
                    D = dropout_mask(A.shape, keep_prob, A.dtype, self.rng)
                caches.append((A_prev, Z, A, D, bn_cache))
                A = A * D
            else:
                caches.append((A_prev, Z, A, D, bn_cache))
        if self.output == "sigmoid":
            AL = sigmoid(Z)
            caches.append((A_prev, Z, AL, None, None))
        else:
            # Stable softmax: shifting by the row max changes nothing and keeps exp() finite.
            Z_max = Z.max(axis=1, keepdims=True)
            T = Z - Z_max
            np.exp(T, out=T)
            T_sum = T.sum(axis=1, keepdims=True)
            AL = T
            AL /= T_sum
            caches.append((A_prev, Z, AL, Z_max, T_sum))
        return AL, caches

    def _check_labels(self, Y: np.ndarray, AL: np.ndarray, where: str) -> np.ndarray:
        m = AL.shape[0]
        if self.output == "softmax":
            Y = np.asarray(Y)
            if Y.shape != (m,) or Y.dtype.kind not in "iu":
                raise ValueError(f"MLP.{where}: softmax labels must be integers of shape ({m},), "
                                 f"got {Y.dtype} {Y.shape}")
            return Y
        Y = np.asarray(Y, dtype=self.dtype)
        if Y.size != m:
            raise ValueError(f"MLP.{where}: sigmoid targets must have {m} entries, got {Y.shape}")
        return Y.reshape(AL.shape)

    def cost(self, caches: list, Y: np.ndarray) -> float:
        """Mean cross-entropy over the batch plus the L2 term lambd/(2m) * sum_l ||W_l||_F^2.

        Computed from the output logits Z[L] kept in the caches, which is the course's
        formula without ever taking log(0): for sigmoid, -y log a - (1-y) log(1-a) equals
        log(1 + e^z) - z y; for softmax, -log a_y = logsumexp(z) - z_y.
        """
        _, Z, AL, Z_max, T_sum = caches[self.L]
        Y = self._check_labels(Y, AL, "cost")
        m = Z.shape[0]
        if self.output == "sigmoid":
            losses = np.logaddexp(0.0, Z)  # log(1 + e^z), without overflow
            losses -= Z * Y
            J = float(losses.sum()) / m
        else:
            log_sum = np.log(T_sum).sum() + Z_max.sum()
            J = float(log_sum - Z[np.arange(m), Y].sum()) / m
        if self.lambd:
            J += self.lambd / (2 * m) * sum(
                float(np.sum(self.parameters[f"W{layer}"] ** 2)) for layer in range(1, self.L + 1))
        return J

    def backward(self, AL: np.ndarray, Y: np.ndarray, caches: list) -> dict[str, np.ndarray]:
        """Backward propagation: returns grads named the course's way (dW{l}, db{l}, dgamma{l}...).

        Output layer: dZ = (AL - Y) / m (the same for sigmoid+BCE and softmax+CE). Then for
        l = L..1: dW = dZ.T @ A_prev (+ lambd/m * W), db = sum(dZ), dA_prev = dZ @ W; dropout's
        mask D multiplies dA_prev, the activation's derivative turns it into dZ_tilde, and
        batch norm (if present) turns that into dZ.
        """
        params = self.parameters
        Y = self._check_labels(Y, AL, "backward")
        m = AL.shape[0]
        if self.output == "sigmoid":
            dZ = AL - Y
        else:
            dZ = AL.copy()
            dZ[np.arange(m), Y] -= 1.0
        dZ /= m
        grads = {}
        for layer in range(self.L, 0, -1):
            A_prev = caches[layer][0]
            W = params[f"W{layer}"]
            dW = dZ.T @ A_prev
            if self.lambd:
                dW += (self.lambd / m) * W
            grads[f"dW{layer}"] = dW
            if f"b{layer}" in params:
                grads[f"db{layer}"] = dZ.sum(axis=0)
            if layer == 1:
                break  # nobody needs dA0 = dX
            dA = dZ @ W
            _, _, A, D, bn_cache = caches[layer - 1]
            if D is not None:
                dA *= D
            activation = self.activation[layer - 1]
            if activation == "relu":
                dZ = relu_backward(dA, A)
            elif activation == "tanh":
                dZ = tanh_backward(dA, A)
            else:
                dZ = sigmoid_backward(dA, A)
            if bn_cache is not None:
                dZ, dgamma, dbeta = batchnorm_backward(dZ, bn_cache)
                grads[f"dgamma{layer - 1}"], grads[f"dbeta{layer - 1}"] = dgamma, dbeta
        # Return them in the parameters' order (W1, b1, gamma1, beta1, W2, ...).
        return {f"d{name}": grads[f"d{name}"] for name in params}

    def loss_and_grads(
        self, X: np.ndarray, Y: np.ndarray, masks: dict[int, np.ndarray] | None = None
    ) -> tuple[float, dict[str, np.ndarray]]:
        """Forward, cost and backward in one call: returns (J, grads)."""
        AL, caches = self.forward(X, masks)
        return self.cost(caches, Y), self.backward(AL, Y, caches)

    def train_step(self, X: np.ndarray, Y: np.ndarray, optimizer, masks=None) -> float:
        """One training step: forward, cost, backward, ``optimizer.step``; returns the cost."""
        J, grads = self.loss_and_grads(X, Y, masks)
        optimizer.step(self.parameters, grads)
        return J

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Output probabilities in eval mode (no dropout, running batch-norm statistics)."""
        training, self.training = self.training, False
        try:
            return self.forward(X)[0]
        finally:
            self.training = training
