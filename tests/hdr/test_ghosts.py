import numpy as np
import pytest

from lhe.errors import InputError
from lhe.hdr.ghosts import consensus_sources, ghost_masks


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


class TestGhostRegions:
    def setup_method(self):
        # Smooth radiance that both a 1× and a 4× frame expose well (0.06..0.2 and 0.24..0.8).
        y, x = np.mgrid[0:48, 0:48]
        self.scene = (0.06 * 2.0 ** ((x + y) / 94 * 1.7))[..., None].repeat(3, axis=2).astype(np.float32)

    def test_far_exposure_is_still_checked(self):
        # Frames at 1×, 8× and 64×: the 64× frame shares no well-exposed range with the 1×
        # reference, but it is compared with the consensus (here the 8× frame) within its own
        # range, so a thing that moved into it is found.
        exposures = [1, 8, 64]
        scene = self.scene * np.float32(0.1)  # 0.006..0.02: too dark for the reference
        frames = bracket_linear(scene, exposures)
        moved = scene.copy()
        moved[10:20, 10:20] /= 4  # something darker in the longest exposure only
        frames[2] = np.clip(moved * 64, 0, 1)
        masks = ghost_masks(frames, exposures, 0)
        assert masks[2][12:18, 12:18].min() == 1.0 and masks[2][35:, 35:].max() == 0

    def test_region_is_left_out_whole(self):
        frames = bracket_linear(self.scene, [0.25, 1, 4])
        frames[2][10:20, 10:30] = 0.02  # a dark thing in the long exposure...
        frames[0][10:20, 10:14] = 0.2  # ...and, in the short one, a bright sliver of the same region
        masks = ghost_masks(frames, [0.25, 1, 4], 1, blur=0, dilate=1)
        assert masks[2][10:20, 10:30].min() == 1.0
        assert masks[0][10:20, 10:30].min() == 1.0  # the whole region, not only its sliver
        assert masks[0][30:, 35:].max() == 0.0 and masks[1].max() == 0.0

    def test_sources_and_coverage(self):
        frames = bracket_linear(self.scene, [0.25, 1, 4])
        frames[2][:, :10] = 0.0  # outside the aligned frame: seen by no one
        coverage = [np.ones((48, 48), bool), np.ones((48, 48), bool), np.arange(48)[None, :].repeat(48, 0) >= 10]
        masks, sources = ghost_masks(frames, [0.25, 1, 4], 1, coverage=coverage, return_sources=True)
        assert all(m.max() == 0 for m in masks) and sources.shape == (48, 48)

    def test_broad_disagreement_is_not_one_region(self):
        # A frame that disagrees almost everywhere (a change of light) is left out only where
        # it disagrees, not wholesale.
        frames = bracket_linear(self.scene, [1, 4])
        frames[1] = frames[1] * np.float32(0.5)
        frames[1][:, 40:] = np.clip(self.scene[:, 40:] * 4, 0, 1)  # agrees on the right
        mask = ghost_masks(frames, [1, 4], 0, dilate=1, blur=0)[1]
        assert mask[:, :30].min() == 1.0 and mask[:, 45:].max() == 0.0


class TestConsensusSources:
    def test_reference_then_nearest_exposure_that_sees(self):
        scene = np.array([[0.1, 2.0, 40.0, 0.005]], np.float32)[..., None].repeat(3, axis=2)
        frames = bracket_linear(scene, [0.25, 1, 4])
        # mid-grey: the reference; clipped in it: the darker frame; clipped everywhere: the
        # darkest; too dark in it: the brighter frame.
        assert consensus_sources(frames, [0.25, 1, 4], 1).tolist() == [[1, 0, 0, 2]]
