"""nnfw's neural-network framework: numpy only, samples-major arrays, Keras-like ``Model``.

>>> from nnfw_cli.nn import Model, Linear, ReLU, Sigmoid, BinaryCrossEntropy, Adam
"""

from .initializers import INITIALIZERS, get_initializer
from .layers import LAYERS, Dropout, Layer, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh, layer_from_config
from .losses import LOSSES, BinaryCrossEntropy, CrossEntropy, Loss, MeanSquaredError, get_loss
from .model import History, Model
from .optimizers import OPTIMIZERS, SGD, Adam, Momentum, Optimizer

__all__ = [
    "INITIALIZERS", "LAYERS", "LOSSES", "OPTIMIZERS",
    "Adam", "BinaryCrossEntropy", "CrossEntropy", "Dropout", "History", "Layer", "LeakyReLU",
    "Linear", "Loss", "MeanSquaredError", "Model", "Momentum", "Optimizer", "ReLU", "SGD", "Sigmoid",
    "Softmax", "Tanh", "get_initializer", "get_loss", "layer_from_config",
]
