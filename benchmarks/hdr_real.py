"""lhe's merge, tone map and exposure fusion on real bracketed sets, against OpenCV (and enfuse).

The development sets named in ``../shared/DATA.md`` (real brackets from public repositories,
evaluation only: never copied into this repository, never trained on) are extracted from local
snapshots of their repositories (``--repo``: a bare git directory, as the search tool's
``fetch`` leaves them) into a cache outside the repository (``--cache``, default
``/tmp/lhe-brackets``); every record names the repository, commit and path it came from. The
held-out sets are refused.

Per set:

- **Leave-one-out accuracy**: the middle exposure is held out, the other frames are merged, the
  radiance is re-exposed to the held-out frame's exposure through the method's own recovered
  response, and PSNR is measured on the held-out frame's well-exposed pixels (every channel in
  16..239), after it is aligned to the merge's reference frame (the same for every method).
  lhe (``merge_exposures`` defaults) against OpenCV ``CalibrateDebevec`` + ``MergeDebevec``,
  without and with ``AlignMTB`` (the better OpenCV score is the one to beat).
- **Full merge** of every frame in a fresh process per method: wall time of the call, peak
  resident memory (VmHWM, whole process), NaN / Inf / zero / negative pixel counts, and for lhe
  the largest alignment displacement (pre-registered sets must stay within 1 px).
- **Pictures**: lhe's merge through the default tone map, lhe's exposure fusion (``--fuse``),
  OpenCV ``MergeMertens`` (and ``enfuse`` when installed, ``--enfuse``): time, peak memory,
  mean output level (0..255), and a contact sheet per set (whole pictures, then 1:1 crops of the
  top-left corner and the centre).

Run (full resolution takes a while on 2 cores; ``--scale 0.25`` for a quick look):

    python benchmarks/hdr_real.py --repo /work/.mirror/MercuryYen+HDR-Imaging/repo \\
        --repo /work/.mirror/C-W-Z+hdr-imaging/repo --sheets /tmp/lhe-sheets

OpenCV and enfuse are baselines here only; lhe never imports or calls them.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class BracketSet:
    """A development set: where it lives and how its exposure times are given."""

    name: str
    repository: str  # owner/name on GitHub
    commit: str
    path: str  # folder inside the repository
    every: int = 1  # use every n-th frame in exposure order (1: all)
    preregistered: bool = True  # tripod or registered: alignment must not move frames


# From ../shared/DATA.md. MercuryYen's sets are tripod phone shots (12 MP, up to 16 frames),
# except "fog": its frames are not registered (OpenCV's MergeMertens and enfuse show each
# street lamp as a vertical row of copies, AlignMTB raises OpenCV's leave-one-out score by
# 2.2 dB, and the frames' right edges differ by a dark strip); "sanctuary" is Debevec's
# Memorial Church (registered film scans), also at 3-stop steps; C-W-Z's library3 is
# hand-held (its test1 is the same Memorial Church frames as sanctuary).
MERCURY = ("MercuryYen/HDR-Imaging", "967e985")
CWZ = ("C-W-Z/hdr-imaging", "8a0dc4e")
DEV_SETS = [
    *[BracketSet(name, *MERCURY, f"data/{name}", preregistered=name != "fog") for name in (
        "101", "1su", "fog", "international", "jin", "library", "moon", "tree", "turtle", "water",
        "flower", "grace", "reflect", "sanctuary",
    )],
    BracketSet("sanctuary-3stop", *MERCURY, "data/sanctuary", every=3),
    BracketSet("library3", *CWZ, "data/library3/origin", preregistered=False),
]
# Kept out of development (DATA.md): never extracted, never run.
HELD_OUT = {
    "MercuryYen/HDR-Imaging": ("data/cat", "data/pool", "data/exposures"),
    "C-W-Z/hdr-imaging": ("data/test2", "data/test3", "data/library1", "data/building1"),
}
IMAGE = re.compile(r"\.(jpe?g|png|tiff?)$", re.IGNORECASE)
WELL_EXPOSED = (16, 239)


# --------------------------------------------------------------------------------------------
# Extraction


def _git(git_dir: Path, *args: str) -> bytes:
    return subprocess.run(["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True).stdout


def _repo_name(git_dir: Path) -> str:
    """owner/name from a mirror folder such as /work/.mirror/owner+name/repo."""
    for part in reversed(git_dir.resolve().parts):
        if "+" in part:
            owner, name = part.split("+", 1)
            return f"{owner}/{name}"
    raise SystemExit(f"{git_dir}: cannot tell owner/name from the folder name (expected .../owner+name/...)")


def extract(entry: BracketSet, git_dir: Path, cache: Path) -> tuple[Path, list[str]]:
    """Copy a set's images and exposure list out of the repository snapshot into the cache.

    Returns the folder and the files the snapshot lacks (blobs over ~4 MiB are not stored)."""
    for held in HELD_OUT.get(entry.repository, ()):
        if entry.path == held or entry.path.startswith(held + "/"):
            raise SystemExit(f"{entry.repository}:{entry.path} is held out of development (DATA.md)")
    commit = _git(git_dir, "rev-parse", entry.commit).decode().strip()
    folder = cache / entry.repository.replace("/", "+") / commit[:7] / entry.path
    listing = _git(git_dir, "ls-tree", "--name-only", commit, entry.path + "/").decode().splitlines()
    missing = []
    folder.mkdir(parents=True, exist_ok=True)
    for path in listing:
        name = Path(path).name
        if not (IMAGE.search(name) or name in ("info.json", "image_list.txt")):
            continue
        target = folder / name
        if target.exists():
            continue
        try:
            data = _git(git_dir, "show", f"{commit}:{path}")
        except subprocess.CalledProcessError:
            missing.append(name)
            continue
        temporary = target.with_suffix(target.suffix + ".part")
        temporary.write_bytes(data)
        temporary.replace(target)
    (folder / "SOURCE.json").write_text(json.dumps({"repository": entry.repository, "commit": commit, "path": entry.path, "missing": missing}))
    return folder, missing


def exposure_list(folder: Path) -> dict[str, float]:
    """File → exposure time, from MercuryYen's info.json or C-W-Z's image_list.txt."""
    info = folder / "info.json"
    if info.exists():
        return {item["path"]: float(item["t"]) for item in json.loads(info.read_text())}
    times = {}
    for line in (folder / "image_list.txt").read_text().splitlines():
        match = re.match(r"^\s*(\S+\.(?:png|jpe?g))\s+([0-9.eE+-]+)", line.split("#")[0], re.IGNORECASE)
        if match:
            times[match.group(1)] = float(match.group(2))
    return times


def prepare(entry: BracketSet, folder: Path, scale: float) -> tuple[Path, list[str], list[float]]:
    """The set's frames in exposure order (every ``entry.every``-th), at ``scale`` (PNG copies
    in the cache when reduced). Returns the folder holding them, file names and times."""
    times = exposure_list(folder)
    names = sorted((n for n in times if (folder / n).exists()), key=lambda n: times[n])[:: entry.every]
    if scale == 1:
        return folder, names, [times[n] for n in names]
    from PIL import Image

    scaled = folder / f"scale-{scale:g}"
    scaled.mkdir(exist_ok=True)
    out = []
    for name in names:
        target = scaled / (Path(name).stem + ".png")
        if not target.exists():
            with Image.open(folder / name) as image:
                image = image.convert("RGB")
                size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
                image.resize(size, Image.Resampling.BOX).save(target)
        out.append(target.name)
    return scaled, out, [times[n] for n in names]


# --------------------------------------------------------------------------------------------
# Workers (fresh processes): each reads the frames itself and reports JSON on stdout.


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _read_frames(folder: Path, names: list[str], opencv: bool) -> list[np.ndarray]:
    if opencv:
        import cv2

        return [cv2.imread(str(folder / n), cv2.IMREAD_COLOR) for n in names]  # BGR
    from lhe.io import read_image

    return [read_image(folder / n).samples(np.uint8) for n in names]


def _counts(hdr: np.ndarray) -> dict[str, int]:
    finite = np.isfinite(hdr)
    return {
        "nan": int(np.isnan(hdr).any(axis=2).sum()),
        "inf": int(np.isinf(hdr).any(axis=2).sum()),
        "zero": int(((hdr == 0) & finite).any(axis=2).sum()),
        "negative": int(((hdr < 0) & finite).any(axis=2).sum()),
    }


def _save_png(picture: np.ndarray, path: Path) -> float:
    """Write an sRGB float or uint8 picture; return its mean level (0..255)."""
    from PIL import Image

    samples = picture if picture.dtype == np.uint8 else np.clip(np.rint(picture * 255), 0, 255).astype(np.uint8)
    Image.fromarray(samples).save(path)
    return float(samples.mean())


def worker(kind: str, folder: Path, names: list[str], times: list[float], out: Path) -> dict:
    opencv = kind.startswith("cv")
    start = time.perf_counter()
    if kind.startswith("lhe"):
        # Load the compiled kernels outside the timed call (a small textured bracket).
        from lhe.hdr import fuse_exposures_Mertens2007, merge_exposures
        from lhe.hdr.tonemap import tonemap

        # As many frames as the set: the compiled merge is specialised by the frame count.
        rng = np.random.default_rng(0)
        scene = np.repeat(rng.random((96, 128, 1)), 3, axis=2) * 0.5 + 0.05
        gains = [2.0 ** (i - len(names) // 2) for i in range(len(names))]
        tiny = [np.clip(np.roll(scene, (i % 3, -(i % 2)), axis=(0, 1)) * g * 255, 0, 255).astype(np.uint8) for i, g in enumerate(gains)]
        for i, frame in enumerate(tiny):  # a moving square: the ghost kernels load too
            frame[20 + 4 * i : 44 + 4 * i, 30:60] = 40 if i % 2 else 200
        merge_exposures(tiny, gains)
        fuse_exposures_Mertens2007(tiny, exposures=gains)
        tonemap(scene.astype(np.float32))
    else:
        import cv2
    warmed = time.perf_counter()
    frames = _read_frames(folder, names, opencv)
    read = time.perf_counter()
    record: dict = {"read_s": read - warmed, "startup_s": warmed - start}
    if kind == "lhe-merge":
        hdr, info = merge_exposures(frames, times, return_info=True)
        done = time.perf_counter()
        record.update(_counts(hdr), wall_s=done - read, displacement=max(info.displacement), displacements=info.displacement,
                      ghost_fraction=max(info.ghost_fraction))
        picture = tonemap(hdr)
        record["tonemap_s"] = time.perf_counter() - done
        record["mean_level"] = _save_png(picture, out / "lhe_tonemap.png")
    elif kind == "lhe-fuse":
        fused = fuse_exposures_Mertens2007(frames, exposures=times)
        record["wall_s"] = time.perf_counter() - read
        record["mean_level"] = _save_png(fused, out / "lhe_fuse.png")
    elif kind == "cv-merge":
        t = np.asarray(times, np.float32)
        response = cv2.createCalibrateDebevec().process(frames, t)
        hdr = cv2.createMergeDebevec().process(frames, t, response)
        record.update(_counts(hdr), wall_s=time.perf_counter() - read)
    elif kind == "cv-mertens":
        fused = cv2.createMergeMertens().process(frames)
        record["wall_s"] = time.perf_counter() - read
        record["mean_level"] = _save_png(np.clip(fused[..., ::-1], 0, 1), out / "opencv_mertens.png")
    else:
        raise SystemExit(f"unknown worker {kind}")
    record["peak_mb"] = _peak_mb()
    return record


def run_worker(kind: str, folder: Path, names: list[str], times: list[float], out: Path) -> dict:
    command = [sys.executable, __file__, "--worker", kind, str(folder), str(out), json.dumps(names), json.dumps(times)]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode:
        return {"error": (result.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(result.stdout.strip().splitlines()[-1])


def run_enfuse(folder: Path, names: list[str], out: Path) -> dict:
    """enfuse (defaults: exposure weight 1, saturation 0.2, contrast 0) if it is installed."""
    if shutil.which("enfuse") is None:
        return {"error": "enfuse not installed"}
    target = out / "enfuse.tif"
    start = time.perf_counter()
    result = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "enfuse", "-o", str(target), *[str(folder / n) for n in names]],
        capture_output=True, text=True,
    )
    wall = time.perf_counter() - start
    if result.returncode or not target.exists():
        return {"error": (result.stderr.strip().splitlines() or ["enfuse failed"])[-1]}
    from PIL import Image

    with Image.open(target) as image:
        samples = np.asarray(image.convert("RGB"))
    peak = float(result.stderr.strip().splitlines()[-1]) / 1024 if result.stderr.strip() else float("nan")
    return {"wall_s": wall, "peak_mb": peak, "mean_level": _save_png(samples, out / "enfuse.png")}


# --------------------------------------------------------------------------------------------
# Leave-one-out accuracy (in this process)


def _psnr(predicted: np.ndarray, held: np.ndarray, mask: np.ndarray) -> float:
    error = (predicted.astype(np.float64) - held.astype(np.float64))[mask]
    mse = float(np.mean(error**2)) if error.size else float("nan")
    return 10 * math.log10(255.0**2 / max(mse, 1e-12))


def _invert(curve: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Codes (0..255, float) whose response ``curve`` (``(256, 3)``, code → linear) gives ``values``."""
    codes = np.arange(len(curve), dtype=np.float64) * (255.0 / (len(curve) - 1))
    out = np.empty(values.shape, np.float32)
    for c in range(3):
        column = np.maximum.accumulate(curve[:, c].astype(np.float64))
        keep = np.concatenate([[True], np.diff(column) > 0])
        out[..., c] = np.interp(values[..., c], column[keep], codes[keep])
    return np.clip(np.rint(out), 0, 255)


def leave_one_out(folder: Path, names: list[str], times: list[float]) -> dict:
    import cv2

    from lhe.hdr import merge_exposures
    from lhe.hdr.align import align_frames
    from lhe.hdr.exposure import default_reference
    from lhe.hdr.merge import sample_aligned
    from lhe.io import read_image

    frames = [read_image(folder / n).samples(np.uint8) for n in names]
    held_index = len(frames) // 2
    held, held_time = frames[held_index], times[held_index]
    rest = frames[:held_index] + frames[held_index + 1 :]
    rest_times = times[:held_index] + times[held_index + 1 :]
    reference = default_reference(rest_times)
    record: dict = {"held_out": names[held_index], "frames_merged": len(rest)}

    # The held-out frame seen from the merge's reference frame (identity on tripod sets).
    alignment = align_frames([rest[reference], held], 0, exposures=[rest_times[reference], held_time])
    height, width = held.shape[:2]
    aligned, inside = sample_aligned(held, alignment.transforms[1], np.arange(height), np.arange(width))
    good = inside & np.all((aligned >= WELL_EXPOSED[0]) & (aligned <= WELL_EXPOSED[1]), axis=2)
    mask = np.repeat(good[..., None], 3, axis=2)
    record["well_exposed_fraction"] = float(good.mean())

    start = time.perf_counter()
    hdr, info = merge_exposures(rest, rest_times, return_info=True)
    record["lhe_s"] = time.perf_counter() - start
    predicted = _invert(info.response, hdr * np.float32(held_time / rest_times[reference]))
    record["lhe_psnr"] = _psnr(predicted, aligned, mask)

    bgr = [np.ascontiguousarray(f[..., ::-1]) for f in rest]
    t = np.asarray(rest_times, np.float32)
    for label, align in (("opencv", False), ("opencv_mtb", True)):
        views = [b.copy() for b in bgr]
        if align:
            cv2.createAlignMTB().process(views, views)
        start = time.perf_counter()
        response = cv2.createCalibrateDebevec().process(views, t)
        radiance = cv2.createMergeDebevec().process(views, t, response)
        record[f"{label}_s"] = time.perf_counter() - start
        curve = response[:, 0, ::-1]  # BGR → RGB, (256, 3)
        predicted = _invert(curve, np.nan_to_num(radiance[..., ::-1], nan=0.0, posinf=1e30) * np.float32(held_time))
        record[f"{label}_psnr"] = _psnr(predicted, aligned, mask)
    record["opencv_best_psnr"] = max(record["opencv_psnr"], record["opencv_mtb_psnr"])
    return record


# --------------------------------------------------------------------------------------------
# Contact sheets


def contact_sheet(out: Path, title: str, target: Path) -> None:
    """Whole pictures in a row, then 1:1 crops of the top-left corner and the centre."""
    from PIL import Image, ImageDraw

    panels = [(label, out / file) for label, file in (
        ("lhe merge + tonemap", "lhe_tonemap.png"), ("lhe --fuse", "lhe_fuse.png"),
        ("OpenCV MergeMertens", "opencv_mertens.png"), ("enfuse", "enfuse.png"),
    ) if (out / file).exists()]
    if not panels:
        return
    images = [(label, Image.open(path).convert("RGB")) for label, path in panels]
    width = 480
    crop = 240
    first = images[0][1]
    height = round(first.height * width / first.width)
    sheet = Image.new("RGB", (len(images) * (width + 4), 16 + height + 2 * (crop + 16)), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((2, 2), title, fill="black")
    for column, (label, image) in enumerate(images):
        x = column * (width + 4)
        sheet.paste(image.resize((width, height), Image.Resampling.BOX), (x, 16))
        draw.text((x + 2, 16 + height - 12), label, fill="yellow")
        w, h = image.size
        for row, (cx, cy) in enumerate(((0, 0), (w // 2 - crop, h // 2 - crop // 2))):
            y = 16 + height + row * (crop + 16) + 14
            sheet.paste(image.crop((cx, cy, cx + 2 * crop, cy + crop)).resize((width, crop)), (x, y))
            draw.text((x + 2, y - 13), f"{label}: 1:1 {'top-left' if row == 0 else 'centre'}", fill="black")
    sheet.save(target)


# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", action="append", type=Path, default=[], help="bare git directory of a source repository (repeatable)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lhe-brackets"), help="where sets are extracted (outside the repository)")
    parser.add_argument("--sets", help="comma-separated set names (default: all development sets)")
    parser.add_argument("--scale", type=float, default=1.0, help="resize factor for a quick run (1: full resolution)")
    parser.add_argument("--sheets", type=Path, help="folder for contact sheets and pictures")
    parser.add_argument("--skip-loo", action="store_true", help="skip leave-one-out")
    parser.add_argument("--skip-timing", action="store_true", help="skip full merges, fusion and pictures")
    parser.add_argument("--enfuse", action="store_true", help="also run enfuse (if installed) for pictures and timing")
    parser.add_argument("--json", type=Path, help="write all records here")
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        kind, folder, out, names, times = args.worker
        print(json.dumps(worker(kind, Path(folder), json.loads(names), json.loads(times), Path(out))))
        return 0
    if not args.repo:
        parser.error("give --repo for each source repository (e.g. /work/.mirror/MercuryYen+HDR-Imaging/repo)")
    repos = {_repo_name(path): path for path in args.repo}
    wanted = set(args.sets.split(",")) if args.sets else None
    entries = [e for e in DEV_SETS if e.repository in repos and (wanted is None or e.name in wanted)]
    if wanted and wanted - {e.name for e in entries}:
        parser.error(f"unknown or unavailable sets: {', '.join(sorted(wanted - {e.name for e in entries}))}")
    if args.cache.resolve().is_relative_to(Path(__file__).resolve().parents[1]):
        parser.error("--cache must be outside the repository (the sets must never be copied into it)")
    if args.sheets:
        args.sheets.mkdir(parents=True, exist_ok=True)
    records = []
    for entry in entries:
        folder, missing = extract(entry, repos[entry.repository], args.cache)
        frames_folder, names, times = prepare(entry, folder, args.scale)
        source = json.loads((folder / "SOURCE.json").read_text())
        record: dict = {"set": entry.name, **{k: source[k] for k in ("repository", "commit", "path")},
                        "frames": len(names), "missing": missing, "scale": args.scale, "preregistered": entry.preregistered}
        print(f"\n== {entry.name}: {source['repository']}@{source['commit'][:7]}:{source['path']} "
              f"({len(names)} frames{', every ' + str(entry.every) + 'th' if entry.every > 1 else ''}"
              f"{', missing ' + ', '.join(missing) if missing else ''})", flush=True)
        if not args.skip_loo and len(names) >= 3:
            loo = leave_one_out(frames_folder, names, times)
            record["loo"] = loo
            print(f"   leave-one-out ({loo['held_out']}, {loo['well_exposed_fraction']:.0%} well exposed): "
                  f"lhe {loo['lhe_psnr']:.2f} dB, OpenCV {loo['opencv_psnr']:.2f} dB, OpenCV+MTB {loo['opencv_mtb_psnr']:.2f} dB "
                  f"| lhe − best OpenCV {loo['lhe_psnr'] - loo['opencv_best_psnr']:+.2f} dB", flush=True)
        if not args.skip_timing:
            out = Path(tempfile.mkdtemp(prefix=f"lhe-real-{entry.name}-"))
            for kind in ("lhe-merge", "cv-merge", "lhe-fuse", "cv-mertens"):
                record[kind] = run_worker(kind, frames_folder, names, times, out)
            if args.enfuse:
                record["enfuse"] = run_enfuse(frames_folder, names, out)
            m, c, f, mm = (record[k] for k in ("lhe-merge", "cv-merge", "lhe-fuse", "cv-mertens"))
            if "error" not in m:
                print(f"   merge: lhe {m['wall_s']:.2f} s {m['peak_mb']:.0f} MB | OpenCV {c.get('wall_s', float('nan')):.2f} s "
                      f"{c.get('peak_mb', float('nan')):.0f} MB | lhe nan/inf/zero/neg {m['nan']}/{m['inf']}/{m['zero']}/{m['negative']} "
                      f"(OpenCV {c.get('nan')}/{c.get('inf')}/{c.get('zero')}/{c.get('negative')}) | alignment moved ≤ {m['displacement']:.2f} px", flush=True)
            else:
                print(f"   lhe merge failed: {m['error']}")
            levels = {k: record[k].get("mean_level") for k in ("lhe-merge", "lhe-fuse", "cv-mertens", "enfuse") if k in record}
            print("   mean level: " + ", ".join(f"{k} {v:.0f}" for k, v in levels.items() if v is not None), flush=True)
            if "error" not in f and "error" not in mm:
                print(f"   fuse: lhe {f['wall_s']:.2f} s {f['peak_mb']:.0f} MB | OpenCV Mertens {mm['wall_s']:.2f} s {mm['peak_mb']:.0f} MB "
                      f"| ratio {f['wall_s'] / mm['wall_s']:.2f}", flush=True)
            if args.sheets:
                contact_sheet(out, f"{entry.name} ({source['repository']}@{source['commit'][:7]}:{source['path']})", args.sheets / f"{entry.name}.png")
                for file in out.iterdir():
                    shutil.copy(file, args.sheets / f"{entry.name}_{file.name}")
            shutil.rmtree(out, ignore_errors=True)
        records.append(record)

    print("\n== summary")
    loo = [r for r in records if "loo" in r]
    if loo:
        diffs = [r["loo"]["lhe_psnr"] - r["loo"]["opencv_best_psnr"] for r in loo]
        print(f"leave-one-out PSNR (dB), lhe vs best OpenCV: mean {statistics.mean(r['loo']['lhe_psnr'] for r in loo):.2f} vs "
              f"{statistics.mean(r['loo']['opencv_best_psnr'] for r in loo):.2f} (difference {statistics.mean(diffs):+.2f}; "
              f"target ≥ +2), lhe ≥ OpenCV on {sum(d >= 0 for d in diffs)} of {len(diffs)} sets (target: all)")
    merged = [r for r in records if "lhe-merge" in r and "error" not in r["lhe-merge"]]
    if merged:
        bad = sum(r["lhe-merge"][k] for r in merged for k in ("nan", "inf", "zero", "negative"))
        print(f"lhe merge NaN/Inf/zero/negative pixels over all sets: {bad} (target 0)")
        pre = [r for r in merged if r["preregistered"]]
        if pre:
            worst = max(pre, key=lambda r: r["lhe-merge"]["displacement"])
            print(f"pre-registered sets: largest alignment displacement {worst['lhe-merge']['displacement']:.2f} px ({worst['set']}; target ≤ 1)")
        lhe_levels = [r["lhe-merge"]["mean_level"] for r in merged]
        print(f"default tone map mean level {min(lhe_levels):.0f}..{max(lhe_levels):.0f}", end="")
        for key in ("cv-mertens", "enfuse"):
            levels = [r[key]["mean_level"] for r in merged if key in r and "mean_level" in r[key]]
            if levels:
                print(f"; {key} {min(levels):.0f}..{max(levels):.0f}", end="")
        print()
    fused = [r for r in records if "lhe-fuse" in r and "wall_s" in r["lhe-fuse"] and "wall_s" in r.get("cv-mertens", {})]
    if fused:
        ratios = [r["lhe-fuse"]["wall_s"] / r["cv-mertens"]["wall_s"] for r in fused]
        print(f"--fuse time / OpenCV MergeMertens: median {statistics.median(ratios):.2f} (max {max(ratios):.2f}; target ≤ 1.0); "
              f"peak {max(r['lhe-fuse']['peak_mb'] for r in fused):.0f} MB (target ≤ 1500 at 16 × 12 MP)")
    if args.json:
        args.json.write_text(json.dumps(records, indent=1))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
