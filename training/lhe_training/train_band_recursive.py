"""Train the ``band-recursive`` enhancer (DRBN) on synthetic dark scenes made from real photos.

``python -m lhe_training.train band-recursive [--steps N] [--export]``

Data: square patches of the training photographs, each rescaled by a random factor (so patches
show anything from most of a picture to its full-resolution texture, the scale real photos are
denoised at), randomly cropped and flipped, and of the training HDR panoramas; each made into a
dark capture and its target by :func:`lhe_training.night.synthesize_night_pair` (uneven, mixed
light, light sources, 0–6 stops under, darktable noise, 8-bit, JPEG; the target is the fixed
photographic rendering of the clean capture), the data the bilateral-grid model trains on.

Loss: ``(1 − SSIM)`` at full scale plus ``λ1``, ``λ2`` times the same at 1/2 and 1/4 scale against
area-downsampled targets, as in the paper, each scale's term plus ``--l1`` × L1 (SSIM alone leaves
the mean level loosely fitted). Adam with warm-up and cosine decay, gradient norm clipped at 1,
fixed seed. The run resumes from ``runs/band-recursive/last.pt``; the best weights by PSNR on the
night validation set (:func:`lhe_training.night.make_night_validation_set`) are kept in
``best.safetensors``. ``--compare`` scores them against bilateral-grid; ``--gallery`` writes the
README's comparison pictures.

The batch of step ``s`` is drawn from ``np.random.default_rng([seed, s])``
(:class:`lhe_training.common.BatchStream`): the same inline or from ``--workers N`` forked
data-synthesis processes, and after a resume. ``--device auto|cpu|cuda`` chooses where the model
trains and validates; states and weights are saved as CPU tensors.

References:
    Wenhan Yang, Shiqi Wang, Yuming Fang, Yue Wang, Jiaying Liu, "From Fidelity to Perceptual
    Quality: A Semi-Supervised Approach for Low-Light Image Enhancement", CVPR 2020.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from lhe_training.train_bilateral_grid import Sampler as BilateralGridSampler

__all__ = ["MODEL_NAME", "stage1_loss", "score_on_validation", "make_gallery", "main"]

MODEL_NAME = "band-recursive"
TRAIN_LONG_SIDE = 1024  # photos kept in memory as uint8 at most this size


def stage1_loss(scales: tuple[Any, Any, Any], target: Any, lambdas: tuple[float, float] = (0.5, 0.25),
                l1_weight: float = 0.0) -> Any:
    """DRBN stage-1 loss: ``(1 − SSIM)`` at full scale + ``λ1``·(1/2 scale) + ``λ2``·(1/4 scale).

    With ``l1_weight`` > 0 each scale's term also gets ``l1_weight × L1``: SSIM normalises away
    most of a patch's mean level, and the mean level (exposure, colour cast) is what PSNR on a
    dark photo's enhancement punishes first.

    Args:
        scales: the stage-1 images at 1/4, 1/2 and full scale, ``(N, 3, H/4, W/4)`` …
        target: ``(N, 3, H, W)`` well-exposed sRGB target; area-downsampled for the coarse scales.
        lambdas: ``(λ1, λ2)`` weights of the 1/2 and 1/4 scales.
        l1_weight: weight of the L1 term added at every scale (0: the paper's SSIM-only loss).
    """
    import torch.nn.functional as F

    from lhe_training.perceptual import ssim_loss

    def term(image: Any, truth: Any) -> Any:
        loss = ssim_loss(image, truth)
        return loss + l1_weight * (image - truth).abs().mean() if l1_weight else loss

    x1, x2, x3 = scales
    return (
        term(x3, target)
        + lambdas[0] * term(x2, F.avg_pool2d(target, 2))
        + lambdas[1] * term(x1, F.avg_pool2d(target, 4))
    )


class _Sampler(BilateralGridSampler):
    """Night pairs from photo patches at random scales (and HDR patches, as bilateral-grid)."""

    def __init__(self, patch: int, hdr_fraction: float, rng: np.random.Generator) -> None:
        from lhe_training.sources import photo_paths, read_photo_uint8

        super().__init__(patch, hdr_fraction, rng)
        self.photos = [read_photo_uint8(p, TRAIN_LONG_SIDE) for p in photo_paths("train")]

    def _photo_patch(self) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        from lhe.color import srgb_to_linear

        photo = self.photos[self.rng.integers(len(self.photos))]
        h, w = photo.shape[:2]
        # Short side drawn log-uniformly between the patch and the stored size: whole-picture
        # context and native-resolution texture both occur.
        short = math.exp(self.rng.uniform(math.log(self.patch), math.log(max(self.patch, min(h, w)))))
        scale = short / min(h, w)
        size = (max(self.patch, round(w * scale)), max(self.patch, round(h * scale)))
        image = Image.fromarray(photo)
        if size != (w, h):
            image = image.resize(size, Image.BILINEAR if scale > 0.5 else Image.BOX)
        resized = np.asarray(image)
        y = self.rng.integers(resized.shape[0] - self.patch + 1)
        x = self.rng.integers(resized.shape[1] - self.patch + 1)
        crop = resized[y : y + self.patch, x : x + self.patch].astype(np.float32) / 255.0
        if self.rng.random() < 0.5:
            crop = crop[::-1]
        return self._pair(srgb_to_linear(self._flip(crop)))


def score_on_validation(model: Any, pairs: list[tuple[np.ndarray, np.ndarray, float]]) -> dict[str, float]:
    """PSNR and SSIM (dB, [−1, 1]) of ``model`` on validation pairs: all, and the noisier half.

    Args:
        model: maps ``(1, 3, H, W)`` sRGB to ``(1, 3, H, W)`` sRGB.
        pairs: ``(degraded, target, noise_std)`` as from
            :func:`lhe_training.train_bilateral_grid.make_validation_set`.

    Returns:
        ``psnr``, ``ssim`` over all pairs and ``psnr_noisy``, ``ssim_noisy`` over the half with
        the highest ``noise_std``.
    """
    import torch

    from lhe_training.metrics import psnr, ssim

    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    # a module runs on its parameters' device (outputs come back to the CPU); other callables on the CPU
    params = getattr(model, "parameters", None)
    device = next(params()).device if params is not None else torch.device("cpu")
    p, s = [], []
    with torch.no_grad():
        for degraded, target, _ in pairs:
            x = torch.from_numpy(np.ascontiguousarray(degraded)).permute(2, 0, 1)[None].to(device)
            y = model(x)[0].permute(1, 2, 0).cpu().numpy()
            p.append(psnr(y, target))
            s.append(ssim(y, target))
    if was_training:
        model.train()
    noise = np.array([pair[2] for pair in pairs])
    noisy = np.argsort(-noise)[: (len(pairs) + 1) // 2]
    return {
        "psnr": float(np.mean(p)),
        "ssim": float(np.mean(s)),
        "psnr_noisy": float(np.mean(np.array(p)[noisy])),
        "ssim_noisy": float(np.mean(np.array(s)[noisy])),
    }


def _labelled(image: np.ndarray, label: str) -> Any:
    from PIL import Image, ImageDraw

    tile = Image.fromarray((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8))
    draw = ImageDraw.Draw(tile)
    draw.rectangle((0, 0, 8 + 6 * len(label), 14), fill=(0, 0, 0))
    draw.text((4, 2), label, fill=(255, 255, 255))
    return tile


def _row(images: list[np.ndarray], labels: list[str]) -> Any:
    from PIL import Image

    tiles = [_labelled(im, lb) for im, lb in zip(images, labels)]
    row = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)))
    x = 0
    for t in tiles:
        row.paste(t, (x, 0))
        x += t.width
    return row


def make_gallery(model: Any, out_dir: Path, *, max_bytes: int = 200_000) -> list[Path]:
    """Write the before/after comparisons ``drbn_noisy_val.jpg`` and ``drbn_real_dim.jpg``.

    1. A 256×256 crop of a validation photo (palapeli ``citrus-fruits``) at stored resolution,
       darkened by :func:`synthesize_low_light` at ISO 3200–6400 (fixed seed): input,
       bilateral-grid, band-recursive, target.
    2. A real dim indoor photo never trained on (kphotoalbum ``bar55``, validation split): the
       whole picture and a 1:1 crop, as input, bilateral-grid and band-recursive.

    Args:
        model: the band-recursive model.
        out_dir: where to write (e.g. ``docs/gallery``).
        max_bytes: JPEG quality is lowered until each file is at most this size.

    Returns:
        The written paths.
    """
    import torch
    from PIL import Image

    from lhe.models.registry import load_model, read_card
    from lhe_training.sources import photo_paths, read_photo
    from lhe_training.synthesis import synthesize_low_light

    models = [("band-recursive", model)]
    if read_card("bilateral-grid") is not None:
        models.insert(0, ("bilateral-grid", load_model("bilateral-grid")))

    def run(m: Any, image: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
            return m(x)[0].permute(1, 2, 0).numpy()

    val = {p.stem: p for p in photo_paths("val")}
    target = read_photo(val["palapeli__citrus-fruits"])
    h, w = target.shape[:2]
    target = target[h // 2 - 128 : h // 2 + 128, w // 2 - 128 : w // 2 + 128]
    low = synthesize_low_light(target, np.random.default_rng(5), iso_range=(3200, 6400), stops=4.0)
    outputs = [run(m, low.image) for _, m in models]
    rows = [_row([low.image, *outputs, target],
                 ["input (dark, ISO %d)" % low.iso, *[n for n, _ in models], "target"])]
    noisy = rows[0]

    dim = read_photo(val["kphotoalbum__bar55"])
    outputs = [run(m, dim) for _, m in models]
    images = [dim, *outputs]
    labels = ["input (real, dim)", *[n for n, _ in models]]
    whole = _row([np.asarray(Image.fromarray((im * 255 + 0.5).astype(np.uint8)).resize(
        (im.shape[1] // 2, im.shape[0] // 2), Image.BOX), np.float32) / 255 for im in images], labels)
    cy, cx = 40, 400  # the dark room behind the couple: where amplified noise shows
    crop = _row([im[cy : cy + 200, cx : cx + 400] for im in images], [f"{lb} 1:1" for lb in labels])
    real = Image.new("RGB", (whole.width, whole.height + crop.height))
    real.paste(whole, (0, 0))
    real.paste(crop, (0, whole.height))

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, picture in (("drbn_noisy_val.jpg", noisy), ("drbn_real_dim.jpg", real)):
        path = out_dir / name
        for quality in (90, 85, 80, 75, 70, 60, 50):
            picture.save(path, quality=quality, optimize=True)
            if path.stat().st_size <= max_bytes:
                break
        paths.append(path)
    return paths


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lhe_training.train band-recursive",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=3000, help="optimisation steps (schedule length)")
    parser.add_argument("--minutes", type=float, default=None, help="stop (and save) after this much wall time")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=128, help="side of the square training patches")
    parser.add_argument("--lr", type=float, default=1e-3, help="peak learning rate")
    parser.add_argument("--lambdas", type=float, nargs=2, default=(0.5, 0.25),
                        help="SSIM weights of the 1/2 and 1/4 scales")
    parser.add_argument("--l1", type=float, default=1.0,
                        help="weight of the L1 term added to the SSIM at every scale (0: paper's loss)")
    parser.add_argument("--hdr-fraction", type=float, default=0.15, help="share of patches from HDR images")
    parser.add_argument("--recursions", type=int, default=2)
    parser.add_argument("--init", type=Path, default=None, help="start a new run from these weights")
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--val-long-side", type=int, default=256, help="validation size during training")
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of the training process")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the model trains and validates (auto: cuda when available)")
    parser.add_argument("--workers", type=int, default=0,
                        help="data-synthesis worker processes (0: inline); batches are the same either way")
    parser.add_argument("--export", action="store_true",
                        help="export the best weights to weights/band-recursive.{safetensors,json} at the end")
    parser.add_argument("--compare", action="store_true",
                        help="only score the best weights and bilateral-grid on the 512-px validation sets")
    parser.add_argument("--gallery", type=Path, default=None,
                        help="only write the before/after comparisons (drbn_*.jpg) of the best weights to this folder")
    return parser.parse_args(argv)


def _cosine(step: int, total: int, peak: float) -> float:
    warm = 50
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


def _train(state: Any, sampler: _Sampler, val_pairs: list, args: argparse.Namespace, best_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from lhe.models.band_recursive import whole_image_lift
    from lhe_training.common import log, run_steps

    model = state.model

    def train_step(inputs, targets):
        lift = torch.nn.functional.interpolate(whole_image_lift(inputs), size=inputs.shape[-2:],
                                               mode="bilinear", align_corners=False)
        _, images = model.stage1(inputs, lift)
        loss = stage1_loss(tuple(images), targets, tuple(args.lambdas), args.l1)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        state.optimizer.step()
        return loss

    def validate() -> None:
        scores = score_on_validation(model, val_pairs)
        improved = scores["psnr"] > state.best
        if improved:
            state.best = scores["psnr"]
            state.extra["best_step"] = state.step
            state.extra["best_scores"] = scores
            save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(best_path))
        log(MODEL_NAME, f"step {state.step} val {json.dumps({k: round(v, 4) for k, v in scores.items()})}"
                        f"{' (saved)' if improved else ''}")
        state.save()

    run_steps(state, sampler, args, train_step=train_step, validate=validate,
              learning_rate=lambda step: _cosine(step, args.steps, args.lr))
    state.save()


def _compare(model: Any) -> dict[str, Any]:
    from lhe_training.common import log
    from lhe_training.night import make_night_validation_set
    from lhe_training.train_bilateral_grid import make_validation_set

    result: dict[str, Any] = {}
    for name, pairs in (("night", make_night_validation_set()), ("uniform", make_validation_set())):
        scores = {"band-recursive": score_on_validation(model, pairs)}
        scores["input"] = score_on_validation(lambda x: x, pairs)
        result[name] = scores
    result["sets"] = ("night: lhe_training.night.make_night_validation_set (validation photos and HDR images "
                      "at long side 512, seed fixed); uniform: train_bilateral_grid.make_validation_set "
                      "(validation photos darkened uniformly, the original photo as target); noisier half = "
                      "the half with the highest noise_std")
    log(MODEL_NAME, f"comparison {json.dumps(result)}")
    return result


def main(argv: list[str] | None = None) -> int:
    import torch
    from safetensors.torch import load_file

    from lhe.models.registry import create_model
    from lhe_training.common import (TrainState, export_checkpoint, hardware_description, log, resolve_device,
                                     run_dir, run_sessions, seed_everything, trained_on)
    from lhe_training.night import make_night_validation_set

    args = _parse(argv)
    torch.set_num_threads(args.threads)
    rng = seed_everything(args.seed)
    device = resolve_device(args.device)
    model = create_model(MODEL_NAME, recursions=args.recursions).train().to(device)
    best_path = run_dir(MODEL_NAME) / "best.safetensors"

    if args.compare or args.gallery:
        model.load_state_dict(load_file(str(best_path)))
        model.eval()
        if args.gallery:
            for path in make_gallery(model, args.gallery):
                log(MODEL_NAME, f"wrote {path} ({path.stat().st_size} bytes)")
        if args.compare:
            print(json.dumps(_compare(model), indent=2))
        return 0

    sampler = _Sampler(args.patch, args.hdr_fraction, rng)
    val_pairs = make_night_validation_set(long_side=args.val_long_side, profiles=sampler.profiles)
    state = TrainState(MODEL_NAME, model, torch.optim.Adam(model.parameters(), lr=args.lr), rng)
    resumed = state.resume()
    if args.init is not None and not resumed:
        model.load_state_dict(load_file(str(args.init)))
    log(MODEL_NAME, f"{'resumed at step ' + str(state.step) if resumed else 'new run'}: {vars(args)}")
    log(MODEL_NAME, f"{len(sampler.photos)} train photos, {len(sampler.hdris)} train HDRIs, "
                    f"{len(val_pairs)} validation images")
    if state.step < args.steps:  # an export-only session trains nowhere
        log(MODEL_NAME, f"training on {hardware_description(device, args.threads, args.workers)}")
    _train(state, sampler, val_pairs, args, best_path)

    if args.export:
        model.load_state_dict(load_file(str(best_path)))
        model.eval()
        comparison = _compare(model)
        card = {
            "task": "enhance",
            "paper": "Yang, Wang, Fang, Wang, Liu, From Fidelity to Perceptual Quality: A Semi-Supervised "
                     "Approach for Low-Light Image Enhancement, CVPR 2020",
            "licence": "MIT (weights trained here)",
            "training_data": "lhe_training.sources: the train split of the real photographs and HDR panoramas "
                             "of shared/DATA.md; patches rescaled by a random factor; dark captures and targets "
                             "by lhe_training.night.synthesize_night_pair (uneven mixed light, light sources, "
                             "0-6 stops under, darktable noise, 8-bit, JPEG 75-95; target: the fixed "
                             "photographic rendering of the clean capture)",
            "steps": int(state.extra.get("best_step", state.step)),
            "training_time": f"{state.elapsed / 60:.0f} min ({state.step} steps run) on {trained_on(MODEL_NAME)}",
            "validation": comparison,
            "notes": (
                f"T = {args.recursions} recursions (paper: 4), widths 12/24/48 on the 2x2-unshuffled image, "
                "later recursions share one band network; input opened by lhe.shadow_lift before the network. "
                f"Loss: SSIM at 1, 1/2, 1/4 scale (lambda {args.lambdas[0]}, {args.lambdas[1]}), each plus "
                f"{args.l1} x L1. Best weights by night-validation PSNR. Batch {args.batch}, patch {args.patch}, "
                f"Adam lr {args.lr} with warm-up and cosine decay over --steps, seed {args.seed}, "
                f"{'fine-tuned from ' + str(args.init) if args.init else 'from scratch'}; the options of "
                "every session of this run (from train.log) in extra.sessions."
            ),
            "extra": {"args": json.loads(json.dumps(vars(args), default=str)), "sessions": run_sessions(MODEL_NAME)},
        }
        path = export_checkpoint(model, MODEL_NAME, card)
        log(MODEL_NAME, f"exported {path}")
    return 0
