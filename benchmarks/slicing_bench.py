"""Bilateral-grid slice+apply: fused kernels against the torch reference.

Prints, for a 12-megapixel (4000×3000) float32 image on this machine's CPU:
  * wall time of the fused numba kernel and of the torch reference (best of N), and the ratio
    (target: fused ≥ 20× faster), plus the process CPU time of each (user + system, all
    threads), which is less disturbed when other jobs share the CPUs;
  * extra peak resident memory of each, and its ratio to one float32 copy of the image (target
    for the fused kernel: ≤ 1.0). Measured as the rise of the process's peak RSS (VmHWM, reset
    through /proc/self/clear_refs before each run) above the RSS before the call, so it counts
    every allocation: torch's, numba's and the output (the fused kernel's only image-sized
    allocation is its output, so its target is met at 1.00 copies plus small row buffers);
  * the numba kernel's one-off cost in a fresh process: import + first call with an empty cache
    (compile) and again with the cache filled (what `lhe enhance` pays);
  * the same for the fused guide + slice + apply that the model runs in eval mode.
With a CUDA device it also reports the Triton kernel's effective memory bandwidth as a fraction
of the device's peak, on the random image (worst case: no two neighbours share a depth bin) and
on a photograph (examples/bridge.jpg resized), and the end-to-end 4K (3840×2160) model time.

Usage:
    python benchmarks/slicing_bench.py [--width 4000 --height 3000 --repeats 3]
"""

from __future__ import annotations

import argparse
import gc
import os
import subprocess
import sys
import tempfile
import time

import torch

from lhe import kernels
from lhe.kernels import reference
from lhe.models import create_model

_FIRST_CALL = """
import time
t0 = time.perf_counter()
import torch
t1 = time.perf_counter()
from lhe.kernels import cpu
g, im, gd = torch.zeros(1, 12, 8, 16, 16), torch.rand(1, 3, 16, 16), torch.rand(1, 16, 16)
cpu.slice_and_apply(g, gd, im)
t2 = time.perf_counter()
print(f"{t1 - t0:.3f} {t2 - t1:.3f}")
"""


def _status_mib(key: str) -> float:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"{key} not in /proc/self/status")


def measure(fn, repeats: int) -> tuple[float, float, float]:
    """Best wall time (s) and best process CPU time (s) of ``repeats`` calls, and the extra
    peak RSS (MiB) of the first call."""
    gc.collect()
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")  # reset VmHWM to the current RSS
    before = _status_mib("VmRSS")
    best_wall = best_cpu = float("inf")
    for i in range(repeats):
        gc.collect()
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
        if i == 0:
            extra = _status_mib("VmHWM") - before
        del out
    return best_wall, best_cpu, extra


def first_call_seconds() -> tuple[float, float, float]:
    """(torch import, first call with an empty numba cache, first call with a filled cache)."""
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        runs = [
            subprocess.run([sys.executable, "-c", _FIRST_CALL], env=env, capture_output=True, text=True, check=True)
            for _ in range(2)
        ]
    cold, warm = (r.stdout.split() for r in runs)
    return float(warm[0]), float(cold[1]), float(warm[1])


def _photo(height: int, width: int) -> torch.Tensor:
    """``examples/bridge.jpg`` resized to ``height × width``, ``(1, 3, H, W)`` in [0, 1]."""
    from pathlib import Path

    import numpy as np
    from PIL import Image

    path = Path(__file__).resolve().parents[1] / "examples" / "bridge.jpg"
    with Image.open(path) as photo:
        rgb = photo.convert("RGB").resize((width, height), Image.BICUBIC)
    return torch.from_numpy(np.asarray(rgb, dtype=np.float32) / 255.0).permute(2, 0, 1)[None].contiguous()


def cuda_report(grid: torch.Tensor, guide: torch.Tensor, image: torch.Tensor) -> None:
    """Triton bandwidth as a fraction of peak, on random pixels and on a photograph, and 4K model time.

    Random pixels put every pixel in an unrelated depth bin, the kernel's worst case; a photograph's
    guide is smooth, so neighbouring pixels share grid cells.
    """
    device = torch.device("cuda")
    props = torch.cuda.get_device_properties(device)
    # Double data rate: 2 transfers per memory clock (kHz) over the bus width (bits).
    peak = 2 * props.memory_clock_rate * 1e3 * props.memory_bus_width / 8
    grid = grid.to(device)
    copy_src = torch.empty(image.numel() * 2, device=device)

    def timed(fn, repeats: int = 20) -> float:
        fn()
        torch.cuda.synchronize()
        times = []
        for _ in range(repeats):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 1e3)
        return sorted(times)[len(times) // 2]

    t_copy = timed(lambda: copy_src.clone())
    bw_copy = copy_src.numel() * copy_src.element_size() * 2 / t_copy
    print(f"CUDA device: {props.name}; peak memory bandwidth {peak / 1e9:.0f} GB/s (clock × bus width)")
    print(f"  device-to-device copy      {bw_copy / 1e9:8.0f} GB/s = {bw_copy / peak:.2f} of peak")
    params = create_model("bilateral-grid").to(device).guide_params()
    photo = _photo(image.shape[2], image.shape[3]).to(device)
    with torch.no_grad():
        photo_guide = reference.compute_guide(photo, params)
    for name, (guide_in, image_in) in {"random pixels": (guide.to(device), image.to(device)),
                                       "photograph": (photo_guide, photo)}.items():
        pixels = image_in.shape[0] * image_in.shape[2] * image_in.shape[3]
        item = image_in.element_size()
        t_slice = timed(lambda: kernels.slice_and_apply(grid, guide_in, image_in, backend="triton"))
        bw_slice = pixels * 7 * item / t_slice  # read 3 channels + guide, write 3 channels
        t_fused = timed(lambda: kernels.guide_slice_and_apply(grid, image_in, params, backend="triton"))
        bw_fused = pixels * 6 * item / t_fused  # read 3 channels, write 3 channels
        print(f"  {name}:")
        print(f"    triton slice+apply       {t_slice * 1e3:8.3f} ms, {bw_slice / 1e9:6.0f} GB/s = {bw_slice / peak:.2f} of peak")
        print(f"    triton guide+slice+apply {t_fused * 1e3:8.3f} ms, {bw_fused / 1e9:6.0f} GB/s = {bw_fused / peak:.2f} of peak")
    model = create_model("bilateral-grid").to(device).eval()
    x4k = torch.rand(1, 3, 2160, 3840, device=device)
    with torch.inference_mode():
        t_model = timed(lambda: model(x4k))
    print(f"  bilateral-grid model, 4K (3840×2160) end to end: {t_model * 1e3:.2f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=4000)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of the fused kernels (best kept)")
    parser.add_argument("--reference-repeats", type=int, default=2, help="timed runs of the torch reference")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    h, w = args.height, args.width
    identity = torch.zeros(1, 12, 8, 16, 16)
    identity[:, [0, 5, 10]] = 1.0
    grid = identity + 0.1 * torch.randn(1, 12, 8, 16, 16)
    image = torch.rand(1, 3, h, w)
    guide = torch.rand(1, h, w)
    params = create_model("bilateral-grid").guide_params()
    params = reference.GuideParams(*(p.detach() for p in params))
    image_mib = image.numel() * image.element_size() / 2**20
    print(f"image {w}×{h} float32 = {image_mib:.0f} MiB; torch threads {torch.get_num_threads()}")

    import_s, cold_s, warm_s = first_call_seconds()
    print(
        f"numba first call in a fresh process: {cold_s:.2f} s with an empty cache (compile), "
        f"{warm_s:.2f} s with the cache (import torch alone: {import_s:.2f} s)"
    )

    kernels.slice_and_apply(grid, guide[:, :8, :8].contiguous(), image[:, :, :8, :8].contiguous(), backend="cpu")
    with torch.no_grad():
        rows = {
            "slice+apply": (
                measure(lambda: kernels.slice_and_apply(grid, guide, image, backend="cpu"), args.repeats),
                measure(lambda: reference.slice_and_apply(grid, guide, image), args.reference_repeats),
            ),
            "guide+slice+apply": (
                measure(lambda: kernels.guide_slice_and_apply(grid, image, params, backend="cpu"), args.repeats),
                measure(lambda: reference.guide_slice_and_apply(grid, image, params), args.reference_repeats),
            ),
        }
    print(
        f"{'':18s} {'fused s':>8s} {'torch s':>8s} {'speed-up':>9s} {'fused cpu-s':>11s} {'torch cpu-s':>11s} "
        f"{'cpu ratio':>9s} {'fused MiB':>9s} {'torch MiB':>9s}"
    )
    for name, ((t_fused, c_fused, m_fused), (t_ref, c_ref, m_ref)) in rows.items():
        print(
            f"{name:18s} {t_fused:8.3f} {t_ref:8.3f} {t_ref / t_fused:8.1f}× {c_fused:11.3f} {c_ref:11.3f} "
            f"{c_ref / c_fused:8.1f}× {m_fused:9.0f} {m_ref:9.0f}"
        )
    (t_fused, c_fused, m_fused), (t_ref, c_ref, _) = rows["slice+apply"]
    speedup = t_ref / t_fused
    # The output is the one image-sized allocation the fused kernel makes; allow 1% for row buffers.
    memory_ok = m_fused <= 1.01 * image_mib
    print(
        f"targets: wall speed-up ≥ 20× -> {speedup:.1f}× ({'met' if speedup >= 20 else 'NOT met'}; "
        f"CPU-time ratio {c_ref / c_fused:.1f}×); extra peak memory ≤ 1 image copy -> "
        f"{m_fused / image_mib:.3f} copies = the output + {m_fused - image_mib:.1f} MiB ({'met' if memory_ok else 'NOT met'})"
    )
    load = os.getloadavg()[0]
    print(f"1-minute load average during the run: {load:.1f} on {os.cpu_count()} CPUs (wall times include waiting for a CPU)")

    if torch.cuda.is_available():
        cuda_report(grid, guide, image)
    else:
        print("CUDA: skipped (no CUDA device on this machine)")


if __name__ == "__main__":
    main()
