"""Export a trained ContextRec for serving: its network as one graph, the item table computed once.

Derived in notebooks/10_small_and_fast. ``NextItemScores`` wraps ``ContextRecNet`` so that a
request's left-padded codes go in and the (B, V) scores of the next item come out, with the
item table e (an ID table, or a projection of text vectors) computed once instead of at every
request; ``export_onnx`` writes it with ``torch.onnx.export`` (the torch.export-based exporter,
which needs ``onnx`` and ``onnxscript``) for ONNX Runtime, the batch size left free.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from pathlib import Path

import torch
from torch import nn

from llmrec_ref.contextrec import ContextRecNet
from llmrec_ref.models import ContextRec

__all__ = ["NextItemScores", "export_onnx"]


class NextItemScores(nn.Module):
    """The scores of the next item after each history, with the item table computed once.

    Shape:
        - items: (B, T) int64 ids, left padded; ``codes``: one (B, T) int64 tensor per name in ``names``
        - output: (B, V) scores, column 0 = -inf
    """

    def __init__(self, net: ContextRecNet) -> None:
        super().__init__()
        self.net = net.eval()
        c = net.config
        self.names = [f for f, _ in c.features] + ["next_" + f for f in c.request_features]
        self.register_buffer("table", net.item_table().detach().clone())  # (V, d)

    def forward(self, items: torch.Tensor, *codes: torch.Tensor) -> torch.Tensor:
        context = dict(zip(self.names, codes, strict=True))
        h, x = self.net.encode(items, context, self.table)  # (B, T, d)
        return self.net.logits(h, x, items != 0, last=True, table=self.table)  # (B, V)


def export_onnx(model: ContextRec, path: str | os.PathLike) -> Path:
    """Write ``model``'s ``NextItemScores`` to an ONNX file at ``path`` (batch size free, T = max_len),
    with torch's exporter (``torch.onnx.export``, needs ``onnx`` and ``onnxscript``); written to a
    temporary file first, then renamed. Returns the path."""
    model._check_fitted()
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot write {os.fspath(path)!r}: the folder {os.fspath(path.parent)!r} does not exist")
    module = NextItemScores(model.network_).cpu()
    T = model.net_config_.max_len
    example = tuple(torch.ones(2, T, dtype=torch.long) for _ in range(1 + len(module.names)))
    names = ["item_id"] + module.names
    batch = torch.export.Dim("batch", min=1)
    quiet = logging.getLogger("torch.onnx")  # "torchvision is not installed" and the like
    level = quiet.level
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=path.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quiet.setLevel(logging.ERROR)
            torch.onnx.export(module, example, tmp, input_names=names, output_names=["scores"], dynamo=True,
                              dynamic_shapes=({0: batch}, ({0: batch},) * len(module.names)),  # forward(items, *codes)
                              external_data=False, verbose=False, report=False)
        os.replace(tmp, path)
    finally:
        quiet.setLevel(level)
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
