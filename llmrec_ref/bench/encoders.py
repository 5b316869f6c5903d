"""``python -m llmrec_ref bench encoders``: our attention and encoders against torch.nn, forward+backward.

Times one forward and backward pass (training mode, median of ``repeats`` after a
warm-up) of ``llmrec_ref.attention.MultiHeadAttention`` and
``llmrec_ref.encoders.TransformerEncoderLayer`` against their torch counterparts with
copied weights, then an RNN (packed BiGRU / BiLSTM) against a Transformer stack on the
same left-padded batch. ``ratio`` = ours / torch; the course's target is <= 1.5.
"""

from __future__ import annotations

import argparse
import statistics
from typing import Callable

import torch
from torch import nn

from llmrec_ref.attention import MultiHeadAttention
from llmrec_ref.bench import fraction, markdown_table, non_negative_int, positive_int, timed
from llmrec_ref.encoders import (
    BiRNNEncoder,
    TransformerEncoder,
    TransformerEncoderLayer,
    causal_mask,
)

__all__ = ["add_arguments", "run"]


def _median_ms(steps: list[Callable[[], torch.Tensor]], params: list[torch.Tensor], repeats: int) -> list[float]:
    """Median wall time in ms of ``step().backward()`` for each step, after two warm-ups.

    The steps take turns within each repeat, so a busy machine slows them alike and
    their ratio stays meaningful even when the absolute times wobble.
    """
    times: list[list[float]] = [[] for _ in steps]
    for i in range(repeats + 2):
        for step, bucket in zip(steps, times, strict=True):
            for p in params:
                p.grad = None
            with timed() as t:
                step().backward()
            if i >= 2:
                bucket.append(t["seconds"] * 1000)
    return [statistics.median(b) for b in times]


def run(
    batch: int = 256, length: int = 50, d_model: int = 64, n_heads: int = 2, n_layers: int = 2,
    dropout: float = 0.1, repeats: int = 5, seed: int = 0, threads: int | None = None,
) -> list[dict]:
    """Time forward+backward of ours vs torch on a (batch, length, d_model) left-padded batch.

    Rows: component, ours_ms, torch_ms, ratio (ours / torch) and, for the RNN rows,
    ``vs_transformer`` (RNN time / our ``n_layers``-layer Transformer time). Lengths
    are drawn uniformly from 1..length with ``seed``; masks are causal + padding.
    ``threads`` sets torch's intra-op threads for the run (default: leave as is).
    """
    if min(batch, length, d_model, n_heads, n_layers, repeats) < 1:
        raise ValueError("batch, length, d_model, n_heads, n_layers and repeats must all be >= 1")
    if threads is not None:
        if threads < 1:
            raise ValueError(f"threads must be >= 1 or None, got {threads}")
        before = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            return run(batch, length, d_model, n_heads, n_layers, dropout, repeats, seed, None)
        finally:
            torch.set_num_threads(before)
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    x = torch.randn(batch, length, d_model, generator=g, requires_grad=True)  # (B, T, d)
    lengths = torch.randint(1, length + 1, (batch,), generator=g)
    key_mask = torch.arange(length)[None, :] >= (length - lengths)[:, None]  # (B, T) left padded
    causal = causal_mask(length)
    rows = []

    def add(name: str, ours: nn.Module, theirs: nn.Module, f_ours: Callable, f_theirs: Callable) -> dict:
        ours.train(), theirs.train()
        params = [x, *ours.parameters(), *theirs.parameters()]
        ms = _median_ms([lambda: f_ours().square().mean(), lambda: f_theirs().square().mean()], params, repeats)
        row = {"component": name, "ours_ms": ms[0], "torch_ms": ms[1]}
        row["ratio"] = row["ours_ms"] / row["torch_ms"]
        rows.append(row)
        return row

    # torch's MultiheadAttention/TransformerEncoderLayer are NaN on fully masked (left-padded) rows,
    # so they get only the causal mask here; ours gets causal + padding (a little more work).
    ref = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
    ours = MultiHeadAttention(d_model, n_heads, dropout).load_torch_weights(ref)
    add("MultiHeadAttention", ours, ref, lambda: ours(x, mask=causal, key_mask=key_mask)[0],
        lambda: ref(x, x, x, attn_mask=~causal, need_weights=False)[0])
    for norm_first in (False, True):
        ref = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout, batch_first=True,
                                         norm_first=norm_first)
        ours = TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout,
                                       norm_first=norm_first).load_torch_weights(ref)
        add(f"TransformerEncoderLayer ({'pre' if norm_first else 'post'}-norm)", ours, ref,
            lambda m=ours: m(x, causal, key_mask), lambda m=ref: m(x, src_mask=~causal, is_causal=True))
    layer = nn.TransformerEncoderLayer(d_model, n_heads, 4 * d_model, dropout, batch_first=True, norm_first=True)
    ref = nn.TransformerEncoder(layer, n_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
    enc = TransformerEncoder(d_model, n_heads, n_layers, 4 * d_model, dropout, norm_first=True)
    enc.load_torch_weights(ref)
    tf = add(f"TransformerEncoder ({n_layers} layers)", enc, ref, lambda: enc(x, causal, key_mask),
             lambda: ref(x, mask=~causal, is_causal=True))
    for cell in ("gru", "lstm"):
        rnn = BiRNNEncoder(d_model, d_model // 2, cell=cell, n_layers=n_layers)  # output width d_model
        add(f"BiRNNEncoder {cell} (packed vs unpacked)", rnn, rnn.rnn, lambda m=rnn: m(x, key_mask)[0],
            lambda m=rnn: m.rnn(x)[0])
        rows[-1]["vs_transformer"] = rows[-1]["ours_ms"] / tf["ours_ms"]
    return rows


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m llmrec_ref bench encoders`` (the keyword arguments of :func:`run`)."""
    for flag, kind, default in [("--batch", positive_int, 256), ("--length", positive_int, 50),
                                ("--d-model", positive_int, 64), ("--n-heads", positive_int, 2),
                                ("--n-layers", positive_int, 2), ("--dropout", fraction, 0.1),
                                ("--repeats", positive_int, 5), ("--seed", non_negative_int, 0),
                                ("--threads", positive_int, None)]:
        parser.add_argument(flag, type=kind, default=default, help=f"default: {default}")


if __name__ == "__main__":
    print(markdown_table(run()))
