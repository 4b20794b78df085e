"""Convert a published PyTorch checkpoint to lhe's safetensors format with a model card.

``lhe models import`` calls :func:`convert_official_checkpoint`. The ``.pth`` file is read with
``torch.load(weights_only=True)`` (no arbitrary pickle code runs), renamed by the model class's
``from_official_state_dict``, loaded strictly into the model (so a wrong file fails here, not at
inference) and written as safetensors beside a JSON model card that records the source file's
sha256, the paper and the licence found next to the checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from lhe.errors import InputError, ModelError, OutputError
from lhe.models.registry import ModelCard, create_model, file_sha256, get_spec

__all__ = ["convert_official_checkpoint", "read_licence"]

_LICENCE_NAMES = ("LICENSE", "LICENSE.txt", "LICENSE.md", "LICENCE", "COPYING")


def read_licence(folder: Path) -> str:
    """The licence text beside a checkpoint: the first LICENSE-like file in ``folder``.

    Only the text up to the first ruler line (``-----``) is kept: licence files of model
    repositories often append notices for other assets (demo videos, images) that do not
    cover the weights.

    Args:
        folder: the checkpoint's folder.

    Returns:
        The licence text, or ``""`` when there is no licence file.
    """
    for name in _LICENCE_NAMES:
        path = folder / name
        if path.is_file():
            lines = []
            for line in path.read_text(errors="replace").splitlines():
                if line.strip().startswith("-----"):
                    break
                lines.append(line.rstrip())
            return "\n".join(lines).strip()
    return ""


def convert_official_checkpoint(
    pth_path: str | Path,
    out_path: str | Path,
    model_name: str = "expandnet",
    *,
    overwrite: bool = False,
) -> Path:
    """Convert the authors' ``.pth`` checkpoint of ``model_name`` to safetensors + model card.

    Args:
        pth_path: the published checkpoint (a plain state dict).
        out_path: the ``.safetensors`` file to write; the card goes to ``out_path`` with ``.json``.
        model_name: a registered model whose class has ``from_official_state_dict``.
        overwrite: replace existing output files.

    Returns:
        The path of the written safetensors file.

    Example:
        >>> convert_official_checkpoint("weights.pth", "weights/expandnet.safetensors")  # doctest: +SKIP
    """
    pth_path = Path(pth_path)
    out_path = Path(out_path)
    if not pth_path.is_file():
        raise InputError(f"Checkpoint not found: {pth_path}")
    if out_path.suffix != ".safetensors":
        raise OutputError(f"Output must end in .safetensors, got {out_path.name}")
    card_path = out_path.with_suffix(".json")
    for path in (out_path, card_path):
        if path.exists() and not overwrite:
            raise OutputError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")

    spec = get_spec(model_name)
    model = create_model(model_name)
    convert = getattr(model, "from_official_state_dict", None)
    if convert is None:
        raise ModelError(f"Model '{model_name}' has no converter for official checkpoints")
    try:
        state = torch.load(pth_path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a state dict, or pickled code that weights_only refuses
        raise ModelError(f"Cannot read {pth_path} as a PyTorch state dict: {str(exc).splitlines()[0]}") from exc
    if not isinstance(state, dict):
        raise ModelError(f"{pth_path} holds a {type(state).__name__}, not a state dict")
    converted = convert(state)
    try:
        model.load_state_dict(converted, strict=True)
    except RuntimeError as exc:
        raise ModelError(
            f"{pth_path} does not fit '{model_name}': {str(exc).splitlines()[0]}"
        ) from exc

    source_sha256 = file_sha256(pth_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {key: value.detach().contiguous() for key, value in model.state_dict().items()}
    save_file(tensors, str(out_path), metadata={"source": pth_path.name, "source_sha256": source_sha256})
    card = ModelCard(
        name=model_name,
        file=out_path.name,
        sha256=file_sha256(out_path),
        task=spec.task,
        paper=getattr(model, "paper", ""),
        licence=read_licence(pth_path.parent),
                output_encoding="linear" if spec.task == "expand-hdr" else "srgb",
        training_data="the authors' published checkpoint, converted unchanged",
        notes=f"Converted from {pth_path.name} (sha256 {source_sha256}) by lhe.models.convert.",
    )
    card_path.write_text(json.dumps(card.to_dict(), indent=2) + "\n")
    return out_path
