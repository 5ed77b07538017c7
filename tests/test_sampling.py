"""The preset's sampler: length-grouped batches in a shuffled order, not in blocks of one kind of record."""

from __future__ import annotations

import itertools

from kgcli.train.sampling import ShuffledLengthGroups


def test_length_groups_cover_every_example_once_and_do_not_run_longest_first():
    # a small mixed set like the demo's: long records (RE with triples) and short ones, alternating
    lengths = [300 if i % 3 == 0 else 90 for i in range(302)]
    sampler = ShuffledLengthGroups(lengths, batch_size=4, seed=7)
    order = list(sampler)
    assert sorted(order) == list(range(302)) and len(sampler) == 302
    batches = [order[i:i + 4] for i in range(0, len(order), 4)]
    assert len(batches[-1]) == 2  # the one short batch comes last, so every other batch stays whole
    mixed = sum(len({lengths[i] for i in batch}) > 1 for batch in batches)
    assert mixed <= len(batches) // 8 + 1  # similar lengths per batch (at most one mixed batch per window)
    kinds = [lengths[batch[0]] for batch in batches[:-1]]
    longest_run = max(len(list(run)) for _, run in itertools.groupby(kinds))
    assert longest_run < 10  # transformers' grouping gives runs of dozens of long batches, then short ones
    assert list(ShuffledLengthGroups(lengths, 4, seed=7)) == order  # deterministic
    sampler.set_epoch(1)
    assert list(sampler) != order and sorted(sampler) == list(range(302))  # another order per epoch
