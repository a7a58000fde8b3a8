"""tg.viz: draw the computation graph (graphviz), time it per op, and write pictures."""

from .graph import draw_graph, draw_model, draw_training_step
from .profiler import Profile, profile
from .render import GraphvizNotFoundError, dot_available, save

__all__ = [
    "GraphvizNotFoundError",
    "Profile",
    "dot_available",
    "draw_graph",
    "draw_model",
    "draw_training_step",
    "profile",
    "save",
]
