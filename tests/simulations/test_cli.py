"""The command line: bad input gives one line and exit 2; verify writes the documented JSON."""

import json
import subprocess
import sys

import pytest

from simulations.cli import main

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.mark.parametrize("argv", [
    ["verify", "--seed", "-3"],
    ["verify", "--seed", "x"],
    ["verify", "--quick", "--full"],
    ["no-such-command"],
    ["verify", "--bogus"],
    [],
])
def test_bad_arguments_one_line_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.strip().splitlines()) == 1, captured.err
    assert "error" in captured.err


def test_console_entry_point_exit_code():
    """The real process: one line on stderr, exit status 2, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "simulations.cli", "verify", "--seed", "-1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


def test_unknown_claim_pattern_is_one_line(capsys, tmp_path):
    assert main(["verify", "--quick", "--only", "nothing-matches-this", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no claim matches" in err[0]


def test_list_names_studies_and_claims(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert "lemma3" in out and "lemma3.trace_symmetry" in out


@pytest.fixture
def tiny_lemma3(monkeypatch):
    """Shrink the lemma3 quick preset so the CLI test runs in seconds."""
    from simulations import lemma3
    from simulations.registry import STUDIES

    tiny = lemma3.Lemma3Config(monge_dims=(2,), monge_samples=2000, monge_replicates=4,
                               coupling_samples=50, ot_sizes=(20, 40, 80), ot_replicates=4,
                               symmetry_dims=(3,), symmetry_pairs=3,
                               gelbrich_pairs=(("uniform", "laplace"),), gelbrich_dims=(2,),
                               gelbrich_samples=30, gelbrich_replicates=3)
    study = STUDIES["lemma3"]
    monkeypatch.setitem(STUDIES, "lemma3", type(study)(**{**study.__dict__,
                                                          "presets": {"quick": tiny}}))


def test_verify_json_shape(tmp_path, capsys, tiny_lemma3):
    out_json = tmp_path / "v.json"
    code = main(["verify", "--quick", "--only", "lemma3.trace_symmetry", "--out", str(tmp_path),
                 "--json", str(out_json), "--no-progress"])
    assert code == 0
    payload = json.loads(out_json.read_text())
    assert set(payload) >= {"claims", "seed", "versions", "elapsed_s"}
    (record,) = payload["claims"]
    assert set(record) == {"id", "source", "statement", "expected", "measured", "verdict", "details"}
    assert record["verdict"] in {"confirmed", "refuted", "inconclusive"}
    assert (tmp_path / "report.md").exists() and (tmp_path / "verdicts.json").exists()
    assert "lemma3.trace_symmetry" in capsys.readouterr().out


def test_part_option_for_studies_with_parts(capsys):
    from simulations.cli import build_parser

    args = build_parser().parse_args(["matching", "--part", "fig3", "--part", "appg"])
    assert args.parts == ["fig3", "appg"]
    assert build_parser().parse_args(["matching"]).parts is None
    with pytest.raises(SystemExit) as exc:
        main(["matching", "--part", "nope"])
    assert exc.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:  # a study without parts has no --part option
        main(["lemma3", "--part", "fig3"])
    assert exc.value.code == 2
