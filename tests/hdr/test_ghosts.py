import numpy as np
import pytest

from lhe.errors import InputError
from lhe.hdr.ghosts import ghost_masks, resize_bilinear


def bracket_linear(scene, exposures):
    return [np.clip(scene * e, 0, 1).astype(np.float32) for e in exposures]


class TestGhostMasks:
    def setup_method(self):
        rng = np.random.default_rng(0)
        self.scene = (2.0 ** rng.uniform(-4, 2, (40, 40, 1)) * np.ones(3)).astype(np.float32)

    def test_static_scene_has_no_ghosts(self):
        masks = ghost_masks(bracket_linear(self.scene, [0.25, 1, 4]), [0.25, 1, 4], 1)
        assert all(float(m.max()) == 0 for m in masks)

    def test_moving_patch_is_masked(self):
        frames = bracket_linear(self.scene, [0.25, 1, 4])
        moved = self.scene.copy()
        moved[10:20, 10:20] = 0.05  # dark object only in the long exposure
        frames[2] = np.clip(moved * 4, 0, 1)
        masks = ghost_masks(frames, [0.25, 1, 4], 1)
        assert masks[2][12:18, 12:18].min() == pytest.approx(1.0)
        assert masks[2][30:, 30:].max() == 0
        assert masks[0].max() == 0 and masks[1].max() == 0

    def test_clipping_is_not_motion(self):
        bright = np.full((16, 16, 3), 3.0, np.float32)  # clipped in the reference, fine when darker
        frames = bracket_linear(bright, [0.25, 1])
        assert ghost_masks(frames, [0.25, 1], 1)[0].max() == 0

    def test_mask_is_smooth_and_bounded(self):
        frames = bracket_linear(self.scene, [1, 4])
        frames[1][18:22, 18:22] = 0.0
        mask = ghost_masks(frames, [1, 4], 0)[1]
        assert 0 <= mask.min() and mask.max() <= 1
        assert 0 < mask[18, 15] < 1 or 0 < mask[18, 14] < 1  # feathered edge

    def test_errors(self):
        frames = bracket_linear(self.scene, [1, 4])
        with pytest.raises(InputError, match="exposures"):
            ghost_masks(frames, [1], 0)
        with pytest.raises(InputError, match="reference"):
            ghost_masks(frames, [1, 4], 3)
        with pytest.raises(InputError, match="threshold"):
            ghost_masks(frames, [1, 4], 0, threshold=0)


class TestResizeBilinear:
    def test_constant_and_ramp(self):
        assert np.allclose(resize_bilinear(np.full((3, 4), 0.5), (7, 9)), 0.5)
        assert resize_bilinear(np.array([[0.0, 1.0]]), (1, 4)).tolist() == [[0.0, 0.25, 0.75, 1.0]]

    def test_rows_subset_matches_whole(self):
        image = np.random.default_rng(1).random((5, 6))
        whole = resize_bilinear(image, (20, 24))
        assert np.allclose(resize_bilinear(image, (20, 24), slice(7, 13)), whole[7:13])
