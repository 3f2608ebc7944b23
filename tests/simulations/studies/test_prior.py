"""The prior study: a tiny end-to-end run over a tiny vqvae grid (2 quantizers at K = 16, 8
steps, 2 replicates), the rows it stores, its cache and resumption, the one-line errors of bad
inputs, and its claims confirmed, refuted and inconclusive on synthetic summaries."""

import dataclasses
import json
import math
import shutil

import numpy as np
import pytest

from tests.simulations.studies.test_vqvae import TINY as TINY_VQVAE
from vqmatch.simulations import cli
from vqmatch.simulations.core.registry import StudyResult
from vqmatch.simulations.core.runner import required_runs, run_study
from vqmatch.simulations.core.seeding import cell_seed
from vqmatch.simulations.core.stats import TTest
from vqmatch.simulations.studies import STUDIES
from vqmatch.simulations.studies.prior import STUDY, cells
from vqmatch.simulations.studies.prior import claims as pc
from vqmatch.simulations.studies.prior import summary as ps
from vqmatch.simulations.studies.prior.config import SCALES, PriorStudyConfig

TINY = PriorStudyConfig(vqvae_scale="quick", quantizers=("vanilla", "wasserstein"),
                        codebook_sizes=(16,), train_images=512, prior_preset="tiny",
                        prior_overrides=("steps=4", "eval_every=2", "checkpoint_every=2"),
                        samples=16, kid_subsets=2, sample_images=4)
# the vqvae study with the tiny grid as its quick scale (the prior reads it by name)
VQ = dataclasses.replace(STUDIES["vqvae"], scales={**STUDIES["vqvae"].scales, "quick": TINY_VQVAE})
WITH_TINY = {**STUDIES, "vqvae": VQ}


def _strip(rows):
    return [{k: v for k, v in r.items() if k not in cells.TIMING_KEYS} for r in rows]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("prior")
    return out, run_study(STUDY, TINY, out_dir=str(out), studies=WITH_TINY, progress=False)


def test_rows_carry_every_measurement(run):
    out, res = run
    assert len(res.rows) == 4  # 2 quantizers x 2 replicates
    assert {(r["quantizer"], r["replicate"]) for r in res.rows} == {
        (q, i) for q in ("vanilla", "wasserstein") for i in (0, 1)}
    for r in res.rows:
        assert set(r) == set(cells.ROW_KEYS)
        assert r["codebook_size"] == 16 and r["log2_k"] == pytest.approx(4.0)
        assert r["bits_per_image"] == pytest.approx(r["bits_per_token"] * r["tokens_per_image"])
        for k in ("bits_per_token", "distortion", "frechet", "kid", "recon_frechet", "sample_js"):
            assert math.isfinite(r[k]), k
        for k in ("tokenizer_utilization", "sample_utilization", "precision", "recall"):
            assert 0 <= r[k] <= 1, k
        assert r["inception_fid"] is None  # no Inception weights: no substitute number
        assert r["samples"] == 16 and r["heldout_images"] == 620
        assert (r["samples_file"] is not None) == (r["replicate"] == 0)
        tok = out / "results" / r["tokenizer"]
        assert (tok / "checkpoint.pt").is_file() and "/r" in r["tokenizer"]
    # the distortion is the VQ-VAE's own held-out reconstruction error
    w0 = next(r for r in res.rows if r["quantizer"] == "wasserstein" and r["replicate"] == 0)
    samples = np.load(out / "results" / "prior" / w0["samples_file"])["samples"]
    assert samples.shape == (4, 32, 32, 3) and samples.dtype == np.uint8
    # token caches in each cell's scratch folder
    assert len(list((out / "results" / "prior" / "scratch").glob("*/tokens_train.npy"))) == 4
    # the vqvae study's own results files are not written by the prior's run
    assert not (out / "results" / "vqvae" / "summary.json").exists()
    s = res.summary
    assert {p.quantizer for p in s.points} == {"vanilla", "wasserstein"}
    (comp,) = s.comparisons
    assert comp.other == "vanilla" and comp.metrics["bits_per_image"].replicates == 2


def test_rerun_reuses_the_cache(run):
    out, res = run
    again = run_study(STUDY, TINY, out_dir=str(out), studies=WITH_TINY, progress=False)
    assert again.n_cells_run == 0 and again.n_cells_reused == 4
    assert _strip(again.rows) == _strip(res.rows)


def test_the_figures_of_a_run(run):
    from vqmatch.figures import make_figures

    out, _ = run
    (paths,) = make_figures(out, studies=["prior"]).values()
    assert {p.stem for p in paths} == {"prior_rd", "prior_fd", "prior_samples"}


def test_a_cell_resumes_from_its_prior_checkpoint(run, tmp_path):
    from vqmatch.simulations.core.executors import thread_limit
    from vqmatch.simulations.prior import train_prior

    out, res = run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    inputs = required_runs(STUDY, TINY, studies=WITH_TINY, seed=0, out_dir=str(copy),
                           compute=False)
    cell = next(c for c in STUDY.cells(TINY, inputs) if c.params["quantizer"] == "wasserstein")
    stem = next(p.name for p in (copy / "results" / "prior" / "scratch").iterdir()
                if p.name.startswith(cell.key))
    for f in (copy / "results" / "prior" / "cells").glob(f"{stem}*.json"):
        f.unlink()
    scratch = copy / "results" / "prior" / "scratch" / stem
    shutil.rmtree(scratch / "prior")
    config = cells.prior_config(cell.params["prior"], cell_seed(0, cell.stream))
    with thread_limit(1):  # as the cell ran (the rows are identical for the same thread count)
        part = train_prior(config, np.load(scratch / "tokens_train.npy"),
                           np.load(scratch / "tokens_heldout.npy"), 16, out_dir=scratch / "prior",
                           stop_after=2)
    assert not part.finished
    again = run_study(STUDY, TINY, out_dir=str(copy), studies=WITH_TINY, progress=False)
    assert again.n_cells_run == 1
    assert _strip(again.rows) == _strip(res.rows)


def test_missing_or_mismatched_vqvae_runs_are_one_clear_error(run, tmp_path):
    out, _ = run
    with pytest.raises(ValueError, match="needs an out dir"):
        run_study(STUDY, TINY, out_dir=None, studies=WITH_TINY, progress=False)
    with pytest.raises(ValueError, match="requires study 'vqvae'"):
        run_study(STUDY, TINY, out_dir=str(out), progress=False)
    with pytest.raises(ValueError, match="has no runs of vanilla, wasserstein at K = 999"):
        run_study(STUDY, dataclasses.replace(TINY, codebook_sizes=(999,)), out_dir=str(out),
                  studies=WITH_TINY, progress=False)
    with pytest.raises(ValueError, match="no run of vanilla at K = 999"):
        run_study(STUDY, dataclasses.replace(TINY, codebook_sizes=(16, 999)), out_dir=str(out),
                  studies=WITH_TINY, progress=False)
    with pytest.raises(ValueError, match="requires 3 replicates"):
        run_study(STUDY, dataclasses.replace(TINY, replicates=3), out_dir=str(out),
                  studies=WITH_TINY, progress=False)
    with pytest.raises(ValueError, match="lacks 2 of the 2 cells of study vqvae"):
        required_runs(STUDY, TINY, studies=WITH_TINY, seed=1, out_dir=str(out), compute=False)


def _cli(monkeypatch, capsys, config, *argv):
    monkeypatch.setitem(cli.STUDIES, "vqvae", VQ)
    monkeypatch.setitem(cli.STUDIES, "prior",
                        dataclasses.replace(STUDY, scales={**STUDY.scales, "quick": config}))
    code = cli.main(list(argv))
    return code, capsys.readouterr()


def test_cli_runs_the_prior_and_exits_2_with_one_line(run, monkeypatch, capsys, tmp_path):
    out, _ = run
    code, io = _cli(monkeypatch, capsys, TINY, "prior", "--quick", "--out", str(out),
                    "--no-progress", "--json", str(tmp_path / "p.json"))
    assert code == 0 and "0 cells run, 4 reused" in io.out
    assert json.loads((tmp_path / "p.json").read_text())["summary"]["points"]
    for config in (dataclasses.replace(TINY, codebook_sizes=(999,)),
                   dataclasses.replace(TINY, codebook_sizes=(16, 999))):
        code, io = _cli(monkeypatch, capsys, config, "prior", "--quick", "--out", str(out),
                        "--no-progress")
        assert code == 2 and "K = 999" in io.err and len(io.err.strip().splitlines()) == 1
    # a results folder without the vqvae runs: read-only verification says what is missing
    empty = tmp_path / "empty"
    (empty / "results" / "prior" / "cells").mkdir(parents=True)
    code, io = _cli(monkeypatch, capsys, TINY, "verify", "--quick", "--results", str(empty),
                    "--only", "prior.*")
    assert code == 2 and "cells of study vqvae" in io.err
    assert len(io.err.strip().splitlines()) == 1


@pytest.mark.parametrize("change, name", [
    ({"vqvae_scale": "huge"}, "vqvae_scale"), ({"quantizers": ()}, "quantizers"),
    ({"quantizers": ("ema", "ema")}, "quantizers"), ({"codebook_sizes": (1,)}, "codebook_sizes"),
    ({"codebook_sizes": ()}, "codebook_sizes"), ({"replicates": 0}, "replicates"),
    ({"train_images": 0}, "train_images"), ({"prior_preset": "gpt9"}, "prior_preset"),
    ({"prior_overrides": ("steps=-1",)}, "steps"), ({"prior_overrides": "steps=2"}, "prior_overrides"),
    ({"samples": 2}, "samples"), ({"temperature": 0.0}, "temperature"),
    ({"temperature": math.inf}, "temperature"), ({"top_k": 0}, "top_k"),
    ({"kid_subsets": 0}, "kid_subsets"), ({"kid_subset_size": 1}, "kid_subset_size"),
    ({"pr_k": 0}, "pr_k"), ({"sample_images": -1}, "sample_images"),
])
def test_bad_config_values_name_the_parameter(change, name):
    with pytest.raises(ValueError, match=name):
        dataclasses.replace(TINY, **change)


def test_scales():
    assert SCALES["quick"].vqvae_scale == "quick" and SCALES["quick"].codebook_sizes == (1024,)
    assert SCALES["default"].codebook_sizes == (4096,) and SCALES["default"].replicates == 5
    assert SCALES["full"].prior_preset == "paper-8x8"
    # the K each scale reads is the largest its vqvae scale trains
    for name, cfg in SCALES.items():
        assert cfg.codebook_sizes == (max(STUDIES["vqvae"].config(name).codebook_sizes),)
        assert set(cfg.quantizers) <= set(STUDIES["vqvae"].config(name).quantizers)
        assert cfg.replicates <= STUDIES["vqvae"].config(name).replicates


def test_association_is_pearson_with_its_t_test():
    from scipy import stats

    x = np.array([0.1, 0.2, 0.5, 0.55, 0.9, 0.95, 0.3])
    y = np.array([0.12, 0.15, 0.52, 0.6, 0.8, 0.99, 0.2])
    a = ps.association(x, y, "x", "y")
    ref = stats.pearsonr(x, y)
    assert a.r == pytest.approx(ref.statistic) and a.p == pytest.approx(ref.pvalue)
    assert a.df == 5 and a.low < a.r < a.high
    assert a.slope == pytest.approx(np.polyfit(x, y, 1)[0])
    assert ps.association(x[:3], y[:3], "x", "y") is None
    assert ps.association(np.ones(6), y[:6], "x", "y") is None


def test_summary_pairs_wasserstein_with_each_baseline_by_replicate():
    def row(q, r, bits, dist):
        return {"quantizer": q, "codebook_size": 16, "codebook_dim": 8, "dataset": "builtin",
                "replicate": r, "log2_k": 4.0, "tokens_per_image": 64, "bits_per_image": bits,
                "distortion": dist, "frechet": 1.0, "tokenizer_utilization": 0.5 + 0.1 * r,
                "sample_utilization": 0.4 + 0.1 * r}
    rows = [row("wasserstein", r, 100 + r, 0.1) for r in range(3)]
    rows += [row("ema", r, 110 + 2 * r, 0.2) for r in (2, 0, 1)]
    s = ps.PriorSummary.from_rows(TINY, rows)
    (c,) = s.comparisons
    bits = c.metrics["bits_per_image"]
    assert (c.other, bits.replicates, bits.diff) == ("ema", 3, pytest.approx(-11.0))
    assert bits.test.df == 2 and bits.test.value == pytest.approx(-11.0)
    assert s.point("ema", 16).per_replicate == ((0, 110.0, 0.2, 1.0), (1, 112.0, 0.2, 1.0),
                                                (2, 114.0, 0.2, 1.0))
    assert ps.PriorSummary.from_json(json.loads(json.dumps(s.to_json()))) == s


# ------------------------------------------------------------------- claims on synthetic summaries

def _paired(a, b, n=5, p=1e-6):
    diff = a - b
    test = None if n < 2 else TTest(diff, diff - 0.01, diff + 0.01, 0.004, n - 1, n,
                                    t=diff / 0.004, p=p, a=a, b=b)
    return ps.Paired(a, b, diff, n, test)


def _summary(bits, dist, fd, assoc=(0.95, 0.85, 0.99), n=5):
    """W against EMA and Vanilla: ``bits``/``dist``/``fd``: (W, baseline, p) per metric."""
    comps = tuple(ps.PriorComparison(1024, 8, "builtin", other, {
        "bits_per_image": _paired(bits[0], bits[1], n, bits[2]),
        "distortion": _paired(dist[0], dist[1], n, dist[2]),
        "frechet": _paired(fd[0], fd[1], n, fd[2])}) for other in ("ema", "vanilla"))
    points = tuple(ps.PriorPoint(q, 1024, 8, "builtin", tuple(range(n)), 10.0, 64,
                                 *([None] * 17), per_replicate=(), samples_file=None)
                   for q in ("ema", "vanilla", "wasserstein"))
    r, low, high = assoc
    a = ps.Association("tokenizer_utilization", "sample_utilization", 3 * n, r, low, high, 9.0,
                       3 * n - 2, 1e-6 if low > 0 else 0.5, 1.0, 0.0)
    s = ps.PriorSummary("quick", "tiny", 16, 1.0, None, points, comps, a)
    return StudyResult("prior", "quick", 0, TINY, [], s, 0.0)


@pytest.mark.parametrize("bits, dist, verdict", [
    ((100, 120, 1e-6), (0.10, 0.10, 0.5), "confirmed"),     # fewer bits, matched distortion
    ((100, 120, 1e-6), (0.08, 0.10, 1e-6), "confirmed"),    # fewer bits, lower distortion
    ((130, 120, 1e-6), (0.10, 0.10, 0.5), "refuted"),       # more bits at matched distortion
    ((130, 120, 1e-6), (0.12, 0.10, 1e-6), "refuted"),      # more bits, worse distortion
    ((100, 120, 1e-6), (0.12, 0.10, 1e-6), "inconclusive"),  # a trade-off: not matched
    ((130, 120, 1e-6), (0.08, 0.10, 1e-6), "inconclusive"),  # the reverse trade-off
    ((100, 101, 0.2), (0.10, 0.10, 0.5), "inconclusive"),   # no significant difference
])
def test_bits_at_matched_distortion(bits, dist, verdict):
    m = pc.bits_at_matched_distortion.evaluate(_summary(bits, dist, (1, 2, 1e-6)))
    assert m.verdict == verdict
    assert "bits/image W 100.0" in m.measured or "bits/image W 130.0" in m.measured


def test_bits_claim_is_inconclusive_below_min_replicates():
    m = pc.bits_at_matched_distortion.evaluate(_summary((100, 120, 1e-6), (0.1, 0.1, 0.5),
                                                        (1, 2, 1e-6), n=3))
    assert m.verdict == "inconclusive" and "at least 5" in m.measured


@pytest.mark.parametrize("fd, verdict", [((10.0, 20.0, 1e-6), "confirmed"),
                                         ((30.0, 20.0, 1e-6), "refuted"),
                                         ((19.0, 20.0, 0.3), "inconclusive")])
def test_sample_fidelity(fd, verdict):
    m = pc.sample_fidelity.evaluate(_summary((100, 120, 1e-6), (0.1, 0.1, 0.5), fd))
    assert m.verdict == verdict and f"FD W {fd[0]:.4g}" in m.measured
    few = pc.sample_fidelity.evaluate(_summary((100, 120, 1e-6), (0.1, 0.1, 0.5), fd, n=2))
    assert few.verdict == "inconclusive"


@pytest.mark.parametrize("assoc, n, verdict", [((0.95, 0.85, 0.99), 5, "confirmed"),
                                               ((0.1, -0.3, 0.45), 5, "refuted"),
                                               ((0.6, 0.2, 0.85), 5, "inconclusive"),
                                               ((0.95, 0.85, 0.99), 1, "inconclusive")])
def test_sample_utilization_follows_tokenizer(assoc, n, verdict):
    m = pc.sample_utilization_follows_tokenizer.evaluate(
        _summary((100, 120, 1e-6), (0.1, 0.1, 0.5), (1, 2, 1e-6), assoc=assoc, n=n))
    assert m.verdict == verdict and f"r = {assoc[0]:+.3f}" in m.measured


def test_claims_without_data_are_inconclusive():
    res = _summary((100, 120, 1e-6), (0.1, 0.1, 0.5), (1, 2, 1e-6))
    empty = dataclasses.replace(res, summary=dataclasses.replace(res.summary, comparisons=(),
                                                                 utilization=None))
    assert {c.evaluate(empty).verdict for c in pc.CLAIMS} == {"inconclusive"}
