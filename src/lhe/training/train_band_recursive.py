"""Train the ``band-recursive`` enhancer (DRBN) on synthetic low-light versions of real photos.

``python -m lhe.training.train band-recursive [--stage1-steps N] [--stage2-steps M] [--export]``

Data: square patches of the training photographs, each rescaled by a random factor (so patches
show anything from most of a picture to its full-resolution texture, the scale real photos are
denoised at), randomly cropped and flipped; inputs made on the fly by
:func:`lhe.training.synthesis.synthesize_low_light` (2–6 stops darker, darktable Poisson–Gaussian
noise at ISO 100–6400, white-balance shift, 8-bit, JPEG), the same degradation the
bilateral-grid model trains on; targets are the well-exposed patches.

Stage 1 (recursive band learning) minimises ``(1 − SSIM)`` at full scale plus ``λ1``, ``λ2`` times
the same at 1/2 and 1/4 scale against area-downsampled targets, as in the paper, each scale's term
plus ``--stage1-l1`` × L1 (SSIM alone leaves the mean level loosely fitted), plus ``--key-weight``
× the L1 between the learned exposure key and the offset that matches the target's mean level
(:func:`exposure_key_target`). Stage 2 freezes
stage 1 and trains the band recomposition with ``(1 − SSIM) + L1 + gradient L1 + 0.5 × colour
angle`` (:mod:`lhe.training.perceptual`): the paper's VGG perceptual and adversarial losses need
pretrained networks that cannot be downloaded here; the gradient and colour terms reward the same
edge sharpness and colour fidelity. Adam, cosine learning-rate decay per stage, fixed seed.

The run resumes from ``runs/band-recursive/last.pt`` (stage 1) and ``stage2.pt`` (stage 2); the
best validation weights of each stage are kept beside them. ``--compare`` scores the shipped (or
best) weights against the bilateral-grid model on the validation photos.

References:
    Wenhan Yang, Shiqi Wang, Yuming Fang, Yue Wang, Jiaying Liu, "From Fidelity to Perceptual
    Quality: A Semi-Supervised Approach for Low-Light Image Enhancement", CVPR 2020.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["MODEL_NAME", "stage1_loss", "exposure_key_target", "stage2_loss", "score_on_validation", "make_gallery", "main"]

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

    from lhe.training.perceptual import ssim_loss

    def term(image: Any, truth: Any) -> Any:
        loss = ssim_loss(image, truth)
        return loss + l1_weight * (image - truth).abs().mean() if l1_weight else loss

    x1, x2, x3 = scales
    return (
        term(x3, target)
        + lambdas[0] * term(x2, F.avg_pool2d(target, 2))
        + lambdas[1] * term(x1, F.avg_pool2d(target, 4))
    )


def exposure_key_target(inputs: Any, targets: Any, base_gain: Any) -> Any:
    """The key offset, in stops, that would give the normalised input the target's mean level.

    ``log2(mean_lum(target) / (base_gain × mean_lum(input)))`` in linear light, clamped to the
    ±3 stops :class:`lhe.models.band_recursive.ExposureKey` can reach; the key learns it directly
    (the image losses alone moved it by a tenth of that in 400 steps).

    Args:
        inputs: ``(N, 3, H, W)`` dark sRGB inputs.
        targets: ``(N, 3, H, W)`` sRGB targets.
        base_gain: ``(N, 1, 1, 1)`` gains of :func:`lhe.models.band_recursive.exposure_gain`.

    Returns:
        ``(N, 1, 1, 1)`` offsets.
    """
    import torch

    from lhe.models.band_recursive import linear_luminance

    def mean_lum(x: Any) -> Any:
        return linear_luminance(x).mean((-2, -1), keepdim=True)

    ratio = mean_lum(targets).clamp_min(1e-6) / (base_gain * mean_lum(inputs)).clamp_min(1e-6)
    return torch.log2(ratio).clamp(-3.0, 3.0)


def stage2_loss(output: Any, target: Any) -> Any:
    """DRBN stage-2 loss with substitutes: ``(1 − SSIM) + L1 + gradient L1 + 0.5 × colour angle``."""
    from lhe.training.perceptual import perceptual_loss_substitute, ssim_loss

    return ssim_loss(output, target) + (output - target).abs().mean() + perceptual_loss_substitute(output, target)



class _Sampler:
    """Random training pairs (dark noisy input, target) from the training photographs."""

    def __init__(self, patch: int, rng: np.random.Generator) -> None:
        from lhe.training.sources import photo_paths, read_photo_uint8
        from lhe.training.synthesis import load_noise_profiles

        self.patch = patch
        self.rng = rng
        self.profiles = load_noise_profiles()
        self.photos = [read_photo_uint8(p, TRAIN_LONG_SIDE) for p in photo_paths("train")]

    def _pair(self) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        from lhe.training.synthesis import synthesize_low_light

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
        target = resized[y : y + self.patch, x : x + self.patch].astype(np.float32) / 255.0
        if self.rng.random() < 0.5:
            target = target[:, ::-1]
        if self.rng.random() < 0.5:
            target = target[::-1]
        target = np.ascontiguousarray(target)
        return synthesize_low_light(target, self.rng, profiles=self.profiles).image, target

    def batch(self, size: int) -> tuple[Any, Any]:
        import torch

        pairs = [self._pair() for _ in range(size)]
        inputs = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        targets = torch.from_numpy(np.stack([p[1] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        return inputs, targets


def score_on_validation(model: Any, pairs: list[tuple[np.ndarray, np.ndarray, float]]) -> dict[str, float]:
    """PSNR and SSIM (dB, [−1, 1]) of ``model`` on validation pairs: all, and the noisier half.

    Args:
        model: maps ``(1, 3, H, W)`` sRGB to ``(1, 3, H, W)`` sRGB.
        pairs: ``(degraded, target, noise_std)`` as from
            :func:`lhe.training.train_bilateral_grid.make_validation_set`.

    Returns:
        ``psnr``, ``ssim`` over all pairs and ``psnr_noisy``, ``ssim_noisy`` over the half with
        the highest ``noise_std``.
    """
    import torch

    from lhe.training.metrics import psnr, ssim

    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    p, s = [], []
    with torch.no_grad():
        for degraded, target, _ in pairs:
            x = torch.from_numpy(np.ascontiguousarray(degraded)).permute(2, 0, 1)[None]
            y = model(x)[0].permute(1, 2, 0).numpy()
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
    from lhe.training.sources import photo_paths, read_photo
    from lhe.training.synthesis import synthesize_low_light

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
    parser = argparse.ArgumentParser(prog="python -m lhe.training.train band-recursive",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--stage1-steps", type=int, default=1500, help="stage-1 optimisation steps")
    parser.add_argument("--stage2-steps", type=int, default=400, help="stage-2 optimisation steps")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", type=int, default=128, help="side of the square training patches")
    parser.add_argument("--lr", type=float, default=1e-3, help="stage-1 peak learning rate")
    parser.add_argument("--lr2", type=float, default=5e-4, help="stage-2 peak learning rate")
    parser.add_argument("--lambdas", type=float, nargs=2, default=(0.5, 0.25),
                        help="stage-1 SSIM weights of the 1/2 and 1/4 scales")
    parser.add_argument("--stage1-l1", type=float, default=1.0,
                        help="weight of the L1 term added to the stage-1 SSIM at every scale (0: paper's loss)")
    parser.add_argument("--key-weight", type=float, default=0.1,
                        help="weight of the L1 between the exposure key and its target offset (stops)")
    parser.add_argument("--key-lr-scale", type=float, default=20.0,
                        help="learning rate of the exposure key relative to --lr")
    parser.add_argument("--init", type=Path, default=None,
                        help="start a new stage-1 run from these weights (tensors the file lacks, "
                             "such as the exposure key, keep their initialisation)")
    parser.add_argument("--recursions", type=int, default=3)
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--val-long-side", type=int, default=256, help="validation size during training")
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--export", action="store_true",
                        help="export the best weights to weights/band-recursive.{safetensors,json} at the end")
    parser.add_argument("--compare", action="store_true",
                        help="only score the best weights and bilateral-grid on the 512-px validation set")
    parser.add_argument("--gallery", type=Path, default=None,
                        help="only write the before/after comparisons (drbn_*.jpg) of the best weights to this folder")
    return parser.parse_args(argv)


def _cosine(step: int, total: int, peak: float) -> float:
    warm = 50
    if step < warm:
        return peak * (step + 1) / warm
    return peak * 0.5 * (1 + math.cos(math.pi * min(step, total) / total))


def _run_stage(stage: int, state: Any, sampler: _Sampler, val_pairs: list, args: argparse.Namespace,
               best_path: Path, state_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    from lhe.models.band_recursive import exposure_gain
    from lhe.training.common import log

    model = state.model
    total = args.stage1_steps if stage == 1 else args.stage2_steps
    peak = args.lr if stage == 1 else args.lr2
    params = [p for group in state.optimizer.param_groups for p in group["params"]]
    start = time.monotonic()
    session_elapsed = state.elapsed
    running: list[float] = []
    while state.step < total:
        lr = _cosine(state.step, total, peak)
        for group in state.optimizer.param_groups:
            group["lr"] = lr * group.get("lr_scale", 1.0)
        inputs, targets = sampler.batch(args.batch)
        if stage == 1:
            base = exposure_gain(inputs)
            offset = model.key(inputs, base)
            bands, images = model.stage1(inputs, gain=base * torch.exp2(offset))
            loss = stage1_loss(tuple(images), targets, tuple(args.lambdas), args.stage1_l1)
            loss = loss + args.key_weight * (offset - exposure_key_target(inputs, targets, base)).abs().mean()
        else:
            with torch.no_grad():
                out = model.forward_bands(inputs)
            loss = stage2_loss(model.recompose(out.bands), targets)
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        state.optimizer.step()
        state.step += 1
        state.elapsed = session_elapsed + time.monotonic() - start
        running.append(loss.item())
        if state.step % args.save_every == 0:
            log(MODEL_NAME, f"stage {stage} step {state.step} loss {np.mean(running):.5f} lr {lr:.2e} "
                            f"elapsed {state.elapsed / 60:.1f} min")
            running = []
            state.save(state_path)
        if state.step % args.val_every == 0 or state.step == total:
            scores = score_on_validation(model, val_pairs)
            improved = scores["psnr"] > state.best
            if improved:
                state.best = scores["psnr"]
                state.extra["best_step"] = state.step
                state.extra["best_scores"] = scores
                save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(best_path))
            log(MODEL_NAME, f"stage {stage} step {state.step} val {json.dumps({k: round(v, 4) for k, v in scores.items()})}"
                            f"{' (saved)' if improved else ''}")
            state.save(state_path)
    state.save(state_path)


def _compare(model: Any) -> dict[str, Any]:
    from lhe.models.registry import load_model, read_card
    from lhe.training.common import log
    from lhe.training.train_bilateral_grid import make_validation_set

    pairs = make_validation_set()
    result: dict[str, Any] = {"band-recursive": score_on_validation(model, pairs)}
    if read_card("bilateral-grid") is not None:
        result["bilateral-grid"] = score_on_validation(load_model("bilateral-grid"), pairs)
    identity = score_on_validation(lambda x: x, pairs)
    result["input"] = identity
    noise = sorted(p[2] for p in pairs)
    result["set"] = (f"{len(pairs)} validation photos at long side 512, degraded once with "
                     f"train_bilateral_grid.make_validation_set (seed fixed); noisier half = the "
                     f"{(len(pairs) + 1) // 2} with the highest noise_std (≥ {noise[len(pairs) // 2]:.4f})")
    log(MODEL_NAME, f"comparison {json.dumps(result)}")
    return result


def main(argv: list[str] | None = None) -> int:
    import torch
    from safetensors.torch import load_file

    from lhe.models.registry import create_model
    from lhe.training.common import TrainState, export_checkpoint, log, run_dir, seed_everything
    from lhe.training.train_bilateral_grid import make_validation_set

    args = _parse(argv)
    torch.set_num_threads(args.threads)
    rng = seed_everything(args.seed)
    model = create_model(MODEL_NAME, recursions=args.recursions).train()
    folder = run_dir(MODEL_NAME)
    best1, best2 = folder / "best_stage1.safetensors", folder / "best.safetensors"

    if args.compare or args.gallery:
        model.load_state_dict(load_file(str(best2 if best2.is_file() else best1)))
        model.eval()
        if args.gallery:
            for path in make_gallery(model, args.gallery):
                log(MODEL_NAME, f"wrote {path} ({path.stat().st_size} bytes)")
        if args.compare:
            print(json.dumps(_compare(model), indent=2))
        return 0

    sampler = _Sampler(args.patch, rng)
    val_pairs = make_validation_set(long_side=args.val_long_side, profiles=sampler.profiles)
    log(MODEL_NAME, f"{len(sampler.photos)} train photos, {len(val_pairs)} validation photos; {vars(args)}")

    # Stage 1: every band-network parameter; the recomposition stays at its identity start.
    # Stage 1 trains everything but the recomposition; the exposure key's small perceptron needs a
    # larger step to move its offsets by stops within a few hundred steps.
    band_params = [p for n, p in model.named_parameters() if not n.startswith(("recompose.", "key."))]
    groups = [{"params": band_params}, {"params": list(model.key.parameters()), "lr_scale": args.key_lr_scale}]
    state1 = TrainState(MODEL_NAME, model, torch.optim.Adam(groups, lr=args.lr), rng)
    if state1.resume():
        log(MODEL_NAME, f"stage 1 resumed at step {state1.step}")
    elif args.init is not None:
        missing, unexpected = model.load_state_dict(load_file(str(args.init)), strict=False)
        if unexpected or any(not name.startswith("key.") for name in missing):
            raise SystemExit(f"{args.init} does not fit the model: missing {missing}, unexpected {unexpected}")
        log(MODEL_NAME, f"stage 1 starts from {args.init} (kept at initialisation: {missing})")
    _run_stage(1, state1, sampler, val_pairs, args, best1, state1.path)

    # Stage 2: stage 1 frozen at its best validation weights.
    stage2_path = folder / "stage2.pt"
    state2 = TrainState(MODEL_NAME, model, torch.optim.Adam(model.recompose.parameters(), lr=args.lr2), rng)
    if state2.resume(stage2_path):
        log(MODEL_NAME, f"stage 2 resumed at step {state2.step}")
    else:
        model.load_state_dict(load_file(str(best1)))
        state2.best = score_on_validation(model, val_pairs)["psnr"]
        state2.extra = {"best_step": 0, "stage1": state1.extra, "stage1_elapsed": state1.elapsed}
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(best2))
        log(MODEL_NAME, f"stage 2 starts from stage-1 step {state1.extra.get('best_step')} "
                        f"val_psnr {state2.best:.4f}")
    for p in model.parameters():
        p.requires_grad_(False)
    for p in model.recompose.parameters():
        p.requires_grad_(True)
    _run_stage(2, state2, sampler, val_pairs, args, best2, stage2_path)

    if args.export:
        model.load_state_dict(load_file(str(best2)))
        model.eval()
        comparison = _compare(model)
        minutes = (state1.elapsed + state2.elapsed) / 60
        card = {
            "task": "enhance",
            "paper": "Yang, Wang, Fang, Wang, Liu, From Fidelity to Perceptual Quality: A Semi-Supervised "
                     "Approach for Low-Light Image Enhancement, CVPR 2020",
            "licence": "MIT (weights trained here)",
            "training_data": "lhe.training.sources: the train split of the real photographs of "
                             "shared/DATA.md; patches rescaled by a random factor; low-light inputs "
                             "synthesised by lhe.training.synthesis.synthesize_low_light (2-6 stops, "
                             "darktable noise profiles ISO 100-6400, WB shift, 8-bit, JPEG 70-95)",
            "steps": int(args.stage1_steps + state2.step),
            "training_time": f"{minutes:.0f} min on 1 CPU thread (stage 1 {state1.elapsed / 60:.0f} min, "
                             f"{state1.step} steps; stage 2 {state2.elapsed / 60:.0f} min, {state2.step} steps)",
            "validation": comparison,
            "notes": (
                f"T = {args.recursions} recursions (paper: 4), widths 16/32/64, later recursions share "
                "one band network: sized to train on a 2-core CPU. Stage 1: SSIM at 1, 1/2, 1/4 scale "
                f"(lambda {args.lambdas[0]}, {args.lambdas[1]}), each plus {args.stage1_l1} x L1 (SSIM alone "
                "fits the mean level loosely, which PSNR punishes); the exposure key learns the offset to the "
                f"target's mean level directly (L1 in stops, weight {args.key_weight}). Stage 2 (stage 1 frozen): SSIM + L1 + "
                "gradient L1 + 0.5 x colour angle, substituting the paper's VGG perceptual and adversarial "
                "losses (no pretrained VGG can be downloaded): gradients carry the edge/texture signal "
                "low VGG layers respond to, the colour angle the colour fidelity. Best weights by "
                "validation PSNR. Full-resolution inference is tiled with the whole receptive field as "
                "overlap (exact). Command: python -m lhe.training.train band-recursive "
                f"{' '.join(argv or [])}; batch {args.batch}, patch {args.patch}, Adam lr {args.lr}/{args.lr2} "
                f"cosine, seed {args.seed}."
            ),
            "extra": {"args": json.loads(json.dumps(vars(args), default=str)), "stage1_best_step": state1.extra.get("best_step"),
                      "stage2_best_step": state2.extra.get("best_step")},
        }
        path = export_checkpoint(model, MODEL_NAME, card)
        log(MODEL_NAME, f"exported {path}")
    return 0
