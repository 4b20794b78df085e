"""lhe.io.Image: float pixels or the decoder's integer samples, with a linear/sRGB flag."""

import numpy as np
import pytest

from lhe.errors import ShapeError
from lhe.io.image import Image


class TestImage:
    def test_samples_become_pixels_on_first_use(self):
        image = Image(linear=False, samples=np.full((2, 3, 3), 255, np.uint8))
        assert image.samples(np.uint8) is not None and image.samples(np.uint16) is None
        assert image.pixels.dtype == np.float32 and (image.pixels == 1.0).all()
        assert (image.height, image.width) == (2, 3)

    def test_replacing_pixels_drops_the_samples(self):
        image = Image(linear=False, samples=np.zeros((2, 2, 3), np.uint16))
        image.pixels = np.ones((2, 2, 3))
        assert image.samples(np.uint16) is None and image.pixels.dtype == np.float32

    def test_with_pixels_keeps_metadata_and_alpha(self):
        alpha = np.ones((2, 2), np.uint8)
        image = Image(np.zeros((2, 2, 3), np.float32), linear=True, alpha=alpha)
        other = image.with_pixels(np.ones((2, 2, 3), np.float32), linear=False)
        assert other.meta is image.meta and other.alpha is alpha and not other.linear

    @pytest.mark.parametrize("shape", [(2, 2), (2, 2, 4), (1, 2, 2, 3)])
    def test_shape_checked(self, shape):
        with pytest.raises(ShapeError, match=r"must have shape \(H, W, 3\)"):
            Image(np.zeros(shape, np.float32), linear=False)

    def test_exactly_one_of_pixels_and_samples(self):
        with pytest.raises(ValueError, match="exactly one"):
            Image(linear=False)
