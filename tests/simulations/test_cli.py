"""The command line: bad input gives one line and exit 2; verify writes the documented JSON."""

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from tests.simulations.core.toy import ToyConfig, toy_study
from vqmatch.simulations import cli
from vqmatch.simulations.cli import README_END, README_START, main
from vqmatch.simulations.studies import CLAIMS, STUDIES
from vqmatch.simulations.studies.density.config import DensityConfig
from vqmatch.simulations.studies.lemma3.config import Lemma3Config

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
    proc = subprocess.run([sys.executable, "-m", "vqmatch.simulations.cli", "verify", "--seed", "-1"],
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
    """Shrink the lemma3 quick scale so the CLI test runs in seconds."""
    tiny = Lemma3Config(monge_dims=(2,), monge_samples=2000, monge_replicates=4,
                        coupling_samples=50, ot_sizes=(20, 40, 80), ot_replicates=4,
                        symmetry_dims=(3,), symmetry_pairs=3,
                        gelbrich_pairs=(("uniform", "laplace"),), gelbrich_dims=(2,),
                        gelbrich_samples=30, gelbrich_replicates=3)
    monkeypatch.setitem(STUDIES["lemma3"].scales, "quick", tiny)


@pytest.fixture
def tiny_density(monkeypatch):
    """A density quick scale of a few seconds (Lloyd-Max, k-means and random codebooks)."""
    tiny = DensityConfig(
        lloyd_sources=("gaussian",), lloyd_codebook_sizes=(16, 32), kmeans_sources=("gaussian",),
        kmeans_dims=(2,), kmeans_codebook_sizes=(32, 48), kmeans_samples_per_code=40,
        kmeans_replicates=3, kmeans_max_iter=40, random_dims=(2, 8), random_codebook_size=64,
        random_features=1000, random_scale2=(0.5, 1.0, 2.0), random_replicates=3)
    monkeypatch.setitem(STUDIES["density"].scales, "quick", tiny)
    return tiny


def test_verify_json_shape(tmp_path, capsys, tiny_lemma3):
    out_json = tmp_path / "v.json"
    code = main(["verify", "--quick", "--only", "lemma3.trace_symmetry", "--out", str(tmp_path),
                 "--json", str(out_json), "--no-progress"])
    assert code == 0
    payload = json.loads(out_json.read_text())
    assert set(payload) >= {"claims", "seed", "scale", "versions", "elapsed_s"}
    assert payload["scale"] == "quick"
    (record,) = payload["claims"]
    assert set(record) == {"id", "source", "statement", "expected", "measured", "verdict", "details"}
    assert record["verdict"] == "confirmed"  # round-off agreement of the two orders
    assert (tmp_path / "report.md").exists() and (tmp_path / "verdicts.json").exists()
    assert "lemma3.trace_symmetry" in capsys.readouterr().out


def test_verify_reads_a_finished_results_folder(tmp_path, capsys, tiny_lemma3, monkeypatch):
    """--results: the same verdicts and measured texts as the run that wrote the folder, nothing
    computed and nothing rewritten; the claims of studies the folder lacks are left out; a folder
    missing some cells is one line, exit 2."""
    ran = tmp_path / "ran.json"
    assert main(["verify", "--quick", "--only", "lemma3.*", "--out", str(tmp_path / "ref"),
                 "--json", str(ran), "--no-progress"]) == 0
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "ref").rglob("*")}
    from vqmatch.simulations.core import runner

    def no_compute(tasks, **kwargs):
        assert not tasks, "a cell was computed"
        return {}

    monkeypatch.setattr(runner, "run_tasks", no_compute)
    read = tmp_path / "read.json"
    capsys.readouterr()
    assert main(["verify", "--quick", "--only", "[lw][e2]*", "--results", str(tmp_path / "ref"),
                 "--json", str(read), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "has no results of w2; their claims are left out" in captured.err
    assert f"read from {tmp_path / 'ref'}" in captured.out
    a, b = json.loads(ran.read_text()), json.loads(read.read_text())
    assert [(r["id"], r["verdict"], r["measured"]) for r in a["claims"]] == [
        (r["id"], r["verdict"], r["measured"]) for r in b["claims"]]
    assert b["results"] == str(tmp_path / "ref")
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "ref").rglob("*")} == files
    # one cell lost: one line naming the folder, exit 2
    next((tmp_path / "ref" / "results" / "lemma3" / "cells").glob("*.json")).unlink()
    assert main(["verify", "--quick", "--only", "lemma3.*", "--results",
                 str(tmp_path / "ref")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lacks 1 of the" in err[0] and "vqmatch lemma3 --out" in err[0]
    assert main(["verify", "--results", str(tmp_path / "nothing")]) == 2
    assert "results must be a folder holding results/<study>/" in capsys.readouterr().err


def test_part_option_for_studies_with_parts(capsys):
    from vqmatch.simulations.cli import build_parser

    args = build_parser().parse_args(["matching", "--part", "fig3", "--part", "appg"])
    assert args.parts == ["fig3", "appg"]
    assert build_parser().parse_args(["matching"]).parts is None
    with pytest.raises(SystemExit) as exc:
        main(["matching", "--part", "nope"])
    assert exc.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
    with pytest.raises(SystemExit) as exc:  # a study without parts has no --part option
        main(["lemma3", "--part", "fig3"])
    assert exc.value.code == 2


def test_jobs_two_and_jobs_one_give_identical_rows(tmp_path, tiny_density, capsys):
    """`vqmatch density --quick --jobs 2` and `--jobs 1` write byte-identical rows."""
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["density", "--quick", "--out", str(a), "--no-progress"]) == 0
    assert main(["density", "--quick", "--out", str(b), "--no-progress", "--jobs", "2"]) == 0
    rows = [(p / "results" / "density" / "rows.csv").read_bytes() for p in (a, b)]
    assert rows[0] == rows[1] and rows[0].count(b"\n") > 10
    out = capsys.readouterr().out
    assert "0 reused" in out
    # a rerun reuses every cell
    assert main(["density", "--quick", "--out", str(b), "--no-progress"]) == 0
    assert "0 cells run" in capsys.readouterr().out


def test_adding_a_grid_point_from_the_cli_runs_only_new_cells(tmp_path, tiny_density, capsys,
                                                             monkeypatch):
    out = str(tmp_path)
    assert main(["density", "--quick", "--out", out, "--no-progress"]) == 0
    first = capsys.readouterr().out
    bigger = replace(tiny_density, kmeans_codebook_sizes=(32, 48, 64))
    monkeypatch.setitem(STUDIES["density"].scales, "quick", bigger)
    assert main(["density", "--quick", "--out", out, "--no-progress"]) == 0
    second = capsys.readouterr().out
    assert "6 cells run, 0 reused" in first and "1 cells run, 6 reused" in second


@pytest.mark.parametrize("argv", [
    ["density", "--jobs", "0"],
    ["density", "--executor", "kubernetes"],
    ["density", "--slurm-time", "soon"],
    ["density", "--threads", "0"],
])
def test_execution_options_are_checked(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_missing_slurm_config_is_one_line(capsys, tmp_path):
    code = main(["density", "--quick", "--out", str(tmp_path), "--executor", "slurm",
                 "--slurm-config", str(tmp_path / "none.toml")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "none.toml" in err[0]


@pytest.mark.parametrize("key", ["scale", "preset"])  # "preset": verdict files before the rename
def test_report_writes_the_readme_table(tmp_path, capsys, key):
    payload = {key: "quick", "seed": 0, "elapsed_s": 12.0, "claims": [
        {"id": "a.one", "verdict": "confirmed", "measured": "x | y"},
        {"id": "b.two", "verdict": "refuted", "measured": "z"}]}
    (tmp_path / "verdicts.json").write_text(json.dumps(payload))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{README_START}\nold table\n{README_END}\noutro\n")
    assert main(["report", "--out", str(tmp_path), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "old table" not in text and text.startswith("intro") and text.endswith("outro\n")
    assert "| `a.one` |  | confirmed | quick | x / y |" in text and "`vqmatch verify --quick`" in text
    assert "1 confirmed, 1 refuted, 0 inconclusive" in text
    assert main(["report", "--out", str(tmp_path)]) == 0
    assert "| `b.two` |  | refuted | quick | z |" in capsys.readouterr().out
    # a second folder (a default-scale run read with --results) replaces its claims' verdicts
    other = tmp_path / "default"
    other.mkdir()
    (other / "verdicts.json").write_text(json.dumps({
        "scale": "default", "seed": 0, "elapsed_s": 3600.0, "results": "docs/reference/default",
        "claims": [{"id": "b.two", "verdict": "confirmed", "source": "Table 6 (CIFAR-10); §4",
                    "measured": "U 0.99 [0.98, 1.00]; more"}]}))
    assert main(["report", "--out", str(tmp_path), "--out", str(other)]) == 0
    out = capsys.readouterr().out
    assert "| `b.two` | Table 6 | confirmed | default | U 0.99 [0.98, 1.00] |" in out
    assert "| `a.one` |  | confirmed | quick | x / y |" in out
    assert ("`vqmatch verify --quick` (seed 0; 12 s): 1 confirmed, 0 refuted, 0 inconclusive of its 1 "
            "claims below; `vqmatch verify --results docs/reference/default` (seed 0; 3600 s): "
            "1 confirmed") in out


def test_gist_is_the_first_clause_cut_at_a_word():
    from vqmatch.simulations.cli import gist

    assert gist("K=1024: U 0.99 [0.98, 1.00]; and more. Other") == "K=1024: U 0.99 [0.98, 1.00]"
    assert gist("no clause at all.") == "no clause at all"
    assert gist("not here (ran K=2048; needs more); next") == "not here (ran K=2048; needs more)"
    long = gist("word " * 60)
    assert len(long) <= 100 and long.endswith("…") and " wor…" not in long
    assert "|" not in gist("a | b")


def test_report_errors_are_one_line(tmp_path, capsys):
    assert main(["report", "--out", str(tmp_path)]) == 2
    (tmp_path / "verdicts.json").write_text("{}")
    assert main(["report", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all("vqmatch: error" in line for line in err)


def test_readme_verdict_table_lists_exactly_the_registry_claims():
    """The README table is generated by `vqmatch report` from the committed reference run; its
    claim ids must be the registry's."""
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert README_START in readme and README_END in readme
    table = readme.split(README_START, 1)[1].split(README_END, 1)[0]
    ids = re.findall(r"^\| `([a-z0-9_.]+)` \|", table, flags=re.M)
    assert sorted(ids) == sorted(CLAIMS)


def test_reproduce_runs_each_study_once(tiny_lemma3, monkeypatch, tmp_path, capsys):
    """reproduce hands the studies it ran to verify instead of running (and summarising) them again."""
    monkeypatch.setattr(cli, "STUDIES", {"lemma3": STUDIES["lemma3"]})
    monkeypatch.setattr(cli, "CLAIMS", {k: c for k, c in CLAIMS.items() if c.study == "lemma3"})
    runs = []
    real_run = cli._run
    monkeypatch.setattr(cli, "_run", lambda args, study, config, parts=None: runs.append(
        study.name) or real_run(args, study, config, parts))
    assert main(["reproduce", "--quick", "--out", str(tmp_path), "--no-progress"]) == 0
    assert runs == ["lemma3"]
    verdicts = json.loads((tmp_path / "verdicts.json").read_text())
    assert {r["id"] for r in verdicts["claims"]} == {k for k, c in CLAIMS.items() if c.study == "lemma3"}
    assert verdicts["elapsed_s"] > 0


def test_a_missing_grid_file_is_named_as_such(tmp_path, capsys):
    assert main(["vqvae", "--quick", "--grid", str(tmp_path / "grid.toml"), "--dry-run"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "grid file" in err[0] and "does not exist" in err[0]


def test_the_cli_has_no_study_of_its_own():
    """Study-specific options live with the study (its command hook), not in the CLI."""
    text = Path(cli.__file__).read_text(encoding="utf-8")
    for name in STUDIES:
        assert f'"{name}"' not in text, name


class _ToyCommand:
    """A study's own options: ``--x`` adds a grid point; ``--stop`` ends before the run."""

    def add_arguments(self, parser, study):
        parser.add_argument("--x", type=float, action="append")
        parser.add_argument("--stop", action="store_true")

    def config(self, args, study):
        cfg = study.config(args.scale)
        return replace(cfg, xs=cfg.xs + tuple(args.x)) if args.x else cfg

    def before_run(self, args, study, config):
        if args.stop:
            print(f"would run {config.xs}")
            return 0
        return None


def test_a_study_brings_its_own_options(monkeypatch, tmp_path, capsys):
    study = replace(toy_study(with_fixed=False), command=_ToyCommand())
    monkeypatch.setitem(STUDIES, "toy", study)
    assert main(["toy", "--quick", "--x", "7", "--stop"]) == 0
    assert capsys.readouterr().out.strip() == "would run (0.0, 1.0, 2.0, 7.0)"
    out = tmp_path / "out.json"
    assert main(["toy", "--quick", "--x", "7", "--out", str(tmp_path), "--no-progress",
                 "--json", str(out)]) == 0
    assert "toy (custom configuration): " in capsys.readouterr().out
    payload = json.loads(out.read_text())
    assert payload["config"]["xs"] == [0.0, 1.0, 2.0, 7.0] and payload["config_name"] is None
    assert payload["summary"]["n_rows"] == 4 * 4  # a point cell and 3 replicates per x
    with pytest.raises(SystemExit) as exc:  # another study has no --x
        main(["lemma3", "--x", "7"])
    assert exc.value.code == 2
    assert ToyConfig().xs == (0.0, 1.0, 2.0)
