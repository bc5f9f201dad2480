"""Next-item cross-entropy at every position: one forward pass over a sequence gives up to T targets.

The SASRec paper trains this way (Kang & McAuley 2018, Section 3.5: the output at
position t predicts item t+1, for every t of the training sequence). The paper scores each
position with binary cross-entropy against one sampled negative; this module uses the
softmax over the whole catalogue, as RecBole's ``loss_type="CE"``. The SQN family
instead trains on one target per replayed transition (``train.loops``), because its
Q-learning needs (s, a, r, s') tuples; both see the same next items, but here the
encoder runs once per window instead of once per target.

A user's training sequence ``x_1 .. x_n`` is cut, from the end, into windows of
``width + 1`` items that overlap by one: the inputs are ``x_s .. x_{s+w-1}`` and the
targets ``x_{s+1} .. x_{s+w}``. Every target ``x_2 .. x_n`` appears exactly once; the
first target of a window sees one item of history, the last sees ``width``.

.. math::
    \\mathcal L = -\\frac{1}{|P|} \\sum_{(b, t) \\in P} \\log \\mathrm{softmax}(z_{b,t})_{y_{b,t}}

over the real positions ``P`` of the batch, ``z_{b,t}`` the item scores of the output at
position t of window b.

Taught in: sec-sasrec
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class SequenceWindows:
    """Right-padded windows: ``items`` and ``targets`` (W, width) int64 (pad = N), ``lengths`` (W,)."""
    items: torch.Tensor
    targets: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return len(self.lengths)

    def rows(self, index) -> "SequenceWindows":
        return SequenceWindows(self.items[index], self.targets[index], self.lengths[index])

    def to_torch(self) -> "SequenceWindows":
        """Already tensors: the training loop's batch interface (``Transitions.to_torch``)."""
        return self


def windows(sequences: Iterable[np.ndarray], width: int, pad_id: int) -> SequenceWindows:
    """Cut every sequence (oldest first) into overlapping windows; sequences of one item give none.

    ``sequences``: e.g. ``data.sequences.user_sequences(train).values()``.

    Raises:
        ValueError: ``width`` < 1.
    """
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    rows: list[np.ndarray] = []
    for seq in sequences:
        seq = np.asarray(seq, dtype=np.int64)
        for end in range(len(seq), 1, -width):                  # the last item of the window's targets
            rows.append(seq[max(0, end - width - 1):end])        # up to width + 1 items
    W = len(rows)
    items = np.full((W, width), pad_id, dtype=np.int64)
    targets = np.full((W, width), pad_id, dtype=np.int64)
    lengths = np.zeros(W, dtype=np.int64)
    for r, row in enumerate(rows):
        n = len(row) - 1
        items[r, :n], targets[r, :n], lengths[r] = row[:-1], row[1:], n
    return SequenceWindows(torch.from_numpy(items), torch.from_numpy(targets), torch.from_numpy(lengths))


def every_position_loss(model, batch: SequenceWindows) -> torch.Tensor:
    """Mean cross-entropy of the supervised head over the batch's real positions (scalar).

    ``model`` is a ``TwoHead`` whose encoder has ``sequence_output(items, lengths) -> (B, T, H)``
    (SASRec and GRU4Rec; Caser reads one fixed window and has none).
    """
    if batch.items.shape[1] > model.state_len:
        raise ValueError(f"windows of width {batch.items.shape[1]} are wider than the encoder's state_len "
                         f"{model.state_len}: build them with width=state_len")
    out = model.encoder.sequence_output(batch.items, batch.lengths)               # (B, T, H)
    real = torch.arange(out.shape[1])[None, :] < batch.lengths[:, None]           # (B, T)
    logits = model.supervised(out[real])                                          # (P, N)
    return F.cross_entropy(logits, batch.targets[:, :out.shape[1]][real])


class WindowSampler:
    """Windows drawn uniformly with replacement, a batch holding about ``batch_size`` targets.

    It stands where ``train.loops`` takes a replay buffer: ``len`` counts *targets*, so a
    :class:`~recrl_core.train.loops.SupervisedConfig` gives the same number of updates of
    about the same number of targets as the transition loop.
    """

    def __init__(self, data: SequenceWindows):
        if len(data) == 0:
            raise ValueError("WindowSampler: no windows (no training sequence has two items)")
        self.data, self.targets = data, int(data.lengths.sum())

    def __len__(self) -> int:
        return self.targets

    def sample(self, batch_size: int, rng: np.random.Generator) -> SequenceWindows:
        count = max(1, round(batch_size * len(self.data) / self.targets))
        return self.data.rows(torch.from_numpy(rng.integers(0, len(self.data), size=count)))


def fit_every_position(model, data: SequenceWindows, val, cfg, eval_cfg, rng: np.random.Generator, *,
                       checkpoint_dir=None, stop_at_step: int | None = None, show_progress: bool = False):
    """Train a ``TwoHead``'s encoder and supervised head with :func:`every_position_loss`.

    The loop, validation, model selection and checkpoints are ``train.loops``' (``cfg`` a
    ``SupervisedConfig``: Adam at ``cfg.lr``, ``cfg.epochs`` passes over the targets in
    batches of about ``cfg.batch_size`` targets). Returns a ``loops.FitResult``.
    """
    from recrl_core.train import loops

    params = [p for name, p in model.named_parameters() if not name.startswith("q.")]
    optimizer = torch.optim.Adam(params, lr=cfg.lr)

    def step(_, batch: SequenceWindows) -> dict[str, float]:
        loss = every_position_loss(model, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return {"loss": loss.item()}

    return loops.run_updates({"net0": model}, {"net0": optimizer}, WindowSampler(data), val, cfg, eval_cfg,
                             rng, checkpoint_dir, stop_at_step, show_progress, desc="CE, every position",
                             step_fn=step, eval_model=lambda: model)


def train_epoch(model, optimizer: torch.optim.Optimizer, data: SequenceWindows, batch_size: int,
                rng: np.random.Generator) -> float:
    """One pass over the windows in a seeded random order; returns the mean batch loss."""
    model.train()
    order = torch.from_numpy(rng.permutation(len(data)))
    losses = []
    for start in range(0, len(data), batch_size):
        loss = every_position_loss(model, data.rows(order[start:start + batch_size]))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    model.eval()
    return float(np.mean(losses))
