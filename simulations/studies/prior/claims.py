"""Claims of the ``prior`` study (does distributional matching help the autoregressive prior?),
decided on its summary with paired t tests over replicates (df = n - 1, Bonferroni over the
baselines) and a correlation test over runs; each verdict is computed from the data, and each
claim can be confirmed and refuted."""

from __future__ import annotations

from ...core.registry import Measurement, claim
from ...core.stats import TTest, significant, too_few
from ...core.verdicts import ALPHA, MIN_REPLICATES, PAIRED_TEST, combine, decide
from ...engines.training_summary import Paired
from .config import BASELINES
from .summary import PriorComparison

SOURCE = ("open question 3 (the later version's limitations: reconstruction is not generation; tokens "
          "for an autoregressive prior)")
TRACKS_R = 0.5
"""Smallest correlation between the tokenizer's held-out utilization and the sampled tokens' that
counts as "tracks" (the Fisher-z interval decides: above it confirms, below it refutes)."""


def _baselines(res) -> list[PriorComparison]:
    return [c for c in res.summary.comparisons if c.other in BASELINES]


def _t(p: Paired | None) -> TTest | None:
    return p.test if p is not None else None


def _diff(p: Paired | None) -> str:
    if p is None:
        return "n/a"
    return str(p.test) if p.test is not None else f"{p.diff:+.4g} (1 pair, no test)"


def _few(comps: list[PriorComparison], metric: str) -> str:
    return too_few([c.metrics[metric].replicates for c in comps if metric in c.metrics],
                   "replicate pairs")


@claim(
    id="prior.bits_at_matched_distortion",
    source=SOURCE,
    statement="A prior on Wasserstein VQ tokens needs fewer bits per image than one on Vanilla, EMA "
              "or Online VQ tokens at matched reconstruction distortion (same K)",
    expected=f"for every baseline at every K: bits/image(W) - bits/image(b) < 0 significantly and "
             f"the distortion (held-out MSE) of W not significantly higher than b's (matched: "
             f"no significant difference; or lower: W dominates) ({PAIRED_TEST}, Bonferroni over "
             f"the baselines); refuted if for some baseline W needs significantly more bits while "
             f"its distortion is not significantly lower; a baseline with lower distortion and "
             f"fewer bits than W (or the reverse trade-off) leaves the claim inconclusive",
    study="prior",
)
def bits_at_matched_distortion(res) -> Measurement:
    comps = [c for c in _baselines(res) if "bits_per_image" in c.metrics and "distortion" in c.metrics]
    if not comps:
        return Measurement("no baseline to compare Wasserstein VQ with", "inconclusive")
    m = len(comps)
    parts, verdicts = [], []
    for c in comps:
        bits, dist = c.metrics["bits_per_image"], c.metrics["distortion"]
        tb, td = _t(bits), _t(dist)
        dist_higher, dist_lower = significant(td, +1, comparisons=m), significant(td, -1, comparisons=m)
        fewer, more = significant(tb, -1, comparisons=m), significant(tb, +1, comparisons=m)
        verdicts.append(decide(confirmed=fewer and not dist_higher, refuted=more and not dist_lower))
        parts.append(f"K={c.codebook_size} vs {c.other}: bits/image W {bits.a:.1f}, {c.other} "
                     f"{bits.b:.1f}, W - b = {_diff(bits)}; distortion W {dist.a:.4g}, "
                     f"{c.other} {dist.b:.4g}, W - b = {_diff(dist)}")
    few = _few(comps, "bits_per_image")
    return Measurement("; ".join(parts) + "." + few, combine(verdicts),
                       {"verdicts": dict(zip([f"{c.other}-K{c.codebook_size}" for c in comps],
                                             verdicts, strict=True))})


@claim(
    id="prior.sample_fidelity",
    source=SOURCE,
    statement="Decoded samples of a prior on Wasserstein VQ tokens are closer to held-out images "
              "(lower Fréchet distance) than those of priors on Vanilla, EMA or Online VQ tokens",
    expected=f"Fréchet distance (fixed random-conv features) FD(W) - FD(b) < 0 for every baseline "
             f"at every K ({PAIRED_TEST}); refuted if some baseline's FD is significantly lower "
             f"(Bonferroni over the baselines); KID and precision / recall are reported beside it",
    study="prior",
)
def sample_fidelity(res) -> Measurement:
    comps = [c for c in _baselines(res) if "frechet" in c.metrics]
    if not comps:
        return Measurement("no baseline to compare Wasserstein VQ with", "inconclusive")
    m = len(comps)
    lower = [c for c in comps if significant(_t(c.metrics["frechet"]), -1)]
    higher = [c for c in comps if significant(_t(c.metrics["frechet"]), +1, comparisons=m)]
    parts = []
    for c in comps:
        fd = c.metrics["frechet"]
        kid = c.metrics.get("kid")
        parts.append(f"K={c.codebook_size} vs {c.other}: FD W {fd.a:.4g}, {c.other} {fd.b:.4g}, "
                     f"W - b = {_diff(fd)}"
                     + (f"; KID W {kid.a:.3g}, {c.other} {kid.b:.3g}" if kid else ""))
    verdict = decide(confirmed=len(lower) == m, refuted=bool(higher))
    return Measurement("; ".join(parts) + "." + _few(comps, "frechet"), verdict,
                       {"lower_than": [c.other for c in lower],
                        "higher_than": [c.other for c in higher]})


@claim(
    id="prior.sample_utilization_follows_tokenizer",
    source=SOURCE,
    statement="The utilization of a prior's sampled tokens tracks the utilization of its "
              "tokenizer on held-out images",
    expected=f"over all runs (quantizer x replicate), the Pearson correlation r between the "
             f"tokenizer's held-out U and the sampled tokens' U is significantly positive (t test, "
             f"df = n - 2, p < {ALPHA}) with its 95% Fisher-z interval above {TRACKS_R}; refuted "
             f"if the interval lies below {TRACKS_R}; inconclusive with fewer than "
             f"{MIN_REPLICATES} replicates per quantizer or no spread in U",
    study="prior",
)
def sample_utilization_follows_tokenizer(res) -> Measurement:
    a = res.summary.utilization
    reps = [len(p.replicates) for p in res.summary.points]
    if a is None:
        return Measurement("fewer than 4 runs or no spread in utilization: no correlation",
                           "inconclusive")
    measured = (f"r = {a.r:+.3f} [{a.low:+.3f}, {a.high:+.3f}] over {a.n} runs (t({a.df}) = "
                f"{a.t:+.2f}, p = {a.p:.2g}); slope {a.slope:.3f}, mean sampled - tokenizer U "
                f"{a.mean_difference:+.4f}")
    few = too_few(reps, "replicate(s) per quantizer")
    if few:
        return Measurement(measured + "." + few, "inconclusive")
    verdict = decide(confirmed=a.p < ALPHA and a.r > 0 and a.low > TRACKS_R,
                     refuted=a.high < TRACKS_R)
    return Measurement(measured + ".", verdict)


CLAIMS = (bits_at_matched_distortion, sample_fidelity, sample_utilization_follows_tokenizer)

__all__ = ["CLAIMS", "TRACKS_R"]
