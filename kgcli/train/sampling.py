"""How training examples are ordered into batches: the preset's ``sampler``.

``group_by_length`` puts examples of similar length into one batch (little padding) and then shuffles the
batches. transformers' own LengthGroupedSampler sorts each mega-batch of 50 batches longest first; on a small
mixed set that orders whole runs of steps into blocks (only long RE records with triples, then only short
NER and empty-RE records), and the last steps of a short run teach one kind of answer. ``random`` is a plain
seeded shuffle.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


class ShuffledLengthGroups:
    """Windows of ``window`` batches, each sorted by length and cut into batches; all batches shuffled.

    A torch ``Sampler`` by protocol (``__iter__`` and ``__len__``); ``set_epoch`` gives every epoch its
    own order, the same on every rerun with the same seed.
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, window: int = 8):
        self.lengths, self.batch_size, self.seed, self.window = list(lengths), batch_size, seed, window
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def batches(self) -> list[list[int]]:
        rng = random.Random(f"{self.seed}:{self.epoch}")
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        span = self.batch_size * self.window
        batches = []
        for start in range(0, len(order), span):
            window = sorted(order[start:start + span], key=lambda i: -self.lengths[i])
            batches += [window[i:i + self.batch_size] for i in range(0, len(window), self.batch_size)]
        full = [batch for batch in batches if len(batch) == self.batch_size]
        rng.shuffle(full)  # a short batch stays last: the loader cuts the index stream every batch_size
        return full + [batch for batch in batches if len(batch) < self.batch_size]

    def __iter__(self) -> Iterator[int]:
        return iter([index for batch in self.batches() for index in batch])

    def __len__(self) -> int:
        return len(self.lengths)
