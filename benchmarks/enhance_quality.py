"""Low-light enhancement quality on the validation photographs: learned models vs baselines.

Every validation photograph (``lhe_training.sources.photo_paths("val")``, never trained on) is
resized to ``--long-side`` and degraded once by ``lhe_training.synthesis.synthesize_low_light``
with a fixed seed per picture (2–6 stops, darktable sensor noise, white-balance shift, 8-bit,
JPEG 70–95); the original is the target. Prints mean PSNR/SSIM of each method and the model's
PSNR margin over each baseline, for all pictures and for the noisier half (by the synthesised
noise level). ``best-gamma (oracle)`` chooses its exponent by looking at the target.

    python benchmarks/enhance_quality.py                       # shipped bilateral-grid
    python benchmarks/enhance_quality.py --models bilateral-grid band-recursive
    python benchmarks/enhance_quality.py --weights runs/bilateral-grid/best.safetensors --write-card
    python benchmarks/enhance_quality.py --examples out/       # before/after PNGs
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from lhe_training.baselines import BASELINES
from lhe_training.metrics import psnr, ssim
from lhe_training.train_bilateral_grid import VAL_SEED, make_validation_set


def _run_model(model, image: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None]
        return model(x)[0].permute(1, 2, 0).clamp(0, 1).numpy()


def _table(rows: dict[str, list[tuple[float, float]]], subset: list[int], models: list[str]) -> list[dict]:
    table = []
    for method, scores in rows.items():
        p = float(np.mean([scores[i][0] for i in subset]))
        s = float(np.mean([scores[i][1] for i in subset]))
        table.append({"method": method, "psnr": round(p, 3), "ssim": round(s, 4)})
    for model in models:
        mp = next(r["psnr"] for r in table if r["method"] == model)
        ms = next(r["ssim"] for r in table if r["method"] == model)
        for row in table:
            row[f"{model} dPSNR"] = round(mp - row["psnr"], 3)
            row[f"{model} dSSIM"] = round(ms - row["ssim"], 4)
    return table


def _print(title: str, table: list[dict], models: list[str]) -> None:
    print(f"\n{title}")
    head = f"{'method':<22} {'PSNR dB':>8} {'SSIM':>7}" + "".join(f" {m[:14] + ' ΔPSNR':>20}" for m in models)
    print(head)
    print("-" * len(head))
    for row in table:
        print(f"{row['method']:<22} {row['psnr']:>8.2f} {row['ssim']:>7.4f}"
              + "".join(f" {row[f'{m} dPSNR']:>+20.2f}" for m in models))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="*", default=["bilateral-grid"])
    parser.add_argument("--weights", type=Path, default=None, help="weights for the first model (default: shipped)")
    parser.add_argument("--long-side", type=int, default=512,
                        help="validation photos resized to this long side (512, as training validation)")
    parser.add_argument("--seed", type=int, default=VAL_SEED)
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    parser.add_argument("--write-card", action="store_true",
                        help="store the table in weights/<first model>.json under 'validation'")
    parser.add_argument("--examples", type=Path, default=None, help="write input/output/target PNGs here")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import torch

    from lhe.models.registry import load_model

    torch.set_num_threads(args.threads)
    started = time.monotonic()
    pairs = make_validation_set(long_side=args.long_side, seed=args.seed)
    models = {name: load_model(name, args.weights if i == 0 else None) for i, name in enumerate(args.models)}
    rows: dict[str, list[tuple[float, float]]] = {name: [] for name in list(BASELINES) + list(models)}
    timings = {name: 0.0 for name in rows}
    for index, (degraded, target, _) in enumerate(pairs):
        outputs = {}
        for name, baseline in BASELINES.items():
            t = time.monotonic()
            outputs[name] = baseline(degraded, target)
            timings[name] += time.monotonic() - t
        for name, model in models.items():
            t = time.monotonic()
            outputs[name] = _run_model(model, degraded)
            timings[name] += time.monotonic() - t
        for name, out in outputs.items():
            rows[name].append((psnr(out, target), ssim(out, target)))
        if args.examples is not None:
            from PIL import Image

            args.examples.mkdir(parents=True, exist_ok=True)
            for name, image in [("input", degraded), ("target", target)] + [(m, outputs[m]) for m in models]:
                pixels = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)
                Image.fromarray(pixels).save(args.examples / f"{index:02d}_{name}.png")

    noise = np.array([p[2] for p in pairs])
    everything = list(range(len(pairs)))
    noisier = sorted(np.argsort(noise)[len(pairs) // 2:].tolist())
    names = list(models)
    result = {
        "data": f"{len(pairs)} validation photos (lhe_training.sources split 'val'), long side "
                f"{args.long_side}, synthesize_low_light seed {args.seed}",
        "all": _table(rows, everything, names),
        "noisier_half": _table(rows, noisier, names),
        "seconds_per_image": {k: round(v / len(pairs), 4) for k, v in timings.items()},
    }
    print(result["data"])
    _print(f"All {len(pairs)} validation photos", result["all"], names)
    _print(f"Noisier half ({len(noisier)} photos)", result["noisier_half"], names)
    print(f"\nwall time {time.monotonic() - started:.1f} s")
    if args.json is not None:
        args.json.write_text(json.dumps(result, indent=2))
    if args.write_card and names:
        from lhe.models.registry import weights_dir

        card_path = weights_dir() / f"{names[0]}.json"
        card = json.loads(card_path.read_text())
        card["validation"] = dict(card.get("validation", {}), benchmark=result,
                                  command="python benchmarks/enhance_quality.py " + " ".join(argv or sys.argv[1:]))
        card_path.write_text(json.dumps(card, indent=2) + "\n")
        print(f"wrote the table into {card_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
