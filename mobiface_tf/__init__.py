"""MobiFace-TF: compact face embeddings for phones (train, evaluate, quantize, benchmark)."""

__version__ = "0.1.0"
