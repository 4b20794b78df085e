import numpy as np
import pytest

from lhe.errors import InputError
from lhe.hdr.weights import (
    WEIGHTS,
    validate_weights,
    weighting_function_Debevec1997,
    weighting_function_Reinhard2005,
    weighting_function_Robertson1999,
    weighting_function_snr,
)

Z = np.linspace(0, 1, 101)


class TestWeightingFunctions:
    @pytest.mark.parametrize("name", sorted(WEIGHTS))
    def test_zero_at_black_and_white_positive_inside(self, name):
        w = WEIGHTS[name](Z, 1.0)
        assert w.dtype == np.float32 and w.shape == Z.shape
        assert w[0] == 0 and w[-1] == 0
        assert (w[10:86] > 0).all()
        assert w.max() == pytest.approx(1.0, abs=1e-6)

    def test_debevec_triangle_values(self):
        assert weighting_function_Debevec1997(np.array([0.1, 0.5, 0.9])).tolist() == pytest.approx([0.2, 1.0, 0.2])

    def test_robertson_and_reinhard_symmetric(self):
        for function in (weighting_function_Robertson1999, weighting_function_Reinhard2005):
            assert np.allclose(function(Z), function(1 - Z), atol=1e-6)

    def test_snr_grows_with_exposure_and_cuts_near_white(self):
        assert np.allclose(weighting_function_snr(Z, 4.0), 4 * weighting_function_snr(Z, 1.0))
        assert weighting_function_snr(np.array([0.97, 0.99]), 1.0).tolist() == [0.0, 0.0]

    def test_out_of_range_inputs_clip(self):
        assert weighting_function_Debevec1997(np.array([-1.0, 2.0])).tolist() == [0.0, 0.0]


class TestValidateWeights:
    def test_valid(self):
        assert validate_weights("snr") == "snr"

    def test_unknown_lists_names(self):
        with pytest.raises(InputError, match="gaussian, hat, snr, triangle"):
            validate_weights("tent")
