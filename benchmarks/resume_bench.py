"""Resuming an interrupted batch: a 40-image `lhe enhance` stopped halfway, re-run with --skip-existing.

Run:  python benchmarks/resume_bench.py [--model bilateral-grid] [--signal INT|KILL] [--size 4000x3000] [--repeats 2]
Measures, each `lhe` in its own process, after one warm-up run (so a first-ever run's compile
of the numba kernels is not counted):
- the whole batch of 40 photos into an empty folder (wall time T, best of the repeats);
- the same batch into another folder, stopped with SIGINT (Ctrl-C) or SIGKILL once 20 outputs
  exist, then re-run with --skip-existing (wall time R of the re-run, best of the repeats).
Targets: R / T <= 0.60, the re-run exits 0, all 40 outputs readable, no `.lhe-*` temporary
file left. The photos are real ones (examples/), darkened 3 stops, resized to a camera's
12 MP (by default) and shifted so each file differs. The start-up of `lhe enhance` (about 2.5 s
on 2 cores, mostly loading the numba runtime) is paid by both runs, so R / T is a little
above 0.5 even when the re-run does exactly the missing half.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LHE = [sys.executable, "-m", "lhe.cli"]
COUNT = 40


def make_inputs(folder: Path, size: tuple[int, int]) -> None:
    import numpy as np
    from PIL import Image

    from lhe.color import linear_to_srgb, srgb_to_linear

    sources = [REPO / "examples" / n for n in ("dark_bar.jpg", "dark_pool.jpg", "bridge.jpg")]
    bases = []
    for source in sources:
        with Image.open(source) as image:
            pixels = np.asarray(image.convert("RGB").resize(size, Image.BILINEAR), dtype=np.float32) / 255
        bases.append(linear_to_srgb(srgb_to_linear(pixels) / 8))
    for index in range(COUNT):
        shifted = np.roll(bases[index % len(bases)], 37 * index, axis=1)
        Image.fromarray((shifted * 255 + 0.5).astype(np.uint8)).save(folder / f"IMG_{index:04d}.jpg", quality=92)


def timed(command: list[str]) -> tuple[float, int]:
    start = time.perf_counter()
    code = subprocess.run(command, stdout=subprocess.DEVNULL).returncode
    return time.perf_counter() - start, code


def interrupt_halfway(command: list[str], out: Path, signum: int) -> tuple[int, int]:
    """Start ``command``, send ``signum`` once half the outputs exist; (outputs, exit code)."""
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    while process.poll() is None:
        if out.is_dir() and sum(not p.name.startswith(".") for p in out.iterdir()) >= COUNT // 2:
            process.send_signal(signum)
            break
        time.sleep(0.01)
    code = process.wait()
    return sum(not p.name.startswith(".") for p in out.iterdir()), code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model for lhe enhance (default: the shipped default)")
    parser.add_argument("--signal", choices=["INT", "KILL"], default="INT")
    parser.add_argument("--size", default="4000x3000", help="WxH of the generated photos")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    options = ["--quiet"] + (["--model", args.model] if args.model else []) + (["--workers", str(args.workers)] if args.workers else [])
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        shoot = root / "shoot"
        shoot.mkdir()
        subprocess.run([sys.executable, __file__, "--make-inputs", str(shoot), args.size], check=True)
        warm, code = timed([*LHE, "enhance", str(shoot / "IMG_0000.jpg"), "-o", str(root / "warm.jpg"), *options])
        if code:
            raise SystemExit(f"the warm-up run failed (exit {code})")
        signum = signal.SIGINT if args.signal == "INT" else signal.SIGKILL
        wholes, reruns, problems = [], [], []
        for repeat in range(args.repeats):
            whole, code = timed([*LHE, "enhance", str(shoot), "-o", f"{root / f'whole{repeat}'}/", *options])
            if code:
                raise SystemExit(f"the whole batch failed (exit {code})")
            wholes.append(whole)
            out = root / f"resumed{repeat}"
            stopped_at, stop_code = interrupt_halfway([*LHE, "enhance", str(shoot), "-o", f"{out}/", *options], out, signum)
            left = sum(p.name.startswith(".lhe-") for p in out.iterdir())
            rerun, rerun_code = timed([*LHE, "enhance", str(shoot), "-o", f"{out}/", "--skip-existing", *options])
            reruns.append(rerun)
            outputs = sorted(p for p in out.iterdir() if not p.name.startswith("."))
            temporaries = sum(p.name.startswith(".lhe-") for p in out.iterdir())
            from lhe.io import read_image

            readable = sum(read_image(p).width == size[0] for p in outputs)
            print(f"run {repeat + 1}: whole {whole:6.2f} s; stopped with SIG{args.signal} after {stopped_at} outputs "
                  f"(exit {stop_code}, {left} temporary files left); re-run {rerun:6.2f} s, exit {rerun_code}, "
                  f"{readable}/{COUNT} outputs readable, {temporaries} temporary files after")
            if rerun_code or readable != COUNT or temporaries:
                problems.append(repeat + 1)
        whole, rerun = min(wholes), min(reruns)
    ratio = rerun / whole
    print(f"{COUNT} photos {size[0]}x{size[1]}, lhe enhance {' '.join(options)}, {os.cpu_count()} CPU cores, "
          f"best of {args.repeats}; warm-up (one photo, start-up included) {warm:.2f} s")
    print(f"whole batch {whole:.2f} s, re-run with --skip-existing after SIG{args.signal} halfway {rerun:.2f} s")
    ok = ratio <= 0.60 and not problems
    print(f"resume ratio re-run/whole: {ratio:.3f}  (target <= 0.60, exit 0, {COUNT} outputs, no temporary file: "
          f"{'PASS' if ok else 'FAIL'}{'' if not problems else f'; runs with problems: {problems}'})")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--make-inputs":
        make_inputs(Path(sys.argv[2]), tuple(int(v) for v in sys.argv[3].split("x")))
    else:
        main()
