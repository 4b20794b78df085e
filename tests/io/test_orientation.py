"""EXIF orientation on numpy arrays equals Pillow's exif_transpose."""

import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from lhe.io.orientation import orient_array


class TestOrientArray:
    @pytest.mark.parametrize("orientation", range(1, 9))
    def test_equals_pillow(self, orientation):
        # Reference: Pillow's ImageOps.exif_transpose on the same pixels tagged with this orientation.
        array = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
        image = PILImage.fromarray(array)
        exif = image.getexif()
        exif[0x0112] = orientation
        image.info["exif"] = exif.tobytes()
        expected = np.asarray(ImageOps.exif_transpose(image))
        np.testing.assert_array_equal(orient_array(array, orientation), expected)

    def test_unknown_value_leaves_the_array(self):
        array = np.zeros((2, 3, 3))
        assert orient_array(array, 0) is array
