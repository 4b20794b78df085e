"""Train the ``bilateral-grid`` enhancer (HDRNet) on synthetic low-light versions of real photos.

``python -m lhe_training.train bilateral-grid [--steps N] [--minutes M] [--export]``

Each step draws a batch of square patches: most from the training photographs (rescaled so the
short side is 1–2× the patch, so a patch keeps most of the picture the 256×256 low-resolution
path sees at inference, randomly cropped and flipped), some from training HDR images (exposed so
a few percent of pixels clip in the target, then darkened from the unclipped linear data). Inputs
are made on the fly by :func:`lhe_training.synthesis.synthesize_low_light`; targets are the
well-exposed images. The loss is L2 at full resolution, as in the paper; Adam with a cosine
learning-rate decay over ``--steps``. Validation PSNR on the validation photos (whole pictures,
long side 512, degraded once with a fixed seed) is logged every ``--val-every`` steps and the best
weights are kept in ``runs/bilateral-grid/best.safetensors``. The run resumes from
``runs/bilateral-grid/last.pt``; ``--minutes`` stops it (saving) when the time is up.

The batch of step ``s`` is drawn from ``np.random.default_rng([seed, s])``
(:class:`lhe_training.common.BatchStream`): the same inline or from ``--workers N`` forked
data-synthesis processes, and after a resume. ``--device auto|cpu|cuda`` chooses where the model
trains and validates; states and weights are saved as CPU tensors.

References:
    Gharbi, Chen, Barron, Hasinoff, Durand, "Deep Bilateral Learning for Real-Time Image
    Enhancement", SIGGRAPH 2017.
"""

from __future__ import annotations

import argparse
import json
import math

import numpy as np

__all__ = ["MODEL_NAME", "Sampler", "make_validation_set", "main"]

MODEL_NAME = "bilateral-grid"
VAL_SEED = 20261124
VAL_LONG_SIDE = 512



def make_validation_set(long_side: int = VAL_LONG_SIDE, seed: int = VAL_SEED,
                        profiles=None) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """The fixed validation pairs: ``(degraded, target, noise_std)`` per validation photo.

    Each validation photograph is resized to ``long_side`` and degraded with
    :func:`synthesize_low_light` seeded by ``(seed, index)``, so every run and the benchmark see
    the same inputs.
    """
    from lhe_training.sources import photo_paths, read_photo_uint8
    from lhe_training.synthesis import synthesize_low_light

    pairs = []
    for index, path in enumerate(photo_paths("val")):
        target = read_photo_uint8(path, long_side).astype(np.float32) / 255.0
        low = synthesize_low_light(target, np.random.default_rng([seed, index]), profiles=profiles)
        pairs.append((low.image, target, low.noise_std))
    return pairs


class Sampler:
    """Draws training patches (input, target) from photos and HDR images."""

    def __init__(self, patch: int, hdr_fraction: float, rng: np.random.Generator) -> None:
        from lhe_training.sources import hdri_paths, photo_paths, read_hdri, read_photo_uint8
        from lhe_training.synthesis import load_noise_profiles

        self.patch = patch
        self.hdr_fraction = hdr_fraction
        self.rng = rng
        self.profiles = load_noise_profiles()
        # Photos kept as uint8 with long side ≤ 4 patches: enough for 1–2× rescaling, small in memory.
        self.photos = [read_photo_uint8(p, 4 * patch) for p in photo_paths("train")]
        self.hdris = [read_hdri(p) for p in hdri_paths("train")] if hdr_fraction > 0 else []

    def _photo_patch(self) -> tuple[np.ndarray, np.ndarray]:
        from PIL import Image

        from lhe.color import srgb_to_linear

        photo = self.photos[self.rng.integers(len(self.photos))]
        h, w = photo.shape[:2]
        short = self.rng.uniform(self.patch, max(self.patch, min(2 * self.patch, min(h, w))) + 1e-3)
        scale = short / min(h, w)
        size = (max(self.patch, round(w * scale)), max(self.patch, round(h * scale)))
        resized = np.asarray(Image.fromarray(photo).resize(size, Image.BILINEAR))
        y = self.rng.integers(resized.shape[0] - self.patch + 1)
        x = self.rng.integers(resized.shape[1] - self.patch + 1)
        target = resized[y : y + self.patch, x : x + self.patch].astype(np.float32) / 255.0
        return self._pair(srgb_to_linear(self._flip(target)))

    def _pair(self, linear: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from lhe_training.night import synthesize_night_pair

        pair = synthesize_night_pair(linear, self.rng, self.profiles)
        return pair.image, pair.target

    def _hdr_patch(self) -> tuple[np.ndarray, np.ndarray]:
        hdri = self.hdris[self.rng.integers(len(self.hdris))]
        h, w = hdri.shape[:2]
        side = min(h, int(self.rng.integers(self.patch, 2 * self.patch + 1)))
        y = self.rng.integers(h - side + 1)
        x = self.rng.integers(w - side + 1)
        crop = hdri[y : y + side, x : x + side]
        if side != self.patch:
            import torch
            import torch.nn.functional as F

            tensor = torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1)[None]
            crop = F.interpolate(tensor, size=(self.patch, self.patch), mode="area")[0].permute(1, 2, 0).numpy()
        # expose so 1–5% of pixels clip in the well-exposed target
        peak = crop.max(axis=2)
        level = float(np.quantile(peak, 1.0 - self.rng.uniform(0.01, 0.05)))
        return self._pair(self._flip(crop / max(level, 1e-6)).astype(np.float32))

    def _flip(self, image: np.ndarray) -> np.ndarray:
        if self.rng.random() < 0.5:
            image = image[:, ::-1]
        return np.ascontiguousarray(image)

    def batch(self, size: int):
        import torch

        pairs = [self._hdr_patch() if self.hdris and self.rng.random() < self.hdr_fraction
                 else self._photo_patch() for _ in range(size)]
        inputs = torch.from_numpy(np.stack([p[0] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        targets = torch.from_numpy(np.stack([p[1] for p in pairs])).permute(0, 3, 1, 2).contiguous()
        return inputs, targets


def _validate(model, pairs) -> float:
    import torch

    from lhe_training.metrics import psnr

    device = next(model.parameters()).device
    model.eval()
    scores = []
    with torch.no_grad():
        for degraded, target, _ in pairs:
            x = torch.from_numpy(degraded).permute(2, 0, 1)[None].to(device)
            y = model(x)[0].permute(1, 2, 0).cpu().numpy()
            scores.append(psnr(y, target))
    model.train()
    return float(np.mean(scores))


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m lhe_training.train bilateral-grid",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=4000, help="total optimisation steps (schedule length)")
    parser.add_argument("--minutes", type=float, default=None, help="stop (and save) after this much wall time")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=384, help="side of the square training patches")
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--hdr-fraction", type=float, default=0.15, help="share of patches from HDR images")
    parser.add_argument("--val-every", type=int, default=250)
    parser.add_argument("--save-every", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads of the training process")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where the model trains and validates (auto: cuda when available)")
    parser.add_argument("--workers", type=int, default=0,
                        help="data-synthesis worker processes (0: inline); batches are the same either way")
    parser.add_argument("--init", default=None, help="start a new run from these safetensors weights")
    parser.add_argument("--export", action="store_true",
                        help="export the best weights to weights/bilateral-grid.{safetensors,json} at the end")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import torch
    from safetensors.torch import load_file, save_file

    from lhe.models.registry import create_model
    from lhe_training.common import (TrainState, export_checkpoint, hardware_description, log, resolve_device,
                                     run_dir, run_sessions, run_steps, seed_everything, trained_on)
    from lhe_training.night import make_night_validation_set

    args = _parse(argv)
    torch.set_num_threads(args.threads)
    rng = seed_everything(args.seed)
    device = resolve_device(args.device)
    model = create_model(MODEL_NAME).train().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    state = TrainState(MODEL_NAME, model, optimizer, rng)
    resumed = state.resume()
    log(MODEL_NAME, f"{'resumed at step ' + str(state.step) if resumed else 'new run'}: {vars(args)}")
    if args.init and not resumed:
        init = load_file(args.init)
        first = model.splat[0].weight
        if init["splat.0.weight"].shape[1] < first.shape[1]:
            # weights from before the lift-hint channel: that channel starts with zero weights
            padded = torch.zeros_like(first)
            padded[:, : init["splat.0.weight"].shape[1]] = init["splat.0.weight"]
            init["splat.0.weight"] = padded
        model.load_state_dict(init)
    if state.step < args.steps:  # an export-only session trains nowhere
        log(MODEL_NAME, f"training on {hardware_description(device, args.threads, args.workers)}")
    sampler = Sampler(args.patch, args.hdr_fraction, rng)
    val_pairs = make_night_validation_set(profiles=sampler.profiles)
    uniform_pairs = make_validation_set(profiles=sampler.profiles)
    best_path = run_dir(MODEL_NAME) / "best.safetensors"
    log(MODEL_NAME, f"{len(sampler.photos)} train photos, {len(sampler.hdris)} train HDRIs, "
                    f"{len(val_pairs)} validation photos")
    if not resumed:
        state.best = _validate(model, val_pairs)
        log(MODEL_NAME, f"step 0 val_psnr {state.best:.3f} (initial, near identity)")

    def validate() -> None:
        score = _validate(model, val_pairs)
        uniform = _validate(model, uniform_pairs)
        improved = score > state.best
        if improved:
            state.best = score
            state.extra["best_step"] = state.step
            save_file({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}, str(best_path))
        state.extra["validated_step"] = state.step
        if improved:
            state.extra["best_uniform"] = uniform
        log(MODEL_NAME, f"step {state.step} val_psnr {score:.3f} uniform_val_psnr {uniform:.3f} "
                        f"best {state.best:.3f}{' (saved)' if improved else ''}")
        state.save()

    def train_step(inputs, targets):
        loss = torch.mean((model(inputs) - targets) ** 2)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    run_steps(state, sampler, args, train_step=train_step, validate=validate,
              learning_rate=lambda step: args.lr * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
    if state.extra.get("validated_step") != state.step:
        validate()  # the weights a stopped run ends with are candidates too
    state.save()
    if args.export:
        if best_path.is_file():
            model.load_state_dict(load_file(str(best_path)))
        card = {
            "task": "enhance",
            "paper": "Gharbi, Chen, Barron, Hasinoff, Durand, Deep Bilateral Learning for Real-Time "
                     "Image Enhancement, SIGGRAPH 2017",
            "licence": "MIT (weights trained here)",
            "training_data": "lhe_training.sources: the train split of the real photographs and HDR panoramas "
                             "of shared/DATA.md; dark captures and targets by "
                             "lhe_training.night.synthesize_night_pair (uneven mixed light, light sources, "
                             "0-6 stops under, darktable noise, 8-bit, JPEG 75-95; target: the fixed "
                             "photographic rendering of the clean capture, lhe.shadow_lift)",
            "steps": int(state.extra.get("best_step", state.step)),
            "training_time": f"{state.elapsed / 60:.0f} min ({state.step} steps run) on {trained_on(MODEL_NAME)}",
            "validation": {"night_val_psnr_512px": round(state.best, 3),
                           "uniform_val_psnr_512px": round(state.extra.get("best_uniform", float("nan")), 3)},
            "notes": f"fine-tuned from --init {args.init}; the low-resolution network also reads the "
                     "shadow-lift operator's decision (lhe.shadow_lift.lift_hint) as a fourth channel; "
                     f"batch {args.batch}, patch {args.patch}, Adam lr {args.lr} with cosine decay over "
                     f"--steps, L2 loss at full patch resolution, seed {args.seed}; sessions of this run "
                     "(from train.log) in extra.sessions",
            "extra": {"args": json.loads(json.dumps(vars(args))), "sessions": run_sessions(MODEL_NAME)},
        }
        path = export_checkpoint(model, MODEL_NAME, card)
        log(MODEL_NAME, f"exported {path}")
    return 0
