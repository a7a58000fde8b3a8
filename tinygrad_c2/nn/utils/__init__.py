"""tg.nn.utils: helpers over a model's parameters (PyTorch's torch.nn.utils)."""

from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["parameters_to_vector", "vector_to_parameters"]
