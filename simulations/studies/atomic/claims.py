"""Claims of the ``atomic`` study.

Every comparison of two variants is a paired Student t test over replicates (common random
numbers, df = n - 1): "significant" means p < ALPHA with at least MIN_REPLICATES pairs
(:mod:`vqmatch.simulations.core.verdicts`); when any one of several comparisons may refute a claim its
level is divided by their number (Bonferroni).
"""

from __future__ import annotations

from ...core.registry import Measurement, claim
from ...core.stats import significant, too_few, versus_reference
from ...core.verdicts import COLLAPSED_U, NEAR_FULL_U, PAIRED_TEST, decide
from ...engines.training_summary import final_entry, final_rows, paired_difference, present
from .config import BASELINES

LARGE_SHIFT = 3.0  # "large" mean shifts (the authors' baselines have collapsed by mu = 3)
NOT_COLLAPSED_U = 0.5  # a baseline above this at the largest shift contradicts the collapse
W_FAILS_U = 0.8  # Wasserstein below this at some shift contradicts "near-full"
ERROR_DRIFT = 0.10  # Wasserstein's E at the largest shift within this fraction of its mu = 0 value


def _final_shift_rows(res) -> list[dict]:
    """The final rows of the shift part's runs (what the paired tests compare)."""
    return final_rows([r for r in res.rows if r.get("part") == "shift"])


def _entry(res, quantizer: str, source: str, shift: float):
    return final_entry(res.summary.final, quantizer, source, shift=shift)


def _at(quantizer: str, source: str, shift: float) -> dict:
    """The rows of one variant on one shifted source."""
    return {"quantizer": quantizer, "source": source, "shift": shift}



@claim(
    id="atomic.wasserstein_utilization",
    source="paper Section 4 / v1 App. H (atomic setting); the authors' CSVs",
    statement="Wasserstein VQ reaches near-full codebook utilization at every mean shift, while "
              "Vanilla and EMA VQ collapse as the shift grows",
    expected=f"Wasserstein U >= {NEAR_FULL_U} at every shift; Vanilla and EMA U < {COLLAPSED_U} at "
             f"every shift >= {LARGE_SHIFT:g}; refuted if Wasserstein's U falls below {W_FAILS_U} "
             f"or a baseline keeps U > {NOT_COLLAPSED_U} at the largest shift (authors, "
             "K = 16384: Wasserstein 99.4-99.9%, Vanilla <= 0.6%, EMA <= 2.7% at mu >= 3)",
    study="atomic",
)
def wasserstein_utilization(res) -> Measurement:
    sources = sorted({e.source for e in res.summary.final})
    collapsers = present(res.summary.final, ("vanilla", "ema"))
    if not present(res.summary.final, ("wasserstein",)) or not collapsers:
        return Measurement("wasserstein, vanilla or ema not in this run", "inconclusive")
    parts, w_low, bad_collapse, good_collapse, tests = [], [], [], [], []
    final = _final_shift_rows(res)
    for source in sources:
        mus = sorted(e.shift for e in res.summary.final
                     if e.quantizer == "wasserstein" and e.source == source)
        w_u = {m: _entry(res, "wasserstein", source, m).utilization.value for m in mus}
        w_low.append(min(w_u.values()))
        parts.append(f"{source}: Wasserstein U = " + ", ".join(
            f"{w_u[m]:.3f} (mu={m:g})" for m in mus))
        large = [m for m in mus if m >= LARGE_SHIFT]
        for q in collapsers:
            us = {m: _entry(res, q, source, m).utilization.value for m in mus}
            parts.append(f"{q} U = " + ", ".join(f"{us[m]:.4f}" for m in mus))
            if large:
                good_collapse.append(max(us[m] for m in large) < COLLAPSED_U)
                bad_collapse.append(us[max(mus)] > NOT_COLLAPSED_U)
                t = paired_difference(final, "utilization", _at("wasserstein", source, max(mus)),
                                      _at(q, source, max(mus)))
                if t is not None:
                    tests.append(t)
                    parts.append(f"U(Wasserstein) - U({q}) at mu={max(mus):g}: {t}")
    if not good_collapse:
        return Measurement("; ".join(parts) + f". No shift >= {LARGE_SHIFT:g} in this run.",
                           "inconclusive")
    verdict = decide(confirmed=min(w_low) >= NEAR_FULL_U and all(good_collapse)
                     and all(significant(t, +1) for t in tests) and bool(tests),
                     refuted=min(w_low) < W_FAILS_U or any(bad_collapse))
    return Measurement("; ".join(parts) + "." + too_few(t.n for t in tests), verdict,
                       {"min_wasserstein_u": min(w_low), "tests": [t.to_json() for t in tests]})


@claim(
    id="atomic.wasserstein_error",
    source="paper Section 4 / v1 App. H ('Wasserstein VQ best on all criteria, especially for "
           "large mu')",
    statement="Wasserstein VQ attains a lower quantization error than Vanilla, EMA, Online and "
              "Linear VQ at large mean shifts, and its error stays near the matched (mu = 0) value",
    expected=f"E(baseline) - E(Wasserstein) > 0 for every baseline at every shift >= "
             f"{LARGE_SHIFT:g} ({PAIRED_TEST}), and E(Wasserstein) at the largest shift within "
             f"{ERROR_DRIFT:.0%} of its mu = 0 value (authors: 0.987 -> 1.040); refuted if some "
             "baseline is significantly lower (level divided by the number of comparisons)",
    study="atomic",
)
def wasserstein_error(res) -> Measurement:
    rows = _final_shift_rows(res)
    base = present(res.summary.final, BASELINES)
    if not present(res.summary.final, ("wasserstein",)) or not base:
        return Measurement("wasserstein or the baselines not in this run", "inconclusive")
    found, parts, ratios = [], [], []
    for source in sorted({r["source"] for r in rows}):
        mus = sorted({r["shift"] for r in rows if r["source"] == source})
        e0 = _entry(res, "wasserstein", source, mus[0]).error.value
        e_max = _entry(res, "wasserstein", source, mus[-1]).error.value
        ratios.append(e_max / e0)
        parts.append(f"{source}: E(Wasserstein) {e0:.4g} at mu={mus[0]:g} -> {e_max:.4g} at "
                     f"mu={mus[-1]:g}")
        for q in base:
            for m in (m for m in mus if m >= LARGE_SHIFT):
                t = paired_difference(rows, "error", _at(q, source, m),
                                      _at("wasserstein", source, m))
                if t is not None:
                    found.append((t.t, q, source, m, t))
    if not found:
        return Measurement("; ".join(parts) + f". No replicated shift >= {LARGE_SHIFT:g}.",
                           "inconclusive")
    tests = [x[-1] for x in found]
    worst = min(found, key=lambda x: x[0])
    parts.append(f"smallest margin: E({worst[1]}) - E(Wasserstein) on {worst[2]} mu={worst[3]:g}"
                 f" = {worst[4]} (E {worst[4].a:.4g} vs {worst[4].b:.4g})")
    verdict = decide(confirmed=all(significant(t, +1) for t in tests)
                     and max(ratios) <= 1 + ERROR_DRIFT,
                     refuted=any(significant(t, -1, comparisons=len(tests)) for t in tests))
    return Measurement("; ".join(parts) + "." + too_few(t.n for t in tests), verdict,
                       {"min_t": worst[0], "max_error_ratio": max(ratios)})


@claim(
    id="atomic.alignment",
    source="paper Section 4 / v1 App. H ('existing methods do not align: L_W larger for mu >= 1')",
    statement="Only Wasserstein VQ aligns the codebook with the features: the baselines' final W2 "
              "to the feature Gaussian is larger for every shift mu >= 1",
    expected=f"W2(baseline) - W2(Wasserstein) > 0 for every baseline at every shift >= 1 ({PAIRED_TEST}); "
             "refuted if some baseline is significantly closer (Bonferroni) (authors: Wasserstein "
             "0.018, Online 0.5-2.2, Vanilla/EMA ~2.8 mu)",
    study="atomic",
)
def alignment(res) -> Measurement:
    rows = _final_shift_rows(res)
    base = present(res.summary.final, BASELINES)
    if not present(res.summary.final, ("wasserstein",)) or not base:
        return Measurement("wasserstein or the baselines not in this run", "inconclusive")
    found, parts = [], []
    for source in sorted({r["source"] for r in rows}):
        mus = [m for m in sorted({r["shift"] for r in rows if r["source"] == source}) if m >= 1]
        for m in mus:
            w = _entry(res, "wasserstein", source, m).w2.value
            others = {q: _entry(res, q, source, m).w2.value for q in base}
            parts.append(f"{source} mu={m:g}: W2 Wasserstein {w:.3g} vs " + ", ".join(
                f"{q} {v:.3g}" for q, v in others.items()))
            for q in base:
                t = paired_difference(rows, "w2", _at(q, source, m), _at("wasserstein", source, m))
                if t is not None:
                    found.append((t.t, q, source, m, t))
    if not found:
        return Measurement("no replicated shift >= 1", "inconclusive")
    tests = [x[-1] for x in found]
    worst = min(found, key=lambda x: x[0])
    verdict = decide(confirmed=all(significant(t, +1) for t in tests),
                     refuted=any(significant(t, -1, comparisons=len(tests)) for t in tests))
    return Measurement("; ".join(parts) + f"; smallest margin W2({worst[1]}) - W2(Wasserstein) on "
                       f"{worst[2]} mu={worst[3]:g}: {worst[4]}." + too_few(t.n for t in tests), verdict,
                       {"min_t": worst[0]})


@claim(
    id="atomic.online_anchor",
    source="the authors' Online VQ for VQ-VAE and VQGAN (Online_Quantizer; "
           "code/VQGAN/models/online_quantizer.py) re-anchors dead codes to the farthest feature; "
           "CVQ-VAE and the authors' own simulation use the nearest",
    statement="Re-anchoring dead codes to the farthest feature instead of the nearest handicaps "
              "the Online VQ baseline",
    expected=f"at the largest shift, E(farthest) - E(nearest) > 0 ({PAIRED_TEST}); the report also says "
             "how far the nearest-anchor Online VQ stays from Wasserstein VQ (authors, nearest: "
             "U 23%, E 1.405 at mu = 8)",
    study="atomic",
)
def online_anchor(res) -> Measurement:
    rows = _final_shift_rows(res)
    if len(present(res.summary.final, ("online", "online_farthest"))) < 2:
        return Measurement("online and online_farthest are not both in this run", "inconclusive")
    parts, tests = [], []
    for source in sorted({r["source"] for r in rows}):
        mu = max(r["shift"] for r in rows if r["source"] == source)
        near = _entry(res, "online", source, mu)
        far = _entry(res, "online_farthest", source, mu)
        w = _entry(res, "wasserstein", source, mu)
        t = paired_difference(rows, "error", _at("online_farthest", source, mu),
                              _at("online", source, mu))
        if t is None:
            continue
        tests.append(t)
        text = (f"{source} mu={mu:g}: nearest E {near.error.value:.4g} U "
                f"{near.utilization.value:.3f}; farthest E {far.error.value:.4g} U "
                f"{far.utilization.value:.3f}; E difference {t}")
        if w is not None:
            text += f"; Wasserstein E {w.error.value:.4g} U {w.utilization.value:.3f}"
        parts.append(text)
    if not tests:
        return Measurement("no replicated online runs", "inconclusive")
    verdict = decide(confirmed=all(significant(t, +1) for t in tests),
                     refuted=any(significant(t, -1, comparisons=len(tests)) for t in tests))
    return Measurement("; ".join(parts) + "." + too_few(t.n for t in tests), verdict,
                       {"tests": [t.to_json() for t in tests]})


@claim(
    id="atomic.density_target",
    source="later version §2.4 ('matching the feature and codebook distributions is necessary and "
           "sufficient for optimal quantization'); classical theory (Zador, Gersho): optimal "
           "point density f^(d/(d+2))",
    statement="Exact distribution matching (codebook law = feature law) gives the lowest trained "
              "quantization error; a density-adjusted target does not improve on it",
    expected="classical high-resolution theory: the target f^(d/(d+2)) (variance (d+2)/d for "
             f"N(0, I)) lowers E, most at small d; refuted if an adjusted target's paired E is "
             f"lower at some d ({PAIRED_TEST}, level divided by the number of comparisons); confirmed "
             "if every adjusted target is significantly worse",
    study="atomic",
)
def density_target(res) -> Measurement:
    entries = res.summary.density
    if not entries:
        return Measurement("no replicated density-part runs", "inconclusive")
    ttests = [e.test for e in entries]
    parts = [f"d={e.d} {e.target}: E exact {e.error_exact:.4g}, adjusted "
             f"{e.error_adjusted:.4g}, difference {e.test.relative(e.error_exact)}"
             for e in entries]
    verdict, lo, hi = versus_reference(ttests)
    lower = sorted({(entries[i].d, entries[i].target) for i in lo})
    higher = sorted({(entries[i].d, entries[i].target) for i in hi})
    return Measurement("; ".join(parts) + f". Adjusted target significantly better at "
                       f"{lower or 'none'}, significantly worse at {higher or 'none'}."
                       + too_few(t.n for t in ttests),
                       verdict,
                       {"adjusted_better": [list(x) for x in lower],
                        "adjusted_worse": [list(x) for x in higher],
                        "relative": {f"{e.d}-{e.target}": e.relative.value for e in entries}})


CLAIMS = (wasserstein_utilization, wasserstein_error, alignment, online_anchor, density_target)
