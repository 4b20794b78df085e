import math

import numpy as np
import pytest

from lhe.errors import InputError
from lhe.hdr.exposure import (
    MissingExposureError,
    default_reference,
    exposures_from_stops,
    normalise_exposures,
    relative_exposure,
    resolve_exposures,
    snap_nominal,
)


class TestRelativeExposure:
    def test_known_ratios(self):
        base = relative_exposure(1 / 100, 4.0, 100)
        assert relative_exposure(1 / 50, 4.0, 100) == pytest.approx(2 * base)
        assert relative_exposure(1 / 100, 4.0, 400) == pytest.approx(4 * base)
        assert relative_exposure(1 / 100, 2.0, 100) == pytest.approx(4 * base)  # two stops wider

    def test_missing_aperture_and_iso_are_neutral(self):
        assert relative_exposure(0.5) == pytest.approx(relative_exposure(0.5, 1.0, 100))

    @pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf])
    def test_rejects_bad_values(self, bad):
        with pytest.raises(InputError, match="exposure time"):
            relative_exposure(bad)
        with pytest.raises(InputError, match="f-number"):
            relative_exposure(1.0, bad)


class TestNormaliseExposures:
    def test_middle_becomes_one_any_order(self):
        assert normalise_exposures([4.0, 0.25, 1.0]).tolist() == [4.0, 0.25, 1.0]
        assert normalise_exposures([8.0, 2.0, 0.5]).tolist() == [4.0, 1.0, 0.25]

    def test_explicit_reference(self):
        assert normalise_exposures([1.0, 2.0, 4.0], reference=2).tolist() == [0.25, 0.5, 1.0]

    def test_identical_exposures_rejected(self):
        with pytest.raises(InputError, match="same exposure"):
            normalise_exposures([1 / 60, 1 / 60, 1 / 60])

    @pytest.mark.parametrize("values", [[1.0], [1.0, math.nan], [1.0, 0.0], [1.0, -2.0], [1.0, math.inf]])
    def test_invalid(self, values):
        with pytest.raises(InputError):
            normalise_exposures(values)

    def test_reference_out_of_range(self):
        with pytest.raises(InputError, match="reference"):
            normalise_exposures([1.0, 2.0], reference=5)


class TestDefaultReference:
    def test_middle_exposure_index(self):
        assert default_reference([4.0, 0.25, 1.0]) == 2
        assert default_reference([1.0, 2.0, 4.0, 8.0]) == 1  # even count: lower middle


class TestSnapNominal:
    def test_nominal_shutter_speeds_become_exact_stops(self):
        snapped = snap_nominal([1 / 60, 1 / 15, 1 / 4])
        assert np.log2(snapped / snapped[0]).tolist() == pytest.approx([0.0, 2.0, 4.0])

    def test_half_stop_ratios_are_kept(self):
        assert snap_nominal([1.0, 2**0.5]).tolist() == pytest.approx([1.0, 2**0.5])


class TestExposuresFromStops:
    def test_ev_to_relative(self):
        assert exposures_from_stops([-2, 0, 2, 0.5]) == pytest.approx([0.25, 1.0, 4.0, 2**0.5])

    @pytest.mark.parametrize("stops", [[float("nan")], [0, 61], [float("inf"), 0]])
    def test_out_of_range(self, stops):
        with pytest.raises(InputError, match="stops"):
            exposures_from_stops(stops)


class TestResolveExposures:
    def test_metadata(self):
        assert resolve_exposures(3, metadata=[1 / 64, 1 / 4, 1 / 16]).tolist() == pytest.approx([0.25, 4.0, 1.0])

    def test_options_win_over_metadata(self):
        result = resolve_exposures(3, metadata=[1.0, 1.0, 2.0], exposures=[0.25, 1.0, 4.0])
        assert result.tolist() == [0.25, 1.0, 4.0]

    def test_missing_everywhere_names_frames_and_what_to_give(self):
        with pytest.raises(MissingExposureError, match=r"b\.jpg.*exposure time.*exposure value") as caught:
            resolve_exposures(2, metadata=[0.5, None], names=["a.jpg", "b.jpg"])
        assert caught.value.frames == ["b.jpg"] and isinstance(caught.value, InputError)
        import pickle

        copy = pickle.loads(pickle.dumps(caught.value))
        assert copy.frames == ["b.jpg"] and str(copy) == str(caught.value)

    def test_count_mismatch(self):
        with pytest.raises(InputError, match="2 exposure times for 3 frames"):
            resolve_exposures(3, times=[1.0, 2.0])

    def test_both_options(self):
        with pytest.raises(InputError, match="not both"):
            resolve_exposures(2, times=[1.0, 2.0], exposures=[1.0, 2.0])

    def test_identical_metadata(self):
        with pytest.raises(InputError, match="same exposure"):
            resolve_exposures(3, metadata=[0.01, 0.01, 0.01])


class TestLibraryLanguage:
    @pytest.mark.parametrize(
        "call",
        [
            lambda: resolve_exposures(2, metadata=[0.5, None]),
            lambda: resolve_exposures(3, times=[1.0, 2.0]),
            lambda: resolve_exposures(3, exposures=[1.0, 2.0]),
            lambda: resolve_exposures(2, times=[1.0, 2.0], exposures=[1.0, 2.0]),
            lambda: resolve_exposures(2, times=[1.0, -2.0]),
            lambda: resolve_exposures(3, metadata=[0.01, 0.01, 0.01]),
            lambda: exposures_from_stops([99]),
        ],
    )
    def test_messages_name_no_command_line_flag(self, call):
        # The library takes typed values; flags and their syntax belong to lhe.cli.
        with pytest.raises(InputError) as caught:
            call()
        assert "--" not in str(caught.value)
