"""`lhe enhance` end to end on 12-megapixel JPEGs against an OpenCV CLAHE-on-L* script.

Run:  python benchmarks/enhance_bench.py [--models bilateral-grid,band-recursive]
Measures, each in a fresh process (wall time and peak RSS from wait4):
- a batch of six 12 MP JPEGs in one `lhe enhance` invocation (read, model, write) vs one
  Python process running OpenCV CLAHE on L* over the same six files (target ratio ≤ 1.5,
  lhe peak memory ≤ 800 MB);
- one-image latency including start-up (target ≤ 3 s) and `lhe --help` (target ≤ 0.5 s);
- every other model asked for on one 12 MP JPEG (band-recursive: ≤ 15 s, peak memory ≤ 2 GB).
The six photos are real ones (examples/ and the enhancement dataset's validation photos when
built), darkened 3 stops and resized to 4000×3000.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LHE = [sys.executable, "-m", "lhe.cli"]

CLAHE_SCRIPT = r"""
import sys, cv2
for source, target in zip(sys.argv[1::2], sys.argv[2::2]):
    bgr = cv2.imread(source, cv2.IMREAD_COLOR)
    lab = cv2.cvtColor(bgr, cv2.COLOR_BGR2LAB)
    lab[..., 0] = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(lab[..., 0])
    cv2.imwrite(target, cv2.cvtColor(lab, cv2.COLOR_LAB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95])
"""


def source_photos() -> list[Path]:
    photos = [REPO / "examples" / n for n in ("dark_bar.jpg", "dark_pool.jpg", "bridge.jpg")]
    try:
        from lhe_training.sources import photo_paths

        photos += photo_paths("val")[:3]
    except Exception:  # dataset not built: reuse the examples
        photos += photos
    return photos[:6]


def make_inputs(folder: Path) -> list[Path]:
    import numpy as np
    from PIL import Image

    from lhe.color import linear_to_srgb, srgb_to_linear

    paths = []
    for index, photo in enumerate(source_photos()):
        with Image.open(photo) as image:
            pixels = np.asarray(image.convert("RGB").resize((4000, 3000), Image.BILINEAR), dtype=np.float32) / 255
        dark = linear_to_srgb(srgb_to_linear(pixels) / 8)
        path = folder / f"photo{index}.jpg"
        Image.fromarray((dark * 255 + 0.5).astype(np.uint8)).save(path, quality=92)
        paths.append(path)
    return paths


def timed(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``command`` in its own process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(command)}\n{process.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="bilateral-grid,band-recursive")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    models = args.models.split(",")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        # Made in a child process: ru_maxrss of a forked child counts the parent's pages, so
        # the measuring process must stay small.
        subprocess.run([sys.executable, __file__, "--make-inputs", str(root)], check=True)
        inputs = sorted(root.glob("photo*.jpg"))
        out = root / "out"

        def best(command: list[str]) -> tuple[float, float]:
            runs = []
            for _ in range(args.repeats):
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                runs.append(timed(command))
            return min(runs)

        pairs = [str(a) for p in inputs for a in (p, out / p.name)]
        clahe = best([sys.executable, "-c", CLAHE_SCRIPT, *pairs])
        batch = best([*LHE, "enhance", *map(str, inputs), "-o", f"{out}/", "--quiet", "--model", models[0]])
        single = best([*LHE, "enhance", str(inputs[0]), "-o", f"{out}/", "--quiet", "--model", models[0]])
        help_time = min(timed([*LHE, "--help"])[0] for _ in range(3))
        print(f"six 12 MP JPEGs, one process each, best of {args.repeats} (2 CPU cores)")
        print(f"{'run':<44} {'wall s':>7} {'peak MB':>8}")
        print(f"{'OpenCV CLAHE on L* (script)':<44} {clahe[0]:7.2f} {clahe[1]:8.0f}")
        print(f"{'lhe enhance --model ' + models[0]:<44} {batch[0]:7.2f} {batch[1]:8.0f}")
        print(f"batch wall-time ratio lhe/CLAHE: {batch[0] / clahe[0]:.2f} (target <= 1.5)")
        print(f"batch peak memory: {batch[1]:.0f} MB (target <= 800)")
        print(f"one-image latency incl. start-up: {single[0]:.2f} s (target <= 3)")
        print(f"lhe --help: {help_time:.2f} s (target <= 0.5)")
        for model in models[1:]:
            wall, peak = best([*LHE, "enhance", str(inputs[0]), "-o", f"{out}/", "--quiet", "--model", model])
            target = " (target <= 15 s, <= 2048 MB)" if model == "band-recursive" else ""
            print(f"one 12 MP JPEG with {model}: {wall:.1f} s, peak {peak:.0f} MB{target}")
        try:
            import torch

            if torch.cuda.is_available():
                for model in models:
                    wall, _ = best([*LHE, "enhance", str(inputs[0]), "-o", f"{out}/", "--quiet", "--model", model, "--device", "cuda"])
                    print(f"one 12 MP JPEG with {model} on CUDA: {wall:.2f} s")
        except ImportError:
            pass


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--make-inputs":
        make_inputs(Path(sys.argv[2]))
    else:
        main()
