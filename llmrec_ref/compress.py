"""Making a trained ContextRec smaller: where its size and time go, pruning, quantisation.

Derived in notebooks/10_small_and_fast. Parts (V = n_items + 1 rows of the item table,
d = d_model, T = max_len, F = d_ff):

1. ``parameter_counts`` / ``request_flops``: parameters and multiply-adds of one request by
   part. Per Transformer block and request: q, k, v and the output projection 4 T d^2,
   attention scores and mixing 2 T^2 d, the MLP 2 T d F; the output layer s = h_T . e_c + b_c
   over the catalogue V d. With V in the thousands the output layer and the item table dominate.
2. ``magnitude_prune``: set the smallest weights to zero. *Unstructured* (``torch.nn.utils.prune``
   ``l1_unstructured``): the |w| smallest fraction of every linear weight of the encoder; the
   matrices keep their shape, so dense kernels are not faster. *Structured*: the hidden units
   of each MLP (rows of W_1, columns of W_2) with the smallest L2 norm ``ln_structured``; the
   network is rebuilt with a smaller d_ff, so it *is* smaller and faster.
3. ``fine_tune``: a few more epochs of the pruned network (unstructured masks stay applied).
4. ``quantize_table``: the item table stored as int8 with one scale per row
   (e_i ~ s_i q_i, s_i = max_j |e_ij| / 127) or as float16; ``with_item_table`` puts the
   rounded table back so quality can be measured. Dynamic int8 of the linear layers is
   ``torch.ao.quantization.quantize_dynamic`` (``llmrec_ref.serve.Service(backend="int8")``).
5. ``state_bytes``: the size a state dict takes when saved.
"""

from __future__ import annotations

import copy
import dataclasses
import io

import torch
from torch import nn
from torch.nn.utils import prune

from llmrec_ref.contextrec import ContextRecNet
from llmrec_ref.models import ContextRec

__all__ = ["parameter_counts", "request_flops", "magnitude_prune", "copy_net", "sparsity", "fine_tune", "quantize_table",
           "with_item_table", "state_bytes"]


def parameter_counts(net: ContextRecNet) -> dict[str, int]:
    """Parameters of each part: item table (+ bias), context tables, positions, attention, MLP, norms."""
    parts = {"item table": 0, "context tables": 0, "positions": 0, "attention": 0, "MLP": 0, "norms + other": 0}
    for name, p in net.named_parameters():
        if name.startswith(("item_emb", "item_bias", "text_proj", "kg_proj", "image_proj")):
            part = "item table"
        elif name.startswith(("feature_emb", "next_emb")):
            part = "context tables"
        elif name.startswith("pos_emb"):
            part = "positions"
        elif ".attn." in name:
            part = "attention"
        elif ".ff1." in name or ".ff2." in name:
            part = "MLP"
        else:
            part = "norms + other"
        parts[part] += p.numel()
    return parts


def request_flops(net: ContextRecNet, history: int | None = None) -> dict[str, int]:
    """Multiply-adds of one request (history of ``history`` events, default max_len) by part."""
    c = net.config
    T, d, V = min(history or c.max_len, c.max_len), c.d_model, c.n_items + 1
    F = c.d_ff or 4 * d
    if c.encoder != "transformer":
        raise ValueError("request_flops counts the Transformer encoder; got encoder='gru'")
    return {"embed (lookups)": 0, "attention projections": c.n_layers * 4 * T * d * d,
            "attention scores + mix": c.n_layers * 2 * T * T * d, "MLP": c.n_layers * 2 * T * d * F,
            "output layer (catalogue)": V * d}


def _linears(net: ContextRecNet) -> list[nn.Linear]:
    return [m for m in net.encoder.modules() if isinstance(m, nn.Linear)]


def _new_net(config) -> ContextRecNet:
    with torch.random.fork_rng(devices=[]):  # its initial weights are overwritten: leave the generator alone
        return ContextRecNet(config)


def copy_net(net: ContextRecNet) -> ContextRecNet:
    """A copy of ``net`` with its pruning masks (``copy.deepcopy`` refuses a pruned module)."""
    out = _new_net(net.config)
    for mine, theirs in zip(_linears(out), _linears(net), strict=True):
        if prune.is_pruned(theirs):
            prune.custom_from_mask(mine, "weight", theirs.weight_mask)
    out.load_state_dict(net.state_dict())
    return out.train(net.training)


def magnitude_prune(net: ContextRecNet, amount: float, structured: bool = False) -> ContextRecNet:
    """A pruned copy of ``net`` (``net`` is left as it is); see the module docstring.

    ``amount`` in [0, 1): the fraction of each encoder linear weight (unstructured) or of each
    MLP's hidden units (structured) removed. Unstructured masks stay attached (``weight_orig``
    and ``weight_mask``) so a fine-tune keeps the zeros; ``prune.remove`` makes them permanent.
    """
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or not 0 <= amount < 1:
        raise ValueError(f"amount must be a fraction in [0, 1), got {amount!r}")
    if net.config.encoder != "transformer":
        raise ValueError("magnitude_prune prunes the Transformer encoder; got encoder='gru'")
    if not structured:
        out = copy_net(net)
        for layer in _linears(out):
            prune.l1_unstructured(layer, "weight", amount)
        return out
    c = net.config
    F = c.d_ff or 4 * c.d_model
    keep_n = F - int(round(amount * F))
    if keep_n < 1:
        raise ValueError(f"amount={amount} would remove every one of the {F} hidden units")
    out = _new_net(dataclasses.replace(c, d_ff=keep_n))
    state = {k: v.clone() for k, v in net.state_dict().items()}
    for i, layer in enumerate(net.encoder.layers):
        probe = nn.Linear(c.d_model, F)
        probe.weight.data.copy_(layer.ff1.weight)
        prune.ln_structured(probe, "weight", amount=F - keep_n, n=2, dim=0)  # rows of W_1 with the smallest norm
        keep = probe.weight_mask.any(1).nonzero().squeeze(1)  # (keep_n,) the hidden units that stay
        pre = f"encoder.layers.{i}."
        state[pre + "ff1.weight"] = layer.ff1.weight.detach()[keep].clone()  # (keep_n, d)
        state[pre + "ff1.bias"] = layer.ff1.bias.detach()[keep].clone()  # (keep_n,)
        state[pre + "ff2.weight"] = layer.ff2.weight.detach()[:, keep].clone()  # (d, keep_n)
    out.load_state_dict(state)
    return out.train(net.training)


def sparsity(net: nn.Module) -> float:
    """Fraction of exactly-zero entries among the encoder's linear weights (after masks)."""
    weights = [m.weight for m in _linears(net)]
    return float(sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights))


def fine_tune(model: ContextRec, net: ContextRecNet, train, valid=None, epochs: int = 2, **overrides) -> ContextRec:
    """A copy of ``model`` whose network is ``net`` (e.g. pruned), trained ``epochs`` more epochs
    (early stopping on ``valid``; 0: not trained, only scored), masks of unstructured pruning made
    permanent at the end. ``overrides``: other settings of the fine-tune (``lr``, ``verbose``, ...)."""
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"epochs must be an int >= 0, got {epochs!r}")
    tuned = copy.copy(model)
    tuned.network_, tuned.net_config_ = copy_net(net), net.config
    if epochs:  # warm_start keeps the pruned network: its config is the network's
        tuned.config = dataclasses.replace(model.config, warm_start=True, epochs=epochs, patience=epochs,
                                           d_ff=net.config.d_ff, **overrides)
        tuned.fit(train, valid)
    for layer in _linears(tuned.network_):
        if prune.is_pruned(layer):
            prune.remove(layer, "weight")
    return tuned


def quantize_table(table: torch.Tensor, dtype: str = "int8") -> tuple[torch.Tensor, torch.Tensor | None]:
    """(stored table, per-row scales or None): int8 q_i = round(e_i / s_i), s_i = max_j |e_ij| / 127
    (a zero row gets s_i = 1), or the float16 table. ``dequantize``: s_i q_i, or the float16 as float32."""
    if dtype == "float16":
        return table.detach().half(), None
    if dtype != "int8":
        raise ValueError(f"dtype must be 'int8' or 'float16', got {dtype!r}")
    t = table.detach().float()
    scale = t.abs().amax(1) / 127  # (V,)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.round(t / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def with_item_table(model: ContextRec, dtype: str) -> ContextRec:
    """A copy of ``model`` whose ID item table went through ``quantize_table`` and back (for quality)."""
    if model.network_.item_emb is None:
        raise ValueError(f"the model has no ID item table (item_repr={model.config.item_repr!r} has no 'id')")
    q, scale = quantize_table(model.network_.item_emb.weight, dtype)
    out = copy.copy(model)
    out.network_ = copy_net(model.network_)
    with torch.no_grad():
        out.network_.item_emb.weight.copy_(q.float() if scale is None else q.float() * scale[:, None])
    return out


def state_bytes(state: dict[str, torch.Tensor] | nn.Module) -> int:
    """Bytes of ``torch.save`` of a state dict (or of a module's ``state_dict()``)."""
    buffer = io.BytesIO()
    torch.save(state.state_dict() if isinstance(state, nn.Module) else state, buffer)
    return buffer.getbuffer().nbytes
