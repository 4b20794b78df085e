"""Learned models; each registers itself with :mod:`lhe.models.registry`."""

from lhe.models.registry import ModelCard, available_models, create_model, load_model, register_model

__all__ = ["ModelCard", "available_models", "create_model", "load_model", "register_model"]
