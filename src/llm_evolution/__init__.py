"""From Transformer to ChatGPT: small, readable PyTorch for every era of language models."""

__version__ = "0.1.0"
