r"""High-resolution quantization theory: point densities, constants and distortions.

Everything here is closed-form numpy/scipy arithmetic and serves as the *theory side* against
which the package's measurements are compared.

Conventions
-----------
* Distortion is always the **total** squared error :math:`D = \mathbb{E}\|X - Q(X)\|^2`, summed
  over the :math:`d` coordinates (the paper's Criterion 1), never the per-coordinate average.
* Lattice constants :math:`G_d` are the dimensionless normalised second moments of Conway &
  Sloane, which are **per dimension**: a Voronoi cell :math:`P` of volume :math:`V` contributes
  :math:`\frac{1}{V}\int_P\|x - c\|^2\,dx = d\,G_d\,V^{2/d}` to the total error.
* :math:`\|f\|_p = (\int f^p)^{1/p}` (a quasi-norm for :math:`p < 1`).

The density question
--------------------
For :math:`r`-th power distortion the optimal :math:`K`-point quantizer has, as
:math:`K\to\infty`, point density :math:`\lambda \propto f^{d/(d+r)}`, i.e.
:math:`f^{d/(d+2)}` for mean squared error (Panter & Dite 1951; Zador 1982; Gersho 1979; Graf &
Luschgy 2000, Thm 7.5). Theorem 2 of Fang et al. (arXiv 2506.15078) states
:math:`f^{(d+2)/d}`, the reciprocal exponent; :func:`paper_density_exponent` records that claim.

References
----------
.. [PD51] P. F. Panter and W. Dite, "Quantization distortion in pulse-count modulation with
   nonuniform spacing of levels", Proc. IRE 39 (1951) 44-48.
.. [Ger79] A. Gersho, "Asymptotically optimal block quantization", IEEE Trans. IT-25 (1979).
.. [Zad82] P. L. Zador, "Asymptotic quantization error of continuous signals and the
   quantization dimension", IEEE Trans. IT-28 (1982) 139-149.
.. [CS99] J. H. Conway and N. J. A. Sloane, "Sphere Packings, Lattices and Groups", 3rd ed.,
   Springer (1999), ch. 2 and ch. 21 (Table 2.3).
.. [GL00] S. Graf and H. Luschgy, "Foundations of Quantization for Probability Distributions",
   Lecture Notes in Mathematics 1730, Springer (2000), Thm 6.2 and Thm 7.5.
.. [AA23] E. Agrell and B. Allen, "On the best lattice quantizers", IEEE Trans. IT 69 (2023),
   exact / refined values of the classical lattice constants.
.. [Yuk08] J. E. Yukich, "Limit theorems for multi-dimensional random quantizers", Electron.
   Commun. Probab. 13 (2008) 507-517.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy.special import gammaln

__all__ = [
    "ASYMPTOTIC_QUANTIZER_CONSTANT",
    "QuantizerConstant",
    "best_gaussian_codebook_scale2",
    "expected_utilization",
    "gaussian_codebook_gain",
    "gaussian_codebook_integral",
    "gaussian_codebook_relative_distortion",
    "gaussian_point_density_variance",
    "gaussian_renyi_norm",
    "optimal_density_exponent",
    "optimal_distortion_highres",
    "optimal_gaussian_distortion_highres",
    "panter_dite_constant",
    "paper_density_exponent",
    "quantizer_constant",
    "random_codebook_coefficient",
    "random_codebook_distortion_highres",
    "random_gaussian_codebook_distortion",
    "sphere_lower_bound",
    "unit_ball_volume",
]

#: :math:`\lim_{d\to\infty} G_d = 1/(2\pi e) \approx 0.0585498` (Zador 1982).
ASYMPTOTIC_QUANTIZER_CONSTANT: float = 1.0 / (2.0 * math.pi * math.e)


# --------------------------------------------------------------------------- validation


def _check_dim(d: object, name: str = "d") -> int:
    if isinstance(d, bool) or not isinstance(d, Integral) or d < 1:
        raise ValueError(f"{name} must be a positive integer, got {name}={d!r}")
    return int(d)


def _check_positive(x: object, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, Real) or not math.isfinite(x) or x <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {name}={x!r}")
    return float(x)


def _positive_array(x: object, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be positive finite number(s), got {name}={x!r}") from None
    if arr.size == 0 or not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"{name} must be positive finite number(s), got {name}={x!r}")
    return arr


def _out(arr: np.ndarray) -> float | np.ndarray:
    return float(arr) if arr.ndim == 0 else arr


# --------------------------------------------------------------------------- exponents


def optimal_density_exponent(d: int, r: float = 2.0) -> float:
    r"""Exponent :math:`a` of the asymptotically optimal point density :math:`\lambda\propto f^a`.

    .. math:: a = \frac{d}{d + r}

    for the :math:`r`-th power distortion :math:`\mathbb{E}\|X - Q(X)\|^r` (Zador 1982; Gersho
    1979; Graf & Luschgy 2000, Thm 7.5); for MSE (:math:`r=2`) this is :math:`d/(d+2)`, and in
    one dimension the Panter-Dite (1951) density :math:`f^{1/3}`.

    Parameters
    ----------
    d : int
        Dimension, ``d >= 1``.
    r : float
        Distortion power, ``r > 0``.
    """
    d = _check_dim(d)
    r = _check_positive(r, "r")
    return d / (d + r)


def paper_density_exponent(d: int) -> float:
    r"""Exponent stated by Theorem 2 of Fang et al. (arXiv 2506.15078): :math:`(d+2)/d`.

    .. math:: a_{\text{paper}} = \frac{d+2}{d} = \frac{1}{a_{\text{classical}}}

    This records **the paper's claim**, not established theory: it is the reciprocal of the
    classical MSE exponent :func:`optimal_density_exponent` ``(d, 2) = d/(d+2)``
    (Zador 1982; Gersho 1979; Graf & Luschgy 2000, Thm 7.5). The two agree only as
    :math:`d\to\infty`; the package decides between them by measurement.
    """
    d = _check_dim(d)
    return (d + 2) / d


def gaussian_point_density_variance(d: int, exponent: float, feature_var: float = 1.0) -> float:
    r"""Variance of the normalised density :math:`f^a` for :math:`f = N(0, v I_d)`.

    .. math:: f^a \propto \exp\!\Big(-\frac{a\|x\|^2}{2v}\Big) \;\Rightarrow\;
              \frac{f^a}{\int f^a} = N(0, (v/a) I_d).

    With the classical exponent :math:`a = d/(d+2)` the optimal centres follow
    :math:`N(0, v\,(d+2)/d\,I)`: *wider* than the data. The paper's exponent :math:`(d+2)/d`
    gives :math:`N(0, v\,d/(d+2)\,I)`: narrower. ``d`` is validated but the result is per axis.
    """
    _check_dim(d)
    a = _check_positive(exponent, "exponent")
    v = _check_positive(feature_var, "feature_var")
    return v / a


# --------------------------------------------------------------------------- constants


def unit_ball_volume(d: int) -> float:
    r"""Volume of the unit Euclidean ball in :math:`\mathbb{R}^d`.

    .. math:: V_d = \frac{\pi^{d/2}}{\Gamma(d/2 + 1)}
    """
    d = _check_dim(d)
    return math.exp(0.5 * d * math.log(math.pi) - gammaln(0.5 * d + 1.0))


def sphere_lower_bound(d: int) -> float:
    r"""Sphere lower bound on the per-dimension normalised second moment (Zador 1982).

    .. math:: G_d \ge \frac{\Gamma(1 + d/2)^{2/d}}{(d+2)\pi} = \frac{V_d^{-2/d}}{d+2},

    the normalised second moment of a ball (no polytope tiling space does better). Equal to
    :math:`1/12` at ``d = 1``; tends to :data:`ASYMPTOTIC_QUANTIZER_CONSTANT`
    :math:`= 1/(2\pi e)` from below as :math:`d\to\infty` (Conway & Sloane 1999, ch. 2 and 21).
    """
    d = _check_dim(d)
    return math.exp((2.0 / d) * gammaln(1.0 + 0.5 * d)) / ((d + 2) * math.pi)


@dataclass(frozen=True)
class QuantizerConstant:
    r"""A per-dimension normalised second moment :math:`G_d` and its provenance.

    Attributes
    ----------
    d : int
        Dimension.
    value : float
        :math:`G_d`, **per dimension** (Conway & Sloane's convention).
    exact : bool
        ``True`` when ``value`` is the (closed-form or analytically computed) second moment of
        an explicit quantizer, hence *achievable*. ``False`` for the sphere lower bound and for
        numerical estimates (Leech lattice).
    optimal : bool
        ``True`` only where ``value`` is *proved* to be the optimal coefficient of Zador's
        theorem (``d = 1``: interval; ``d = 2``: hexagon, Fejes Toth / Newman).
    kind : str
        ``"optimal"``, ``"lattice"`` (achieved, an upper bound on the optimal constant),
        ``"lattice estimate"`` or ``"sphere lower bound"``.
    source : str
        Human-readable provenance.
    """

    d: int
    value: float
    exact: bool
    optimal: bool
    kind: str
    source: str

    @property
    def total(self) -> float:
        r"""Coefficient for the total squared error, :math:`d\,G_d`."""
        return self.d * self.value


# (value, exact, optimal, kind, source); decimal values are the NSMs of Conway & Sloane (1999)
# Table 2.3 to the precision recomputed by Agrell & Allen (2023).
_KNOWN_G: dict[int, tuple[float, bool, bool, str, str]] = {
    1: (1.0 / 12.0, True, True, "optimal", "interval / Z: 1/12 (Panter & Dite 1951)"),
    2: (5.0 / (36.0 * math.sqrt(3.0)), True, True, "optimal",
        "hexagonal lattice A2: 5/(36 sqrt 3) (Fejes Toth 1959; Newman 1982)"),
    3: (19.0 / (192.0 * 2.0 ** (1.0 / 3.0)), True, False, "lattice",
        "BCC lattice A3*: 19/(192 2^(1/3)); best lattice (Barnes & Sloane 1983)"),
    4: (0.076603235, True, False, "lattice", "D4 (Conway & Sloane 1999, Table 2.3)"),
    5: (0.075625443, True, False, "lattice", "D5* (Conway & Sloane 1999, Table 2.3)"),
    6: (0.074243697, True, False, "lattice", "E6* (Conway & Sloane 1999, Table 2.3)"),
    7: (0.073116493, True, False, "lattice", "E7* (Conway & Sloane 1999, Table 2.3)"),
    8: (929.0 / 12960.0, True, False, "lattice", "E8: 929/12960 (Conway & Sloane 1999)"),
    16: (0.068297622, True, False, "lattice",
         "Barnes-Wall Lambda16 (Conway & Sloane 1999; Agrell & Allen 2023)"),
    24: (0.06577, False, False, "lattice estimate",
         "Leech Lambda24, numerical estimate ~4 digits (Conway & Sloane 1999; Agrell & Allen"
         " 2023)"),
}


def quantizer_constant(d: int) -> QuantizerConstant:
    r"""Best known per-dimension quantizer constant :math:`G_d` (normalised second moment).

    .. math:: G_d = \frac{1}{d}\,\frac{\int_P \|x - c\|^2\,dx}{V^{1 + 2/d}},
              \qquad \text{total MSE per cell} = d\,G_d\,V^{2/d}.

    * ``d = 1``: :math:`1/12` (interval), optimal, exact.
    * ``d = 2``: :math:`5/(36\sqrt3) \approx 0.0801875` (hexagon A2), optimal, exact.
    * ``d = 3``: :math:`19/(192\cdot 2^{1/3}) \approx 0.0785433` (BCC A3*), best lattice,
      conjectured optimal: an achieved value, i.e. an upper bound on the optimal constant.
    * ``d = 4..8``: D4 0.0766032, D5* 0.0756254, E6* 0.0742437, E7* 0.0731165,
      E8 :math:`929/12960 \approx 0.0716821`: achieved lattice values (upper bounds).
    * ``d = 16``: Barnes-Wall 0.0682976, achieved lattice value (upper bound).
    * ``d = 24``: Leech 0.06577, a numerical estimate (``exact=False``).
    * any other ``d``: the sphere bound :func:`sphere_lower_bound`, a **lower bound**
      (``exact=False``).

    Lattice values upper-bound the optimal (Zador) constant; the sphere bound
    :func:`sphere_lower_bound` lower-bounds it. In dimensions 9-15 and 17-23 lattices beating
    the classical ones are known (Agrell & Allen 2023), so no lattice value is returned there.
    All constants tend to :math:`1/(2\pi e)` (:data:`ASYMPTOTIC_QUANTIZER_CONSTANT`).

    References: Conway & Sloane (1999) Table 2.3; Zador (1982); Gersho (1979);
    Graf & Luschgy (2000); Agrell & Allen (2023).
    """
    d = _check_dim(d)
    if d in _KNOWN_G:
        value, exact, optimal, kind, source = _KNOWN_G[d]
        return QuantizerConstant(d, value, exact, optimal, kind, source)
    return QuantizerConstant(
        d, sphere_lower_bound(d), False, False, "sphere lower bound",
        "sphere lower bound Gamma(1+d/2)^(2/d)/((d+2) pi) (Zador 1982); no lattice value stored",
    )


def panter_dite_constant() -> float:
    r"""Panter-Dite constant for the standard normal: :math:`\lim_K K^2 D_K = \sqrt3\,\pi/2`.

    .. math:: \lim_{K\to\infty} K^2 D_K = \frac{1}{12}\Big(\int\varphi^{1/3}\Big)^3
              = \frac{\sqrt{3}\,\pi}{2} \approx 2.7207

    (Panter & Dite 1951; Graf & Luschgy 2000, Thm 6.2). For variance :math:`v` multiply by
    :math:`v`.
    """
    return math.sqrt(3.0) * math.pi / 2.0


# --------------------------------------------------------------------------- optimal quantizers


def gaussian_renyi_norm(d: int, p: float, var: float = 1.0) -> float:
    r""":math:`\|\varphi\|_p = (\int\varphi^p)^{1/p}` for :math:`\varphi = N(0, \mathrm{var}\,I_d)`.

    .. math:: \int \varphi^p\,dx = (2\pi\,\mathrm{var})^{d(1-p)/2}\,p^{-d/2}

    With :math:`p = d/(d+2)` this is Zador's functional
    :math:`\|f\|_{d/(d+2)} = 2\pi\,\mathrm{var}\,((d+2)/d)^{(d+2)/2}`.
    """
    d = _check_dim(d)
    p = _check_positive(p, "p")
    var = _check_positive(var, "var")
    log_int = 0.5 * d * (1.0 - p) * math.log(2.0 * math.pi * var) - 0.5 * d * math.log(p)
    return math.exp(log_int / p)


def optimal_distortion_highres(
    d: int, n_codes: float | np.ndarray, f_norm: float, coefficient: float | None = None
) -> float | np.ndarray:
    r"""Zador-Gersho high-resolution total MSE of an optimal ``n_codes``-point quantizer.

    .. math:: D_K \approx d\,G_d\,K^{-2/d}\,\|f\|_{d/(d+2)},\qquad
              \|f\|_{d/(d+2)} = \Big(\int f^{d/(d+2)}\Big)^{(d+2)/d}

    Total squared error :math:`\mathbb{E}\|X - Q(X)\|^2`; :math:`G_d` is per dimension (hence
    the factor :math:`d`). Gersho's conjecture is used to plug a cell shape constant into
    Zador's theorem; the exact optimal constant is known only for ``d <= 2``, so for larger
    ``d`` the default (:func:`quantizer_constant`) is a lattice upper bound or the sphere lower
    bound (Zador 1982; Gersho 1979; Graf & Luschgy 2000, Thm 6.2).

    Parameters
    ----------
    d : int
    n_codes : float or array
        Number of codes :math:`K > 0` (arrays broadcast).
    f_norm : float
        :math:`\|f\|_{d/(d+2)}`, e.g. from :func:`gaussian_renyi_norm`.
    coefficient : float, optional
        Per-dimension :math:`G_d` to use instead of :func:`quantizer_constant` ``(d).value``.
    """
    d = _check_dim(d)
    k = _positive_array(n_codes, "n_codes")
    f_norm = _check_positive(f_norm, "f_norm")
    g = quantizer_constant(d).value if coefficient is None else _check_positive(
        coefficient, "coefficient")
    return _out(d * g * k ** (-2.0 / d) * f_norm)


def optimal_gaussian_distortion_highres(
    d: int, n_codes: float | np.ndarray, feature_var: float = 1.0,
    coefficient: float | None = None,
) -> float | np.ndarray:
    r""":func:`optimal_distortion_highres` for :math:`f = N(0, v I_d)`.

    .. math:: D_K \approx d\,G_d\,K^{-2/d}\,2\pi v\Big(\frac{d+2}{d}\Big)^{(d+2)/2}

    For ``d = 1`` this is the Panter-Dite law :math:`v\,\sqrt3\pi/(2K^2)`.
    """
    d = _check_dim(d)
    v = _check_positive(feature_var, "feature_var")
    return optimal_distortion_highres(d, n_codes, gaussian_renyi_norm(d, d / (d + 2), v),
                                      coefficient)


# --------------------------------------------------------------------------- random codebooks


def random_codebook_coefficient(d: int) -> float:
    r"""Zador's random-coding constant :math:`\Gamma(1 + 2/d)\,V_d^{-2/d}` (total MSE).

    For :math:`K` i.i.d. codes from :math:`g`, :math:`P(\min_i\|x - c_i\|^2 > t) \approx
    \exp(-K g(x) V_d t^{d/2})`, so :math:`\mathbb{E}\min_i\|x-c_i\|^2 \approx
    \Gamma(1+2/d)(K g(x) V_d)^{-2/d}` (Zador 1982; Yukich 2008). Relative to the sphere bound
    (``d *`` :func:`sphere_lower_bound`) the loss factor is :math:`\Gamma(2 + 2/d)`
    (6 at d = 1, 2 at d = 2, -> 1 as :math:`d\to\infty`).
    """
    d = _check_dim(d)
    return math.exp(gammaln(1.0 + 2.0 / d) - (2.0 / d) * math.log(unit_ball_volume(d)))


def random_codebook_distortion_highres(
    d: int, n_codes: float | np.ndarray, integral: float
) -> float | np.ndarray:
    r"""High-resolution total MSE of ``n_codes`` i.i.d. codes drawn from a density :math:`g`.

    .. math:: \mathbb{E}\,D_K \approx \Gamma(1 + 2/d)\,V_d^{-2/d}\,K^{-2/d}
              \int f(x)\,g(x)^{-2/d}\,dx

    ``integral`` is :math:`\int f g^{-2/d}` (may be ``inf``: the approximation then diverges,
    and so does :math:`K^{2/d}\mathbb{E}D_K`). Minimising over :math:`g` gives the same
    density :math:`g\propto f^{d/(d+2)}` as for optimal quantizers, with minimum
    :math:`\|f\|_{d/(d+2)}` (Zador 1982; Yukich 2008; see :mod:`vqmatch.theory.symbolic`).
    """
    d = _check_dim(d)
    k = _positive_array(n_codes, "n_codes")
    if isinstance(integral, bool) or not isinstance(integral, Real) or not integral > 0:
        raise ValueError(f"integral must be a positive number (or inf), got integral={integral!r}")
    return _out(random_codebook_coefficient(d) * k ** (-2.0 / d) * float(integral))


def gaussian_codebook_integral(
    d: int, scale2: float | np.ndarray, feature_var: float = 1.0
) -> float | np.ndarray:
    r""":math:`\int f g^{-2/d}` for :math:`f = N(0, vI_d)` and codes :math:`g = N(0, s^2 I_d)`.

    .. math:: g^{-2/d}(z) = 2\pi s^2\,e^{\|z\|^2/(d s^2)},\qquad
              \int f g^{-2/d} = 2\pi s^2\Big(1 - \frac{2v}{d s^2}\Big)^{-d/2}

    finite only for :math:`s^2 > 2v/d`. For :math:`s^2 \le 2v/d` the integral diverges (the
    codebook's Gaussian tail is too light to cover the data's tail) and ``inf`` is returned.
    In particular the matched codebook :math:`s^2 = v` diverges for ``d <= 2``.
    """
    d = _check_dim(d)
    s2 = _positive_array(scale2, "scale2")
    v = _check_positive(feature_var, "feature_var")
    u = 2.0 * v / (d * s2)
    ok = u < 1.0
    safe_u = np.where(ok, u, 0.0)
    val = 2.0 * np.pi * s2 * np.exp(-0.5 * d * np.log1p(-safe_u))
    return _out(np.where(ok, val, np.inf))


def random_gaussian_codebook_distortion(
    d: int, n_codes: float | np.ndarray, scale2: float | np.ndarray, feature_var: float = 1.0
) -> float | np.ndarray:
    r"""High-resolution total MSE of :math:`K` i.i.d. :math:`N(0, s^2 I)` codes on
    :math:`N(0, vI)` features.

    .. math:: \mathbb{E}\,D_K \approx \Gamma(1+2/d)\,V_d^{-2/d}\,K^{-2/d}\;2\pi s^2
              \Big(1 - \frac{2v}{d s^2}\Big)^{-d/2},

    ``inf`` for :math:`s^2\le 2v/d` (see :func:`gaussian_codebook_integral`): there the
    distortion decays more slowly than :math:`K^{-2/d}`.
    """
    d = _check_dim(d)
    k = _positive_array(n_codes, "n_codes")
    integ = gaussian_codebook_integral(d, scale2, feature_var)
    return _out(random_codebook_coefficient(d) * k ** (-2.0 / d) * np.asarray(integ))


def best_gaussian_codebook_scale2(d: int, feature_var: float = 1.0) -> float:
    r"""Variance :math:`s_*^2` of the best i.i.d. Gaussian codebook for :math:`N(0, vI_d)` data.

    Minimising :math:`s^2(1 - 2v/(d s^2))^{-d/2}` (see :func:`gaussian_codebook_integral`):

    .. math:: \frac{d}{ds^2}\Big[\log s^2 - \frac d2\log\Big(1 - \frac{2v}{ds^2}\Big)\Big]
              = \frac{d s^2 - (d+2) v}{s^2 (d s^2 - 2v)} = 0
              \;\Rightarrow\; s_*^2 = v\,\frac{d+2}{d}.

    This is the variance of the optimal point density :math:`f^{d/(d+2)}` (see
    :func:`gaussian_point_density_variance`). Not a coincidence: the random-codebook functional
    :math:`\int f g^{-2/d}` has the same Lagrangian as Gersho's point-density functional, and
    since :math:`f^{d/(d+2)}` is itself Gaussian the best Gaussian codebook is the globally
    best codebook density, with :math:`\int f g_*^{-2/d} = \|f\|_{d/(d+2)}`.
    """
    d = _check_dim(d)
    v = _check_positive(feature_var, "feature_var")
    return v * (d + 2) / d


def gaussian_codebook_relative_distortion(
    d: int, scale2: float | np.ndarray, feature_var: float = 1.0
) -> float | np.ndarray:
    r"""High-resolution distortion of an :math:`N(0, s^2 I)` codebook relative to the best one.

    .. math:: \frac{E(s^2)}{E(s_*^2)} = \frac{s^2 (1 - 2v/(d s^2))^{-d/2}}
              {v\,((d+2)/d)^{(d+2)/2}} \;\ge\; 1

    (``inf`` for :math:`s^2\le 2v/d`). E.g. the paper's density :math:`f^{(d+2)/d}` corresponds
    to :math:`s^2 = v\,d/(d+2)`, which is finite only for :math:`d > 1 + \sqrt5`.
    """
    d = _check_dim(d)
    v = _check_positive(feature_var, "feature_var")
    best = gaussian_codebook_integral(d, best_gaussian_codebook_scale2(d, v), v)
    return _out(np.asarray(gaussian_codebook_integral(d, scale2, v)) / best)


def gaussian_codebook_gain(d: int) -> float:
    r"""Relative gain of the best Gaussian codebook scale over the matched one, :math:`s^2 = v`.

    .. math:: 1 - \frac{E(s_*^2)}{E(v)} = 1 - \Big(1 + \frac2d\Big)^{(d+2)/2}
              \Big(1 - \frac2d\Big)^{d/2} = \frac{2}{d^2} + \frac{4}{3d^3} + O(d^{-4}),

    independent of :math:`v`. For ``d <= 2`` the matched codebook's high-resolution distortion
    is infinite, so the gain is ``1.0``. Values: d = 1: 1, d = 2: 1, d = 3: 0.30986,
    d = 4: 0.15625, d = 8: 0.034405, d = 16: 0.0081703, d = 32: 0.0019958 — positive,
    decreasing and -> 0.
    """
    d = _check_dim(d)
    if d <= 2:
        return 1.0
    log_ratio = 0.5 * (d + 2) * math.log1p(2.0 / d) + 0.5 * d * math.log1p(-2.0 / d)
    return -math.expm1(log_ratio)


def expected_utilization(masses, n_features: int) -> float:
    r"""Expected utilization of a fixed codebook whose Voronoi cells have feature masses
    ``masses``: :math:`1 - \frac1K\sum_k (1 - P_A(V_k))^N` for N i.i.d. features (code k is unused
    with probability :math:`(1 - P_A(V_k))^N`; App. G). Equal masses 1/K give the ceiling
    :math:`1 - (1 - 1/K)^N` of a perfectly matched codebook."""
    p = np.clip(np.asarray(masses, dtype=np.float64), 0.0, 1.0)
    return float(1.0 - np.mean(np.power(1.0 - p, n_features)))
