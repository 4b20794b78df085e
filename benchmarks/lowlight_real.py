"""Low-light enhancement on REAL dark photographs: the learned models against baselines.

Judges what synthetic validation cannot: real night and indoor scenes with mixed light, where
lamps, skies and faces must stay as they are while the shadows open. Sets (shared/DATA.md; their
licences allow evaluation only, so nothing here is copied into the repository):

    sci       vis-opt-group/SCI: data/{easy,medium,difficult} (LOL frames in medium dropped)
    zero-dce  Li-Chongyi/Zero-DCE_extension: Zero-DCE++/data/test_data/real (one capture per scene)
    exdark    cs-chan/Exclusively-Dark-Image-Dataset: SPIC/*.png|jpg
    sice      csjcai/SICE: "Model 2/Test" (68.JPG, not dark, dropped)
    backlit   ZhexinLiang/CLIP-LIT: input/ (backlit day scenes: dark subjects against bright skies)
    lol       Gouguokupa/Digital-Image-Processing-LowLight-Deblur: LOL v1 our485 {low,high}, the
              only paired set, used for VALIDATION only (LOL's eval15 test split is never read)

Each set is read from a git mirror (a bare repository or a clone: the pinned commit's files are
extracted into ``--cache``) or from a plain folder of images (``low/`` and ``high/`` for lol).
Repository, commit, path and blob of every picture go into the JSON.

Every picture is resized (Lanczos, 8-bit) so its long side is at most ``--long-side`` (1024:
band-recursive takes about a minute per 12 MP today), then enhanced by: the input itself,
a global gamma to mean luma 0.45, CLAHE on L*, and each model through ``lhe.api.enhance``.
Outputs are quantised to 8 bits, as a saved file would be. Per method and set (means over
pictures): mean Rec.709 luma, clipped fraction (any channel >= 250) and its increase over the
input in points, shadow lift (mean luma of the input's darkest 30 % of 16x16 tiles, input ->
output), noise sigma in 8-bit codes in the input's flat dark tiles (Immerkaer 1996, median over
tiles), colourfulness (Hasler & Suesstrunk 2003), NIQE (Mittal et al. 2013, official release
parameters, via BasicSR) and, on lol, PSNR/SSIM against ``high``. Then the targets of issue 10
as pass/fail lines, contact sheets (input | gamma | CLAHE | models) as PNG, and a JSON.

    python benchmarks/lowlight_real.py                                  # all sets, shipped models
    python benchmarks/lowlight_real.py --limit 3 --lol-limit 10 --long-side 512   # quick look
    python benchmarks/lowlight_real.py --models bilateral-grid bilateral-grid@new \\
        --weights bilateral-grid@new=runs/bilateral-grid/best.safetensors
    python benchmarks/lowlight_real.py --sci ~/SCI --sets sci           # a folder of images

NIQE needs ``pip install --no-deps basicsr==1.4.2`` (see ``lhe_training/niqe.py``), or ``--no-niqe``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lhe_training.baselines import enhance_clahe_lab, enhance_gamma_to_mean_luma, enhance_identity
from lhe_training.metrics import (
    clipped_fraction,
    colourfulness_Hasler2003,
    dark_area_noise,
    mean_luma,
    psnr,
    shadow_lift,
    ssim,
)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
MIRRORS = Path("/work/.mirror")


@dataclass(frozen=True)
class RealSet:
    """Where one evaluation set lives in its public repository."""

    key: str
    title: str
    repository: str
    commit: str
    folders: tuple[str, ...]
    mirror: Path  # default location of the git mirror (used only when present)
    exclude: tuple[str, ...] = ()
    one_per_scene: bool = False  # Zero-DCE++ ships four captures of each scene: keep the first
    paired: bool = False  # folders are (low, high)
    note: str = ""


SETS = {
    s.key: s
    for s in (
        RealSet("sci", "SCI test", "vis-opt-group/SCI", "9d28a3f1237df248bb765e7fee16f7c4ac7dbeee",
                ("data/easy", "data/medium", "data/difficult"), MIRRORS / "vis-opt-group+SCI" / "repo",
                exclude=tuple(f"data/medium/{n}.png" for n in ("00001", "00051", "00079", "00091")),
                note="medium 00001/00051/00079/00091 are LOL frames: dropped"),
        RealSet("zero-dce", "Zero-DCE++ real", "Li-Chongyi/Zero-DCE_extension",
                "09f202b690f82da939b8e6ec8535960ae97ad8bd", ("Zero-DCE++/data/test_data/real",),
                MIRRORS / "Li-Chongyi+Zero-DCE_extension" / "repo", one_per_scene=True,
                note="16 scenes x 4 same-size captures (<scene>_<k>_.png): k = 0 kept"),
        RealSet("exdark", "ExDark SPIC", "cs-chan/Exclusively-Dark-Image-Dataset",
                "810e4a0c5d6eddebd7d2280d371a090decc719bb", ("SPIC",),
                MIRRORS / "cs-chan+Exclusively-Dark-Image-Dataset" / "repo", note="GIF result panels skipped"),
        RealSet("sice", "SICE Model 2 test", "csjcai/SICE", "b0b983a6f6b48459ca8ea9c3e784c6c2fab9d920",
                ("Model 2/Test",), MIRRORS / "csjcai+SICE" / "repo", exclude=("Model 2/Test/68.JPG",),
                note="68.JPG is not dark: dropped"),
        RealSet("backlit", "CLIP-LIT backlit", "ZhexinLiang/CLIP-LIT", "25ed5be6086cd34d2bc1020c6088ac3f9d3a9522",
                ("input",), MIRRORS / "ZhexinLiang+CLIP-LIT" / "repo",
                note="backlit day photos, not night shots: the mixed-light case where the sky must stay"),
        RealSet("lol", "LOL our485 (validation)", "Gouguokupa/Digital-Image-Processing-LowLight-Deblur",
                "965d689175ddfb109b6ad77462dc6d2fcb3eb0a4",
                ("lowlight/lol_raw/lol_dataset/our485/low", "lowlight/lol_raw/lol_dataset/our485/high"),
                MIRRORS / "Gouguokupa+Digital-Image-Processing-LowLight-Deblur" / "repo", paired=True,
                note="LOL v1 training split as paired validation only; eval15 (test split) never read"),
    )
}
UNPAIRED = [k for k, s in SETS.items() if not s.paired]
POOLED = "all unpaired"

BASELINE_METHODS = {
    "input": enhance_identity,
    "gamma 0.45": enhance_gamma_to_mean_luma,
    "CLAHE L*": enhance_clahe_lab,
}


@dataclass
class Picture:
    """One picture (or low/high pair) of a set, extracted to a local file."""

    name: str
    path: Path
    source: dict
    reference: Path | None = None
    reference_source: dict | None = None


@dataclass
class LoadedSet:
    spec: RealSet
    origin: dict
    pictures: list[Picture] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Finding and extracting the pictures


def _git_dir(path: Path) -> Path | None:
    """The git directory of a clone or bare mirror at ``path``, or None for a plain folder."""
    if (path / ".git").is_dir():
        return path / ".git"
    if (path / "HEAD").is_file() and (path / "objects").is_dir():
        return path
    return None


def _git(git_dir: Path, *args: str, binary: bool = False) -> str | bytes:
    result = subprocess.run(["git", f"--git-dir={git_dir}", *args], capture_output=True, check=True)
    return result.stdout if binary else result.stdout.decode()


def _excluded(relative: str, exclusions: tuple[str, ...]) -> bool:
    """``relative`` (a path inside a folder given on the command line, or the repository path)
    names an excluded repository path: equal, or a tail of it, or it a tail of ``relative``."""
    return any(e == relative or e.endswith("/" + relative) or relative.endswith("/" + e) for e in exclusions)


def _scene_key(name: str) -> tuple[str, int] | None:
    match = re.fullmatch(r"(.+)_(\d+)_\.\w+", name)
    return (match.group(1), int(match.group(2))) if match else None


def _first_capture_per_scene(names: list[str]) -> list[str]:
    """For ``<scene>_<k>_.png`` names keep the lowest ``k`` of each scene; others are kept."""
    best: dict[str, tuple[int, str]] = {}
    kept = []
    for name in names:
        key = _scene_key(Path(name).name)
        if key is None:
            kept.append(name)
        elif key[0] not in best or key[1] < best[key[0]][0]:
            best[key[0]] = (key[1], name)
    return sorted(kept + [name for _, name in best.values()])


def _is_image(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _refuse_lol_test_split(path: str | Path) -> None:
    if "eval15" in str(path):
        raise SystemExit(f"refusing {path}: eval15 is LOL's test split and stays untouched")


def _list_git(spec: RealSet, git_dir: Path) -> tuple[dict[str, list[tuple[str, str, int]]], list[str]]:
    """Per folder: ``(repository path, blob, size)`` of its image files at the pinned commit,
    and the files skipped because the snapshot lacks their blob."""
    try:
        _git(git_dir, "cat-file", "-e", f"{spec.commit}^{{commit}}")
    except subprocess.CalledProcessError:
        raise SystemExit(f"{git_dir} does not hold {spec.repository} commit {spec.commit}")
    listing, skipped = {}, []
    for folder in spec.folders:
        _refuse_lol_test_split(folder)
        entries = []
        for line in _git(git_dir, "ls-tree", "-r", "-l", "-z", spec.commit, "--", folder).split("\0"):
            if not line:
                continue
            meta, path = line.split("\t", 1)
            _, kind, blob, size = meta.split()
            if kind != "blob" or not _is_image(path) or _excluded(path, spec.exclude):
                continue
            try:
                _git(git_dir, "cat-file", "-e", blob)
            except subprocess.CalledProcessError:
                skipped.append(f"{path} (blob {blob[:10]} missing from the snapshot)")
                continue
            entries.append((path, blob, int(size) if size.isdigit() else -1))
        listing[folder] = entries
    return listing, skipped


def _extract(git_dir: Path, blob: str, size: int, target: Path) -> Path:
    """The blob written to ``target`` (kept when already there with the right size)."""
    if target.is_file() and (size < 0 or target.stat().st_size == size):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    data = _git(git_dir, "cat-file", "blob", blob, binary=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as handle:
        handle.write(data)
    Path(handle.name).replace(target)
    return target


def _numeric_first(name: str) -> tuple:
    stem = Path(name).stem
    return (0, int(stem), name) if stem.isdigit() else (1, 0, name)


def load_set(spec: RealSet, location: Path, cache: Path, limit: int | None = None) -> LoadedSet:
    """The pictures of ``spec`` from a git mirror or a plain folder at ``location``: at most
    ``limit`` of them, evenly spaced in name order (only those are extracted from a mirror)."""
    _refuse_lol_test_split(location)
    git_dir = _git_dir(location)
    if git_dir is not None:
        listing, skipped = _list_git(spec, git_dir)
        loaded = LoadedSet(spec, {"repository": spec.repository, "commit": spec.commit,
                                  "folders": list(spec.folders), "mirror": str(location)}, skipped=skipped)

        def local(path: str, blob: str, size: int) -> tuple[Path, dict]:
            target = cache / "images" / spec.key / path.replace("/", "__")
            return _extract(git_dir, blob, size, target), {"path": path, "blob": blob}

        if spec.paired:
            low_folder, high_folder = spec.folders
            highs = {Path(p).name: (p, b, s) for p, b, s in listing[high_folder]}
            pairs = []
            for entry in sorted(listing[low_folder], key=lambda e: _numeric_first(e[0])):
                if Path(entry[0]).name in highs:
                    pairs.append((entry, highs[Path(entry[0]).name]))
                else:
                    loaded.skipped.append(f"{entry[0]} (no high-light partner)")
            for low, high in evenly_spaced(pairs, limit):
                low_file, low_source = local(*low)
                high_file, high_source = local(*high)
                loaded.pictures.append(Picture(Path(low[0]).name, low_file, low_source, high_file, high_source))
        else:
            entries = {p: (p, b, s) for folder in spec.folders for p, b, s in listing[folder]}
            paths = _first_capture_per_scene(list(entries)) if spec.one_per_scene else list(entries)
            for path in evenly_spaced(paths, limit):
                file, source = local(*entries[path])
                loaded.pictures.append(Picture(path, file, source))
        return loaded

    # a plain folder (for lol: with low/ and high/)
    loaded = LoadedSet(spec, {"repository": spec.repository + " (local copy)", "commit": None,
                              "folder": str(location.resolve())})
    if spec.paired:
        pairs = []
        for low in sorted((location / "low").iterdir(), key=lambda p: _numeric_first(p.name)):
            high = location / "high" / low.name
            if not _is_image(low.name):
                continue
            if not high.is_file():
                loaded.skipped.append(f"{low} (no high-light partner)")
                continue
            pairs.append(Picture(low.name, low, {"path": str(low)}, high, {"path": str(high)}))
        loaded.pictures = evenly_spaced(pairs, limit)
        return loaded
    files = sorted(p for p in location.rglob("*") if p.is_file() and _is_image(p.name))
    relative = [p.relative_to(location).as_posix() for p in files]
    relative = [r for r in relative if not _excluded(r, spec.exclude)]
    if spec.one_per_scene:
        relative = _first_capture_per_scene(relative)
    loaded.pictures = [Picture(r, location / r, {"path": str(location / r)}) for r in evenly_spaced(relative, limit)]
    return loaded


def evenly_spaced(items: list, limit: int | None) -> list:
    """At most ``limit`` items spread evenly over ``items`` (all of them when None)."""
    if limit is None or limit >= len(items):
        return items
    if limit <= 0:
        return []
    picks = np.unique(np.round(np.linspace(0, len(items) - 1, limit)).astype(int))
    return [items[i] for i in picks]


# ---------------------------------------------------------------------------------------------
# Enhancing and measuring


def read_uint8(path: Path, long_side: int) -> np.ndarray:
    """An ``H×W×3`` uint8 sRGB picture (EXIF orientation applied), Lanczos-downscaled so that
    its long side is at most ``long_side``."""
    from PIL import Image as PILImage

    from lhe.io import read_image

    image = read_image(path)
    if image.linear:
        raise SystemExit(f"{path}: a linear (RAW/HDR) file; the real sets are 8-bit photographs")
    samples = image.samples(np.uint8)
    if samples is None:
        samples = np.round(np.clip(image.pixels, 0.0, 1.0) * 255.0).astype(np.uint8)
    scale = long_side / max(samples.shape[:2])
    if scale < 1:
        picture = PILImage.fromarray(samples)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        samples = np.asarray(picture.resize(size, PILImage.LANCZOS))
    return np.ascontiguousarray(samples)


def to_uint8(image: np.ndarray) -> np.ndarray:
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def enhance_with_model(label: str, samples: np.ndarray, weights: dict[str, str], device: str) -> np.ndarray:
    """``lhe.api.enhance`` of an 8-bit picture, as the CLI would run it; ``label`` is a model
    name or ``name@tag`` (same model, the checkpoint given for that label)."""
    from lhe import api
    from lhe.io import Image

    result = api.enhance(Image(samples=samples, linear=False), model=label.split("@")[0],
                         weights=weights.get(label), device=device)
    own = result.samples(np.uint8)
    return own if own is not None else to_uint8(result.pixels)


def measure(before: np.ndarray, after: np.ndarray, reference: np.ndarray | None, with_niqe: bool) -> dict:
    """The metrics of one output (uint8) against its input (uint8) and optional reference."""
    x = before.astype(np.float64) / 255.0
    y = after.astype(np.float64) / 255.0
    shadow_before, shadow_after = shadow_lift(x, y)
    noise_before, noise_after = dark_area_noise(x, y)
    row = {
        "mean_luma": mean_luma(y),
        "clipped": clipped_fraction(y),
        "clipped_input": clipped_fraction(x),
        "shadow_before": shadow_before,
        "shadow_after": shadow_after,
        "noise_before": noise_before,
        "noise_after": noise_after,
        "colourfulness": colourfulness_Hasler2003(y),
    }
    if with_niqe:
        from lhe_training.niqe import NIQE_BLOCK, niqe_Mittal2013

        # NIQE needs two 96-pixel blocks each way; a smaller --long-side leaves it unmeasured
        row["niqe"] = niqe_Mittal2013(after) if min(after.shape[:2]) >= 2 * NIQE_BLOCK else float("nan")
    if reference is not None:
        target = reference.astype(np.float64) / 255.0
        row["psnr"] = psnr(y, target)
        row["ssim"] = ssim(y, target)
    return row


# ---------------------------------------------------------------------------------------------
# Summaries, tables, targets

COLUMNS = ("mean_luma", "clipped", "clipped_increase", "shadow_before", "shadow_after", "noise_after",
           "colourfulness", "niqe", "psnr", "ssim", "seconds")


def summarise(rows: list[dict], methods: list[str]) -> dict:
    """Mean over pictures of each metric, per method (nan-aware: a picture without flat dark
    tiles has no noise value)."""
    summary = {}
    for method in methods:
        values = [r["methods"][method] for r in rows]
        entry = {"pictures": len(values)}
        for key in COLUMNS:
            if key == "clipped_increase":
                series = [v["clipped"] - v["clipped_input"] for v in values]
            else:
                series = [v[key] for v in values if key in v]
            if series:
                finite = [s for s in series if np.isfinite(s)]
                entry[key] = float(np.mean(finite)) if finite else float("nan")
        summary[method] = entry
    return summary


def _fmt(value: float | None, spec: str, width: int) -> str:
    if value is None or not np.isfinite(value):
        return "-".rjust(width)
    return format(value, spec).rjust(width)


def print_table(title: str, summary: dict, paired: bool) -> None:
    print(f"\n{title}")
    head = (f"{'method':<24} {'luma':>6} {'clip %':>7} {'Δclip':>7} {'shadows in→out':>15} {'noise':>6}"
            f" {'colour':>7} {'NIQE':>6}" + (f" {'PSNR':>6} {'SSIM':>6}" if paired else "") + f" {'s/img':>6}")
    print(head)
    print("-" * len(head))
    for method, s in summary.items():
        shadows = f"{s['shadow_before']:.3f}→{s['shadow_after']:.3f}"
        print(f"{method:<24} {_fmt(s['mean_luma'], '.3f', 6)} {_fmt(100 * s['clipped'], '.2f', 7)}"
              f" {_fmt(100 * s['clipped_increase'], '+.2f', 7)} {shadows:>15} {_fmt(s['noise_after'], '.2f', 6)}"
              f" {_fmt(s['colourfulness'], '.1f', 7)} {_fmt(s.get('niqe'), '.3f', 6)}"
              + (f" {_fmt(s.get('psnr'), '.2f', 6)} {_fmt(s.get('ssim'), '.4f', 6)}" if paired else "")
              + f" {_fmt(s.get('seconds'), '.2f', 6)}")


def check_targets(summaries: dict, models: list[str]) -> list[dict]:
    """Issue 10's targets, per model: on each unpaired set and pooled, and on lol."""
    checks = []

    def add(model: str, where: str, target: str, value: float, limit: float, passed: bool, detail: str) -> None:
        checks.append({"model": model, "set": where, "target": target, "value": value, "limit": limit,
                       "pass": bool(passed), "detail": detail})

    for model in models:
        for where in [POOLED] + [k for k in UNPAIRED if k in summaries]:
            if where not in summaries:
                continue
            s = summaries[where]
            m, inp = s[model], s["input"]
            limit = inp["clipped"] + 0.01
            add(model, where, "clipped ≤ input + 1 pt", m["clipped"], limit, m["clipped"] <= limit,
                f"{100 * m['clipped']:.2f} % vs {100 * inp['clipped']:.2f} % + 1")
            add(model, where, "mean luma ≥ 0.42", m["mean_luma"], 0.42, m["mean_luma"] >= 0.42,
                f"{m['mean_luma']:.3f}")
            if "niqe" in m:
                best = min(inp["niqe"], s["CLAHE L*"]["niqe"])
                add(model, where, "NIQE < CLAHE and < input", m["niqe"], best, m["niqe"] < best,
                    f"{m['niqe']:.3f} vs CLAHE {s['CLAHE L*']['niqe']:.3f}, input {inp['niqe']:.3f}"
                    f" (ratio {m['niqe'] / best:.3f})")
            gamma = s["gamma 0.45"]["noise_after"]
            add(model, where, "dark noise ≤ gamma's", m["noise_after"], gamma, m["noise_after"] <= gamma,
                f"{m['noise_after']:.2f} vs {gamma:.2f} codes (ratio {m['noise_after'] / gamma:.2f})")
        if "lol" in summaries:
            m = summaries["lol"][model]
            add(model, "lol", "PSNR ≥ 20 dB", m["psnr"], 20.0, m["psnr"] >= 20.0, f"{m['psnr']:.2f} dB")
            add(model, "lol", "SSIM ≥ 0.75", m["ssim"], 0.75, m["ssim"] >= 0.75, f"{m['ssim']:.4f}")
    return checks


def print_targets(checks: list[dict], models: list[str]) -> None:
    print("\nIssue 10 targets")
    for model in models:
        mine = [c for c in checks if c["model"] == model]
        for c in mine:
            if c["set"] in (POOLED, "lol"):
                verdict = "PASS" if c["pass"] else "FAIL"
                print(f"  {model:<20} {c['set']:<13} {c['target']:<26} {verdict}  {c['detail']}")
        per_set = [c for c in mine if c["set"] not in (POOLED, "lol")]
        if per_set:
            for target in dict.fromkeys(c["target"] for c in per_set):
                marks = " ".join(f"{c['set']} {'pass' if c['pass'] else 'FAIL'}"
                                 for c in per_set if c["target"] == target)
                print(f"  {model:<20} {'per set':<13} {target:<26} {marks}")


# ---------------------------------------------------------------------------------------------
# Contact sheets

def write_sheet(path: Path, title: str, rows: list[tuple[str, list[tuple[str, np.ndarray, str]]]],
                cell: int = 320) -> None:
    """A PNG grid: a label row, then one row per picture of ``(column label, uint8 image,
    caption)`` cells, each image fitted into ``cell × cell`` pixels."""
    from PIL import Image as PILImage
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=12)
    columns = [label for label, _, _ in rows[0][1]]
    label_height, caption_height, gap = 44, 18, 4
    heights = []
    for _, cells in rows:
        h, w = cells[0][1].shape[:2]
        scale = min(cell / w, cell / h)
        heights.append(max(1, round(h * scale)))
    width = len(columns) * (cell + gap) + gap
    height = label_height + sum(h + caption_height + gap for h in heights) + gap
    sheet = PILImage.new("RGB", (width, height), (24, 24, 24))
    draw = ImageDraw.Draw(sheet)
    draw.text((gap, 2), title, fill=(255, 255, 255), font=small)
    for i, label in enumerate(columns):
        draw.text((gap + i * (cell + gap) + 4, 20), label, fill=(255, 230, 120), font=font)
    y = label_height
    for (name, cells), row_height in zip(rows, heights):
        for i, (_, pixels, caption) in enumerate(cells):
            h, w = pixels.shape[:2]
            scale = min(cell / w, cell / h)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            thumb = PILImage.fromarray(pixels).resize(size, PILImage.LANCZOS)
            x = gap + i * (cell + gap)
            sheet.paste(thumb, (x + (cell - size[0]) // 2, y))
            draw.text((x + 2, y + row_height + 2), caption, fill=(200, 200, 200), font=small)
        y += row_height + caption_height + gap
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)


def caption(metrics: dict) -> str:
    text = f"Y {metrics['mean_luma']:.2f}  clip {100 * metrics['clipped']:.1f}%"
    if "niqe" in metrics:
        text += f"  NIQE {metrics['niqe']:.2f}"
    if "psnr" in metrics:
        text += f"  {metrics['psnr']:.1f} dB"
    return text


# ---------------------------------------------------------------------------------------------


def _parse_weights(items: list[str]) -> dict[str, str]:
    weights = {}
    for item in items:
        if "=" not in item:
            raise SystemExit(f"--weights takes LABEL=PATH (e.g. bilateral-grid=runs/x.safetensors), got '{item}'")
        label, path = item.split("=", 1)
        if not Path(path).is_file():
            raise SystemExit(f"--weights {label}: no file {path}")
        weights[label] = str(Path(path).resolve())
    return weights


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     epilog="\n".join(__doc__.split("\n")[1:]))
    for key, spec in SETS.items():
        default = spec.mirror if spec.mirror.exists() else None
        parser.add_argument(f"--{key}", type=Path, default=default, metavar="PATH",
                            help=f"{spec.repository} git mirror or a folder of its images (default: {default})")
    parser.add_argument("--sets", nargs="*", choices=list(SETS), default=list(SETS), help="sets to run (all)")
    parser.add_argument("--models", nargs="*", default=["bilateral-grid", "band-recursive"],
                        help="models to run through lhe.api.enhance; NAME or NAME@TAG (with --weights)")
    parser.add_argument("--weights", nargs="*", default=[], metavar="LABEL=PATH",
                        help="a checkpoint for a model label, e.g. bilateral-grid@new=runs/x.safetensors")
    parser.add_argument("--long-side", type=int, default=1024,
                        help="pictures are downscaled to this long side before enhancing (1024)")
    parser.add_argument("--limit", type=int, default=None, help="at most N pictures per set, evenly spaced")
    parser.add_argument("--lol-limit", type=int, default=None, help="at most N lol pairs, evenly spaced (all 485)")
    parser.add_argument("--no-niqe", action="store_true", help="skip NIQE (it needs basicsr)")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/lhe-real"),
                        help="extracted pictures go under CACHE/images (/tmp/lhe-real)")
    parser.add_argument("--sheets", type=Path, default=None, help="contact sheets folder (CACHE/sheets)")
    parser.add_argument("--sheet-rows", type=int, default=6, help="pictures per contact sheet (6)")
    parser.add_argument("--json", type=Path, default=None, help="results JSON (CACHE/lowlight_real.json)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--threads", type=int, default=1, help="torch / numba threads (1)")
    args = parser.parse_args(argv)

    weights = _parse_weights(args.weights)
    for label in weights:
        if label not in args.models:
            raise SystemExit(f"--weights {label}: not among --models {' '.join(args.models)}")
    with_niqe = not args.no_niqe
    if with_niqe:
        from lhe_training.niqe import INSTALL_HINT, niqe_available

        if not niqe_available():
            raise SystemExit(f"NIQE needs BasicSR: {INSTALL_HINT} (or run with --no-niqe)")
    sheets_dir = args.sheets or args.cache / "sheets"
    json_path = args.json or args.cache / "lowlight_real.json"

    import torch

    torch.set_num_threads(args.threads)
    try:
        import numba

        numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass

    started = time.monotonic()
    lhe_commit = _lhe_commit()  # read now: the branch may move while a long run goes on
    methods = list(BASELINE_METHODS) + list(args.models)
    loaded_sets: dict[str, LoadedSet] = {}
    for key in args.sets:
        location = getattr(args, key.replace("-", "_"))
        if location is None:
            print(f"{key}: no mirror or folder given (--{key}); skipped", file=sys.stderr)
            continue
        limits = [args.limit] + ([args.lol_limit] if SETS[key].paired else [])
        limit = min((x for x in limits if x is not None), default=None)
        loaded = load_set(SETS[key], Path(location), args.cache, limit)
        loaded_sets[key] = loaded
        where = loaded.origin.get("commit") and f"@ {loaded.origin['commit'][:7]}: {', '.join(SETS[key].folders)}"
        skipped = f"; {len(loaded.skipped)} skipped" if loaded.skipped else ""
        print(f"{SETS[key].title}: {len(loaded.pictures)} pictures from {loaded.origin['repository']} "
              f"{where or loaded.origin.get('folder')}{skipped}")
        for line in loaded.skipped:
            print(f"  skipped {line}")

    for label in args.models:  # load weights and compile kernels before anything is timed
        enhance_with_model(label, np.full((128, 128, 3), 20, np.uint8), weights, args.device)

    results: dict[str, list[dict]] = {}
    sheet_rows: dict[str, list] = {}
    for key, loaded in loaded_sets.items():
        spec = loaded.spec
        rows = []
        sheet_picks = {p.name for p in evenly_spaced(loaded.pictures, args.sheet_rows)}
        sheet_rows[key] = []
        for index, picture in enumerate(loaded.pictures):
            before = read_uint8(picture.path, args.long_side)
            reference = None
            if picture.reference is not None:
                reference = read_uint8(picture.reference, args.long_side)
                if reference.shape != before.shape:
                    loaded.skipped.append(f"{picture.name} (low {before.shape} and high {reference.shape} differ)")
                    continue
            outputs, seconds = {}, {}
            x = before.astype(np.float32) / np.float32(255.0)
            for method in methods:
                t = time.monotonic()
                if method in BASELINE_METHODS:
                    outputs[method] = to_uint8(BASELINE_METHODS[method](x))
                else:
                    outputs[method] = enhance_with_model(method, before, weights, args.device)
                seconds[method] = time.monotonic() - t
            row = {"name": picture.name, "source": picture.source, "size": [before.shape[1], before.shape[0]],
                   "methods": {}}
            if picture.reference_source is not None:
                row["reference"] = picture.reference_source
            for method, out in outputs.items():
                if out.shape != before.shape:
                    raise SystemExit(f"{method} changed the size of {picture.name}: {before.shape} → {out.shape}")
                row["methods"][method] = dict(measure(before, out, reference, with_niqe), seconds=seconds[method])
            rows.append(row)
            if picture.name in sheet_picks:
                cells = [(m, outputs[m], caption(row["methods"][m])) for m in methods]
                if reference is not None:
                    cells.append(("reference (high)", reference, ""))
                cells[0] = (cells[0][0], cells[0][1], f"{Path(picture.name).name}  " + cells[0][2])
                sheet_rows[key].append((picture.name, cells))
            print(f"  {key} {index + 1}/{len(loaded.pictures)} {picture.name} {before.shape[1]}×{before.shape[0]} "
                  + " ".join(f"{m} {seconds[m]:.1f}s" for m in args.models), file=sys.stderr, flush=True)
        results[key] = rows

    summaries = {key: summarise(rows, methods) for key, rows in results.items() if rows}
    pooled = [r for key in UNPAIRED for r in results.get(key, [])]
    if pooled:
        summaries[POOLED] = summarise(pooled, methods)

    print(f"\nlong side ≤ {args.long_side} px; noise = σ in 8-bit luma codes in the input's flat dark 16×16 tiles "
          f"(input row: the input's); shadows = mean luma of the input's darkest 30 % of tiles")
    for key in list(results) + ([POOLED] if pooled else []):
        if key not in summaries:
            continue
        if key == POOLED:
            title = f"{POOLED} ({len(pooled)} pictures: {', '.join(k for k in UNPAIRED if k in results)})"
        else:
            loaded = loaded_sets[key]
            where = (f"{loaded.origin['repository']} @ {loaded.origin['commit'][:7]}" if loaded.origin.get("commit")
                     else loaded.origin.get("folder"))
            title = f"{SETS[key].title} ({len(results[key])} pictures; {where})"
        print_table(title, summaries[key], paired=key == "lol")
    checks = check_targets(summaries, list(args.models))
    print_targets(checks, list(args.models))

    for key, rows in sheet_rows.items():
        if rows:
            write_sheet(sheets_dir / f"{key}.png", f"{SETS[key].title}, long side {args.long_side} px", rows)
    wall = time.monotonic() - started
    print(f"\ncontact sheets: {sheets_dir}/{{{','.join(k for k in sheet_rows if sheet_rows[k])}}}.png")

    from lhe.models.registry import read_card

    report = {
        "command": "python benchmarks/lowlight_real.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "lhe_commit": lhe_commit,
        "long_side": args.long_side,
        "models": {m: {"weights": weights.get(m, "shipped"),
                       "sha256": None if m in weights else getattr(read_card(m.split("@")[0]), "sha256", None)}
                   for m in args.models},
        "niqe": ("BasicSR 1.4.2 basicsr.metrics.niqe.calculate_niqe(convert_to='gray'), official release "
                 "parameters (Mittal, Soundararajan, Bovik 2013)") if with_niqe else None,
        "definitions": {
            "mean_luma": "Rec.709 luma of the 8-bit sRGB output, 0..1",
            "clipped": "fraction of pixels with any channel >= 250 of 255",
            "clipped_increase": "clipped(output) - clipped(input), fraction",
            "shadow_before/after": "mean luma of the input's darkest 30 % of 16x16 tiles, in input / output",
            "noise_before/after": "Immerkaer 1996 sigma of luma*255, median over the input's flat dark tiles "
                                  "(darkest 30 %, less structured half, mostly-black tiles excluded)",
            "colourfulness": "Hasler & Suesstrunk 2003 M on 0..255 sRGB",
            "psnr/ssim": "against the high-light image (lol only)",
        },
        "sources": {key: {**loaded.origin, "note": loaded.spec.note, "skipped": loaded.skipped,
                          "pictures": len(results.get(key, []))} for key, loaded in loaded_sets.items()},
        "summary": summaries,
        "targets": checks,
        "per_picture": results,
        "wall_seconds": round(wall, 1),
    }
    json_path.parent.mkdir(parents=True, exist_ok=True)
    json_path.write_text(json.dumps(report, indent=1, default=float, allow_nan=True))
    print(f"results: {json_path}\nwall time {wall:.0f} s")
    return 0


def _lhe_commit() -> str | None:
    try:
        return subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=40"],
                              capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except (subprocess.CalledProcessError, FileNotFoundError):
        return None


if __name__ == "__main__":
    raise SystemExit(main())
