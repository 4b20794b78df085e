import numpy as np
import pytest

from lhe.kernels.hdr import (
    bilinear_grid,
    block_log_luminance_kernel,
    local_tonemap_kernel,
    merge_kernel,
    merge_transform_kernel,
)


class TestBilinearGrid:
    def test_identity_and_upsampling(self):
        base, fraction = bilinear_grid(5, 5)
        assert np.allclose(base + fraction, np.arange(5))
        base, fraction = bilinear_grid(4, 2)
        assert base.tolist() == [0, 0, 0, 0] and fraction.tolist() == [0.0, 0.25, 0.75, 1.0]

    def test_single_pixel_map(self):
        base, fraction = bilinear_grid(3, 1)
        assert base.tolist() == [0, 0, 0] and fraction.tolist() == [0.0, 0.0, 0.0]


def merge_reference(frames, shifts, transforms, general, reference, weight, weighted, guard, masks, has_mask, y0, fy, x0, fx, floor):
    """Plain-python version of the merge kernel (the specification it is tested against)."""
    height, width = frames[0].shape[:2]
    mh, mw = masks.shape[1:]
    out = np.empty((height, width, 3))
    channels = np.arange(3)
    for y in range(height):
        for x in range(width):
            num, den = np.zeros(3), np.zeros(3)
            for j, frame in enumerate(frames):
                keep = 1.0
                if has_mask[j]:
                    m = masks[j]
                    ya, xa = y0[y], x0[x]
                    yb, xb = min(ya + 1, mh - 1), min(xa + 1, mw - 1)
                    top = m[ya, xa] * (1 - fx[x]) + m[ya, xb] * fx[x]
                    bottom = m[yb, xa] * (1 - fx[x]) + m[yb, xb] * fx[x]
                    keep = 1 - (top * (1 - fy[y]) + bottom * fy[y])
                    if keep <= 0:
                        continue
                if not general[j]:
                    sy, sx = y - shifts[j, 0], x - shifts[j, 1]
                    if not (0 <= sy < height and 0 <= sx < width):
                        sy, sx, keep = min(max(sy, 0), height - 1), min(max(sx, 0), width - 1), keep * 1e-6
                    z = frame[sy, sx]
                    keep *= guard[j, z.max()]
                    den += keep * weight[j, channels, z]
                    num += keep * weighted[j, channels, z]
                else:
                    point = transforms[j] @ [x + 0.5, y + 0.5, 1.0]
                    px, py = point[0] / point[2] - 0.5, point[1] / point[2] - 0.5
                    if not (0 <= px <= width - 1 and 0 <= py <= height - 1):
                        px, py, keep = min(max(px, 0), width - 1), min(max(py, 0), height - 1), keep * 1e-6
                    ix, iy = int(px), int(py)
                    ix1, iy1 = min(ix + 1, width - 1), min(iy + 1, height - 1)
                    bx, by = px - ix, py - iy
                    corners = [(iy, ix, (1 - bx) * (1 - by)), (iy, ix1, bx * (1 - by)), (iy1, ix, (1 - bx) * by), (iy1, ix1, bx * by)]
                    keep *= guard[j, max(frame[a, b].max() for a, b, c in corners if c > 0)]
                    den += keep * sum(c * weight[j, channels, frame[a, b]] for a, b, c in corners)
                    num += keep * sum(c * weighted[j, channels, frame[a, b]] for a, b, c in corners)
            # Nothing measured a channel (all masked): the reference frame's own estimate.
            z = frames[reference][y, x]
            empty = den <= 1e-30
            num = np.where(empty, weighted[reference, channels, z], num)
            den = np.where(empty, weight[reference, channels, z], den)
            out[y, x] = np.maximum(num / den, floor)
    return out


class TestMergeKernel:
    def _inputs(self, general):
        rng = np.random.default_rng(0)
        frames = tuple(rng.integers(0, 256, (9, 11, 3), dtype=np.uint8) for _ in range(3))
        shifts = np.array([[1, -2], [0, 0], [-1, 3]], np.int64)
        angle = 0.05
        rotation = np.array([[np.cos(angle), -np.sin(angle), 0.7], [np.sin(angle), np.cos(angle), -1.3], [0, 0, 1]])
        transforms = np.stack([rotation, np.eye(3), np.array([[1, 0, 0.25], [0, 1, 0.5], [1e-3, 0, 1]])])
        weight = rng.random((3, 3, 256)).astype(np.float32) + 0.1
        weighted = rng.random((3, 3, 256)).astype(np.float32)
        guard = rng.random((3, 256)).astype(np.float32) + 0.1
        masks = rng.random((3, 3, 4)).astype(np.float32)
        masks[0, 0, 0] = 1.0  # frame 0 fully masked near the top left corner
        masks[:, 2, 3] = 1.0  # every frame masked at the bottom right: the reference's value
        has_mask = np.array([True, True, True])
        y0, fy = bilinear_grid(9, 3)
        x0, fx = bilinear_grid(11, 4)
        floor = np.array([0.0, 0.0, 0.3], np.float32)
        return (frames, shifts, transforms, np.array(general), 1, weight, weighted, guard, masks, has_mask, y0, fy, x0, fx, floor)

    @pytest.mark.parametrize("general", [[False, False, False], [True, False, True]])
    def test_matches_python_reference(self, general):
        args = self._inputs(general)
        out = np.empty((9, 11, 3), np.float32)
        merge_transform_kernel()(*args, out)
        assert np.allclose(out, merge_reference(*args), rtol=1e-4)
        assert out[..., 2].min() >= 0.3  # the floor
        if not any(general):  # the offset-only kernel does the same
            offset = np.empty_like(out)
            merge_kernel()(*args[:2], *args[4:], offset)
            assert np.allclose(offset, out, rtol=1e-6)

    def test_identity_transform_equals_offset_read(self):
        args = list(self._inputs([False, False, False]))
        args[1] = np.zeros((3, 2), np.int64)
        offset = np.empty((9, 11, 3), np.float32)
        merge_kernel()(*args[:2], *args[4:], offset)
        args[2] = np.stack([np.eye(3)] * 3)
        args[3] = np.array([True, True, True])
        resampled = np.empty_like(offset)
        merge_transform_kernel()(*args, resampled)
        assert np.allclose(offset, resampled, rtol=1e-5)


class TestBlockLogLuminanceKernel:
    def test_block_means_with_ragged_edge(self):
        rgb = np.random.default_rng(1).random((5, 7, 3)).astype(np.float32) + 0.01
        out = np.empty((3, 4), np.float32)
        block_log_luminance_kernel()(rgb, 2, 1e-6, out)
        lum = rgb @ np.float32([0.2126, 0.7152, 0.0722])
        expected = [[np.log2(lum[2 * i : 2 * i + 2, 2 * j : 2 * j + 2].mean()) for j in range(4)] for i in range(3)]
        assert np.allclose(out, expected, atol=1e-5)


class TestLocalTonemapKernel:
    def test_matches_exact_arithmetic(self):
        # The kernel's series log2/exp2 must agree with numpy's to display precision.
        rng = np.random.default_rng(2)
        rgb = (2.0 ** rng.uniform(-12, 8, (6, 10, 3))).astype(np.float32)
        coef_a = rng.uniform(0.5, 1.0, (2, 3)).astype(np.float32)
        coef_b = rng.uniform(-1, 1, (2, 3)).astype(np.float32)
        y0, fy = bilinear_grid(6, 2)
        x0, fx = bilinear_grid(10, 3)
        encode = (np.linspace(0, 1, 16385) ** 2) ** (1 / 2.2)  # sampled on a square-root grid
        encode = encode.astype(np.float32)
        out = np.empty_like(rgb)
        compression, anchor = 0.4, 3.0
        local_tonemap_kernel()(rgb, coef_a, coef_b, y0, fy, x0, fx, 1e-9, compression, anchor, 1.0, encode, out)

        def lerp2(c):
            rows = c[y0] * (1 - fy[:, None]) + c[np.minimum(y0 + 1, 1)] * fy[:, None]
            return rows[:, x0] * (1 - fx) + rows[:, np.minimum(x0 + 1, 2)] * fx

        lum = rgb.astype(np.float64) @ [0.2126, 0.7152, 0.0722]
        base = lerp2(coef_a.astype(np.float64)) * np.log2(lum) + lerp2(coef_b.astype(np.float64))
        gain = np.exp2(base * (compression - 1) - anchor * compression)
        expected = np.clip(rgb * gain[..., None], 0, 1) ** (1 / 2.2)
        assert np.allclose(out, expected, atol=2e-4)


class TestSerialised:
    def test_threads_get_the_same_results(self):
        from concurrent.futures import ThreadPoolExecutor

        from lhe.hdr.merge import merge_exposures
        from tests.hdr.scenes import encode8, make_scene

        scene = make_scene(48, 64)
        frames = [encode8(scene * e) for e in (0.25, 1.0, 4.0)]
        expected = merge_exposures(frames, [0.25, 1.0, 4.0], response="srgb")
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: merge_exposures(frames, [0.25, 1.0, 4.0], response="srgb"), range(8)))
        assert all(np.array_equal(r, expected) for r in results)


def _binomial_reduce(image):
    """Reference Gaussian pyramid step: [1 4 6 4 1] / 16 along both axes, edges repeated, even samples."""
    taps = np.array([1, 4, 6, 4, 1], np.float64) / 16
    padded = np.pad(image.astype(np.float64), ((2, 2), (0, 0), (0, 0)), mode="edge")
    rows = sum(t * padded[k : k + image.shape[0]] for k, t in enumerate(taps))
    padded = np.pad(rows, ((0, 0), (2, 2), (0, 0)), mode="edge")
    blurred = sum(t * padded[:, k : k + image.shape[1]] for k, t in enumerate(taps))
    return blurred[::2, ::2]


def _expand(coarse, shape):
    """Reference Burt-Adelson expand: (g[i-1] + 6 g[i] + g[i+1]) / 8 at even, (g[i] + g[i+1]) / 2 at odd positions."""
    def along(values, size, axis):
        values = np.moveaxis(values, axis, 0)
        n = values.shape[0]
        out = np.empty((size,) + values.shape[1:])
        for position in range(size):
            i = position // 2
            if position % 2 == 0:
                out[position] = (values[max(i - 1, 0)] + 6 * values[i] + values[min(i + 1, n - 1)]) / 8
            else:
                out[position] = (values[i] + values[min(i + 1, n - 1)]) / 2
        return np.moveaxis(out, 0, axis)

    return along(along(coarse.astype(np.float64), shape[0], 0), shape[1], 1)


class TestPyramidKernels:
    @pytest.mark.parametrize("shape", [(7, 9, 4), (16, 11, 1), (1, 5, 4), (33, 2, 3)])
    def test_reduce_is_the_binomial_step(self, shape):
        from lhe.kernels.hdr import pyramid_reduce_kernel

        image = np.random.default_rng(0).random(shape, dtype=np.float32)
        out = np.empty(((shape[0] + 1) // 2, (shape[1] + 1) // 2, shape[2]), np.float32)
        pyramid_reduce_kernel()(image, out)
        np.testing.assert_allclose(out, _binomial_reduce(image), atol=1e-6)

    @pytest.mark.parametrize("shape", [(9, 12), (8, 7), (1, 3)])
    def test_blend_adds_the_weighted_laplacian_and_collapses(self, shape):
        from lhe.kernels.hdr import pyramid_blend_kernel

        rng = np.random.default_rng(1)
        level = rng.random(shape + (4,), dtype=np.float32)  # colour and weight
        coarse = rng.random(((shape[0] + 1) // 2, (shape[1] + 1) // 2, 4), dtype=np.float32)
        start = rng.random(shape + (3,), dtype=np.float32)
        acc = start.copy()
        pyramid_blend_kernel()(level, coarse, acc, True)
        laplacian = level[..., :3] - _expand(coarse[..., :3], shape)
        np.testing.assert_allclose(acc, start + laplacian * level[..., 3:], atol=1e-5)

        acc = start.copy()
        pyramid_blend_kernel()(level, np.zeros((0, 0, 4), np.float32), acc, True)  # the top level
        np.testing.assert_allclose(acc, start + level[..., :3] * level[..., 3:], atol=1e-6)

        acc = start.copy()
        pyramid_blend_kernel()(np.zeros((0, 0, 4), np.float32), np.ascontiguousarray(coarse[..., :3]), acc, False)
        np.testing.assert_allclose(acc, start + _expand(coarse[..., :3], shape), atol=1e-6)
