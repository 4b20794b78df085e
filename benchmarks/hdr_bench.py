"""Accuracy, speed and memory of lhe's exposure merge and tone mapping against OpenCV.

Accuracy: every real HDR image (``lhe_training.sources.hdri_paths("train") + ("val")``, or
``--hdri FILES``) is turned into a −2/0/+2 EV bracket through an sRGB camera (Poisson–Gaussian
sensor noise, sRGB encoding — or ``--camera gamma1.8|gamma2.6|filmic`` — and 8-bit quantisation); a second variant adds a 1–3 % random camera
translation per frame and a moving patch. Each method's merge is compared with the truth as the
RMS log2 error of luminance over the well-exposed range (pixels the bracket records between its
noise floor and its clipping level). A calibrated response fixes radiance only up to a global
scale, so each method's median log ratio is removed first (the same for all methods).

Speed and memory: a 12-megapixel 3-frame JPEG bracket is written to a temporary folder; the lhe
merge (response "auto", alignment and ghost removal on) and OpenCV's CalibrateDebevec +
MergeDebevec each run in their own fresh process, which reads the JPEGs, times the merge, and
reports its own peak resident memory (VmHWM; one-off import and kernel-loading times are reported
separately, the merge call is what is compared). Tone mapping
times ``lhe.hdr.tonemap.tonemap(method="local")`` against ``cv2.createTonemapReinhard().process`` on
the same 12-megapixel float32 image (the default photographic operator is timed too).

Exposure fusion (``--fuse``, the issue's 16 × 12 MP case): a 16-frame tripod JPEG bracket
(4000×3000, half-stop steps from −4 to +3.5 EV, same camera model) is fused by
``lhe.hdr.fuse_exposures_Mertens2007`` (defaults: alignment and ghost removal on, exposure
times given) and by OpenCV's ``MergeMertens``, each in a fresh process that reads the JPEGs,
times the call (wall and process CPU time, all threads) and reports its peak resident memory.
On a machine other jobs share, the two alternate run by run and each pair's ratio is printed;
the median ratio is the number to compare with the target (≤ 1.0× OpenCV's time, ≤ 1.5 GB).

Run: ``python benchmarks/hdr_bench.py`` (``--quick`` for fewer images and repeats;
``--fuse-only`` for the fusion benchmark alone, ``--skip-fuse`` without it).
OpenCV is a baseline here only; lhe never imports it.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lhe.color import linear_to_srgb, luminance

EXPOSURES = (0.25, 1.0, 4.0)  # −2, 0, +2 EV; the middle frame is the reference
NOISE_SHOT = 2e-4  # variance per unit signal (linear, 1 = clipping): ~5000 electrons full well
NOISE_READ = 1e-6  # read-noise variance


def read_exr(path: Path) -> np.ndarray:
    """Scene-linear RGB of an EXR file, float32, negatives (lossy DWAB compression) clamped to 0."""
    import OpenEXR

    with OpenEXR.File(str(path)) as exr:
        channels = exr.channels()
        if "RGB" in channels:
            rgb = channels["RGB"].pixels
        elif "RGBA" in channels:
            rgb = channels["RGBA"].pixels[..., :3]
        else:
            rgb = np.stack([channels[c].pixels for c in "RGB"], axis=-1)
    return np.clip(np.nan_to_num(rgb.astype(np.float32), posinf=0.0), 0, None)


CAMERAS = {
    "srgb": linear_to_srgb,
    "gamma1.8": lambda x: np.power(x, 1 / 1.8),
    "gamma2.6": lambda x: np.power(x, 1 / 2.6),
    "filmic": lambda x: np.power(np.log1p(16 * x) / np.log1p(16), 1.2),
}
CAMERA = "srgb"  # --camera


def encode_camera8(linear: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera: Poisson–Gaussian noise on linear values, clip at 1, tone curve (sRGB unless
    ``--camera`` says otherwise), 8 bits."""
    noisy = linear + rng.standard_normal(linear.shape, dtype=np.float32) * np.sqrt(
        NOISE_SHOT * np.clip(linear, 0, 1) + NOISE_READ
    ).astype(np.float32)
    encoded = CAMERAS[CAMERA](np.clip(noisy, 0, 1))
    return np.clip(np.rint(encoded * 255), 0, 255).astype(np.uint8)


def normalise_scene(hdr: np.ndarray) -> np.ndarray:
    """Scale so the reference exposure puts the median luminance at 0.18 (mid-grey)."""
    median = float(np.median(luminance(hdr)))
    return hdr * np.float32(0.18 / max(median, 1e-8))


def bracket_static(scene: np.ndarray, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    return [encode_camera8(scene * np.float32(e), rng) for e in EXPOSURES], scene


def bracket_moving(scene: np.ndarray, rng: np.random.Generator) -> tuple[list[np.ndarray], np.ndarray]:
    """Hand-held bracket: each non-reference frame translated by 1–3 % of the width, plus a patch
    of the scene (brightness changed by up to ±2 stops) that moves between frames."""
    height, width = scene.shape[:2]
    margin = int(np.ceil(0.035 * width))
    inner_h, inner_w = height - 2 * margin, width - 2 * margin
    size = max(8, int(0.12 * min(inner_h, inner_w)))
    source_y, source_x = rng.integers(0, height - size), rng.integers(0, width - size)
    patch = scene[source_y : source_y + size, source_x : source_x + size] * np.float32(2 ** rng.uniform(-2, 2))
    base_y, base_x = rng.integers(0, inner_h - size), rng.integers(0, inner_w - size)
    frames, truth = [], None
    for index, e in enumerate(EXPOSURES):
        if index == 1:
            dy = dx = 0
            py, px = base_y, base_x
        else:
            angle = rng.uniform(0, 2 * np.pi)
            radius = rng.uniform(0.01, 0.03) * width
            dy, dx = int(round(radius * np.sin(angle))), int(round(radius * np.cos(angle)))
            dy = int(np.clip(dy, -margin, margin))
            py = int(np.clip(base_y + rng.integers(-size, size + 1), 0, inner_h - size))
            px = int(np.clip(base_x + rng.integers(-size, size + 1), 0, inner_w - size))
        view = scene[margin + dy : margin + dy + inner_h, margin + dx : margin + dx + inner_w].copy()
        view[py : py + size, px : px + size] = patch
        if index == 1:
            truth = view
        frames.append(encode_camera8(view * np.float32(e), rng))
    return frames, truth


def log_error(estimate: np.ndarray, truth: np.ndarray) -> float:
    """RMS log2 luminance error over the well-exposed range, after removing the median log ratio."""
    y_true = luminance(truth)
    y_est = luminance(np.clip(np.nan_to_num(estimate, nan=0.0, posinf=0.0), 0, None))
    recorded = (y_true * max(EXPOSURES) >= 2.0**-8) & (truth.max(axis=2) * min(EXPOSURES) <= 0.95)
    mask = recorded & (y_est > 0)
    if mask.sum() < 100:
        return float("nan")
    diff = np.log2(y_est[mask]) - np.log2(y_true[mask])
    diff -= np.median(diff)
    # Pixels the method left at 0 in the recorded range count as a 10-stop error.
    missing = int((recorded & ~(y_est > 0)).sum())
    return float(np.sqrt((np.sum(diff**2) + missing * 100.0) / (mask.sum() + missing)))


def merge_lhe(frames: list[np.ndarray], response: str = "auto") -> np.ndarray:
    from lhe.hdr import merge_exposures

    return merge_exposures(frames, list(EXPOSURES), response=response)


def merge_opencv(frames: list[np.ndarray], align: bool = False) -> np.ndarray:
    import cv2

    bgr = [np.ascontiguousarray(f[..., ::-1]) for f in frames]
    if align:
        cv2.createAlignMTB().process(bgr, bgr)
    times = np.asarray(EXPOSURES, np.float32) / 60
    response = cv2.createCalibrateDebevec().process(bgr, times)
    return cv2.createMergeDebevec().process(bgr, times, response)[..., ::-1]


METHODS = {
    "lhe auto": lambda f: merge_lhe(f, "auto"),
    "lhe srgb": lambda f: merge_lhe(f, "srgb"),
    "OpenCV Debevec": lambda f: merge_opencv(f),
    "OpenCV AlignMTB+Debevec": lambda f: merge_opencv(f, align=True),
}


def hdri_list(paths: list[str] | None) -> list[Path]:
    if paths:
        return [Path(p) for p in paths]
    from lhe_training.sources import hdri_paths

    return list(hdri_paths("train")) + list(hdri_paths("val"))


def run_accuracy(paths: list[Path], seed: int) -> dict[str, dict[str, list[float]]]:
    results: dict[str, dict[str, list[float]]] = {"static": {}, "moving": {}}
    print(
        f"accuracy on {len(paths)} HDR images, bracket {EXPOSURES}, {CAMERA} camera "
        "(RMS log2 luminance error, stops)"
    )
    print(f"{'image':24s} {'variant':7s} " + " ".join(f"{m:>24s}" for m in METHODS))
    for number, path in enumerate(paths):
        scene = normalise_scene(read_exr(path))
        for variant, make in (("static", bracket_static), ("moving", bracket_moving)):
            rng = np.random.default_rng(seed + number)
            frames, truth = make(scene, rng)
            row = []
            for name, method in METHODS.items():
                error = log_error(method(frames), truth)
                results[variant].setdefault(name, []).append(error)
                row.append(error)
            label = path.stem if path.parent.name != "world" else f"blender/{path.stem}"
            print(f"{label[:24]:24s} {variant:7s} " + " ".join(f"{e:24.4f}" for e in row), flush=True)
    return results


def make_large_bracket(folder: Path, path: Path, seed: int) -> None:
    """A 12-megapixel 3-frame JPEG bracket (4000×3000) from an HDR image, hand-held (small shifts)."""
    import cv2
    from PIL import Image

    scene = normalise_scene(read_exr(path))
    big = cv2.resize(scene, (4200, 3200), interpolation=cv2.INTER_CUBIC).clip(0, None)
    rng = np.random.default_rng(seed)
    for index, e in enumerate(EXPOSURES):
        dy, dx = (0, 0) if index == 1 else tuple(rng.integers(-60, 61, size=2))
        view = big[100 + dy : 3100 + dy, 100 + dx : 4100 + dx]
        Image.fromarray(encode_camera8(view * np.float32(e), rng)).save(folder / f"frame{index}.jpg", quality=92)


FUSE_STOPS = tuple(np.arange(-4.0, 4.0, 0.5))  # 16 frames, half a stop apart


def make_fusion_bracket(folder: Path, path: Path, seed: int, frames: int) -> list[float]:
    """A ``frames``-frame 12-megapixel tripod JPEG bracket from an HDR image; returns the
    exposure times (relative, the middle frame's 1/60 s)."""
    import cv2
    from PIL import Image

    scene = normalise_scene(read_exr(path))
    big = np.ascontiguousarray(cv2.resize(scene, (4000, 3000), interpolation=cv2.INTER_CUBIC).clip(0, None))
    rng = np.random.default_rng(seed)
    stops = np.linspace(FUSE_STOPS[0], FUSE_STOPS[-1], frames) if frames != len(FUSE_STOPS) else np.asarray(FUSE_STOPS)
    for index, stop in enumerate(stops):
        Image.fromarray(encode_camera8(big * np.float32(2.0**stop), rng)).save(folder / f"fuse{index:02d}.jpg", quality=92)
    return [float(2.0**stop / 60) for stop in stops]


def fuse_worker(kind: str, folder: Path) -> None:
    """Child process: read the fusion bracket, time one fusion, print times and peak memory."""
    paths = sorted(folder.glob("fuse*.jpg"))
    times = json.loads((folder / "times.json").read_text())
    start = time.perf_counter()
    if kind == "lhe-fuse":
        from PIL import Image

        from lhe.hdr import fuse_exposures_Mertens2007

        # Load the compiled kernels outside the timed call (a small textured bracket).
        rng = np.random.default_rng(0)
        scene = np.repeat(rng.random((96, 128, 1)), 3, axis=2).astype(np.float32) * 0.5 + 0.05
        tiny = [encode_camera8(scene * np.float32(2.0**s), rng) for s in (-1, 0, 1)]
        fuse_exposures_Mertens2007(tiny, exposures=[0.5, 1.0, 2.0])
        warmed = time.perf_counter()
        frames = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
        read, cpu = time.perf_counter(), time.process_time()
        fused = fuse_exposures_Mertens2007(frames, exposures=times)
    else:
        import cv2

        warmed = time.perf_counter()
        frames = [cv2.imread(str(p)) for p in paths]
        read, cpu = time.perf_counter(), time.process_time()
        fused = cv2.createMergeMertens().process(frames)
    done, cpu = time.perf_counter(), time.process_time() - cpu
    print(json.dumps({
        "wall": done - read, "cpu": cpu, "startup": warmed - start, "peak_mb": peak_rss_mb(),
        "mean_level": float(np.clip(fused, 0, 1).mean() * 255), "frames": len(frames),
    }))


def run_fusion(path: Path, repeats: int, seed: int, frames: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        times = make_fusion_bracket(folder, path, seed, frames)
        (folder / "times.json").write_text(json.dumps(times))
        run_child("lhe-fuse", folder)  # first run on this machine may compile and cache kernels
        pairs = []
        for index in range(repeats):
            # Alternate which goes first, so a change in the machine's load hits both alike.
            order = ("lhe-fuse", "cv-fuse") if index % 2 == 0 else ("cv-fuse", "lhe-fuse")
            result = {kind: run_child(kind, folder) for kind in order}
            pairs.append(result)
            ours, theirs = result["lhe-fuse"], result["cv-fuse"]
            print(f"  run {index + 1}: lhe {ours['wall']:6.2f} s ({ours['cpu']:5.1f} CPU-s, {ours['peak_mb']:.0f} MB) | "
                  f"OpenCV {theirs['wall']:6.2f} s ({theirs['cpu']:5.1f} CPU-s, {theirs['peak_mb']:.0f} MB) | "
                  f"ratio {ours['wall'] / theirs['wall']:.2f} (CPU {ours['cpu'] / theirs['cpu']:.2f})", flush=True)
    ratios = [p["lhe-fuse"]["wall"] / p["cv-fuse"]["wall"] for p in pairs]
    cpu_ratios = [p["lhe-fuse"]["cpu"] / p["cv-fuse"]["cpu"] for p in pairs]
    print(f"\nfusion, {frames} × 12 MP JPEG bracket ({repeats} alternating pairs, fresh process per run):")
    print(f"  time lhe / OpenCV MergeMertens: median {statistics.median(ratios):.2f} (range {min(ratios):.2f}..{max(ratios):.2f}; "
          f"target ≤ 1.0); CPU time {statistics.median(cpu_ratios):.2f}")
    print(f"  median wall: lhe {statistics.median(p['lhe-fuse']['wall'] for p in pairs):.2f} s, "
          f"OpenCV {statistics.median(p['cv-fuse']['wall'] for p in pairs):.2f} s")
    print(f"  lhe peak memory (VmHWM, whole process incl. the decoded frames): "
          f"{max(p['lhe-fuse']['peak_mb'] for p in pairs):.0f} MB (target ≤ 1500); "
          f"OpenCV {max(p['cv-fuse']['peak_mb'] for p in pairs):.0f} MB")
    print(f"  mean output level: lhe {pairs[-1]['lhe-fuse']['mean_level']:.0f}, OpenCV {pairs[-1]['cv-fuse']['mean_level']:.0f}")


def peak_rss_mb() -> float:
    """This process's own peak resident memory (VmHWM). ``ru_maxrss`` is not used: Linux carries
    the parent's high-water mark into a forked and exec'd child."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(kind: str, folder: Path) -> None:
    """Child process: read the JPEG bracket, time one merge, print wall times and peak memory."""
    if kind.endswith("-fuse"):
        fuse_worker(kind, folder)
        return
    paths = sorted(folder.glob("frame*.jpg"))
    start = time.perf_counter()
    if kind == "lhe":
        from PIL import Image

        from lhe.hdr import merge_exposures

        imported = time.perf_counter()
        # First call in a process loads the compiled kernels (numba import + on-disk cache):
        # a small textured, shifted bracket, so alignment and ghost detection load theirs too.
        rng = np.random.default_rng(0)
        scene = np.repeat(rng.random((96, 128, 1)), 3, axis=2).astype(np.float32) * 0.5 + 0.05
        tiny = [encode_camera8(np.roll(scene, (i, -i), axis=(0, 1)) * np.float32(e), rng) for i, e in enumerate(EXPOSURES)]
        merge_exposures(tiny, list(EXPOSURES))
        warmed = time.perf_counter()
        frames = [np.asarray(Image.open(p).convert("RGB")) for p in paths]
        read = time.perf_counter()
        hdr = merge_exposures(frames, list(EXPOSURES), response="auto", align=True, deghost=True)
    else:
        import cv2

        imported = warmed = time.perf_counter()
        frames = [cv2.imread(str(p)) for p in paths]
        read = time.perf_counter()
        times = np.asarray(EXPOSURES, np.float32) / 60
        response = cv2.createCalibrateDebevec().process(frames, times)
        hdr = cv2.createMergeDebevec().process(frames, times, response)
    done = time.perf_counter()
    print(json.dumps({
        "wall": done - read,
        "import": imported - start,
        "startup": warmed - imported,
        "total": done - start,
        "peak_mb": peak_rss_mb(),
        "shape": list(hdr.shape),
    }))


def run_child(kind: str, folder: Path) -> dict:
    output = subprocess.run(
        [sys.executable, __file__, "--worker", kind, str(folder)], check=True, capture_output=True, text=True
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def run_speed(path: Path, repeats: int, seed: int) -> None:
    import cv2

    from lhe.hdr.tonemap import tonemap

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        make_large_bracket(folder, path, seed)
        cold = run_child("lhe", folder)  # first run on this machine may compile and cache kernels
        lhe_runs, cv_runs = [], []
        for _ in range(repeats):
            lhe_runs.append(run_child("lhe", folder))
            cv_runs.append(run_child("cv", folder))
    def median(runs: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in runs)

    lhe_wall, cv_wall = median(lhe_runs, "wall"), median(cv_runs, "wall")
    print(f"\nmerge, 12 MP 3-frame JPEG bracket ({repeats} runs each, fresh process per run, median wall):")
    print(f"  lhe merge_exposures (auto, align, deghost): {lhe_wall:6.2f} s")
    print(f"  OpenCV CalibrateDebevec+MergeDebevec:      {cv_wall:6.2f} s")
    print(f"  ratio lhe / OpenCV (merge call): {lhe_wall / cv_wall:.2f}  (target ≤ 0.5)")
    print(
        f"  one-off per process: lhe import {median(lhe_runs, 'import'):.2f} s + kernel load "
        f"{median(lhe_runs, 'startup'):.2f} s (first worker: {cold['startup']:.2f} s, compiles if the cache is empty); "
        f"cv2 import {median(cv_runs, 'import'):.2f} s"
    )
    lhe_total, cv_total = median(lhe_runs, "total"), median(cv_runs, "total")
    print(f"  whole process (import, read, merge): lhe {lhe_total:.2f} s, OpenCV {cv_total:.2f} s, ratio {lhe_total / cv_total:.2f}")
    peak = max(r["peak_mb"] for r in lhe_runs)
    print(f"  lhe peak memory (VmHWM, whole process incl. decoding and imports): {peak:.0f} MB  (target ≤ 600)")
    print(f"  OpenCV peak memory: {max(r['peak_mb'] for r in cv_runs):.0f} MB")

    scene = normalise_scene(read_exr(path))
    hdr = np.ascontiguousarray(cv2.resize(scene, (4000, 3000), interpolation=cv2.INTER_CUBIC).clip(0, None))
    reinhard = cv2.createTonemapReinhard()
    ours: dict[str, list[float]] = {"local": [], "photographic": []}
    theirs = []
    for method in ours:
        tonemap(hdr[:64, :64], method=method)
    for _ in range(repeats):
        for method, times in ours.items():
            start = time.perf_counter()
            tonemap(hdr, method=method)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        reinhard.process(hdr)
        theirs.append(time.perf_counter() - start)
    theirs_s = statistics.median(theirs)
    print(f"\ntonemap, 12 MP float32 ({repeats} runs each, median wall):")
    for method, times in ours.items():
        ours_s = statistics.median(times)
        print(f"  lhe tonemap(method={method!r}): {ours_s:6.2f} s, ratio to OpenCV {ours_s / theirs_s:.2f}"
              + ("  (target ≤ 0.5)" if method == "local" else ""))
    print(f"  OpenCV TonemapReinhard:       {theirs_s:6.2f} s")


def write_gallery(paths: list[Path], folder: Path) -> None:
    """Tone-map the blender HDRIs with the default operator to JPEGs (≤ 200 KB) for the README."""
    from PIL import Image

    from lhe.hdr.tonemap import tonemap

    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        name = path.stem.split("__")[-1]
        from_blender = path.stem.startswith("blender") or path.parent.name == "world"
        if name not in GALLERY or not from_blender:
            continue
        picture = tonemap(read_exr(path))
        target = folder / f"tonemap_{name}.jpg"
        for quality in (88, 80, 70):
            Image.fromarray(np.rint(picture * 255).astype(np.uint8)).save(target, quality=quality, optimize=True)
            if target.stat().st_size <= 200_000:
                break
        print(f"wrote {target} ({target.stat().st_size // 1024} KB)")


GALLERY = ("courtyard", "forest", "sunset")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hdri", nargs="*", help="EXR files (default: lhe training + validation HDRIs)")
    parser.add_argument("--quick", action="store_true", help="4 images, 1 speed run")
    parser.add_argument("--skip-accuracy", action="store_true")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gallery", type=Path, help="only write the tone-mapped gallery JPEGs to this folder")
    parser.add_argument("--camera", choices=sorted(CAMERAS), default="srgb", help="simulated camera tone curve")
    parser.add_argument("--fuse-only", action="store_true", help="only the 16 × 12 MP exposure-fusion benchmark")
    parser.add_argument("--skip-fuse", action="store_true", help="skip the exposure-fusion benchmark")
    parser.add_argument("--fuse-frames", type=int, default=16, help="frames of the fusion bracket")
    parser.add_argument("--worker", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global CAMERA
    CAMERA = args.camera
    if args.worker:
        worker(args.worker[0], Path(args.worker[1]))
        return 0
    paths = hdri_list(args.hdri)
    if not paths:
        print("no HDR images: build data with `python -m lhe_training.sources` or pass --hdri FILES", file=sys.stderr)
        return 2
    if args.gallery:
        write_gallery(paths, args.gallery)
        return 0
    big = next((p for p in paths if p.stem.endswith("city")), paths[0])
    if args.fuse_only:
        run_fusion(big, args.repeats, args.seed, args.fuse_frames)
        return 0
    if args.quick:
        paths = paths[:: max(1, len(paths) // 4)][:4]
    if not args.skip_accuracy:
        results = run_accuracy(paths, args.seed)
        print("\nmean over images (stops):")
        for variant, table in results.items():
            means = {name: float(np.nanmean(v)) for name, v in table.items()}
            ratio = means["lhe auto"] / means["OpenCV Debevec"]
            cells = "  ".join(f"{name} {value:.4f}" for name, value in means.items())
            print(f"  {variant:7s} {cells}  | ratio lhe auto / OpenCV Debevec {ratio:.2f}")
    if not args.skip_speed:
        run_speed(big, 1 if args.quick else args.repeats, args.seed)
    if not args.skip_fuse:
        run_fusion(big, 1 if args.quick else args.repeats, args.seed, args.fuse_frames)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
