"""lhe.commands: what each CLI command does with its options (end to end in tests/test_cli*.py)."""

import pytest

from lhe import commands
from lhe.errors import InputError
from lhe.models.registry import METHODS


class TestListModels:
    def test_every_registered_model_and_the_classical_methods(self, capsys):
        commands.list_models()
        out = capsys.readouterr().out
        for method in METHODS:
            assert f"{method.name}  [" in out
        assert "classical  [enhance, expand-hdr]  no checkpoint needed" in out


class TestFormatChoices:
    def test_enhance_refuses_hdr_formats_listing_display_ones(self, tmp_path):
        with pytest.raises(InputError, match="use jpeg, png, tiff, webp or heif"):
            commands.run_enhance([str(tmp_path)], None, model="classical", weights=None, strength=1.0, exposure=0.0,
                                 device="cpu", format="exr", quality=95, bit_depth=None, overwrite=False,
                                 recursive=False, workers=1, max_pixels=1, quiet=True, json_lines=False)

    def test_expand_hdr_takes_linear_formats_only(self, tmp_path):
        with pytest.raises(InputError, match="must be exr, hdr or tiff, got 'png'"):
            commands.run_expand_hdr([str(tmp_path)], None, model="classical", weights=None, device="cpu", format="png",
                                    float32=False, overwrite=False, recursive=False, workers=1, max_pixels=1,
                                    quiet=True, json_lines=False)
