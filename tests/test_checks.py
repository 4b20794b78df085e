"""lhe.checks.check_shape: the one input-check helper."""

import numpy as np
import pytest
import torch

from lhe.checks import check_shape
from lhe.errors import InputError, ShapeError


class TestCheckShape:
    @pytest.mark.parametrize("shape", [(3, 4, 5), (1, 3, 4, 5), (2, 7, 3, 1, 1)])
    def test_leading_star_accepts_any_batch(self, shape):
        check_shape(torch.zeros(shape), ["*", "3", "H", "W"])

    @pytest.mark.parametrize("shape", [(4, 5), (1, 4, 4, 5), (1, 3, 0, 5)])
    def test_wrong_or_empty(self, shape):
        with pytest.raises(ShapeError, match=r"frame must have shape \(\*, 3, H, W\), got"):
            check_shape(np.zeros(shape), ["*", "3", "H", "W"], "frame")

    def test_exact_axes_and_hint(self):
        check_shape(np.zeros((2, 2, 3), np.uint8), ["H", "W", "3"])
        with pytest.raises(ShapeError, match=r"got \(1, 2, 2, 3\); add nothing"):
            check_shape(np.zeros((1, 2, 2, 3)), ["H", "W", "3"], hint="add nothing")

    def test_no_shape(self):
        with pytest.raises(ShapeError, match="must be an array of shape .* got list"):
            check_shape([1, 2, 3], ["3"])

    def test_is_an_input_error(self):
        assert issubclass(ShapeError, InputError)
