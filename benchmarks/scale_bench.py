"""Scaling out: the Ray engine's overhead against the local engine, and 10⁵ photos on paper.

Run:  python benchmarks/scale_bench.py [--count 200] [--size 640x480] [--workers 2]
                                       [--gpu-seconds S] [--photos 100000]
Measures, each `lhe enhance` in its own process as a user runs it, after one warm-up run of
each engine (numba's compiled kernels cached on disk, as on any machine after its first run):
- a 2-CPU local Ray cluster started by this script on 127.0.0.1 (its start-up time is reported
  apart: a cluster is started once and serves many jobs; `--address` joins it);
- ``count`` small JPEGs through the local engine and through the Ray engine with the same
  ``--workers``: wall times L and R, best of the repeats. Target: R / L <= 1.3;
- each engine at ``count / 4`` and ``count`` images: fixed cost per job (process start, model
  and worker start) and cost per image, from the line through the two points;
- one 12 MP photo through the same steps (decode, enhance, encode) in one thread: the CPU
  seconds per 12 MP image, and from it the projected wall time of ``--photos`` 12 MP photos
  on N CPU workers (and on N GPU workers when ``--gpu-seconds`` gives a measured GPU time).
Projection assumptions, printed with it: workers scale linearly (each photo is independent,
one model load per worker); the Ray engine's measured per-image overhead on small images is
added per photo; the driver moves every photo in and its result out, so the job cannot be
faster than (input + output bytes) / driver bandwidth (``--driver-gbps``, default 10 Gb/s).
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LHE = [sys.executable, "-m", "lhe.cli"]


def make_inputs(folder: Path, count: int, size: tuple[int, int]) -> None:
    """``count`` distinct JPEGs of ``size`` cut from the example photos."""
    import numpy as np
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    bases = []
    for name in ("dark_bar.jpg", "dark_pool.jpg", "bridge.jpg"):
        with Image.open(REPO / "examples" / name) as image:
            bases.append(np.asarray(image.convert("RGB").resize(size, Image.BILINEAR)))
    for index in range(count):
        shifted = np.roll(bases[index % len(bases)], 13 * index, axis=1)
        Image.fromarray(shifted).save(folder / f"IMG_{index:04d}.jpg", quality=90)


def run_batch(inputs: Path, out: Path, workers: int, engine: str, address: str | None) -> float:
    shutil.rmtree(out, ignore_errors=True)
    command = [*LHE, "enhance", str(inputs), "-o", f"{out}/", "-j", str(workers), "-q", "--device", "cpu"]
    if engine == "ray":
        command += ["--engine", "ray", "--address", address]
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}): {result.stderr.strip()[-500:]}")
    return seconds


def per_image_12mp(folder: Path) -> float:
    """Seconds for one 12 MP photo (read, enhance, write) in one thread, best of 2."""
    import numpy as np
    from PIL import Image

    from lhe import api
    from lhe.device import share_cores
    from lhe.io import read_image, write_image

    share_cores(os.cpu_count() or 1)  # one thread, as one worker of many
    with Image.open(REPO / "examples" / "dark_bar.jpg") as image:
        Image.fromarray(np.asarray(image.convert("RGB").resize((4000, 3000), Image.BILINEAR))).save(folder / "12mp.jpg", quality=92)
    best = float("inf")
    for attempt in range(2):
        target = folder / f"12mp_out_{attempt}.jpg"
        start = time.perf_counter()
        write_image(api.enhance(read_image(folder / "12mp.jpg"), device="cpu"), target)
        best = min(best, time.perf_counter() - start)
    return best


def hours(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--size", default="640x480")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--gpu-seconds", type=float, default=None, help="measured GPU seconds per 12 MP photo, if any")
    parser.add_argument("--driver-gbps", type=float, default=10.0)
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.lower().split("x"))

    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # the cluster listens on 127.0.0.1 only
    os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")])
    import ray

    work = Path(tempfile.mkdtemp(prefix="lhe-scale-"))
    try:
        make_inputs(work / "in", args.count, size)
        make_inputs(work / "quarter", args.count // 4, size)
        make_inputs(work / "warm", 4, size)
        load = os.getloadavg()[0]

        start = time.perf_counter()
        context = ray.init(num_cpus=args.workers, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        cluster_start = time.perf_counter() - start
        address = context.address_info["gcs_address"]

        for engine in ("local", "ray"):  # warm-up: numba's disk cache, the OS page cache
            run_batch(work / "warm", work / "out", args.workers, engine, address)
        times: dict[tuple[str, str], float] = {}
        for _ in range(args.repeats):
            for engine in ("local", "ray"):
                for name in ("quarter", "in"):
                    seconds = run_batch(work / name, work / "out", args.workers, engine, address)
                    times[engine, name] = min(times.get((engine, name), float("inf")), seconds)
        ray.shutdown()
        twelve = per_image_12mp(work)
        input_bytes = (work / "12mp.jpg").stat().st_size
        output_bytes = (work / "12mp_out_0.jpg").stat().st_size
    finally:
        if ray.is_initialized():
            ray.shutdown()
        shutil.rmtree(work, ignore_errors=True)

    quarter, full = args.count // 4, args.count
    fits = {}
    for engine in ("local", "ray"):
        per_image = (times[engine, "in"] - times[engine, "quarter"]) / (full - quarter)
        fits[engine] = (times[engine, "in"] - per_image * full, per_image)
    ratio = times["ray", "in"] / times["local", "in"]
    print(f"machine: {os.cpu_count()} cores, load average {load:.2f} at the start; {args.count} JPEGs of {size[0]}x{size[1]}, "
          f"--workers {args.workers}, best of {args.repeats}")
    print(f"local Ray cluster start-up (once per cluster, not per job): {cluster_start:.1f} s")
    print(f"local engine: {times['local', 'in']:.1f} s;  Ray engine on the running cluster: {times['ray', 'in']:.1f} s")
    print(f"engine overhead, Ray / local wall time: {ratio:.2f}x (target <= 1.3x); "
          f"with the cluster's start-up counted: {(times['ray', 'in'] + cluster_start) / times['local', 'in']:.2f}x")
    for engine, (fixed, per_image) in fits.items():
        print(f"{engine:>5}: fixed cost per job {fixed:.1f} s, per image {per_image * 1000:.1f} ms wall "
              f"({per_image * args.workers * 1000:.1f} ms worker time) at {size[0]}x{size[1]}")
    overhead = max(0.0, fits["ray"][1] - fits["local"][1]) * args.workers  # worker-seconds per image the engine adds
    print(f"12 MP photo, one thread (read, enhance, write): {twelve:.2f} s; in {input_bytes / 1e6:.1f} MB, out {output_bytes / 1e6:.1f} MB")
    print(f"projection for {args.photos:,} 12 MP photos (assumptions: linear scaling over independent photos; "
          f"+{overhead * 1000:.0f} ms engine overhead per photo as measured; fixed cost {fits['ray'][0]:.0f} s; "
          f"the driver moves {input_bytes / 1e6 + output_bytes / 1e6:.1f} MB per photo at {args.driver_gbps:g} Gb/s):")
    floor = args.photos * (input_bytes + output_bytes) * 8 / (args.driver_gbps * 1e9)
    per_photo_cpu = twelve + overhead
    for n in (1, 2, 8, 32, 128, 512):
        cpu = fits["ray"][0] + max(args.photos * per_photo_cpu / n, floor)
        line = f"  N = {n:>3}: CPU workers {hours(cpu)}"
        if args.gpu_seconds is not None:
            gpu = fits["ray"][0] + max(args.photos * (args.gpu_seconds + overhead) / n, floor)
            line += f";  GPU workers {hours(gpu)}"
        print(line)
    if args.gpu_seconds is None:
        print("  GPU workers: not projected, no GPU measured here (pass --gpu-seconds with a measured time per 12 MP photo)")
    print(f"  (driver bandwidth floor: {hours(floor)} for all photos)")


if __name__ == "__main__":
    main()
