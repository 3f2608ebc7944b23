r"""The paper's distribution-matching training loss, as its reference implementation computes it.

The reference is the authors' VQ-VAE quantizer, ``code/VQVAE/model/wasserstein_quantizer.py`` in
github.com/VQ-Research/Wasserstein-VQ (``Wasserstein_Quantizer.calc_wasserstein_loss``). What it
computes, re-implemented here on top of :func:`vqmatch.theory.gaussian_w2`:

* the feature statistics come from a batch (there: a queue of the 65,536 most recent encoder
  outputs) and are **detached**: the loss moves the codebook only, never the encoder;
* features and codes are both divided by ``max_j std_j(features) + 1e-8``, the largest
  per-coordinate (unbiased) standard deviation of the features, itself detached;
* means and unbiased covariances (``n - 1``) of both sets, and the closed form of Lemma 3;
* the **un-squared** :math:`W_2` (the reference code returns ``sqrt(. + 1e-10)``).

Differences from the reference code, on purpose: no ``+1e-8`` inside the eigenvalue square roots,
no ``+1e-10`` under the outer square root, no NaN masking: :func:`vqmatch.theory.gaussian_w2` gives finite
gradients without them (see its documentation), so the value here is the exact closed form of the
normalised statistics.

A codebook with ``K <= d`` codes has a singular covariance; formed in float32 its zero eigenvalues
come out as float32 round-off of either sign, which :func:`vqmatch.theory.gaussian_w2`'s dtype-aware
positive semi-definiteness tolerance accepts (see :mod:`vqmatch.theory.validation`).
"""

from __future__ import annotations

from .backend import namespace
from .gaussian import _w2_from_moments, gaussian_moments
from .validation import check_points

__all__ = ["wasserstein_vq_loss"]

STD_GUARD = 1e-8  # the reference implementation's guard on the normalising standard deviation


def wasserstein_vq_loss(
    features,
    codebook,
    *,
    squared: bool = False,
    normalize: bool = True,
    detach_features: bool = True,
):
    r"""Gaussian W2 between the feature batch and the codebook (the paper's :math:`L_W`).

    .. math::
        L_W = W_2\big(\mathcal N(\hat\mu_z/s, \hat\Sigma_z/s^2),
                      \mathcal N(\hat\mu_c/s, \hat\Sigma_c/s^2)\big),
        \qquad s = \max_j \hat\sigma_j(z) + 10^{-8}

    (``s = 1`` when ``normalize=False``).

    Parameters
    ----------
    features : torch.Tensor (n_features, d)
        Encoder outputs (a batch or a queue of recent batches); at least 2 rows.
    codebook : torch.Tensor (n_codes, d)
        Code vectors (typically ``embedding.weight``); at least 2 rows. The only input that
        receives a gradient when ``detach_features`` is True.
    squared : bool, default False
        Return :math:`W_2^2` instead of the paper's :math:`W_2`.
    normalize : bool, default True
        Divide both sets by the largest per-coordinate feature standard deviation, as the reference
        implementation does (the minimiser is unchanged; the gradient scale is not).
    detach_features : bool, default True
        Stop gradients into the features (the paper's design). Set False to study a loss that also
        pulls the encoder.

    Returns
    -------
    torch.Tensor, scalar, in the codebook's dtype.
    """
    xp = namespace(features, codebook, names=("features", "codebook"))
    if xp.name != "torch":
        raise ValueError(
            "wasserstein_vq_loss is a torch training loss: features and codebook must be torch "
            f"tensors, got {type(features).__name__} and {type(codebook).__name__}"
        )
    features = check_points(xp, features, "features", min_rows=2)
    codebook = check_points(xp, codebook, "codebook", min_rows=2)
    if features.shape[1] != codebook.shape[1]:
        raise ValueError(
            f"features and codebook must have the same dimension, got features.shape="
            f"{tuple(features.shape)} and codebook.shape={tuple(codebook.shape)}"
        )
    features, codebook = xp.promote(features, codebook)
    if detach_features:
        features = features.detach()
    if normalize:
        scale = features.detach().std(dim=0).max() + STD_GUARD
        features = features / scale
        codebook = codebook / scale
    m_z, c_z = gaussian_moments(features, ddof=1, name="features")
    m_c, c_c = gaussian_moments(codebook, ddof=1, name="codebook")
    return _w2_from_moments(xp, m_z, c_z, m_c, c_c, squared, ("cov(features)", "cov(codebook)"))
