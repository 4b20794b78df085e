"""The HDR modules' validation helpers (lhe.hdr._checks)."""

import numpy as np
import pytest

from lhe.errors import InputError, ShapeError
from lhe.hdr._checks import check_frames, check_image, to_unit_float, validate_method


class TestValidateMethod:
    def test_lists_the_names(self):
        assert validate_method("a", {"a": 1, "b": 2}, "thing") == "a"
        with pytest.raises(InputError, match="unknown thing 'c'; available: a, b"):
            validate_method("c", {"b": 2, "a": 1}, "thing")


class TestCheckImage:
    def test_shape_dtype_and_finite(self):
        with pytest.raises(ShapeError, match="channels last"):
            check_image(np.zeros((3, 4, 4)))
        with pytest.raises(InputError, match="float or unsigned integer"):
            check_image(np.zeros((2, 2, 3), np.int16))
        with pytest.raises(InputError, match="1 non-finite"):
            check_image(np.array([[[0.0, np.nan, 0.0]]]))


class TestCheckFrames:
    def test_size_and_count(self):
        with pytest.raises(InputError, match="at least 2 frames"):
            check_frames([np.zeros((2, 2, 3))])
        with pytest.raises(ShapeError, match="same size"):
            check_frames([np.zeros((2, 2, 3)), np.zeros((2, 3, 3))])
        assert len(check_frames(np.zeros((3, 2, 2, 3)))) == 3


class TestToUnitFloat:
    def test_integer_scaled(self):
        assert to_unit_float(np.array([65535], np.uint16))[0] == 1.0
        assert to_unit_float(np.array([0.5], np.float64)).dtype == np.float32
