import pytest

from lhe.errors import InputError
from lhe_training.train import main


class TestMain:
    def test_unknown_model(self):
        with pytest.raises(InputError, match="bilateral-grid"):
            main(["no-such-model"])

    def test_dispatches_with_dashes(self, capsys):
        with pytest.raises(SystemExit) as exit_info:
            main(["bilateral-grid", "--help"])
        assert exit_info.value.code == 0
        assert "--steps" in capsys.readouterr().out

    def test_help(self, capsys):
        assert main(["--help"]) == 0
        assert "python -m lhe_training.train" in capsys.readouterr().out
