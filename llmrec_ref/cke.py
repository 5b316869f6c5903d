"""CKE: matrix factorisation whose item vectors also carry the item's knowledge-graph embedding.

Derived in notebooks/08_knowledge_graph, after Zhang et al. (2016), *Collaborative Knowledge Base
Embedding* (its structural part; TransE in place of TransR). An item linked to entity e(i) has the
vector

    q_i = eta_i + v_e(i)                  (eta: an ID table as in MF; v: the graph's entity table)

and an unlinked item has q_i = eta_i. Scores are MF's, s_ui = p_u . q_i + b_i. One loss trains
the ID tables and the graph tables together, at every step:

    L = BPR(u, i, j) + lambda * mean max(0, gamma + d(h, r, t) - d(h', r, t'))

BPR over the step's (user, positive, sampled negative) rows exactly as ``mf.MF``, and TransE's
margin loss (``kg.margin_loss``, d(h, r, t) = ||v_h + w_r - v_t||) over ``kg_batch_size`` triples
drawn from the graph with one corrupted triple each (``kg.corrupt``: typed, Bernoulli). So an
entity vector must both place the film among its facts and rank it for the users who liked it;
a film nobody rated in training still gets a vector through its facts. Entity vectors are kept
in the ball ||v|| <= ``max_norm`` (put back before every step; TransE uses the sphere, which
would make every linked film's vector long next to MF's small ID vectors).

With ``kg_weight=0`` the graph's loss is off (the entity table then learns from BPR alone,
shared by the films of one entity); with no linked item, CKE is MF-BPR: same seed, same numbers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from llmrec_ref import kg as K
from llmrec_ref.mf import MF, MFConfig, MFNet

__all__ = ["CKEConfig", "CKENet", "CKE"]


@dataclass(frozen=True)
class CKEConfig(MFConfig):
    """``MFConfig`` plus the graph's part of the loss."""

    kg_weight: float = 1.0      # lambda: weight of TransE's margin loss next to BPR
    kg_margin: float = 1.0      # gamma of the margin loss
    kg_batch_size: int = 1024   # triples drawn per step
    max_norm: float = 1.0       # entity vectors stay in the ball ||v|| <= max_norm

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.kg_weight < float("inf"):
            raise ValueError(f"kg_weight must be a finite number >= 0 (0 = no graph loss), got {self.kg_weight!r}")
        for name in ("kg_margin", "max_norm"):
            if not 0 < getattr(self, name) < float("inf"):
                raise ValueError(f"{name} must be a finite number > 0, got {getattr(self, name)!r}")
        if isinstance(self.kg_batch_size, bool) or not isinstance(self.kg_batch_size, int) or self.kg_batch_size < 1:
            raise ValueError(f"kg_batch_size must be an int >= 1, got {self.kg_batch_size!r}")


class CKENet(MFNet):
    """MF's tables plus the graph's: q_i = eta_i + [i linked] v_e(i).

    Shape:
        - users: (B,) int64 ids in 1..n_users
        - item_entity: (n_items + 1,) int64 entity code of each item, -1 = not linked
        - output: (B, n_items + 1) scores, as ``MFNet``
    """

    def __init__(self, n_users: int, n_items: int, d_model: int, init_std: float, item_entity: torch.Tensor,
                 n_entities: int, n_relations: int, max_norm: float = 1.0) -> None:
        super().__init__(n_users, n_items, d_model, init_std)  # first, so its draws are MF's
        if item_entity.shape != (n_items + 1,):
            raise ValueError(f"item_entity must be ({n_items + 1},), one entity code per item id, got "
                             f"{tuple(item_entity.shape)}")
        self.entity_emb = nn.Embedding(n_entities, d_model)        # v: (E, d)
        self.relation_emb = nn.Embedding(n_relations, d_model)     # w: (R, d)
        for emb in (self.entity_emb, self.relation_emb):
            nn.init.normal_(emb.weight, std=init_std)
        self.register_buffer("item_entity", item_entity.long())    # (V,)
        self.max_norm = max_norm

    def item_vectors(self, items: torch.Tensor | None = None) -> torch.Tensor:
        code = self.item_entity if items is None else self.item_entity[items]      # (...,)
        linked = (code >= 0).unsqueeze(-1).to(self.entity_emb.weight.dtype)        # (..., 1)
        return super().item_vectors(items) + self.entity_emb(code.clamp(min=0)) * linked  # (..., d)

    def distance(self, triples: torch.Tensor) -> torch.Tensor:
        """(B, 3) -> (B,) TransE's ||v_h + w_r - v_t||."""
        return K.transe_distance(self.entity_emb(triples[:, 0]), self.relation_emb(triples[:, 1]),
                                 self.entity_emb(triples[:, 2]))

    @torch.no_grad()
    def project_(self) -> None:
        """Shrink every entity vector longer than ``max_norm`` back onto the ball."""
        v = self.entity_emb.weight
        v.mul_((self.max_norm / v.norm(dim=1, keepdim=True).clamp(min=1e-12)).clamp(max=1.0))


class CKE(MF):
    """CKE on a knowledge graph ``graph`` (anything with ``triples`` (N, 3), ``item_entity``
    (n_items + 1,), ``n_entities`` and ``n_relations``, e.g. ``datasets.load_movielens_kg()``);
    trained with BPR + ``kg_weight`` x TransE's margin loss. The estimator contract is MF's."""

    config_class = CKEConfig

    def __init__(self, graph=None, config: CKEConfig | None = None, **overrides) -> None:
        if config is not None and not isinstance(config, CKEConfig):
            raise ValueError(f"config must be a CKEConfig, got {type(config).__name__}")
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(CKEConfig)})
        if unknown:
            raise ValueError(f"CKE has no setting {unknown[0]!r}; the settings are the fields of CKEConfig")
        if graph is not None and not all(hasattr(graph, a) for a in ("triples", "item_entity", "n_entities",
                                                                      "n_relations")):
            raise ValueError("graph must have triples, item_entity, n_entities and n_relations "
                             "(a kgdata.KnowledgeGraph, e.g. datasets.load_movielens_kg())")
        # the graph as tensors: a setting like the config, compared by the contract's check
        self.graph = None if graph is None else {
            "triples": K._check_triples(graph.triples, graph.n_entities, graph.n_relations),       # (N, 3)
            "item_entity": torch.as_tensor(np.asarray(graph.item_entity), dtype=torch.long),      # (n_items + 1,)
            "n_entities": int(graph.n_entities), "n_relations": int(graph.n_relations)}
        self.config = dataclasses.replace(config or CKEConfig(), **overrides)

    def fit(self, train, valid=None) -> CKE:
        """BPR + lambda TransE, validation NDCG@10 on ``valid`` after each epoch, early stopping; returns self."""
        if self.graph is None:
            raise ValueError("this CKE has no graph to train on (none given, or loaded from a checkpoint): build "
                             "CKE(graph, config) with graph = datasets.load_movielens_kg() or another KnowledgeGraph")
        self.triples_ = self.graph["triples"]                                          # (N, 3)
        self.pools_ = K.typed_pools(self.triples_)
        self.p_head_ = K.bernoulli_p_head(self.triples_, self.graph["n_relations"])
        return super().fit(train, valid)

    def _network(self, n_users: int, n_items: int) -> CKENet:
        code = self.graph["item_entity"]
        if len(code) > n_items + 1:
            raise ValueError(f"graph.item_entity links {len(code) - 1} item ids but the catalogue has {n_items}: pass "
                             f"n_items={len(code) - 1}")
        code = torch.cat([code, torch.full((n_items + 1 - len(code),), -1)])            # (V,) unlinked beyond
        code[0] = -1
        c = self.config
        return CKENet(n_users, n_items, c.d_model, c.init_std, code, self.graph["n_entities"],
                      self.graph["n_relations"], c.max_norm)

    def _extra_loss(self, generator: torch.Generator) -> torch.Tensor | float:
        """lambda x TransE's margin loss on ``kg_batch_size`` drawn triples (entity vectors projected first)."""
        c, net = self.config, self.network_
        net.project_()
        if c.kg_weight == 0:
            return 0.0
        pos = self.triples_[torch.randint(len(self.triples_), (c.kg_batch_size,), generator=generator)]  # (T, 3)
        neg = K.corrupt(pos, self.graph["n_entities"], generator, self.p_head_, self.pools_)                 # (T, 3)
        device = net.item_bias.device
        return c.kg_weight * K.margin_loss(net.distance(pos.to(device)), net.distance(neg.to(device)), c.kg_margin)

    # ---------------------------------------------------------------- checkpoints
    def _state(self):
        meta, tensors = super()._state()
        net = self.network_
        return meta | {"n_entities": net.entity_emb.num_embeddings, "n_relations": net.relation_emb.num_embeddings}, tensors

    def _saved_network(self, meta: dict, tensors: dict[str, torch.Tensor]) -> CKENet:
        c = self.config
        return CKENet(self.n_users_, self.n_items_, c.d_model, c.init_std, tensors["net.item_entity"],
                      meta["n_entities"], meta["n_relations"], c.max_norm)
