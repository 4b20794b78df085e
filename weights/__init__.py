"""The shipped checkpoints (safetensors) and their model cards (JSON): package data of the wheel."""
