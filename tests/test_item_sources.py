"""ContextRec's item table from sources: e_i = E[i] (with "id") + sum_s P_s v_i^s, s in text, kg, image.

Checked against the formula computed by hand, autograd (gradients reach each projection, never
the fixed vectors), cold items, bad input, checkpoints of two fixed sources, and checkpoints and
configs written by the code before sources existed (``tests/data/contextrec_legacy.json``, made by
main at d8b5f2c: its ``made_by`` field says how).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.compress import parameter_counts, with_item_table
from llmrec_ref.contextrec import ITEM_REPRS, ContextRecNet, ContextRecNetConfig, item_sources
from llmrec_ref.knowledge import entity_vectors
from llmrec_ref.models import ContextRec, ContextRecConfig
from llmrec_ref.recommender import save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")
N_ITEMS = 30
COLD = [14, 15, 29, 30]  # never in the training log below
DIMS = {"text": 5, "kg": 4, "image": 3}


def net(item_repr: str, **kw) -> ContextRecNet:
    torch.manual_seed(0)
    dims = {f"{s}_dim": d for s, d in DIMS.items() if s in item_repr}
    config = ContextRecNetConfig(n_items=N_ITEMS, d_model=8, n_heads=2, max_len=6, dropout=0.0, item_repr=item_repr,
                                 **dims | kw)
    return ContextRecNet(config).eval()


def vectors(source: str, seed: int = 0) -> torch.Tensor:
    """(31, d_source): items 1..15 and 16..30 around two well-separated centres, row 0 = padding."""
    gen = torch.Generator().manual_seed(seed + DIMS[source])
    d = DIMS[source]
    centres = torch.randn(2, d, generator=gen) * 3
    v = torch.cat([torch.zeros(1, d), centres[0] + 0.3 * torch.randn(15, d, generator=gen),
                   centres[1] + 0.3 * torch.randn(15, d, generator=gen)])
    return v / v.norm(dim=1, keepdim=True).clamp(min=1e-12)


def cluster_log(n_users: int = 24, n_events: int = 10, seed: int = 0) -> pd.DataFrame:
    """Odd users pick items of 1..13, even users of 16..28: the cold items 14, 15, 29, 30 never occur."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        pool = np.arange(1, 14) if u % 2 else np.arange(16, 29)
        for k, item in enumerate(rng.choice(pool, n_events, replace=False)):
            rows.append((u, int(item), 1000 * u + 60 * k))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"])


def small(item_repr: str, **kw) -> ContextRec:
    settings = dict(n_items=N_ITEMS, d_model=16, n_heads=2, max_len=8, epochs=2, features=[], verbose=False,
                    item_repr=item_repr) | kw
    model = ContextRec(**settings)
    for s in item_sources(item_repr):
        if s != "id":
            model.set_item_vectors(s, vectors(s))
    return model


# ------------------------------------------------------------------ the string and the config
def test_item_repr_names_sources_in_one_canonical_order():
    assert item_sources("id") == ("id",) and item_sources("id+text+image") == ("id", "text", "image")
    assert len(ITEM_REPRS) == 15 and {"id", "id+text", "text", "id+kg", "id+image", "image"} <= set(ITEM_REPRS)
    assert all(item_sources(r) == tuple(r.split("+")) for r in ITEM_REPRS)
    with pytest.raises(ValueError, match="write 'id\\+text', not 'text\\+id'"):
        item_sources("text+id")
    with pytest.raises(ValueError, match="write 'id\\+kg\\+image'"):
        ContextRecConfig(item_repr="image+kg+id")
    for bad in ("", "words", "id+id", "id+", "id+graph", None):
        with pytest.raises(ValueError, match="item_repr"):
            ContextRecConfig(item_repr=bad)


def test_each_fixed_source_needs_its_width_exactly_when_used():
    base = dict(n_items=5)
    for source in ("text", "kg", "image"):
        with pytest.raises(ValueError, match=f"{source}_dim must be given exactly when item_repr uses {source}"):
            ContextRecNetConfig(**base, item_repr=f"id+{source}")
        with pytest.raises(ValueError, match=f"{source}_dim must be given exactly"):
            ContextRecNetConfig(**base, **{f"{source}_dim": 4})  # item_repr "id" has no such source
        for bad in (0, 2.5, True):
            with pytest.raises(ValueError, match=f"{source}_dim must be an int >= 1"):
                ContextRecNetConfig(**base, item_repr=source, **{f"{source}_dim": bad})
    c = ContextRecNetConfig(**base, item_repr="id+kg+image", kg_dim=4, image_dim=3)
    assert ContextRecNetConfig.from_json(c.to_json()) == c


# ------------------------------------------------------------------ the network
@pytest.mark.parametrize("item_repr", ["id+text+kg+image", "id+kg", "id+image", "kg+image", "image"])
def test_item_table_is_id_plus_each_projected_source(item_repr):
    model = net(item_repr)
    fixed = [s for s in item_sources(item_repr) if s != "id"]
    for s in fixed:
        getattr(model, f"item_{s}").copy_(vectors(s))
    by_hand = sum(vectors(s) @ getattr(model, f"{s}_proj").weight.T for s in fixed)  # sum_s v^s P_s^T: (V, d)
    if "id" in item_repr:
        by_hand = by_hand + model.item_emb.weight
    assert torch.allclose(model.item_table(), by_hand, atol=1e-6)
    assert (model.item_table()[0] == 0).all()
    assert (model.item_bias is None) == ("id" not in item_repr) and (model.item_emb is None) == ("id" not in item_repr)
    state = model.state_dict()
    for s in ("text", "kg", "image"):
        assert (f"item_{s}" in state) == (s in fixed) and (f"{s}_proj.weight" in state) == (s in fixed)
        proj = getattr(model, f"{s}_proj")
        assert proj is None or (proj.bias is None and proj.weight.shape == (8, DIMS[s]))
    counts = parameter_counts(model)
    table = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("item_", "text_", "kg_", "image_")))
    assert counts["item table"] == table


def test_gradients_reach_every_projection_and_never_the_fixed_vectors():
    model = net("id+text+kg+image").train()
    for s in ("text", "kg", "image"):
        getattr(model, f"item_{s}").copy_(vectors(s))
    items = torch.tensor([[0, 3, 17, 5, 21, 9]])
    torch.nn.functional.cross_entropy(model(items)[0, :-1, 1:], items[0, 1:] - 1).backward()
    for s in ("text", "kg", "image"):
        buffer = getattr(model, f"item_{s}")
        assert not buffer.requires_grad and buffer.grad is None
        assert all(p is not buffer for p in model.parameters())
        assert getattr(model, f"{s}_proj").weight.grad.abs().sum() > 0
    assert model.item_emb.weight.grad.abs().sum() > 0
    # d loss / d P_kg by autograd == the chain rule through e = E + sum_s P_s v^s: dL/dP_kg = (dL/de)^T v^kg
    e = model.item_table().detach().requires_grad_(True)
    h, x = model.encode(items, table=e)
    logits = model.logits(h, x, items != 0, table=e)
    torch.nn.functional.cross_entropy(logits[0, :-1, 1:], items[0, 1:] - 1).backward()
    assert torch.allclose(model.kg_proj.weight.grad, e.grad.T @ model.item_kg, atol=1e-6)


# ------------------------------------------------------------------ the estimator
@pytest.mark.parametrize("item_repr", ["kg", "image"])
def test_a_cold_item_is_scored_through_its_vectors(item_repr):
    log = cluster_log()
    model = small(item_repr, epochs=30, lr=1e-2, patience=30).fit(log)
    odd = log[log["user_id"] == 1]
    s = model.score([1], odd)[0]
    assert torch.isfinite(s[COLD]).all()
    assert s[[14, 15]].min() > s[[29, 30]].max()  # the cold items of the user's own cluster come first
    # s(c) = h . P v_c, no ID row and no bias: an item whose vector is 0 scores exactly 0
    net = model.network_.eval()
    h, _ = net.encode(model.inputs([1], odd)["item_id"])
    v = getattr(net, f"item_{item_repr}")
    assert torch.allclose(s[COLD], h[0, -1] @ getattr(net, f"{item_repr}_proj")(v[COLD]).T, atol=1e-5)
    v[30] = 0.0
    assert model.score([1], odd)[0, 30] == 0.0
    with pytest.raises(ValueError, match=f"item_repr='{item_repr}' has no 'id'"):
        with_item_table(model, "int8")  # nothing to quantise


def test_fit_refuses_missing_or_bad_vectors():
    log = cluster_log(n_users=4)
    with pytest.raises(ValueError, match="item kg vectors: call model.set_item_vectors\\('kg', vectors\\)"):
        ContextRec(n_items=N_ITEMS, features=[], item_repr="id+kg").fit(log)
    model = ContextRec(n_items=N_ITEMS, features=[], item_repr="id+text+image").set_item_text(vectors("text"))
    with pytest.raises(ValueError, match="item image vectors"):
        model.fit(log)
    with pytest.raises(ValueError, match="item_repr is 'id\\+text': build the model with an item_repr that "
                                         "contains 'kg'"):
        ContextRec(item_repr="id+text").set_item_vectors("kg", vectors("kg"))
    with pytest.raises(ValueError, match="source must be one of"):
        ContextRec(item_repr="id+kg").set_item_vectors("id", torch.zeros(31, 4))
    with pytest.raises(ValueError, match="kg vectors must be a finite \\(n_items \\+ 1, d_kg\\)"):
        ContextRec(item_repr="id+kg").set_item_vectors("kg", torch.full((31, 4), float("nan")))
    with pytest.raises(ValueError, match="image vectors must be a finite"):
        ContextRec(item_repr="image").set_item_vectors("image", torch.zeros(4))
    with pytest.raises(ValueError, match="item kg vectors must have n_items \\+ 1 = 31 rows"):
        ContextRec(n_items=N_ITEMS, features=[], item_repr="id+kg").set_item_vectors("kg", torch.zeros(5, 4)).fit(log)
    with pytest.raises(ValueError, match="no ID item table"):
        ContextRec(item_repr="kg+image").init_item_embeddings(torch.zeros(31, 64))


@pytest.mark.parametrize("item_repr", ["id+kg", "id+image"])
def test_fit_is_reproducible_and_keeps_the_vectors_fixed(item_repr):
    log = cluster_log()
    a, b = small(item_repr, seed=3).fit(log), small(item_repr, seed=3).fit(log)
    assert torch.equal(a.score([1, 2, 3], log), b.score([1, 2, 3], log))
    assert not torch.equal(a.score([1, 2, 3], log), small(item_repr, seed=4).fit(log).score([1, 2, 3], log))
    source = item_repr.split("+")[1]
    given = vectors(source)
    assert torch.equal(getattr(a.network_, f"item_{source}"), given) and torch.equal(a.item_fixed[source], given)
    assert a.net_config_.item_repr == item_repr and getattr(a.net_config_, f"{source}_dim") == DIMS[source]


def test_save_and_load_two_fixed_sources(tmp_path):
    log = cluster_log()
    model = small("id+kg+image", epochs=1).fit(log)
    model.save(tmp_path / "m.pt")
    again = ContextRec.load(tmp_path / "m.pt")
    assert again.net_config_ == model.net_config_ and (again.net_config_.kg_dim, again.net_config_.image_dim) == (4, 3)
    assert set(again.item_fixed) == {"kg", "image"} and again.item_text is None
    for s in ("kg", "image"):
        assert torch.equal(again.item_fixed[s], model.item_fixed[s])
    assert torch.equal(again.score([1, 2], log), model.score([1, 2], log))


# ------------------------------------------------------------------ written before sources existed
LEGACY = json.loads((Path(__file__).parent / "data" / "contextrec_legacy.json").read_text())


@pytest.mark.parametrize("item_repr", ["id", "id+text", "text"])
def test_checkpoints_and_configs_written_before_sources_load_and_score_the_same(tmp_path, item_repr):
    old = LEGACY["models"][item_repr]
    config = ContextRecNetConfig.from_json(old["net_config_json"])  # no kg_dim / image_dim in it
    assert "kg_dim" not in old["net_config_json"] and config.item_repr == item_repr
    tensors = {k: torch.tensor(t["values"], dtype=getattr(torch, t["dtype"].split(".")[1])).reshape(t["shape"])
               for k, t in old["tensors"].items()}
    assert set(ContextRecNet(config).state_dict()) == {k[4:] for k in tensors if k.startswith("net.")}  # same names
    save_checkpoint(tmp_path / "old.pt", "ContextRec", old["meta"], tensors)  # the file main's save wrote
    model = ContextRec.load(tmp_path / "old.pt")
    log = pd.DataFrame(LEGACY["log"], columns=["user_id", "item_id", "timestamp"])
    expected = torch.tensor([[float("-inf") if x is None else x for x in row] for row in old["scores"]])
    assert torch.allclose(model.score(list(range(1, 7)), log), expected, atol=1e-6)
    if item_repr != "id":
        assert torch.equal(model.item_text[1:], torch.tensor(LEGACY["vectors"])[1:])
    # the same settings fitted by this version start from the same draws and train to the same weights
    settings = {k: v for k, v in old["meta"]["config"].items() if k in ("n_items", "d_model", "n_heads", "max_len",
                                                                          "epochs", "features", "item_repr")}
    refit = ContextRec(**settings, verbose=False)
    if item_repr != "id":
        refit.set_item_text(torch.tensor(LEGACY["vectors"]))
    refit.fit(log)
    for name, value in refit.network_.state_dict().items():
        assert torch.allclose(value, tensors["net." + name], atol=1e-3), name  # summation order may differ by CPU


def test_entity_vectors_make_the_kg_item_matrix():
    entity = torch.arange(12.0).reshape(4, 3)                        # 4 entities, d = 3
    link = np.array([-1, 2, -1, 0, 3])                               # item 0 = padding, items 2 unlinked
    m = entity_vectors(entity, link)
    assert m.shape == (5, 3) and (m[[0, 2]] == 0).all()
    assert torch.equal(m[[1, 3, 4]], entity[[2, 0, 3]])
    ContextRec(item_repr="id+kg").set_item_vectors("kg", m)         # ready for the item table
    for bad_entity, bad_link, match in [(torch.zeros(4), link, "entity must be"),
                                        (entity, np.array([-1, 4]), "entity must be"),
                                        (entity, np.array([-1, -2]), "item_entity"),
                                        (entity, np.array([[-1, 0]]), "item_entity"),
                                        (entity, np.array([-1.0, 0.5]), "item_entity"),
                                        (torch.full((4, 3), float("inf")), link, "finite")]:
        with pytest.raises(ValueError, match=match):
            entity_vectors(bad_entity, bad_link)
