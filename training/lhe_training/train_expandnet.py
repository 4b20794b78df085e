"""Train ``expandnet`` (Marnerides et al. 2018) for single-image LDR → HDR expansion.

``python -m lhe_training.train expandnet [--minutes M] [--steps N] [--init official|scratch]``

Data, drawn on the fly with a fixed seed:

- training HDR panoramas (:func:`lhe_training.sources.hdri_paths`), rescaled by 0.5–1, randomly
  cropped and flipped, made into LDR inputs by
  :func:`lhe_training.synthesis.synthesize_ldr_from_hdr` (1–8% of pixels clipped, sRGB / gamma /
  S-shaped camera curves, sensor noise, 8 bits, JPEG 70–95);
- pseudo-HDR pairs from the training photographs
  (:func:`lhe_training.synthesis.pseudo_hdr_from_photo`: 1–4 stops over-exposed).

Targets are linear with 1.0 at the LDR's clipping level; the network's sigmoid output is trained
to ``target / HEADROOM`` (clamped to 1), so it can represent highlights up to ``HEADROOM`` times
the clipping level. The input is fed as is: inference min–max normalises the whole image, which
for photographs that clip is close to the identity, while normalising small crops would not be.
Loss: L1 + 5 · (1 − cosine similarity of RGB vectors), as the paper. Adam, cosine learning-rate
decay. By default the run starts from the authors' published checkpoint (BSD-style licence, which
permits modified redistribution with the notice kept) and fine-tunes all layers.

Validation: the documented expansion protocol (:mod:`lhe_training.expand_eval`) on blender
``city``, ``forest`` and ``night``, every ``--val-every`` steps and at the end. The exported
checkpoint is the final one (no selection on the validation images, which are also the benchmark).
The run resumes from ``runs/expandnet/last.pt``.

References:
    D. Marnerides, T. Bashford-Rogers, J. Hatchett, K. Debattista, "ExpandNet: A Deep
    Convolutional Neural Network for High Dynamic Range Expansion from Low Dynamic Range
    Content", Computer Graphics Forum (Eurographics), 2018.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

__all__ = ["MODEL_NAME", "HEADROOM", "OFFICIAL_WEIGHTS", "PatchSampler", "validate", "main"]

MODEL_NAME = "expandnet"
HEADROOM = 64.0
OFFICIAL_WEIGHTS = Path(__file__).resolve().parents[2].parent / "shared" / "testvectors" / "expandnet-official" / "weights.pth"



def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    import cv2

    if scale == 1.0:
        return image
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)


class PatchSampler:
    """Draws ``(ldr, target)`` training patches from HDR panoramas and pseudo-HDR photographs.

    Args:
        patch: patch side in pixels.
        hdr_fraction: probability that a patch comes from an HDR panorama.
        rng: the generator every random choice is drawn from.
    """

    def __init__(self, patch: int, hdr_fraction: float, rng: np.random.Generator) -> None:
        from lhe_training.sources import hdri_paths, photo_paths, read_hdri, read_photo_uint8
        from lhe_training.synthesis import load_noise_profiles

        self.patch = patch
        self.hdr_fraction = hdr_fraction
        self.rng = rng
        self.profiles = load_noise_profiles()
        self.hdris = [read_hdri(p) for p in hdri_paths("train")]
        # uint8, long side ≤ 8 patches: room for rescaling, small in memory
        self.photos = [read_photo_uint8(p, 8 * patch) for p in photo_paths("train")]

    def _crop(self, image: np.ndarray, low: float) -> np.ndarray:
        """A random ``patch``² crop of ``image`` rescaled by a factor in ``[low, 1]``, maybe flipped."""
        h, w = image.shape[:2]
        scale = max(self.patch / min(h, w), float(self.rng.uniform(low, 1.0)))
        side = min(h, w, round(self.patch / scale))  # crop first, then rescale: cheap
        y = int(self.rng.integers(h - side + 1))
        x = int(self.rng.integers(w - side + 1))
        crop = _resize(image[y : y + side, x : x + side], self.patch / side)
        if self.rng.random() < 0.5:
            crop = crop[:, ::-1]
        return np.ascontiguousarray(crop)

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One ``(ldr, target)`` pair of ``patch×patch×3`` float32 arrays."""
        from lhe_training.synthesis import pseudo_hdr_from_photo, synthesize_ldr_from_hdr

        noise = bool(self.rng.random() < 0.5)
        curve = "srgb" if self.rng.random() < 0.5 else "random"
        if self.rng.random() < self.hdr_fraction:
            hdri = self.hdris[int(self.rng.integers(len(self.hdris)))]
            crop = self._crop(hdri, 0.5)
            result = synthesize_ldr_from_hdr(
                crop, self.rng, clip_fraction=(0.01, 0.08), curve=curve, noise=noise, profiles=self.profiles
            )
        else:
            photo = self.photos[int(self.rng.integers(len(self.photos)))]
            crop = self._crop(photo, 0.25).astype(np.float32) / np.float32(255.0)
            result = pseudo_hdr_from_photo(crop, self.rng, curve=curve, noise=noise, profiles=self.profiles)
        return result.image, result.target

    def batch(self, size: int):
        """``(ldr, target)`` torch tensors of shape ``(size, 3, patch, patch)``."""
        import torch

        pairs = [self.sample() for _ in range(size)]
        ldr = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        target = torch.from_numpy(np.stack([p[1] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        return ldr, target


def validate(model) -> dict[str, dict[str, float]]:
    """Validation scores of ``model`` as lhe runs it: raw network output and with highlight blending.

    Returns:
        ``{"raw": {...}, "blended": {...}}``, each with ``psnr_mu`` and ``clipped_log2_rms`` per
        validation image and their mean.
    """
    import torch

    from lhe.models.hdr_scale import align_hdr_scale, blend_highlights_Eilertsen2017
    from lhe_training.expand_eval import evaluate_expansion
    from lhe_training.sources import hdri_paths

    def run(blend: bool):
        def expand(ldr: np.ndarray) -> np.ndarray:
            x = torch.from_numpy(ldr).permute(2, 0, 1)[None]
            with torch.no_grad():
                y = align_hdr_scale(model.predict_hdr(x), x)
                if blend:
                    y = blend_highlights_Eilertsen2017(y, x)
            return y[0].permute(1, 2, 0).numpy()

        scores = evaluate_expansion(expand, hdri_paths("val"))
        return {name: {"psnr_mu": round(s.psnr_mu, 3), "clipped_log2_rms": round(s.clipped_log2_rms, 4)}
                for name, s in scores.items()}

    was_training = model.training
    model.eval()
    result = {"raw": run(False), "blended": run(True)}
    model.train(was_training)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lhe_training.train expandnet", description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=70.0, help="training time budget over all sessions")
    parser.add_argument("--steps", type=int, default=1000, help="optimisation steps (sets the LR schedule)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--hdr-fraction", type=float, default=0.6)
    parser.add_argument("--seed", type=int, default=20261124)
    parser.add_argument("--init", choices=("official", "scratch"), default="official")
    parser.add_argument("--init-weights", type=Path, default=OFFICIAL_WEIGHTS, help="the authors' weights.pth")
    parser.add_argument("--val-every", type=int, default=400)
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-export", action="store_true", help="do not write weights/expandnet.*")
    args = parser.parse_args(argv)

    import torch

    from lhe.models.convert import read_licence
    from lhe.models.expandnet import PAPER, ExpandNet, loss_Marnerides2018
    from lhe_training.common import TrainState, export_checkpoint, log, seed_everything

    torch.set_num_threads(args.threads)
    rng = seed_everything(args.seed)
    model = ExpandNet()
    if args.init == "official":
        state_dict = torch.load(args.init_weights, map_location="cpu", weights_only=True)
        model.load_state_dict(ExpandNet.from_official_state_dict(state_dict))
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = TrainState(MODEL_NAME, model, optimizer, rng)
    if state.resume():
        log(MODEL_NAME, f"resumed at step {state.step} ({state.elapsed / 60:.1f} min)")
    else:
        log(MODEL_NAME, f"start: {vars(args)}")
    sampler = PatchSampler(args.patch, args.hdr_fraction, rng)

    model.train()
    running = 0.0
    session_start = time.monotonic()
    elapsed_before = state.elapsed
    while state.step < args.steps and state.elapsed < args.minutes * 60:
        lr = args.lr * 0.5 * (1 + math.cos(math.pi * state.step / args.steps))
        for group in optimizer.param_groups:
            group["lr"] = lr
        ldr, target = sampler.batch(args.batch)
        prediction = model(ldr)
        loss = loss_Marnerides2018(prediction, (target / HEADROOM).clamp(0.0, 1.0))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        state.step += 1
        running += loss.item()
        state.elapsed = elapsed_before + time.monotonic() - session_start
        if state.step % args.save_every == 0:
            log(MODEL_NAME, f"step {state.step} loss {running / args.save_every:.5f} lr {lr:.2e} "
                            f"{state.elapsed / 60:.1f} min")
            running = 0.0
            state.save()
        if state.step % args.val_every == 0:
            scores = validate(model)
            state.extra[f"val_{state.step}"] = scores["blended"]["mean"]
            log(MODEL_NAME, f"step {state.step} validation raw {scores['raw']['mean']} blended {scores['blended']['mean']}")
    state.save()

    scores = validate(model)
    log(MODEL_NAME, f"final step {state.step}: raw {scores['raw']} blended {scores['blended']}")
    if args.no_export:
        return 0
    card = {
        "task": "expand-hdr",
        "paper": PAPER,
        "licence": read_licence(args.init_weights.parent) if args.init == "official" else "MIT (lhe)",
        "input_encoding": "srgb",
        "output_encoding": "linear",
        "training_data": (
            f"{len(sampler.hdris)} training HDR panoramas (Poly Haven via npm @pmndrs/assets, Debian "
            f"blender-data) → synthesize_ldr_from_hdr, and {len(sampler.photos)} training photographs → "
            "pseudo_hdr_from_photo; random rescale, crop, flip; sRGB/gamma/S-curve cameras, "
            "darktable noise, 8 bits, JPEG 70–95"
        ),
        "steps": state.step,
        "training_time": f"{state.elapsed / 60:.1f} min on {args.threads} CPU thread(s)",
        "validation": {"protocol": "lhe_training.expand_eval (4% clipping sRGB JPEG 90; PSNR-mu, "
                                   "clipped-region RMS log2 luminance)", **scores},
        "notes": (
            ("Fine-tuned from the authors' published checkpoint (weights.pth); " if args.init == "official" else "")
            + f"loss L1 + 5(1 - cos), Adam lr {args.lr} cosine decay, batch {args.batch} × {args.patch}², "
            f"seed {args.seed}; sigmoid output = linear / {HEADROOM:g} (1.0 = input clipping level). "
            "lhe blends the prediction with the inverse-sRGB input outside highlights "
            "(Eilertsen et al. 2017, tau 0.95) and aligns the scale (lhe.models.hdr_scale)."
        ),
        "extra": {"headroom": HEADROOM, "init": args.init},
    }
    path = export_checkpoint(model, MODEL_NAME, card)
    log(MODEL_NAME, f"exported {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
