"""Claims of the ``vqvae`` study. The replicates are training runs with their own seeds: every
comparison is a paired t test over them (common random numbers, df = n - 1), significant at
p < ALPHA with at least MIN_REPLICATES pairs; a grid with fewer replicates, or without the points a
claim needs, says ``inconclusive`` and why.
"""

from __future__ import annotations

from ...core.registry import Measurement, claim
from ...core.stats import TTest, significant, single_draw_p, too_few
from ...core.verdicts import (
    ALPHA,
    ALPHA_DISAGREE,
    MIN_REPLICATES,
    NEAR_FULL_U,
    PLATEAU_E,
    PLATEAU_FRACTION,
    PLATEAU_U,
    agrees,
    combine,
    decide,
)
from ...vqvae.config import MATCHING_CODEBOOK_LR, MATCHING_GAMMA

W_FAILS_U = 0.8  # Wasserstein below this at the largest K contradicts "near 100%"
BOUND_HOLDS = 0.01  # the first-order bound "holds" if it fails on fewer than 1% of images
PSNR_TIE = 0.05  # dB: smaller paired PSNR differences do not order two quantizers

_TEST = (f"paired t test over seeds (df = n - 1), significant at p < {ALPHA} with at least "
         f"{MIN_REPLICATES} seeds")


def _t(d) -> TTest | None:
    """The paired t test of a summary comparison (None with one replicate)."""
    return d.test if d is not None else None


def _diff(d, fmt: str = ".3g") -> str:
    """A comparison in words: the t test when there is one, else the difference of the means."""
    if d is None:
        return "n/a"
    t = _t(d)
    return str(t) if t is not None else f"{d.diff:+{fmt}} ({d.replicates} seed)"


def _largest(res) -> list:
    k = res.summary.largest_codebook_size
    return [c for c in res.summary.comparisons if c.codebook_size == k]


def _seeds_note(comparisons) -> str:
    note = too_few((c.replicates for c in comparisons if c is not None), "seed(s)")
    return note and note[:-1] + " (the default scale, or --replicates)."


_PLATEAU = (f"a run counts as trained to its plateau when, over its last {1 - PLATEAU_FRACTION:.0%} "
            f"of steps, held-out U moves by at most {PLATEAU_U} and E by at most {PLATEAU_E:.0%} "
            "(mean over seeds); the claim says which points are not")


def _plateau_note(points) -> str:
    """Which of ``points`` (summary points) are not at a plateau, in words ('' when all are)."""
    moving = [p for p in points if p is not None and p.converged is False]
    if not moving:
        return ""
    return (" Not at a plateau (change over the last quarter of training): " + "; ".join(
        f"{p.quantizer} K={p.codebook_size}{'' if p.setting == 'paper' else ' ' + p.setting} "
        f"U {p.utilization_change.value:+.3f}, E {p.error_change.value:+.0%}" for p in moving) + ".")


@claim(
    id="vqvae.wasserstein_utilization",
    source="Tables 1, 2, 6, 8 (VQ-VAE); §4 ('near 100% codebook utilization')",
    statement="Wasserstein VQ keeps near-full held-out codebook utilization as K grows, while "
              "Vanilla VQ collapses",
    expected=f"at the largest K of the run: Wasserstein U >= {NEAR_FULL_U} and U(Wasserstein) - "
             f"U(Vanilla) > 0 ({_TEST}); refuted if Wasserstein's U < {W_FAILS_U} or Vanilla's U "
             "is significantly higher (paper, CIFAR-10 K = 32768: 99.0% vs 0.5%); the measured "
             "text gives the ceiling 1 - (1 - 1/K)^N of a perfectly matched codebook on the N "
             f"held-out tokens, and {_PLATEAU}",
    study="vqvae",
)
def wasserstein_utilization(res) -> Measurement:
    comps = [c for c in _largest(res) if c.other == "vanilla"]
    if not comps:
        return Measurement("wasserstein and vanilla are not both in this run", "inconclusive")
    parts, verdicts, used = [], [], []
    for c in comps:
        u = c.utilization
        t = _t(u)
        w = res.summary.point("wasserstein", c.codebook_size, c.codebook_dim, c.dataset)
        v = res.summary.point("vanilla", c.codebook_size, c.codebook_dim, c.dataset)
        used += [w, v]
        ceiling = w.utilization_ceiling if w is not None else None
        parts.append(f"{c.dataset} K={c.codebook_size} d={c.codebook_dim}: held-out U "
                     f"Wasserstein {u.a:.3f}, Vanilla {u.b:.3f}; U(W) - U(V) = {_diff(u)}"
                     + (f" (ceiling of a perfectly matched codebook on the {w.heldout_tokens} "
                        f"held-out tokens: {ceiling:.4f})" if ceiling is not None else ""))
        enough = u.replicates >= MIN_REPLICATES
        verdicts.append(decide(confirmed=u.a >= NEAR_FULL_U and significant(t, +1),
                               refuted=enough and (u.a < W_FAILS_U or significant(t, -1))))
    return Measurement("; ".join(parts) + "." + _plateau_note(used)
                       + _seeds_note([c.utilization for c in comps]), combine(verdicts))


@claim(
    id="vqvae.small_codebook_utilization",
    source="§4 and Tables 1, 2, 6-9 ('near 100% codebook utilization'), at small codebooks (32-128 "
           "codes)",
    statement="With small codebooks (K <= 128) Wasserstein VQ uses (nearly) every code",
    expected=f"at every K <= 128 of the run, Wasserstein's mean held-out U over seeds >= "
             f"{NEAR_FULL_U} with the lower end of its 95% t interval >= {NEAR_FULL_U} (at least "
             f"{MIN_REPLICATES} seeds); refuted if at some such K the upper end lies below "
             f"{NEAR_FULL_U}; the other quantizers' U is reported beside it, and {_PLATEAU}",
    study="vqvae",
)
def small_codebook_utilization(res) -> Measurement:
    pts = sorted((p for p in res.summary.points if p.setting == "paper" and p.codebook_size <= 128
                  and p.quantizer == "wasserstein"), key=lambda p: p.codebook_size)
    if not pts:
        return Measurement("no Wasserstein run with K <= 128 in this run", "inconclusive")
    parts, verdicts, used = [], [], []
    for w in pts:
        u = w.utilization
        others = [o for o in res.summary.points if o.setting == "paper" and o.quantizer != w.quantizer
                  and (o.codebook_size, o.codebook_dim, o.dataset)
                  == (w.codebook_size, w.codebook_dim, w.dataset)]
        used += [w, *others]
        parts.append(f"K={w.codebook_size}: Wasserstein U {u}; "
                     + ", ".join(f"{o.quantizer} {o.utilization.value:.3f}" for o in others))
        enough = u.n >= MIN_REPLICATES
        verdicts.append(decide(confirmed=enough and u.value >= NEAR_FULL_U and u.low >= NEAR_FULL_U,
                               refuted=enough and u.high < NEAR_FULL_U))
    few = too_few((w.utilization.n for w in pts), "seed(s)")
    return Measurement("; ".join(parts) + "." + _plateau_note(used) + (" " + few if few else ""),
                       combine(verdicts))


@claim(
    id="vqvae.reconstruction",
    source="Tables 1, 2, 6-9 (best PSNR and rec. loss for Wasserstein VQ at every K)",
    statement="Wasserstein VQ reconstructs held-out images better (higher PSNR, lower pixel MSE) "
              "than Vanilla, EMA and Online VQ at every codebook size",
    expected=f"PSNR(Wasserstein) - PSNR(other) > 0 and rec(other) - rec(Wasserstein) > 0 for "
             f"every baseline at every K ({_TEST}); refuted if some baseline is significantly "
             "better on either (paper: the exception FFHQ K = 2048, where EMA and Online tie or "
             "win on PSNR)",
    study="vqvae",
)
def reconstruction(res) -> Measurement:
    comps = [c for c in res.summary.comparisons if c.other in ("vanilla", "ema", "online")]
    if not comps:
        return Measurement("no baseline to compare Wasserstein VQ with", "inconclusive")
    better, worse, parts = [], [], []
    m = 2 * len(comps)
    for c in comps:
        tp, tr = _t(c.psnr), _t(c.rec_loss)
        where = f"{c.other} K={c.codebook_size} d={c.codebook_dim}"
        parts.append(f"{where}: PSNR(W) - PSNR = {_diff(c.psnr, '.2f')} dB, rec(W) - rec = "
                     f"{_diff(c.rec_loss, '.2g')}")
        better.append(significant(tp, +1) and significant(tr, -1))
        if significant(tp, -1, comparisons=m) or significant(tr, +1, comparisons=m):
            worse.append(where)
    verdict = decide(confirmed=all(better), refuted=bool(worse))
    used = [res.summary.point(q, c.codebook_size, c.codebook_dim, c.dataset)
            for c in comps for q in ("wasserstein", c.other)]
    return Measurement("; ".join(parts) + (f". Significantly better than Wasserstein: {worse}"
                                           if worse else "") + "." + _plateau_note(dict.fromkeys(used))
                       + _seeds_note([c.psnr for c in comps]), verdict, {"worse": worse})


@claim(
    id="vqvae.fair_control",
    source="the authors' VQ-VAE code: the Wasserstein codebook trains at a constant lr 0.02 with "
           "beta 0.1, the baselines' codebooks at the model lr with beta 1.0 (paper_notes.md, "
           "'fair comparison')",
    statement="The utilization gain of Wasserstein VQ comes from the matching loss, not from the "
              "larger codebook learning rate and smaller commitment weight it is trained with",
    expected="swap the settings (Wasserstein with the baselines' lr and beta, each baseline with "
             "Wasserstein's): the gain U(Wasserstein) - U(baseline) stays positive for every "
             f"baseline ({_TEST}); refuted if it turns significantly negative; inconclusive where "
             "there is no gain to explain (the gain with the original settings not significant)",
    study="vqvae",
)
def fair_control(res) -> Measurement:
    ctl = [c for c in res.summary.control if c.gain_swapped]
    if not ctl:
        return Measurement("no control points in this run (control=False)", "inconclusive")
    parts, verdicts, comps = [], [], []
    for c in ctl:
        gp, gs = c.gain_paper, c.gain_swapped
        comps += [gp, gs]
        parts.append(f"K={c.codebook_size} {c.baseline}: own settings U(W) {gp.a:.3f} vs "
                     f"{gp.b:.3f}, gain {_diff(gp)}; swapped (W with beta "
                     f"{c.wasserstein_control_beta:g}, codebook lr "
                     f"{c.wasserstein_control_codebook_lr:g}; {c.baseline} with beta "
                     f"{c.baseline_control_beta:g}, codebook lr "
                     f"{c.baseline_control_codebook_lr or 'n/a'}) U {gs.a:.3f} vs "
                     f"{gs.b:.3f}, gain {_diff(gs)}")
        t_paper, t_swap = _t(gp), _t(gs)
        if not significant(t_paper, +1):
            verdicts.append("inconclusive")
            continue
        verdicts.append(decide(confirmed=significant(t_swap, +1),
                               refuted=significant(t_swap, -1, comparisons=len(ctl))))
    note = _seeds_note(comps)
    used = [p for p in res.summary.points if p.setting == "control"]
    return Measurement("; ".join(parts) + "." + _plateau_note(used) + note, combine(verdicts),
                       {"gains": {c.baseline: {"paper": c.gain_paper.diff,
                                               "swapped": c.gain_swapped.diff}
                                  for c in ctl}})


@claim(
    id="vqvae.gradient_gap_bound",
    source="later version, eq. 4 and App. C: G <= ||H||_2 ||z_e - z_q||",
    statement="The STE gradient gap G = ||dL/dz(z_e) - dL/dz(z_q)|| of the decoder loss is "
              "bounded by ||H(z_q)||_2 ||z_e - z_q|| (H the Hessian of L at z_q)",
    expected=f"the bound holds on held-out images: the 95% Clopper-Pearson interval of the "
             f"fraction of images violating it lies below {BOUND_HOLDS:.0%}; refuted if it lies "
             f"above (the bound is a first-order Taylor argument; ||H||_2 by power iteration)",
    study="vqvae",
)
def gradient_gap_bound(res) -> Measurement:
    g = res.summary.gap
    if not g.runs:
        return Measurement("no gradient-gap measurement in this run (gap_images=0)", "inconclusive")
    rate = g.violation_rate
    lo, hi = rate.ci
    return Measurement(
        f"{g.violations} of {g.images} held-out images violate the bound "
        f"({100 * rate.value:.1f}% [{100 * lo:.1f}, {100 * hi:.1f}]) over {g.runs} "
        f"runs; median G / bound {g.gap_over_bound_median:.3f}",
        decide(confirmed=hi < BOUND_HOLDS, refuted=lo > BOUND_HOLDS),
        {"violation_rate": rate.value, "ci": [lo, hi]})


@claim(
    id="vqvae.gradient_gap_matching",
    source="v1 §1 and later version §2.2 ('a smaller quantization error ... a smaller gradient "
           "gap ... training instability can be effectively mitigated')",
    statement="Distribution matching lowers the STE gradient gap: Wasserstein VQ's decoder-loss "
              "gradient gap is smaller than Vanilla VQ's",
    expected=f"at the largest K, G(Wasserstein) - G(Vanilla) < 0 with each quantizer's own settings, "
             f"with the settings swapped (the control: Wasserstein with Vanilla's lr and beta, "
             f"Vanilla with Wasserstein's) AND at every commitment weight beta both are trained "
             f"with (the beta sweep), so that the matching loss, not the settings, makes the "
             f"difference ({_TEST}); refuted if, with the settings swapped or at equal beta, "
             "Wasserstein's gap is significantly larger (Bonferroni over those comparisons); the "
             "report also gives the slope of G against the per-image quantization distance",
    study="vqvae",
)
def gradient_gap_matching(res) -> Measurement:
    comps = [c for c in _largest(res) if c.other == "vanilla" and c.gap_mean]
    if not comps:
        return Measurement("no gradient gap of wasserstein and vanilla in this run", "inconclusive")
    swapped = {(c.codebook_size, c.codebook_dim, c.dataset): c.gap_swapped
               for c in res.summary.control if c.baseline == "vanilla"}
    parts, verdicts, seen = [], [], []
    for c in comps:
        g = c.gap_mean  # G(W) - G(V), own settings
        s = swapped.get((c.codebook_size, c.codebook_dim, c.dataset))
        seen += [g, s]
        w = res.summary.point("wasserstein", c.codebook_size, c.codebook_dim, c.dataset)
        v = res.summary.point("vanilla", c.codebook_size, c.codebook_dim, c.dataset)
        parts.append(f"K={c.codebook_size}: own settings mean G Wasserstein {g.a:.3g}, "
                     f"Vanilla {g.b:.3g}, G(W) - G(V) = {_diff(g)} (quantization error E "
                     f"{w.error.value:.3g} vs {v.error.value:.3g})"
                     + (f"; settings swapped: Wasserstein {s.a:.3g}, Vanilla {s.b:.3g}, "
                        f"G(W) - G(V) = {_diff(s)}" if s else "; no control point"))
        eq = [e for e in res.summary.equal_beta if (e.codebook_size, e.codebook_dim, e.dataset)
              == (c.codebook_size, c.codebook_dim, c.dataset) and e.gap_mean is not None]
        if eq:
            parts.append("at equal beta: " + ", ".join(
                f"beta {e.beta:g}: G(W) - G(V) = {_diff(e.gap_mean)}, PSNR_Y(W) - PSNR_Y(V) = "
                f"{_diff(e.psnr_y, '.2f')} dB" for e in eq))
            seen += [e.gap_mean for e in eq]
        t_own, t_swap = _t(g), _t(s) if s else None
        m = 1 + len(eq)
        verdicts.append(decide(
            confirmed=(significant(t_own, -1) and significant(t_swap, -1)
                       and all(significant(_t(e.gap_mean), -1) for e in eq)),
            refuted=(significant(t_swap, +1, comparisons=m)
                     or any(significant(_t(e.gap_mean), +1, comparisons=m) for e in eq))))
    slope = res.summary.gap.gap_error_slope
    note = (f" Log-log slope of G in the per-image RMS quantization distance: "
            f"{slope.value:.2f}." if slope is not None else "")
    return Measurement("; ".join(parts) + "." + note + _seeds_note(seen), combine(verdicts))


@claim(
    id="vqvae.hyperparameter_robustness",
    source="the γ table (matching weight) of the paper's VQ-VAE ablations; robustness to the "
           "matching weight and the codebook learning rate",
    statement="Wasserstein VQ's near-full utilization does not hinge on its matching weight gamma "
              "or its codebook learning rate",
    expected=f"at the largest K, over the gamma x codebook lr grid (the sensitivity points and "
             f"the paper point): every point's mean held-out U >= {NEAR_FULL_U} with the lower end "
             f"of its 95% t interval >= {NEAR_FULL_U} (at least {MIN_REPLICATES} seeds); refuted if "
             f"some point's upper end lies below {NEAR_FULL_U}",
    study="vqvae",
)
def hyperparameter_robustness(res) -> Measurement:
    k = res.summary.largest_codebook_size
    grid = [p for p in res.summary.points if p.quantizer == "wasserstein" and p.codebook_size == k
            and p.setting in ("paper", "sensitivity")]
    if not any(p.setting == "sensitivity" for p in grid):
        return Measurement("no sensitivity grid in this run (the sensitivity points of the default "
                           "scale)", "inconclusive")
    def settings(p):  # None: the quantizer's default
        return (MATCHING_GAMMA if p.gamma is None else p.gamma,
                MATCHING_CODEBOOK_LR if p.codebook_lr is None else p.codebook_lr)

    grid.sort(key=settings)
    parts, verdicts = [], []
    for p in grid:
        u = p.utilization
        g, lr = settings(p)
        parts.append(f"gamma {g:g}, codebook lr {lr:g}: U {u}")
        enough = u.n >= MIN_REPLICATES
        verdicts.append(decide(confirmed=enough and u.value >= NEAR_FULL_U and u.low >= NEAR_FULL_U,
                               refuted=enough and u.high < NEAR_FULL_U))
    few = too_few((p.utilization.n for p in grid), "seed(s)")
    return Measurement(f"K={k}: " + "; ".join(parts) + "." + _plateau_note(grid)
                       + (" " + few if few else ""), combine(verdicts))


@claim(
    id="vqvae.paper_tables",
    source="Tables 6, 7, 9 (CIFAR-10, SVHN)",
    statement="The paper's VQ-VAE table values (U, PSNR) for Vanilla, EMA, Online and Wasserstein VQ",
    expected="only at the paper's setting (training preset paper-cifar10 or paper-svhn): each "
             "printed U and Y-channel PSNR is a plausible single run of ours: after its rounding, "
             "(x - mean) / (sd sqrt(1 + 1/n)) ~ t(n - 1) over our seeds has p >= "
             f"{ALPHA} / (number of values); refuted below {ALPHA_DISAGREE}; other training presets: "
             "inconclusive",
    study="vqvae",
)
def paper_tables(res) -> Measurement:
    rows = res.summary.paper
    if not rows:
        return Measurement(f"training preset {res.summary.train_preset!r} is not one of the "
                           "paper's settings (paper-cifar10, paper-svhn): nothing to compare",
                           "inconclusive")
    parts, ps = [], []
    for r in rows:
        u, p = r.utilization, r.psnr_y
        parts.append(f"{r.quantizer} K={r.codebook_size} d={r.codebook_dim}: U "
                     f"{u.value:.3f} vs {r.paper_utilization:.3f}, PSNR_Y {p.value:.2f} vs "
                     f"{r.paper_psnr:.2f}")
        for ours, theirs, rounding in ((u, r.paper_utilization, 0.0005),
                                       (p, r.paper_psnr, 0.005)):
            if not ours.se > 0 or ours.n < 2:  # one replicate, or no spread
                continue
            ps.append(single_draw_p(theirs, ours.value, ours.sd, ours.n, rounding))
    if not ps:
        return Measurement("; ".join(parts) + ". One seed per point: no spread to compare with",
                           "inconclusive")
    verdict = agrees(ps)
    return Measurement("; ".join(parts) + f". Smallest p over {len(ps)} values: {min(ps):.2g}",
                       verdict, {"min_p": min(ps)})


CLAIMS = (wasserstein_utilization, small_codebook_utilization, reconstruction, fair_control,
          gradient_gap_bound, gradient_gap_matching, hyperparameter_robustness, paper_tables)
