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


class _SegSortTerms(torch.autograd.Function):
    """Several SegSort+ terms over the same rows and prototypes (img_sim, fine, coarse), fused.

    The similarity matrix and its exponent are computed once per distinct concentration, and the backward
    is closed-form: for a term with ``d = num + sum_other`` the gradient of ``nll`` with respect to the
    exponentiated similarities is ``1/d - 1/num`` on the numerator's entries and ``1/d`` on the others,
    so one weighted ``[P, S]`` matrix and two matrix products give both gradients. Compared with autograd
    through three separate terms this halves the time and the memory of the loss on the pixel rows.
    The forward computes exactly what :func:`segsort_nll` computes.
    """

    @staticmethod
    def forward(ctx, x, prototypes, own, kappas, normalizer, *label_sets):  # type: ignore[override]
        if x.dtype != torch.float64:  # half precision from autocast is computed in float32
            x, prototypes = x.float(), prototypes.float()
        logits = x @ prototypes.t()
        exps: dict[float, torch.Tensor] = {}
        losses, coefs = [], []
        for kappa, labels in zip(kappas, label_sets):
            if kappa not in exps:
                exps[kappa] = torch.exp(kappa * logits - max(0.0, kappa - 80.0))
            e = exps[kappa]
            same = labels[own][:, None] == labels[None, :]
            e_own = e.gather(1, own[:, None]).squeeze(1)
            pos = torch.where(same, e, 0.0).sum(dim=1) - e_own
            fallback = ~(pos > 0)
            num = torch.where(fallback, e_own, pos)
            d = torch.where(same, 0.0, e).sum(dim=1) + num
            losses.append(-torch.log(num / d).sum() / normalizer)
            a, b = 1.0 / d, 1.0 / num
            coefs.append((torch.where(fallback, 0.0, a - b), a, torch.where(fallback, a - b, 0.0)))
        ctx.save_for_backward(x, prototypes, own, *label_sets)
        ctx.exps, ctx.coefs, ctx.kappas, ctx.normalizer = exps, coefs, kappas, normalizer
        return torch.stack(losses)

    @staticmethod
    def backward(ctx, grad):  # type: ignore[override]
        x, prototypes, own, *label_sets = ctx.saved_tensors
        weights: dict[float, torch.Tensor] = {}
        for k, (kappa, labels) in enumerate(zip(ctx.kappas, label_sets)):
            c_same, c_other, c_own = ctx.coefs[k]
            same = labels[own][:, None] == labels[None, :]
            m = torch.where(same, c_same[:, None], c_other[:, None])
            m.scatter_(1, own[:, None], c_own[:, None])
            m.mul_(grad[k] / ctx.normalizer)
            weights[kappa] = m if kappa not in weights else weights[kappa].add_(m)
        dlogits = None
        for kappa, m in weights.items():
            m.mul_(ctx.exps[kappa]).mul_(kappa)
            dlogits = m if dlogits is None else dlogits.add_(m)
        dx = dlogits @ prototypes if ctx.needs_input_grad[0] else None
        dp = dlogits.t() @ x if ctx.needs_input_grad[1] else None
        return (dx, dp, None, None, None, *([None] * len(label_sets)))


def segsort_losses(x: torch.Tensor, own: torch.Tensor, prototypes: torch.Tensor,
                   label_sets: list[torch.Tensor], kappas: list[float],
                   normalizer: float | torch.Tensor | None = None) -> torch.Tensor:
    """SegSort+ losses ``[T]`` of T label sets over the same rows and prototypes (fused, see above).

    Each is the sum of :func:`segsort_nll` over the rows divided by ``normalizer`` (default: the number of
    rows, i.e. the mean). The trainer passes the global row count divided by the number of processes, so
    that the average of the per-process losses (what DDP optimises) is the mean over all rows of the
    global batch, however many processes share it.
    """
    denom = float(x.shape[0] if normalizer is None else normalizer)
    return _SegSortTerms.apply(x, prototypes, own, tuple(float(k) for k in kappas), denom, *label_sets)


def segsort_loss(x: torch.Tensor, own: torch.Tensor, prototypes: torch.Tensor, labels: torch.Tensor,
                 kappa: float, normalizer: float | torch.Tensor | None = None) -> torch.Tensor:
    """One SegSort+ loss (see :func:`segsort_losses`)."""
    return segsort_losses(x, own, prototypes, [labels], [kappa], normalizer)[0]


@torch.no_grad()
def topk_accuracy(prototypes: torch.Tensor, labels: torch.Tensor, k: int = 5) -> torch.Tensor:
    """Fraction of each prototype's ``k`` most similar prototypes (itself included) with its label.

    Logged only, as in the original (which reports it as "accuracy").
    """
    k = min(k, prototypes.shape[0])
    sim = prototypes @ prototypes.t()
    idx = sim.topk(k, dim=1).indices
    return (labels[idx] == labels[:, None]).float().mean()
