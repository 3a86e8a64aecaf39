"""``data.limit``: a seeded, class-stratified subset of a split.

Taking the first N samples of a split is only a fair sample when the split is shuffled; image
folders and video folders are sorted by class, so the head of a split holds one or two
classes and a "quick" run on it measures nothing. Here every class keeps its share of the
split (largest-remainder rounding, at least one sample per class when N allows it), and the
samples within a class are drawn with a generator seeded by ``data.split_seed``, so a limited
run sees the same subset on every machine and for every ``seed``.

Written here rather than taken from scikit-learn's ``StratifiedShuffleSplit``: its allocation
(``_approximate_mode``) gives a class below one sample's share none at all (5 of 1,000 samples,
a limit of 10: 10 of the large class and 0 of the small one), and it refuses a class with a
single sample; a limited run must still see every class.
"""

from __future__ import annotations

import torch


def stratified_subset(labels: torch.Tensor, limit: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``min(limit, len(labels))`` samples, each class at its share of the split."""
    labels = torch.as_tensor(labels).cpu().long()
    n = len(labels)
    if limit >= n:
        return torch.arange(n)
    classes, counts = labels.unique(return_counts=True)
    quota = _quotas(counts, limit)
    g = torch.Generator().manual_seed(int(seed))
    chosen = []
    for cls, k in zip(classes.tolist(), quota.tolist()):
        members = (labels == cls).nonzero().flatten()
        chosen.append(members[torch.randperm(len(members), generator=g)[:k]])
    return torch.cat(chosen).sort().values


def _quotas(counts: torch.Tensor, limit: int) -> torch.Tensor:
    """Samples per class: proportional to ``counts``, summing to ``limit`` (largest remainder)."""
    share = counts.double() * limit / counts.sum()
    quota = share.floor().long()
    if limit >= len(counts):  # every class present when there is room for every class
        quota = quota.clamp(min=1)
    remainder = share - share.floor()
    while quota.sum() < limit:
        room = quota < counts
        best = torch.where(room, remainder, torch.full_like(remainder, -1.0)).argmax()
        quota[best] += 1
        remainder[best] = -1.0
    while quota.sum() > limit:  # the clamp above can overshoot: take back from the largest classes
        quota[quota.argmax()] -= 1
    return quota


def describe(limit: int | None, seed: int) -> dict | None:
    """What ``results.json["data"]["limit"]`` says about a limited run."""
    if not limit:
        return None
    return {"per_split": int(limit), "method": "seeded class-stratified subset", "seed": int(seed)}
