"""nnfw: small numpy neural networks trained from YAML configs."""

__version__ = "0.1.0"
