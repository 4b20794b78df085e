"""LDR → HDR expansion: quality on the validation HDRIs and cost on a 12-megapixel photo.

Run:  python benchmarks/expand_bench.py [--threads 2] [--skip-timing] [--skip-quality]

Quality (protocol of :mod:`lhe_training.expand_eval`): blender ``city``, ``forest`` and ``night``
exposed so 4% of pixels clip, sRGB encoded, 8 bits, JPEG 90; PSNR-μ (μ = 5000, prediction scaled
to the truth by the median luminance ratio, both normalised by the truth's 99th percentile) and
RMS log2 luminance error inside the regions the LDR input clipped (channel ≥ 250/255). Rows:

- ``inverse-srgb``: the plain baseline, ``srgb_to_linear(input)``;
- ``expandnet-authors``: the authors' checkpoint (``../shared/testvectors/expandnet-official``),
  network output only, as published;
- ``expandnet-authors+blend``: the same with lhe's highlight blending (Eilertsen et al. 2017);
- ``expandnet``, ``hdrunet``: our shipped checkpoints exactly as ``lhe expand-hdr`` runs them
  (:func:`lhe.models.hdr_scale.expand_hdr`), when ``weights/<name>.json`` exists;
  ``expandnet-raw``: our ExpandNet without the blending.

Gallery (``--gallery DIR``): per validation scene a strip of the LDR input, then each row's
expansion and the truth, all in lhe's scale (white = 1) and shown 3 stops darker with the plain
sRGB curve (``lhe.hdr.tonemap``, ``gamma`` operator), so highlight detail up to 8× the input's
clipping level is visible; written as ``expand_<scene>.jpg``.

Cost: each model expands a 4000×3000 image in a fresh process limited to ``--threads`` threads;
wall time of the expansion (model loading excluded) and the process's peak RSS (ru_maxrss).
Target: peak memory ≤ 3 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
OFFICIAL = REPO.parent / "shared" / "testvectors" / "expandnet-official" / "weights.pth"
MEMORY_LIMIT_MB = 3072


def _to_tensor(image: np.ndarray):
    import torch

    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]


def _load(name: str):
    """``(label → model)`` loader: ``expandnet-authors`` is the official .pth, others shipped."""
    from lhe.models.registry import load_model

    if name == "expandnet-authors":
        return load_model("expandnet", weights=OFFICIAL)
    return load_model(name)


def _expanders() -> dict[str, object]:
    """Rows of the quality table: label → function from H×W×3 sRGB to H×W×3 linear."""
    import torch

    from lhe.color import srgb_to_linear
    from lhe.models.hdr_scale import align_hdr_scale, blend_highlights_Eilertsen2017, expand_hdr
    from lhe.models.registry import read_card

    def network(model, blend: bool):
        def expand(ldr: np.ndarray) -> np.ndarray:
            x = _to_tensor(ldr)
            with torch.no_grad():
                y = align_hdr_scale(model.predict_hdr(x), x)
                if blend:
                    y = blend_highlights_Eilertsen2017(y, x)
            return y[0].permute(1, 2, 0).numpy()

        return expand

    def shipped(model):
        return lambda ldr: expand_hdr(model, _to_tensor(ldr))[0].permute(1, 2, 0).numpy()

    rows: dict[str, object] = {"inverse-srgb": srgb_to_linear}
    if OFFICIAL.is_file():
        authors = _load("expandnet-authors")
        rows["expandnet-authors"] = network(authors, blend=False)
        rows["expandnet-authors+blend"] = network(authors, blend=True)
    for name in ("expandnet", "hdrunet"):
        if read_card(name) is not None:
            model = _load(name)
            rows[name] = shipped(model)
            if name == "expandnet":
                rows["expandnet-raw"] = network(model, blend=False)
    return rows


def quality() -> dict[str, dict]:
    from lhe_training.expand_eval import evaluate_expansion
    from lhe_training.sources import hdri_paths

    paths = hdri_paths("val")
    table = {}
    for label, expand in _expanders().items():
        scores = evaluate_expansion(expand, paths)
        table[label] = {k: (round(s.psnr_mu, 2), round(s.clipped_log2_rms, 3)) for k, s in scores.items()}
        mean = table[label]["mean"]
        print(f"{label:26s} PSNR-mu {mean[0]:6.2f} dB   clipped log2 RMS {mean[1]:.3f}   "
              + "  ".join(f"{k.split('__')[-1]} {v[0]:.2f}/{v[1]:.2f}" for k, v in table[label].items() if k != "mean"),
              flush=True)
    return table


def gallery(folder: Path, scenes: list[str], rows: list[str], width: int = 480) -> list[Path]:
    """Write ``expand_<scene>.jpg`` strips (input | rows… | truth), highlights 3 stops down."""
    import cv2
    from PIL import Image, ImageDraw

    from lhe.hdr.tonemap import tonemap
    from lhe.models.hdr_scale import align_hdr_scale
    from lhe_training.expand_eval import make_ldr_input
    from lhe_training.sources import hdri_paths, read_hdri

    expanders = _expanders()
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for path in hdri_paths("val"):
        scene = path.stem.split("__")[-1]
        if scene not in scenes:
            continue
        ldr, truth = make_ldr_input(read_hdri(path))
        panels = [("LDR input", ldr)]
        for label in rows:
            if label in expanders:
                # in lhe's scale (white = 1), as `lhe expand-hdr` writes it
                predicted = _to_tensor(expanders[label](ldr))
                aligned = align_hdr_scale(predicted, _to_tensor(ldr))[0].permute(1, 2, 0).numpy()
                panels.append((label, tonemap(aligned, "gamma", exposure=-3)))
        panels.append(("truth", tonemap(truth, "gamma", exposure=-3)))
        height = round(width * ldr.shape[0] / ldr.shape[1])
        tiles = []
        for label, image in panels:
            tile = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
            pil = Image.fromarray((np.clip(tile, 0, 1) * 255 + 0.5).astype(np.uint8))
            ImageDraw.Draw(pil).text((6, 4), label + ("" if label == "LDR input" else "  (-3 EV)"), fill=(255, 255, 0))
            tiles.append(np.asarray(pil))
        out = folder / f"expand_{scene}.jpg"
        Image.fromarray(np.concatenate(tiles, axis=0)).save(out, quality=85)
        written.append(out)
        print(f"wrote {out} ({out.stat().st_size // 1024} KB)", flush=True)
    return written


def _twelve_megapixel() -> np.ndarray:
    """A 4000×3000 sRGB input: the city validation LDR (or a gradient without data) upscaled."""
    import cv2

    try:
        from lhe_training.expand_eval import make_ldr_input
        from lhe_training.sources import hdri_paths, read_hdri

        ldr, _ = make_ldr_input(read_hdri(hdri_paths("val")[0]))
    except Exception:  # dataset not built
        ldr = np.linspace(0, 1, 512 * 384 * 3, dtype=np.float32).reshape(384, 512, 3)
    return cv2.resize(ldr, (4000, 3000), interpolation=cv2.INTER_LINEAR).clip(0, 1)


def measure(name: str, threads: int) -> dict:
    """Run in a fresh process: expand a 12 MP image with ``name``; wall time and peak RSS."""
    import torch

    from lhe.models.hdr_scale import expand_hdr

    torch.set_num_threads(threads)
    model = _load(name)
    image = _to_tensor(_twelve_megapixel())
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    output = expand_hdr(model, image)
    wall = time.perf_counter() - start
    assert output.shape == image.shape and bool(torch.isfinite(output).all())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"model": name, "megapixels": image.shape[-1] * image.shape[-2] / 1e6, "threads": threads,
            "wall_s": round(wall, 1), "peak_rss_mb": round(peak), "rss_before_mb": round(rss_before)}


def timing(names: list[str], threads: int) -> list[dict]:
    results = []
    for name in names:
        cmd = [sys.executable, __file__, "--measure", name, "--threads", str(threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
        if done.returncode != 0:
            print(f"{name}: failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        result = json.loads(done.stdout.strip().splitlines()[-1])
        verdict = "ok" if result["peak_rss_mb"] <= MEMORY_LIMIT_MB else f"OVER {MEMORY_LIMIT_MB} MB"
        print(f"{name:20s} 12 MP on {threads} threads: {result['wall_s']:7.1f} s, peak RSS "
              f"{result['peak_rss_mb']} MB ({verdict}; {result['rss_before_mb']} MB before inference)", flush=True)
        results.append(result)
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-timing", action="store_true")
    parser.add_argument("--skip-quality", action="store_true")
    parser.add_argument("--models", default="", help="comma-separated models to time (default: all available)")
    parser.add_argument("--gallery", type=Path, help="write tone-mapped comparison strips to this folder")
    parser.add_argument("--scenes", default="city,forest,night", help="validation scenes for --gallery")
    parser.add_argument("--measure", help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.threads)))
        return 0

    import torch

    from lhe.models.registry import read_card

    torch.set_num_threads(args.threads)
    if args.gallery:
        rows = ["inverse-srgb", "expandnet-authors", "expandnet", "hdrunet"]
        gallery(args.gallery, args.scenes.split(","), rows)
        return 0
    if not args.skip_quality:
        quality()
    if not args.skip_timing:
        names = [n for n in args.models.split(",") if n] or (
            [n for n in ("expandnet", "hdrunet") if read_card(n) is not None]
            + (["expandnet-authors"] if OFFICIAL.is_file() else [])
        )
        timing(names, args.threads)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
