"""Train ``hdrunet`` (Chen et al. 2021) for single-image LDR → HDR expansion on the CPU.

``python -m lhe_training.train hdrunet [--steps N] [--minutes M] [--export]``

Data, drawn on the fly with a fixed seed:

- HDRI crops (share ``--hdri-share``): each training panorama of
  :func:`lhe_training.sources.hdri_paths` (blender ``city``, ``forest``, ``night`` are the
  validation set and never seen) is exposed so a random 1–10 % of the whole image clips (the
  random exposure: the brightness of clipped areas relative to white then follows real scenes),
  then a square crop is taken (half of them re-drawn until they hold clipped pixels), randomly
  rescaled (×0.5–1), flipped left/right, rotated by a random multiple of 90° (p = 0.25), given a
  random white-balance gain per channel; :func:`lhe_training.synthesis.synthesize_ldr_from_hdr`
  adds darktable sensor noise (p = 0.25), applies a camera curve (sRGB with p = 0.7, else a
  random one), quantises to 8 bits and JPEG-compresses (quality 70–95).
- Pseudo-HDR pairs from the training photographs: :func:`lhe_training.synthesis.pseudo_hdr_from_photo`
  pushes the linearised crop up 1–4 stops so highlights clip, with the same noise/curve/JPEG steps.

Targets are linear with 1.0 at the LDR's clipping level, which is lhe's scale convention
(:mod:`lhe.models.hdr_scale`): unclipped pixels equal ``srgb_to_linear(input)`` for an sRGB curve.

Loss: the paper's Tanh-L1 plus an L1 in the μ-law domain (μ = 5000, each target normalised by its
99th percentile, not clipped). Tanh-L1 fits values up to about 2× white and flattens above;
the μ-law term weights relative errors everywhere (dark areas, where dequantisation matters, and
highlights far above white), which is what the benchmark's PSNR-μ and clipped-region log2
error measure. Adam, cosine learning-rate decay over ``--steps``; from ``--swa-start`` of the run on,
the weights every ``--swa-every`` steps are averaged (stochastic weight averaging) and the average
is validated beside the current weights.

Validation every ``--val-every`` steps: :func:`lhe_training.expand_eval.evaluate_expansion` on the
validation HDRIs (the benchmark's LDR inputs: 4 % clipping, sRGB, JPEG 90) through
:func:`lhe.models.hdr_scale.expand_hdr`, against the inverse-sRGB baseline. The best weights by
``PSNR-μ − 10 × clipped log2 RMS`` (current or averaged) are kept in ``runs/hdrunet/best.pt``
and exported.

References:
    Xiangyu Chen, Yihao Liu, Zhengwen Zhang, Yu Qiao, Chao Dong, "HDRUNet: Single Image HDR
    Reconstruction with Denoising and Dequantization", CVPR Workshops (NTIRE), 2021.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from lhe.color import MU_LAW_MU, mu_law

__all__ = ["MODEL_NAME", "training_loss", "mu_law_l1_loss", "PairSampler", "score_on_validation", "main"]

MODEL_NAME = "hdrunet"
MU = MU_LAW_MU
PHOTO_LONG_SIDE = 1280  # photos kept in memory as uint8 at most this size


def mu_law_l1_loss(prediction: Any, target: Any, mu: float = MU) -> Any:
    """L1 between μ-law compressed images, each pair normalised by the target's 99th percentile.

    Args:
        prediction: ``(N, 3, H, W)`` linear prediction ≥ 0.
        target: ``(N, 3, H, W)`` linear truth ≥ 0.
        mu: μ-law parameter (5000, as in Kalantari & Ramamoorthi 2017).

    Returns:
        Scalar mean over all elements.
    """
    import torch

    norm = torch.quantile(target.flatten(1), 0.99, dim=1).clamp_min(1e-3).view(-1, 1, 1, 1).detach()

    def compress(x: torch.Tensor) -> torch.Tensor:
        return mu_law((x / norm).clamp_min(0), mu)

    return (compress(prediction) - compress(target)).abs().mean()


def training_loss(prediction: Any, target: Any) -> Any:
    """Tanh-L1 (Chen et al. 2021) + μ-law L1 (see the module docstring for why both)."""
    from lhe.models.hdrunet import tanh_l1_loss

    return tanh_l1_loss(prediction, target) + mu_law_l1_loss(prediction, target)



def _resize(image: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    if factor >= 1:
        return image
    size = (max(1, round(image.shape[1] * factor)), max(1, round(image.shape[0] * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class PairSampler:
    """Draws (LDR sRGB input, linear HDR target) training patches; see the module docstring.

    Args:
        hdris: ``H×W×3`` float32 scene-linear training images.
        photos: ``H×W×3`` uint8 sRGB training photographs.
        rng: the generator every random choice is drawn from.
        patch: side of the square patches.
        hdri_share: probability that a patch comes from an HDRI rather than a photo.
    """

    def __init__(self, hdris: list[np.ndarray], photos: list[np.ndarray], rng: np.random.Generator,
                 patch: int = 112, hdri_share: float = 0.6) -> None:
        from lhe_training.synthesis import load_noise_profiles

        self.hdris = hdris
        self.photos = photos
        self.rng = rng
        self.patch = patch
        self.hdri_share = hdri_share
        self.profiles = load_noise_profiles()
        self._sorted_peaks = [np.sort(h.max(axis=2), axis=None) for h in hdris]

    def _crop(self, image: np.ndarray) -> np.ndarray:
        rng = self.rng
        smallest = self.patch / min(image.shape[:2])
        image = _resize(image, float(rng.uniform(max(0.5, smallest), 1.0)))
        y = int(rng.integers(0, image.shape[0] - self.patch + 1))
        x = int(rng.integers(0, image.shape[1] - self.patch + 1))
        crop = image[y : y + self.patch, x : x + self.patch]
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        if rng.random() < 0.25:
            crop = np.rot90(crop, int(rng.integers(1, 4)))
        return np.ascontiguousarray(crop)

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """One pair: ``(input, target)``, ``patch×patch×3`` float32 each."""
        from lhe_training.synthesis import pseudo_hdr_from_photo, synthesize_ldr_from_hdr

        rng = self.rng
        curve = "srgb" if rng.random() < 0.7 else "random"
        noise = bool(rng.random() < 0.25)
        common = dict(curve=curve, noise=noise, profiles=self.profiles, jpeg_quality=(70, 95))
        if rng.random() < self.hdri_share:
            index = int(rng.integers(len(self.hdris)))
            # Expose the whole panorama so 1-10 % of it clips, as a camera would, then crop; half
            # the crops are re-drawn (up to 8 times) until they contain clipped pixels.
            peaks = self._sorted_peaks[index]
            fraction = float(rng.uniform(0.01, 0.10))
            exposure = 1.0 / max(float(peaks[int((1.0 - fraction) * (peaks.size - 1))]), 1e-12)
            want_clipped = rng.random() < 0.5
            for _ in range(8):
                crop = self._crop(self.hdris[index])
                if not want_clipped or (crop.max(axis=2) * exposure >= 1.0).any():
                    break
            crop = crop * (exposure * rng.uniform(0.8, 1.2, size=3)).astype(np.float32)
            clipped = float((crop.max(axis=2) >= 1.0).mean())
            pair = synthesize_ldr_from_hdr(crop, rng, clip_fraction=clipped, **common)
        else:
            crop = self._crop(self.photos[int(rng.integers(len(self.photos)))])
            pair = pseudo_hdr_from_photo(crop.astype(np.float32) / 255.0, rng, stops=(1.0, 4.0), **common)
        return pair.image, pair.target

    def batch(self, size: int) -> tuple[Any, Any]:
        """``size`` pairs as ``(N, 3, patch, patch)`` float32 tensors ``(inputs, targets)``."""
        import torch

        pairs = [self.sample() for _ in range(size)]
        inputs = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        targets = torch.from_numpy(np.stack([p[1] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        return inputs, targets


def _expander(model: Any):
    import torch

    from lhe.models.hdr_scale import expand_hdr

    def expand(ldr: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(ldr)).permute(2, 0, 1)[None]
        return expand_hdr(model, x)[0].permute(1, 2, 0).numpy()

    return expand


def score_on_validation(model: Any, paths: list[Path] | None = None) -> dict[str, dict[str, float]]:
    """Benchmark protocol scores of ``model`` on the validation HDRIs, as plain dicts.

    Returns:
        ``{stem: {"psnr_mu": dB, "clipped_log2_rms": stops}}`` plus ``"mean"``.
    """
    from lhe_training.expand_eval import evaluate_expansion
    from lhe_training.sources import hdri_paths

    was_training = model.training
    model.eval()
    scores = evaluate_expansion(_expander(model), paths if paths is not None else hdri_paths("val"))
    model.train(was_training)
    return {k: {"psnr_mu": round(v.psnr_mu, 3), "clipped_log2_rms": round(v.clipped_log2_rms, 4)}
            for k, v in scores.items()}


def _baseline_scores() -> dict[str, dict[str, float]]:
    from lhe.color import srgb_to_linear
    from lhe_training.expand_eval import evaluate_expansion
    from lhe_training.sources import hdri_paths

    scores = evaluate_expansion(lambda ldr: srgb_to_linear(ldr), hdri_paths("val"))
    return {k: {"psnr_mu": round(v.psnr_mu, 3), "clipped_log2_rms": round(v.clipped_log2_rms, 4)}
            for k, v in scores.items()}


def _selection(scores: dict[str, dict[str, float]]) -> float:
    mean = scores["mean"]
    return mean["psnr_mu"] - 10.0 * mean["clipped_log2_rms"]


class _WeightAverage:
    """Running mean of the weights at regular steps (stochastic weight averaging, Izmailov et
    al., "Averaging Weights Leads to Wider Optima and Better Generalization", UAI 2018): the
    highlight predictions of single snapshots swing from one validation to the next; their mean
    is steadier. Saved beside ``last.pt`` so a resumed run continues the same average."""

    def __init__(self, path: Path) -> None:
        import torch

        self.path = path
        self.state: dict[str, Any] = {}
        self.count = 0
        if path.is_file():
            saved = torch.load(path, map_location="cpu", weights_only=True)
            self.state, self.count = saved["model"], int(saved["count"])

    def update(self, model: Any) -> None:
        self.count += 1
        for key, value in model.state_dict().items():
            value = value.detach().clone()
            self.state[key] = value if self.count == 1 else self.state[key] + (value - self.state[key]) / self.count

    def model(self) -> Any:
        from lhe.models.hdrunet import HDRUNet

        averaged = HDRUNet()
        averaged.load_state_dict(self.state)
        return averaged

    def save(self) -> None:
        import torch

        if self.count:
            torch.save({"model": self.state, "count": self.count}, self.path)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lhe_training.train hdrunet", description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4000, help="optimisation steps (cosine schedule length)")
    parser.add_argument("--minutes", type=float, default=75.0, help="stop after this much training time")
    parser.add_argument("--batch", type=int, default=6)
    parser.add_argument("--patch", type=int, default=112, help="side of the square training patches")
    parser.add_argument("--lr", type=float, default=5e-4, help="peak learning rate")
    parser.add_argument("--hdri-share", type=float, default=0.7, help="fraction of patches from HDRIs")
    parser.add_argument("--val-every", type=int, default=400)
    parser.add_argument("--swa-start", type=float, default=0.5,
                        help="average the weights from this fraction of --steps on")
    parser.add_argument("--swa-every", type=int, default=25, help="steps between averaged snapshots")
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--export", action="store_true",
                        help="only export runs/hdrunet/best.pt to weights/hdrunet.{safetensors,json}")
    return parser.parse_args(argv)


def _export(args: argparse.Namespace) -> Path:
    import torch

    from lhe.models.hdrunet import HDRUNet
    from lhe.models.hdr_scale import HDR_SCALE_CONVENTION
    from lhe_training.common import export_checkpoint, run_dir

    best = torch.load(run_dir(MODEL_NAME) / "best.pt", map_location="cpu", weights_only=True)
    info = json.loads(best["info"])
    run = torch.load(run_dir(MODEL_NAME) / "last.pt", map_location="cpu", weights_only=True)
    model = HDRUNet()
    model.load_state_dict(best["model"])
    params = sum(p.numel() for p in model.parameters())
    card = {
        "task": "expand-hdr",
        "paper": "Chen, Liu, Zhang, Qiao, Dong, 'HDRUNet: Single Image HDR Reconstruction with Denoising "
                 "and Dequantization', CVPR Workshops (NTIRE) 2021",
        "licence": "MIT (trained here)",
        "input_encoding": "srgb",
        "output_encoding": "linear",
        "training_data": (
            "lhe_training.sources train split: 23 HDR panoramas (npm @pmndrs/assets, Debian blender-data; "
            "blender city/forest/night held out) exposed so 1-10% of each panorama clips, then random crops "
            "with rescale, flips, rotations, white-balance gains; pseudo-HDR pairs from the training photographs pushed up "
            "1-4 stops; darktable noise (p=0.25), sRGB (p=0.7) or random camera curve, 8 bits, JPEG 70-95 "
            f"(lhe_training.synthesis); {args.patch}px patches, batch {args.batch}, HDRI share {args.hdri_share}"
        ),
        "steps": int(info["step"]),
        "training_time": (
            f"{info['elapsed'] / 60:.1f} min on 1 CPU thread (shared 2-core machine) to the selected step; "
            f"the run went on to step {int(run['step'])} ({float(run['elapsed']) / 60:.1f} min) without a better "
            "validation score (PSNR-mu - 10 x clipped log2 RMS)"
        ),
        "validation": {
            "protocol": "lhe_training.expand_eval (blender city/forest/night; 4% clipping, sRGB, 8-bit, JPEG 90; "
                        "PSNR-mu mu=5000 after scale alignment; RMS log2 luminance error in clipped regions)",
            "hdrunet": info["scores"],
            "inverse_srgb_baseline": info["baseline"],
        },
        "notes": (
            f"width {model.width}, condition width {model.cond_width}, blocks {list(model.blocks)}: "
            f"{params} parameters (the paper's 64-channel network has about 1.6 M). Loss: Tanh-L1 + mu-law L1. "
            f"Output blended into srgb_to_linear(input) below code value {HDRUNet.highlight_blend_threshold} "
            "(Eilertsen et al. 2017), in validation as in use. "
            f"Output scale: {HDR_SCALE_CONVENTION}. Seed {args.seed}. Command: python -m lhe_training.train "
            f"hdrunet --steps {args.steps} --val-every {args.val_every}, then the same with --export."
        ),
        "extra": {"parameters": params, "receptive_radius": model.receptive_radius,
                  "weights": info.get("weights", "model"), "averaged_snapshots": info.get("averaged_snapshots", 0)},
    }
    return export_checkpoint(model, MODEL_NAME, card)


def main(argv: list[str] | None = None) -> int:
    import torch

    from lhe.models.hdrunet import HDRUNet
    from lhe_training.common import TrainState, log, run_dir, seed_everything
    from lhe_training.sources import hdri_paths, photo_paths, read_hdri, read_photo_uint8

    args = _parse(argv)
    torch.set_num_threads(args.threads)
    if args.export:
        path = _export(args)
        log(MODEL_NAME, f"exported {path}")
        return 0

    rng = seed_everything(args.seed)
    model = HDRUNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = TrainState(MODEL_NAME, model, optimizer, rng)
    if state.resume():
        log(MODEL_NAME, f"resumed at step {state.step} ({state.elapsed / 60:.1f} min)")
    else:
        params = sum(p.numel() for p in model.parameters())
        log(MODEL_NAME, f"new run: {params} parameters, args {vars(args)}")
        state.extra["baseline"] = _baseline_scores()
        log(MODEL_NAME, f"inverse-sRGB baseline {json.dumps(state.extra['baseline']['mean'])}")

    hdris = [read_hdri(p) for p in hdri_paths("train")]
    photos = [read_photo_uint8(p, PHOTO_LONG_SIDE) for p in photo_paths("train")]
    sampler = PairSampler(hdris, photos, state.rng, patch=args.patch, hdri_share=args.hdri_share)
    log(MODEL_NAME, f"data: {len(hdris)} HDRIs, {len(photos)} photos")

    swa = _WeightAverage(run_dir(MODEL_NAME) / "average.pt")
    model.train()
    budget = args.minutes * 60.0
    running = 0.0
    while state.step < args.steps and state.elapsed < budget:
        started = time.time()
        lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * state.step / args.steps)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        inputs, targets = sampler.batch(args.batch)
        loss = training_loss(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        state.step += 1
        state.elapsed += time.time() - started
        running = 0.98 * running + 0.02 * loss.item() if state.step > 1 else loss.item()
        if state.step % 25 == 0:
            log(MODEL_NAME, f"step {state.step} loss {running:.4f} lr {lr:.2e} {state.elapsed / 60:.1f} min")
        last = state.step >= args.steps or state.elapsed >= budget
        if state.step >= args.swa_start * args.steps and state.step % args.swa_every == 0:
            swa.update(model)
        if state.step % args.val_every == 0 or last:
            candidates = [("model", model)] + ([("average", swa.model())] if swa.count else [])
            for label, candidate in candidates:
                scores = score_on_validation(candidate)
                value = _selection(scores)
                log(MODEL_NAME, f"val step {state.step} {label}: {json.dumps(scores)}")
                if value > state.best:
                    state.best = value
                    state.extra["best_step"] = state.step
                    info = {"step": state.step, "elapsed": state.elapsed, "scores": scores, "weights": label,
                            "averaged_snapshots": swa.count if label == "average" else 0,
                            "baseline": state.extra.get("baseline", {})}
                    torch.save({"model": candidate.state_dict(), "info": json.dumps(info)},
                               run_dir(MODEL_NAME) / "best.pt")
                    log(MODEL_NAME, f"new best {value:.3f} at step {state.step} ({label})")
        if state.step % args.save_every == 0 or last:
            state.save()
            swa.save()
    log(MODEL_NAME, f"done: step {state.step}, {state.elapsed / 60:.1f} min, best step {state.extra.get('best_step')}")
    return 0
