"""The layers, one family a file as in PyTorch's nn/modules: module and containers, linear,
activation, flatten, dropout, batchnorm, loss."""
