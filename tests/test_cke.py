"""CKE (llmrec_ref.cke): item vector = ID vector + the item's entity vector, trained with BPR plus
TransE's margin loss; checked against MF-BPR, autograd and the recommender contract."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref import kg as K
from llmrec_ref import losses
from llmrec_ref.cke import CKE, CKEConfig, CKENet
from llmrec_ref.conformance import check_recommender
from llmrec_ref.mf import MF
from llmrec_ref.split import leave_one_out

N_ITEMS = 20
pytestmark = pytest.mark.usefixtures("one_thread")


@dataclass
class Graph:
    triples: np.ndarray
    item_entity: np.ndarray
    n_entities: int
    n_relations: int


def _graph(linked: bool = True) -> Graph:
    """Items 1..16 linked to entities 0..15 (17..20 unlinked); entities 16..19 are 'directors'
    (relation 0: film -> director, relation 1 its inverse), each of four films."""
    films = np.arange(16)
    director = 16 + films % 4
    triples = np.concatenate([np.stack([films, np.zeros(16, int), director], 1),
                              np.stack([director, np.ones(16, int), films], 1)]).astype(np.int64)
    item_entity = np.full(N_ITEMS + 1, -1, dtype=np.int64)
    if linked:
        item_entity[1:17] = films
    return Graph(triples, item_entity, 20, 2)


@pytest.fixture(scope="module")
def split():
    rng = np.random.default_rng(0)
    rows = [(u, int(i), 1_700_000_000 + 60 * t)
            for u in range(1, 31) for t, i in enumerate(rng.choice(np.arange(1, N_ITEMS + 1), 7, replace=False))]
    return leave_one_out(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


SMALL = dict(n_items=N_ITEMS, d_model=8, epochs=3, batch_size=32, kg_batch_size=16, verbose=False)


def test_item_vector_is_id_plus_entity_and_unlinked_items_keep_their_id_vector():
    g = _graph()
    torch.manual_seed(0)
    net = CKENet(5, N_ITEMS, 8, 0.05, torch.as_tensor(g.item_entity), g.n_entities, g.n_relations)
    Q = net.item_vectors()                                                        # (V, d)
    eta, v = net.item_emb.weight, net.entity_emb.weight
    assert torch.equal(Q[1:17], eta[1:17] + v[:16])
    assert torch.equal(Q[17:], eta[17:]) and torch.equal(Q[0], eta[0])            # unlinked and padding: eta alone
    items = torch.tensor([[3, 18], [0, 16]])
    assert torch.equal(net.item_vectors(items), Q[items])
    users = torch.tensor([1, 4])
    assert torch.allclose(net(users), net.user_emb(users) @ Q.T + net.item_bias)


def test_joint_loss_reaches_both_tables_and_matches_autograd():
    """With lambda = 0 the BPR gradient of a film's entity row equals that of its ID row (each
    entity here belongs to one film: q_i = eta_i + v_e(i)); with lambda > 0 the graph's loss adds
    exactly TransE's gradient, and reaches non-film entities and relation vectors too."""
    g = _graph()
    model = CKE(g, CKEConfig(**SMALL, kg_weight=0.0))  # the estimator's pieces, without a training run:
    model.triples_ = torch.as_tensor(g.triples)
    model.pools_, model.p_head_ = K.typed_pools(model.triples_), K.bernoulli_p_head(model.triples_, 2)
    torch.manual_seed(0)
    model.network_ = net = model._network(5, N_ITEMS)
    users, pos, neg = torch.tensor([1, 2, 3]), torch.tensor([2, 5, 17]), torch.tensor([[7], [9], [18]])

    def bpr():
        u = net.user_emb(users)
        return losses.bpr_loss((u * net.item_vectors(pos)).sum(-1) + net.item_bias[pos],
                               (u[:, None] * net.item_vectors(neg)).sum(-1) + net.item_bias[neg])

    bpr().backward()
    rows = torch.tensor([2, 5, 7, 9])                                             # linked films of the batch
    g_eta, g_v = net.item_emb.weight.grad.clone(), net.entity_emb.weight.grad.clone()
    assert torch.allclose(g_v[g.item_entity[rows]], g_eta[rows]) and g_eta[rows].abs().sum() > 0
    assert g_v[16:].abs().sum() == 0 and net.relation_emb.weight.grad is None     # BPR never touches them
    assert g_eta[17].abs().sum() > 0                                              # unlinked film: its ID row only

    model.config = CKEConfig(**SMALL, kg_weight=0.5)
    net.zero_grad()
    gen = torch.Generator().manual_seed(1)
    extra = model._extra_loss(gen)
    gen = torch.Generator().manual_seed(1)                                        # the same draws, by hand
    tri = model.triples_[torch.randint(len(g.triples), (16,), generator=gen)]
    bad = K.corrupt(tri, 20, gen, model.p_head_, model.pools_)
    v = net.entity_emb.weight.detach().clone().requires_grad_()
    w = net.relation_emb.weight.detach().clone().requires_grad_()
    ref = 0.5 * K.margin_loss(K.transe_distance(v[tri[:, 0]], w[tri[:, 1]], v[tri[:, 2]]),
                              K.transe_distance(v[bad[:, 0]], w[bad[:, 1]], v[bad[:, 2]]), 1.0)
    assert torch.allclose(extra, ref)
    (extra + bpr()).backward()
    ref.backward()
    assert torch.allclose(net.entity_emb.weight.grad - g_v, v.grad, atol=1e-7)
    assert torch.allclose(net.relation_emb.weight.grad, w.grad) and w.grad.abs().sum() > 0
    assert v.grad[16:].abs().sum() > 0                                            # directors learn from the graph


def test_entity_vectors_stay_in_the_ball():
    g = _graph()
    net = CKENet(5, N_ITEMS, 8, 0.05, torch.as_tensor(g.item_entity), 20, 2, max_norm=0.5)
    with torch.no_grad():
        net.entity_emb.weight[:3] *= 100
    short = net.entity_emb.weight[3:].detach().clone()
    net.project_()
    assert torch.allclose(net.entity_emb.weight[:3].norm(dim=1), torch.full((3,), 0.5))
    assert torch.equal(net.entity_emb.weight[3:], short)                          # inside the ball: untouched


def test_no_graph_loss_and_no_linked_item_is_mf_bpr(split):
    mf = MF(**{k: v for k, v in SMALL.items() if k != "kg_batch_size"}, seed=3).fit(split.train, split.valid)
    cke = CKE(_graph(linked=False), **SMALL, kg_weight=0.0, seed=3).fit(split.train, split.valid)
    users = torch.arange(1, 31)
    assert torch.equal(cke.score(users, split.train), mf.score(users, split.train))
    assert [r["loss"] for r in cke.train_log_] == [r["loss"] for r in mf.train_log_]


def test_the_graph_changes_the_model_and_training_is_reproducible(split):
    g = _graph()
    users = torch.arange(1, 31)
    a = CKE(g, **SMALL).fit(split.train).score(users, split.train)
    assert torch.equal(a, CKE(g, **SMALL).fit(split.train).score(users, split.train))
    assert not torch.equal(a, CKE(g, **SMALL, seed=1).fit(split.train).score(users, split.train))
    assert not torch.equal(a, CKE(g, **SMALL, kg_weight=0.0).fit(split.train).score(users, split.train))


def test_cke_meets_the_recommender_contract(split):
    assert check_recommender(lambda: CKE(_graph(), **SMALL), split.train, split.valid)


def test_bad_settings_and_graphs_are_refused(split):
    with pytest.raises(ValueError, match="kg_weight"):
        CKEConfig(kg_weight=-1.0)
    with pytest.raises(ValueError, match="kg_batch_size"):
        CKEConfig(kg_batch_size=0)
    with pytest.raises(ValueError, match="no setting 'lam'"):
        CKE(_graph(), lam=1.0)
    with pytest.raises(ValueError, match="no graph to train on"):
        CKE(**SMALL).fit(split.train)
    with pytest.raises(ValueError, match="graph must have triples"):
        CKE(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="pass n_items=20"):
        CKE(_graph(), **{**SMALL, "n_items": 10}).fit(split.train[split.train["item_id"] <= 10])
    bad = _graph()
    bad.triples = bad.triples[:, :2]
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        CKE(bad, **SMALL).fit(split.train)
