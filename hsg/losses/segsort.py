"""The SegSort+ pixel-to-segment contrastive loss, the workhorse of every HSG term but DMoN.

Each row ``x_i`` (a pixel embedding, or a centroid) is pulled towards the prototypes that share its label
and pushed from all others, with a von Mises-Fisher likelihood of concentration ``kappa``:

    E_ij  = exp(kappa * <x_i, p_j>)
    pos_i = sum_{j: z_j = y_i} E_ij - E_{i,own(i)}          (same label, own prototype excluded)
    num_i = pos_i if pos_i > 0 else E_{i,own(i)}            (fall back to the own prototype)
    nll_i = -log(num_i / (num_i + sum_{j: z_j != y_i} E_ij))

The row's label is its own prototype's label (``y_i = z[own(i)]``): a pixel belongs to its segment, and
positives are the other segments with the same label (the same region in the other view, the same group).

The sums are formed as the original forms them (raw exponent, the own term subtracted from the
same-label sum), so the numbers agree with it to the last bit for every concentration it could run
(kappa < 88 in float32). Above ``kappa = 80`` the exponent is shifted down by ``kappa - 80``, which
leaves every ratio unchanged and keeps it finite where the original overflowed.
"""

from __future__ import annotations

import torch


def segsort_nll(x: torch.Tensor, own: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                kappa: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row negative log-likelihood of SegSort+.

    Args:
        x: ``[P, C]`` L2-normalised rows.
        own: ``[P]`` index of each row's own prototype in ``prototypes``.
        prototypes: ``[S, C]`` L2-normalised prototypes.
        labels: ``[S]`` integer label of each prototype (equal labels are positives).
        kappa: concentration.

    Returns:
        (``[P]`` nll in float32, ``[P]`` bool: the row fell back to its own prototype).
    """
    if x.dtype != torch.float64:  # half precision from autocast is computed in float32
        x, prototypes = x.float(), prototypes.float()
    shift = max(0.0, float(kappa) - 80.0)
    e = torch.exp(kappa * (x @ prototypes.t()) - shift)  # [P, S]
    same = labels[own][:, None] == labels[None, :]
    e_own = e.gather(1, own[:, None]).squeeze(1)
    pos = (e * same).sum(dim=1) - e_own
    fallback = ~(pos > 0)
    num = torch.where(fallback, e_own, pos)
    e_other = (e * ~same).sum(dim=1)
    nll = -torch.log(num / (e_other + num))
    return nll, fallback


def segsort_loss(x: torch.Tensor, own: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                 kappa: float, normalizer: float | torch.Tensor | None = None) -> torch.Tensor:
    """Sum of :func:`segsort_nll` divided by ``normalizer`` (default: the number of rows, i.e. the mean).

    The trainer passes the global row count divided by the number of processes, so that the average of
    the per-process losses (what DDP optimises) is the mean over all rows of the global batch, however
    many processes share it.
    """
    nll, _ = segsort_nll(x, own, prototypes, labels, kappa)
    denom = nll.numel() if normalizer is None else normalizer
    return nll.sum() / denom


@torch.no_grad()
def topk_accuracy(prototypes: torch.Tensor, labels: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Fraction of each prototype's ``k`` most similar prototypes (itself included) with its label.

    Logged only, as in the original (which reports it as "accuracy").
    """
    k = min(k, prototypes.shape[0])
    sim = prototypes @ prototypes.t()
    idx = sim.topk(k, dim=1).indices
    return (labels[idx] == labels[:, None]).float().mean()
