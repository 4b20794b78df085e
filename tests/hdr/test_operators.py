"""The tone-mapping names the CLI shows are the operators ``tonemap`` runs."""

import subprocess
import sys

from lhe.hdr.operators import DEFAULT_TONEMAP_METHOD, TONEMAP_METHODS
from lhe.hdr.tonemap import METHODS


class TestToneMapMethods:
    def test_names_match_the_operator_table(self):
        assert TONEMAP_METHODS == tuple(METHODS)
        assert DEFAULT_TONEMAP_METHOD in METHODS

    def test_readable_without_numpy(self):
        code = "import sys, lhe.hdr.operators; assert 'numpy' not in sys.modules"
        subprocess.run([sys.executable, "-c", code], check=True)
