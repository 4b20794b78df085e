"""lhe's image I/O against plain Pillow on a 12-megapixel JPEG: read + write wall time and peak memory.

Run:  python benchmarks/io_bench.py  [--photo PATH] [--repeats N]
The photo (default: examples/bridge.jpg upscaled to 4000×3000, a real photograph's content)
is decoded and re-encoded at JPEG quality 95 by both paths; each path runs in its own
process for the peak-memory figure (ru_maxrss). Target: lhe / Pillow wall time ≤ 1.1.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def make_photo(source: Path, target: Path) -> None:
    from PIL import Image

    with Image.open(source) as image:
        image.convert("RGB").resize((4000, 3000), Image.LANCZOS).save(target, quality=92)


def run_pillow(source: Path, target: Path) -> None:
    from PIL import Image

    with Image.open(source) as image:
        image.load()
        image.save(target, "JPEG", quality=95, exif=image.info.get("exif", b""), icc_profile=image.info.get("icc_profile"))


def run_lhe(source: Path, target: Path) -> None:
    from lhe.io import read_image, write_image

    write_image(read_image(source), target, quality=95, overwrite=True)


def child(which: str, source: str, target: str, repeats: int) -> None:
    run = run_lhe if which == "lhe" else run_pillow
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(Path(source), Path(target))
        times.append(time.perf_counter() - start)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"best_s": min(times), "median_s": sorted(times)[len(times) // 2], "peak_mb": peak_mb}))


def measure(which: str, source: Path, target: Path, repeats: int) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", which, str(source), str(target), str(repeats)],
        check=True, capture_output=True, text=True,
    )
    return json.loads(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", type=Path, default=REPO / "examples" / "bridge.jpg")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source, target = Path(folder) / "12mp.jpg", Path(folder) / "out.jpg"
        make_photo(args.photo, source)
        baseline = measure("pillow", source, target, args.repeats)
        ours = measure("lhe", source, target, args.repeats)
    print(f"12 MP JPEG read+write (quality 95), best of {args.repeats}, separate processes")
    print(f"{'path':<8} {'best s':>8} {'median s':>9} {'peak MB':>8}")
    for name, result in (("pillow", baseline), ("lhe", ours)):
        print(f"{name:<8} {result['best_s']:8.3f} {result['median_s']:9.3f} {result['peak_mb']:8.0f}")
    ratio = ours["best_s"] / baseline["best_s"]
    print(f"wall-time ratio lhe/pillow: {ratio:.3f}  (target <= 1.10: {'PASS' if ratio <= 1.10 else 'FAIL'})")
    print(f"peak-memory ratio lhe/pillow: {ours['peak_mb'] / baseline['peak_mb']:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    else:
        main()
