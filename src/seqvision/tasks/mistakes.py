"""Which misclassified samples the picture of a classifier's mistakes shows.

The first mistakes in test order would do on a shuffled test set; on a class-sorted one (an
image folder, a video folder) they are all of one class. The gallery keeps, for every true
class, its most confident mistakes (the probability the net gave its wrong answer), and shows
them class by class in turn: the most confident mistake of each class first (the most
confident of those first), then each class's second, and so on. Samples are kept as uint8
pictures (a clip as its middle frame), so a 100-class test costs a few megabytes at most.
"""

from __future__ import annotations

import torch


class MistakeGallery:
    def __init__(self, per_class: int = 32):
        self.per_class = per_class
        self.kept: dict[int, list[tuple[float, torch.Tensor, int]]] = {}  # true class -> (confidence, picture, predicted)

    def add(self, pictures: torch.Tensor, true: torch.Tensor, pred: torch.Tensor, confidence: torch.Tensor) -> None:
        """``pictures`` in [0, 1] ``(N, C, H, W)`` of misclassified samples, their labels, the
        predicted classes and the probability given to each prediction."""
        pictures = (pictures.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu()
        for picture, t, p, c in zip(pictures, true.tolist(), pred.tolist(), confidence.tolist()):
            entries = self.kept.setdefault(int(t), [])
            entries.append((float(c), picture, int(p)))
            if len(entries) > self.per_class:
                entries.sort(key=lambda e: -e[0])
                del entries[self.per_class:]

    def __len__(self) -> int:
        return sum(len(v) for v in self.kept.values())

    def selected(self, n: int) -> dict[str, torch.Tensor]:
        """Up to ``n`` mistakes, class by class in turn, each class's most confident first:
        ``{"images": (n, C, H, W) in [0, 1], "true", "pred", "confidence"}`` (empty when none)."""
        ranked = {k: sorted(v, key=lambda e: -e[0]) for k, v in self.kept.items() if v}
        chosen = []
        for rank in range(max((len(v) for v in ranked.values()), default=0)):
            turn = [(k, v[rank]) for k, v in ranked.items() if rank < len(v)]
            chosen += sorted(turn, key=lambda item: -item[1][0])
        chosen = chosen[:n]
        if not chosen:
            return {}
        return {"images": torch.stack([e[1] for _, e in chosen]).float() / 255,
                "true": torch.tensor([k for k, _ in chosen]), "pred": torch.tensor([e[2] for _, e in chosen]),
                "confidence": torch.tensor([e[0] for _, e in chosen])}
