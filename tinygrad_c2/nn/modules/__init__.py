"""The layers, one family a file as in PyTorch's nn/modules: module, container, linear,
activation, flatten, dropout, batchnorm, loss (utils holds the argument checks they share)."""
