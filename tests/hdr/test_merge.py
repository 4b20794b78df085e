
import numpy as np
import pytest
from tests.hdr.scenes import LUMA, encode8, footprints, make_scene, moving_object

from lhe.color import linear_to_srgb
from lhe.errors import InputError, ShapeError
from lhe.hdr.align import shift_image
from lhe.hdr.merge import MergeInfo, merge_exposures

EXPOSURES = [0.25, 1.0, 4.0]


def luminance(rgb):
    return rgb @ np.float32([0.2126, 0.7152, 0.0722])


def log_error(estimate, truth, exposures=EXPOSURES, remove_scale=False):
    """RMS log2 luminance error over the radiance range the bracket records."""
    y_true, y_est = luminance(truth), luminance(np.maximum(estimate, 0))
    mask = (y_true * max(exposures) >= 2**-7) & (truth.max(axis=2) * min(exposures) <= 0.9)
    diff = np.log2(np.maximum(y_est[mask], 1e-12)) - np.log2(y_true[mask])
    if remove_scale:
        diff -= np.median(diff)
    return float(np.sqrt(np.mean(diff**2)))


class TestMergeExposures:
    def test_float_frames_exact_recovery(self, scene):
        frames = [np.clip(linear_to_srgb(scene * e), 0, 1).astype(np.float32) for e in EXPOSURES]
        hdr = merge_exposures(frames, EXPOSURES, response="srgb", align=False)
        assert hdr.shape == scene.shape and hdr.dtype == np.float32
        recorded = scene.max(axis=2) * 0.25 < 0.9
        assert np.allclose(hdr[recorded], scene[recorded], rtol=2e-3, atol=1e-5)

    def test_uint8_bracket_small_error(self, scene, bracket):
        frames, exposures = bracket
        assert log_error(merge_exposures(frames, exposures, response="srgb"), scene) < 0.02

    def test_uint16_and_linear_raw_like(self, scene):
        frames = [np.rint(np.clip(scene * e, 0, 1) * 65535).astype(np.uint16) for e in EXPOSURES]
        hdr = merge_exposures(frames, EXPOSURES, response="linear", align=False)
        assert log_error(hdr, scene) < 0.005

    def test_auto_response_calibrates(self, scene, bracket):
        frames, exposures = bracket
        hdr, info = merge_exposures(frames, exposures, return_info=True)
        assert isinstance(info, MergeInfo) and info.response.shape == (256, 3)
        assert info.reference == 1
        assert info.exposures == pytest.approx([0.25, 1.0, 4.0], rel=2e-3)  # exact times: refinement moves < 0.003 stop
        assert log_error(hdr, scene, remove_scale=True) < 0.06

    def test_output_is_in_reference_units(self, scene, bracket):
        frames, exposures = bracket
        middle = merge_exposures(frames, exposures, response="srgb")
        brightest = merge_exposures(frames, exposures, response="srgb", reference=2)
        recorded = scene.max(axis=2) * 0.25 < 0.9
        assert np.median(brightest[recorded] / middle[recorded]) == pytest.approx(4.0, rel=1e-3)

    def test_order_does_not_matter(self, bracket):
        frames, exposures = bracket
        a = merge_exposures(frames, exposures, response="srgb")
        b = merge_exposures(frames[::-1], exposures[::-1], response="srgb")
        assert np.allclose(a, b, rtol=1e-5)

    def test_alignment_undoes_translation(self, scene):
        frames = [encode8(scene * e) for e in EXPOSURES]
        frames[0] = shift_image(frames[0], 4, -3)
        frames[2] = shift_image(frames[2], -2, 5)
        hdr, info = merge_exposures(frames, EXPOSURES, response="srgb", return_info=True)
        assert info.shifts == [(-4, 3), (0, 0), (2, -5)]
        inner = (slice(6, -6), slice(6, -6))
        assert log_error(hdr[inner], scene[inner]) < 0.03
        unaligned = merge_exposures(frames, EXPOSURES, response="srgb", align=False, deghost=False)
        assert log_error(unaligned[inner], scene[inner]) > 3 * log_error(hdr[inner], scene[inner])

    def test_deghost_takes_moving_object_from_reference(self, scene):
        frames = [encode8(scene * e) for e in EXPOSURES]
        moved = scene.copy()
        moved[20:50, 30:70] = scene[40:70, 60:100] * 3  # an object somewhere else in the long exposure
        frames[2] = encode8(moved * 4.0)
        with_ghosts = merge_exposures(frames, EXPOSURES, response="srgb", align=False, deghost=False)
        hdr, info = merge_exposures(frames, EXPOSURES, response="srgb", align=False, return_info=True)
        assert info.ghost_fraction[2] > 0.05 and info.ghost_fraction[1] == 0
        region = (slice(22, 48), slice(32, 68))
        assert log_error(hdr[region], scene[region]) < 0.1
        assert log_error(with_ghosts[region], scene[region]) > 0.3

    def test_tiny_and_odd_sizes(self):
        for shape in [(1, 1), (1, 9), (7, 13)]:
            scene = make_scene(*shape, seed=1) if min(shape) > 1 else np.full(shape + (3,), 0.3, np.float32)
            frames = [encode8(scene * e) for e in EXPOSURES]
            hdr = merge_exposures(frames, EXPOSURES, response="srgb")
            assert hdr.shape == shape + (3,) and np.isfinite(hdr).all()

    def test_all_clipped_pixels_stay_finite(self):
        frames = [np.full((4, 4, 3), v, np.uint8) for v in (255, 255, 255)]
        hdr = merge_exposures(frames, EXPOSURES, response="srgb")
        assert np.allclose(hdr, 4.0, rtol=1e-3)  # white in the darkest frame: at least 1 / 0.25

    def test_errors(self, bracket):
        frames, exposures = bracket
        with pytest.raises(InputError, match="at least 2 frames"):
            merge_exposures(frames[:1], exposures[:1])
        with pytest.raises(ShapeError, match="same size"):
            merge_exposures([frames[0], frames[1][:-1]], exposures[:2])
        with pytest.raises(InputError, match="same exposure"):
            merge_exposures(frames, [1.0, 1.0, 1.0])
        with pytest.raises(InputError, match="one exposure per frame"):
            merge_exposures(frames, exposures[:2])
        with pytest.raises(InputError, match="merge weighting"):
            merge_exposures(frames, exposures, weights="tent")
        bad = frames[0].astype(np.float32) / 255
        bad[0, 0, 0] = np.nan
        with pytest.raises(InputError, match="non-finite"):
            merge_exposures([bad, frames[1].astype(np.float32) / 255], exposures[:2])
        with pytest.raises(InputError, match="shape"):
            merge_exposures([np.zeros((4, 4)), np.zeros((4, 4))], exposures[:2])

    def test_negative_values_warn(self, scene):
        frames = [np.clip(linear_to_srgb(scene * e), 0, 1).astype(np.float32) for e in EXPOSURES]
        frames[0][0, 0] = -0.1
        with pytest.warns(UserWarning, match="negative"):
            merge_exposures(frames, EXPOSURES, response="srgb")

    def test_small_accuracy_benchmark(self):
        """A small version of benchmarks/hdr_bench.py: noisy hand-held bracket with a moving patch.

        Measured on this scene when written: lhe static 0.035, moving 0.097 stops;
        OpenCV CalibrateDebevec+MergeDebevec static 0.075, moving 0.98.
        """
        cv2 = pytest.importorskip("cv2")
        scene = make_scene(200, 240, stops=11, seed=11)
        pad = 8
        truth = scene[pad:-pad, pad:-pad]
        static, moving = [], []
        for index, e in enumerate(EXPOSURES):
            static.append(encode8(truth * e, noise=2e-4, seed=index))
            dy, dx = [(3, -5), (0, 0), (-4, 6)][index]
            view = scene[pad + dy : -pad + dy, pad + dx : -pad + dx].copy()
            if index != 1:
                view[40:80, 50:100] = scene[120:160, 20:70] * 2
            moving.append(encode8(view * e, noise=2e-4, seed=10 + index))

        def opencv(frames):
            bgr = [np.ascontiguousarray(f[..., ::-1]) for f in frames]
            times = np.float32(EXPOSURES)
            curve = cv2.createCalibrateDebevec().process(bgr, times)
            return cv2.createMergeDebevec().process(bgr, times, curve)[..., ::-1]

        ours_static = log_error(merge_exposures(static, EXPOSURES), truth, remove_scale=True)
        ours_moving = log_error(merge_exposures(moving, EXPOSURES), truth, remove_scale=True)
        theirs_static = log_error(opencv(static), truth, remove_scale=True)
        theirs_moving = log_error(opencv(moving), truth, remove_scale=True)
        assert ours_static < 0.06 and ours_moving < 0.15
        assert ours_static <= theirs_static
        assert ours_moving < 0.5 * theirs_moving


class TestGhostFreeMerge:
    """A dark object in a different place in each of three frames (tests.hdr.scenes)."""

    @staticmethod
    def mixing(hdr, background, colour):
        """Per pixel, how far (stops) the result is from the nearer of the two things that
        were really there: a translucent mix is far from both."""
        to_background = np.abs(np.log2((hdr @ LUMA) / (background @ LUMA)))
        to_object = np.abs(np.log2((hdr @ LUMA) / float(colour @ LUMA)))
        return np.minimum(to_background, to_object)

    def test_moving_object_comes_whole_from_the_reference(self):
        frames, truths, background, colour = moving_object((0.15, 0.6))  # all seen well by the reference
        hdr, info = merge_exposures(frames, EXPOSURES, response="srgb", return_info=True)
        inside = footprints(hdr.shape[:2])
        assert np.abs(np.log2((hdr @ LUMA) / (truths[1] @ LUMA))).max() < 0.25  # the reference's moment
        assert self.mixing(hdr, background, colour)[inside].max() < 0.25  # no pixel mixes two positions
        assert info.ghost_fraction[1] == 0 and min(info.ghost_fraction[0], info.ghost_fraction[2]) > 0.05
        ghosts = merge_exposures(frames, EXPOSURES, response="srgb", deghost=False)
        assert self.mixing(ghosts, background, colour)[inside].max() > 1.0  # translucent copies

    def test_no_mixing_where_the_reference_is_clipped(self):
        # A bright background the reference clips: each region comes from a frame that sees it.
        frames, _, background, colour = moving_object((1.5, 3.0))
        hdr = merge_exposures(frames, EXPOSURES, response="srgb")
        inside = footprints(hdr.shape[:2])
        assert self.mixing(hdr, background, colour)[inside].max() < 0.5
        ghosts = merge_exposures(frames, EXPOSURES, response="srgb", deghost=False)
        assert self.mixing(ghosts, background, colour)[inside].max() > 2.0


class TestRadianceFloor:
    def test_night_bracket_has_no_zero_or_negative_radiance(self):
        # Most of the scene is black even in the longest exposure, some channels too.
        rng = np.random.default_rng(0)
        scene = (2.0 ** rng.uniform(-22, -4, (64, 96, 1)) * rng.uniform(0.2, 1, (64, 96, 3))).astype(np.float32)
        scene[:8, :8] = 0.0
        scene[20:24, 30:40] = 50.0  # street lamps
        frames = [encode8(scene * e, noise=1e-6, seed=i) for i, e in enumerate((1 / 16, 1, 16))]
        assert (frames[2] == 0).mean() > 0.3  # the bracket really is that dark
        for response in ("srgb", "auto", "linear"):
            for deghost in (True, False):
                hdr = merge_exposures(frames, [1 / 16, 1, 16], response=response, deghost=deghost)
                assert np.isfinite(hdr).all() and (hdr > 0).all()
        # The floor sits at the noise level: half a code step of the brightest frame.
        hdr = merge_exposures(frames, [1 / 16, 1, 16], response="srgb")
        step = (1 / 255) / 12.92 / 16
        assert hdr.min() == pytest.approx(step / 2, rel=0.01)

    def test_linear_and_float_frames(self):
        frames = [np.zeros((8, 8, 3), np.uint16), np.full((8, 8, 3), 100, np.uint16)]
        hdr = merge_exposures(frames, [1, 4], response="linear")
        assert (hdr > 0).all()
        floats = [np.zeros((8, 8, 3), np.float32), np.full((8, 8, 3), 0.01, np.float32)]
        assert (merge_exposures(floats, [1, 4], response="srgb") > 0).all()


class TestRefineExposures:
    """Nominal exposure times a fraction of a stop off (rounded phone shutter speeds) are put
    right; a disagreement that comes from a wrong response curve is left alone."""

    def frames(self, scene, true):
        return [encode8(scene * e) for e in true]

    def test_recovers_rounded_exposures_and_lowers_error(self, scene):
        true = [0.25 * 2**0.08, 1.0, 4.0 * 2**-0.06]
        frames = self.frames(scene, true)
        plain = merge_exposures(frames, EXPOSURES, response="srgb", align=False, refine_exposures=False)
        refined, info = merge_exposures(frames, EXPOSURES, response="srgb", align=False, return_info=True)
        stops = np.log2(np.asarray(info.exposures) / np.asarray(true))
        assert np.abs(stops).max() < 0.01  # both frames put right, to 0.01 stop
        assert log_error(refined, scene) < log_error(plain, scene)

    def test_exact_exposures_stay_put_and_corrections_are_capped(self, scene):
        from lhe.hdr.merge import refine_exposure_ratios
        from lhe.hdr.response import response_srgb

        frames = self.frames(scene, EXPOSURES)
        _, info = merge_exposures(frames, EXPOSURES, response="srgb", align=False, return_info=True)
        assert np.abs(np.log2(np.asarray(info.exposures) / np.asarray(EXPOSURES))).max() < 0.01
        far = self.frames(scene, [0.25 * 2, 1.0, 4.0])  # a whole stop off: capped at 0.1 stop
        keep = [np.ones(f.shape[:2], bool) for f in far]
        refined = refine_exposure_ratios(far, keep, response_srgb(), EXPOSURES, 1)
        assert np.isclose(np.log2(refined[0] / 0.25), 0.1)
        assert refined[1] == 1.0

    def test_wrong_response_is_not_taken_for_an_exposure_error(self, scene):
        from lhe.hdr.merge import refine_exposure_ratios
        from lhe.hdr.response import response_srgb

        frames = self.frames(scene, EXPOSURES)  # exact times
        wrong = response_srgb() ** np.array([1.1, 1.2, 1.3])  # each channel's curve off by a different amount
        keep = [np.ones(f.shape[:2], bool) for f in frames]
        # The frames' overall disagreement looks like an exposure error of more than the cap ...
        ungated = refine_exposure_ratios(frames, keep, wrong, EXPOSURES, 1, agreement_stops=np.inf)
        assert np.abs(np.log2(ungated / np.asarray(EXPOSURES))).max() == pytest.approx(0.1)
        # ... but the channels disagree with each other, so nothing is corrected.
        assert refine_exposure_ratios(frames, keep, wrong, EXPOSURES, 1).tolist() == EXPOSURES
        _, info = merge_exposures(frames, EXPOSURES, response=wrong, align=False, return_info=True)
        assert info.exposures == EXPOSURES
