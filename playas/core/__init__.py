"""Game-agnostic machinery: errors, progress, checkpoints, MHR adapters, style tables, training."""

from .errors import PlayasError

__all__ = ["PlayasError"]
