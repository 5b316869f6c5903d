"""ContextRec and MF: shapes, masking, causality, the interface of every model, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch
from torch.autograd import gradcheck

from llmrec_ref.baselines import Popularity
from llmrec_ref.decode import greedy_sequence
from llmrec_ref.evaluation import full_ranking
from llmrec_ref.models import MF, ContextRec, ContextRecConfig, encode_context
from llmrec_ref.split import leave_one_out

N_ITEMS = 30


pytestmark = pytest.mark.usefixtures("one_thread")


def chain_log(n_users: int = 80, length: int = 12, seed: int = 0) -> pd.DataFrame:
    """Each user walks the chain i -> i + 1 (mod N_ITEMS) from a random start, with 10 % random jumps."""
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(1, n_users + 1):
        item = int(rng.integers(1, N_ITEMS + 1))
        for t in range(length):
            rows.append((u, item, 1_700_000_000 + 3600 * t + u, ["browse", "cart", "purchase"][t % 3]))
            item = item % N_ITEMS + 1 if rng.random() < 0.9 else int(rng.integers(1, N_ITEMS + 1))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp", "behavior"])


def small(**kw) -> ContextRec:
    base = dict(n_items=N_ITEMS, d_model=16, n_heads=2, n_layers=1, max_len=8, features=[], verbose=False)
    return ContextRec(**(base | kw))


def test_config_validates_its_fields():
    with pytest.raises(ValueError, match="encoder"):
        ContextRecConfig(encoder="lstm2")
    with pytest.raises(ValueError, match="loss"):
        ContextRecConfig(loss="mse")
    with pytest.raises(ValueError, match="multiple of n_heads"):
        ContextRecConfig(d_model=10, n_heads=3)


@pytest.mark.parametrize("encoder", ["transformer", "gru"])
def test_forward_shapes_padding_and_no_nan(encoder):
    model = small(encoder=encoder, features=["behavior_code", "hour"]).eval()
    items = torch.tensor([[0, 0, 0, 0, 0, 0, 0, 0], [0, 0, 0, 3, 4, 5, 6, 7]])  # an all-padding row too
    ctx = {"behavior_code": torch.tensor([[0] * 8, [0, 0, 0, 1, 2, 3, 4, 1]]), "hour": torch.randint(1, 25, (2, 8))}
    out = model(items, ctx)
    assert out.shape == (2, 8, N_ITEMS + 1)
    assert torch.isinf(out[..., 0]).all() and torch.isfinite(out[..., 1:]).all()


@pytest.mark.parametrize("encoder", ["transformer", "gru"])
def test_scores_at_position_t_do_not_see_the_future(encoder):
    model = small(encoder=encoder).eval()
    a = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7]])
    b = a.clone()
    b[0, -1] = 20  # change the last item only
    assert torch.allclose(model(a)[:, :-1], model(b)[:, :-1], atol=1e-6)
    assert not torch.allclose(model(a)[:, -1], model(b)[:, -1])


def test_target_attention_term_is_causal_and_has_exact_gradients():
    model = small(target_attention=True).double().eval()
    with torch.no_grad():
        model.ta_scale.fill_(0.7)
    items = torch.tensor([[0, 2, 5, 9, 1]])
    h, x = model.encode(items)
    mask = items != 0
    full = model.logits(h, x, mask)
    # position t uses only inputs 0..t: the last-position shortcut equals the cumulative version
    assert torch.allclose(model.logits(h, x, mask, last=True), full[:, -1])
    assert torch.allclose(model.logits(h[:, :3], x[:, :3], mask[:, :3])[:, -1], full[:, 2])
    f = lambda h, x: model.logits(h, x, mask)[..., 1:]  # noqa: E731
    assert gradcheck(f, (h.detach().requires_grad_(), x.detach().requires_grad_()))


def test_mask_seen_loss_equals_a_reference_softmax_without_seen_items():
    model = small(mask_seen=True).eval()
    items = torch.tensor([[0, 0, 1, 2, 1, 3, 4, 5]])
    targets = torch.tensor([[0, 0, 2, 1, 3, 4, 5, 6]])  # position 3 repeats item 1 as its target
    loss = model.batch_loss({"items": items, "targets": targets})
    logits = model(items)[0]
    terms = []
    for t in range(2, 8):
        keep = torch.ones(N_ITEMS + 1, dtype=torch.bool)
        keep[0] = False
        keep[items[0, : t + 1]] = False
        keep[targets[0, t]] = True
        terms.append(-(logits[t][keep].log_softmax(0)[keep.nonzero()[:, 0] == targets[0, t]]))
    assert torch.allclose(loss, torch.cat(terms).mean(), atol=1e-6)


def test_all_windows_make_every_transition_a_target_exactly_once():
    split = leave_one_out(chain_log(n_users=3, length=12))
    last, every = small(max_len=4, windows="last"), small(max_len=4, windows="all")
    for m in (last, every):
        m.prepare(split.train)
    rows_last, rows_all = last.train_tensors(split.train), every.train_tensors(split.train)
    assert rows_last["items"].shape == (3, 4) and rows_all["items"].shape == (9, 4)
    keep = rows_all["targets"] > 0
    pairs = sorted(zip(rows_all["items"][keep].tolist(), rows_all["targets"][keep].tolist(), strict=True))
    expected = []
    for _, seq in split.train.groupby("user_id")["item_id"]:
        expected += list(zip(seq.tolist()[:-1], seq.tolist()[1:], strict=True))
    assert pairs == sorted(expected)


def test_encode_context_codes_known_and_categorical_features():
    log = chain_log(n_users=2, length=3).assign(device=["mobile", "desktop", "tv", "mobile", "mobile", "desktop"])
    out = encode_context(log, ["behavior_code", "hour", "device"], {"device": ["desktop", "mobile"]})
    assert out["behavior_code"].tolist() == [1, 3, 4] * 2
    assert out["device"].tolist() == [1, 0, 2, 1, 1, 0]  # unknown "tv" -> len(vocabulary)
    with pytest.warns(UserWarning, match="no 'device' column"):
        out = encode_context(log.drop(columns="device"), ["device"], {"device": ["desktop", "mobile"]})
    assert (out["device"] == 2).all()


def test_fit_score_interface_and_beats_popularity():
    split = leave_one_out(chain_log())
    model = small(epochs=12, lr=1e-2, features=None, patience=12).fit(split.train, split.valid)
    assert model.config.features == ["behavior_code", "hour", "weekday", "gap_bucket"]
    users = [1, 2, 3]
    scores = model.score(users, split.train)
    assert scores.shape == (3, N_ITEMS + 1) and torch.isinf(scores[:, 0]).all()
    ours = full_ranking(model, split, n_boot=0)["metrics"]["ndcg@10"]["mean"]
    pop = full_ranking(Popularity().fit(split.train), split, n_boot=0)["metrics"]["ndcg@10"]["mean"]
    assert ours > 2 * pop and ours > 0.3
    # decoding a list from the trained model: the chain, without repeats or seen items
    listed = greedy_sequence(model, torch.tensor([[0, 0, 5, 6, 7]]), steps=4)
    assert len(set(listed[0].tolist())) == 4 and not {0, 5, 6, 7} & set(listed[0].tolist())


def test_new_user_gets_popularity_with_a_warning_and_unknown_items_raise():
    split = leave_one_out(chain_log())
    model = small(epochs=1).fit(split.train)
    with pytest.warns(UserWarning, match="popularity"):
        scores = model.score([999], split.train)
    counts = torch.bincount(torch.tensor(split.train["item_id"].to_numpy()), minlength=N_ITEMS + 1)
    assert torch.equal(scores[0, 1:].argsort(descending=True, stable=True)[:3],
                       counts[1:].argsort(descending=True, stable=True)[:3])
    bad = split.train.assign(item_id=split.train["item_id"].where(split.train.index != 5, 4242))
    with pytest.raises(KeyError, match="4242"):
        model.score([1], bad)


def test_init_item_embeddings_copies_and_rescales():
    model = small(init_std=0.03)
    w = torch.randn(N_ITEMS + 1, 16) * 5
    model.init_item_embeddings(w)
    got = model.item_emb.weight.detach()
    assert torch.allclose(got[1:].std(), torch.tensor(0.03), atol=1e-4) and (got[0] == 0).all()
    assert torch.allclose(torch.nn.functional.cosine_similarity(got[1:], w[1:]), torch.ones(N_ITEMS), atol=1e-5)
    with pytest.raises(ValueError, match="n_items \\+ 1, d_model"):
        model.init_item_embeddings(torch.zeros(3, 16))


def group_log(seed: int = 0) -> pd.DataFrame:
    """Two taste groups: odd users pick items 1..15, even users 16..30 (popularity cannot tell them apart)."""
    rng = np.random.default_rng(seed)
    rows = [(u, int(rng.integers(1, 16)) + 15 * (u % 2 == 0), 1_700_000_000 + t) for u in range(1, 101) for t in range(10)]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]).drop_duplicates(["user_id", "item_id"])


def test_mf_learns_taste_groups_and_keeps_the_interface():
    split = leave_one_out(group_log())
    mf = MF(d_model=8, epochs=15, lr=0.05, verbose=False, patience=15).fit(split.train, split.valid)
    scores = mf.score([1, 2], split.train)
    assert scores.shape == (2, N_ITEMS + 1) and torch.isinf(scores[:, 0]).all()
    assert scores[0, 1:16].mean() > scores[0, 16:].mean() and scores[1, 16:].mean() > scores[1, 1:16].mean()
    with pytest.warns(UserWarning, match="popularity"):
        mf.score([500], split.train)


def test_mf_lives_in_its_own_module_and_stays_importable_from_models():
    import llmrec_ref.mf
    import llmrec_ref.models

    assert llmrec_ref.models.MF is llmrec_ref.mf.MF and llmrec_ref.models.MFConfig is llmrec_ref.mf.MFConfig
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        llmrec_ref.models.Nope  # noqa: B018
