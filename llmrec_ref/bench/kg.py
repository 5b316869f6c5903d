"""``python -m llmrec_ref bench kg``: the MovieLens-100k knowledge graph, embedded and put to work.

Derived in notebooks/08_knowledge_graph. Every part uses the repaired item -> entity link
(``datasets.load_movielens_kg()``); the link as RecBole ships it appears once, as the "before" row
of part 2. Four parts:

1. **TransE** (``llmrec_ref.kg``) on the whole graph: the triples split by entity pair (5 % valid,
   5 % test; a fact and its inverse on the same side), trained from scratch (dim 64; by default
   the self-adversarial loss, batch 1024, 128 shared negatives per batch, Bernoulli head/tail,
   gamma 6, alpha 1, Adam lr 0.1 decayed by a cosine, 25 epochs: the setting chosen on the
   validation triples; ``--loss margin``: the margin loss, batch 4096, typed + Bernoulli
   negatives, lr 0.01, 30 epochs), timed in wall and CPU seconds (target < 30 s; with
   ``--threads 1`` the CPU time is what an idle core would take), then filtered link prediction
   (MRR, Hits@1, Hits@10; tails and heads) against the degree baseline, on the validation and
   the test triples, and per relation on test.
2. **Does the link point at the right films?** ``knowledge.link_agreement``: mutual information
   between the graph's genre entities of each linked film and the film's MovieLens genres,
   against the same with the link shuffled at random; for the shipped link and the repaired one.
3. **Cold start** (chapter 07's split: 10 % of the films, seed 0; 168 cold films): random,
   genre popularity, graph neighbours (idf-weighted shared neighbours, rating-weighted mean
   profile), TransE film vectors (mean profile), the learned text scorer (MiniLM), and late
   fusion text + graph (``fusion.ScoreMix``, its weight chosen on *pseudo-cold* films: another
   10 % of the training films held out, the test never read); Recall@10 and NDCG@10 with 95 %
   intervals and the paired difference to text alone.
4. **Warm items** (``--warm``, about 15 minutes more): MF-BPR against CKE (``cke.CKE``: item vector =
   ID vector + entity vector, BPR + TransE's loss; MF's default settings, early stopping on
   validation NDCG@10) on the ratings of the linked films (as RecBole keeps only linked films when
   it loads a graph), on the random 8:1:1 split per user (``split.random_split``, seeded) and on
   leave-one-out, full ranking, paired difference of NDCG@10; then ContextRec with chapter 05's
   ML-100k settings, ID-only against ID + a learned projection of the fixed TransE film vectors
   (``item_repr="id+kg"``, ``set_item_vectors("kg", ...)``), leave-one-out on all ratings.
"""

from __future__ import annotations

import time

import torch

from llmrec_ref.bench import non_negative_int, positive_int, timed

__all__ = ["run", "add_arguments"]


def add_arguments(parser) -> None:
    parser.add_argument("--epochs", type=positive_int, default=None,
                        help="TransE epochs (default 25 with the self-adversarial loss, 30 with the margin loss)")
    parser.add_argument("--loss", choices=("self_adversarial", "margin"), default="self_adversarial",
                        help="TransE's training loss (default self_adversarial; margin: chapter 08's first loss)")
    parser.add_argument("--dim", type=positive_int, default=64)
    parser.add_argument("--threads", type=non_negative_int, default=0, help="torch threads (0: leave as is)")
    parser.add_argument("--warm", action="store_true",
                        help="also the warm-item models: MF-BPR against CKE (random 8:1:1 and leave-one-out) and "
                             "ContextRec with and without graph vectors (about 15 minutes more)")
    parser.add_argument("--seed", type=non_negative_int, default=0)


def _ci(m) -> str:
    return f"{m.mean:.3f} [{m.low:.3f}, {m.high:.3f}]"


# chosen on the validation triples (docs/results-08.md); the margin loss keeps chapter 08's settings
SETTINGS = {"self_adversarial": {"epochs": 25, "batch_size": 1024, "lr": 0.1, "negatives": 128, "lr_decay": "cosine"},
            "margin": {"epochs": 30, "batch_size": 4096, "lr": 0.01}}


def _transe(g, epochs: int | None, dim: int, seed: int, loss: str = "self_adversarial") -> tuple[list[dict], object]:
    from llmrec_ref import kg as K

    train, valid, test = K.split_triples(g.triples, 0.05, seed)
    settings = dict(SETTINGS[loss], **({"epochs": epochs} if epochs else {}))
    cpu = time.process_time()
    with timed() as t:
        model, log = K.train_transe(train, g.n_entities, g.n_relations, dim=dim, loss=loss, seed=seed, **settings)
    cpu = time.process_time() - cpu  # CPU seconds: what the wall time would be on an idle core (one thread)
    rows = [{"part": "TransE", "what": f"train {len(train):,} triples, {loss} loss, {settings['epochs']} epochs, "
                                       f"dim {dim}",
             "value": f"{t['seconds']:.1f} s wall, {cpu:.1f} s CPU (final loss {log[-1]['loss']:.3f})"}]
    base = K.degree_scores(train, g.n_entities, g.n_relations)
    for part, held_out in (("valid", valid), ("test", test)):
        for name, scorer in (("degree baseline", base), ("TransE", model.scores)):
            res = K.link_prediction(scorer, held_out, g.triples, ks=(1, 10))
            rows.append({"part": f"link prediction (filtered, {part})", "what": name,
                         "value": f"MRR {res['mrr']:.3f}, Hits@1 {res['hits@1']:.3f}, Hits@10 {res['hits@10']:.3f} "
                                  f"({res['queries']:,} queries)"})
    for rel in ("film.film.genre", "film.film.directed_by", "film.film.actor", "film.film.award_nomination"):
        sub = test[test[:, 1] == g.relation(rel)]
        if len(sub):
            hits = [K.link_prediction(s, sub, g.triples, ks=(10,))["hits@10"] for s in (base, model.scores)]
            rows.append({"part": "link prediction, one relation (test)", "what": rel,
                         "value": f"Hits@10 degree {hits[0]:.3f}, TransE {hits[1]:.3f} ({2 * len(sub)} queries)"})
    return rows, model


def _cold(ml, g, transe, seed: int) -> list[dict]:
    from llmrec_ref.baselines import RandomScorer
    from llmrec_ref.coldstart import (
        AttributePopularity,
        TextOnly,
        cold_start_split,
        evaluate_cold_start,
    )
    from llmrec_ref.evaluation import paired_bootstrap
    from llmrec_ref.fusion import ScoreMix
    from llmrec_ref.knowledge import entity_vectors, neighbour_vectors
    from llmrec_ref.text import TextEncoder, item_vectors

    split = cold_start_split(ml.ratings, frac=0.1, seed=seed, n_items=len(ml.items))
    V = item_vectors(TextEncoder("minilm", verbose=False), ml.items)
    X = neighbour_vectors(g.triples, g.item_entity)
    T = entity_vectors(transe.entity, g.item_entity)
    text = TextOnly(V, seed=seed, verbose=False)
    graph = TextOnly(X, mode="mean", learn=False)
    # the fusion weight, chosen on pseudo-cold films of the training log only
    inner = cold_start_split(split.train, frac=0.1, seed=seed + 1, n_items=split.n_items)
    text_inner = TextOnly(V, seed=seed, verbose=False).fit(inner.train)
    graph_inner = TextOnly(X, mode="mean", learn=False).fit(inner.train)
    grid = {w: evaluate_cold_start(ScoreMix(text_inner, graph_inner, w, refit=False).fit(inner.train), inner,
                                   ks=(10,), n_boot=0)["recall@10"].mean for w in (0.0, 0.1, 0.2, 0.3, 0.5)}
    w_best = max(grid, key=grid.get)
    scorers = {
        "random": RandomScorer(n_items=split.n_items, seed=seed),
        "genre popularity": AttributePopularity(ml.items, "genres"),
        "graph neighbours (mean profile)": graph,
        "TransE film vectors (mean profile)": TextOnly(T, mode="mean", learn=False),
        "text: learned (MiniLM)": text,
    }
    res = {name: evaluate_cold_start(m.fit(split.train), split, ks=(10,), n_boot=1000) for name, m in scorers.items()}
    res[f"text + graph, w = {w_best} (chosen on pseudo-cold)"] = evaluate_cold_start(
        ScoreMix(text, graph, w_best, refit=False).fit(split.train), split, ks=(10,), n_boot=1000)
    rows = [{"part": "cold start: fusion weight on pseudo-cold films", "what": "Recall@10 by weight w of the graph",
             "value": ", ".join(f"{w}: {r:.3f}" for w, r in grid.items())}]
    ref = res["text: learned (MiniLM)"].per_user["recall@10"]
    for name, r in res.items():
        d = paired_bootstrap(r.per_user["recall@10"], ref, seed=seed)
        rows.append({"part": f"cold start ({len(split.cold_items)} films, {len(r.users)} users)", "what": name,
                     "value": f"Recall@10 {_ci(r['recall@10'])}, NDCG@10 {r['ndcg@10'].mean:.3f}; vs text "
                              f"{d['mean_diff']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"})
    return rows


def _warm(ml, transe, g, seed: int) -> list[dict]:
    from llmrec_ref.evaluation import full_ranking, paired_bootstrap
    from llmrec_ref.knowledge import entity_vectors
    from llmrec_ref.recipes import ML, build, load_split

    split, items, n_items = load_split("ml-100k", seed=seed)
    T = entity_vectors(transe.entity, g.item_entity)
    res, rows = {}, []
    for name, overrides in (("ContextRec, ID table", {}), ("ContextRec, ID + TransE vectors", {"item_repr": "id+kg"})):
        model = build(dict(ML, verbose=False), None, split.train, items, n_items, seed=seed, **overrides)
        if overrides:
            model.set_item_vectors("kg", T)
        with timed() as t:
            model.fit(split.train, split.valid)
        res[name] = full_ranking(model, split, ks=(10,), n_boot=1000)
        rows.append({"part": "warm items (leave-one-out, full ranking)", "what": name,
                     "value": f"NDCG@10 {_ci(res[name]['ndcg@10'])}, HR@10 {res[name]['hr@10'].mean:.3f} "
                              f"({t['seconds']:.0f} s)"})
    a, b = (res[n].per_user["ndcg@10"] for n in res)
    d = paired_bootstrap(b, a, seed=seed)
    rows.append({"part": "warm items (leave-one-out, full ranking)", "what": "graph - ID only, NDCG@10",
                 "value": f"{d['mean_diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"})
    return rows


def _cke(ml, g, shipped, seed: int) -> list[dict]:
    """MF-BPR against CKE (same settings, same seed) on the ratings of the linked films, both protocols;
    and MF-BPR on the films the ``shipped`` link keeps (the data the peer library's numbers are on)."""
    from llmrec_ref.cke import CKE
    from llmrec_ref.evaluation import full_ranking, paired_bootstrap
    from llmrec_ref.mf import MF
    from llmrec_ref.split import leave_one_out, random_split

    n_items = len(g.item_entity) - 1
    log = ml.ratings[g.item_entity[ml.ratings["item_id"].to_numpy()] >= 0]
    data = f"{len(log):,} ratings of the {int((g.item_entity[1:] >= 0).sum()):,} linked films"
    rows = []
    for protocol, split in (("random 8:1:1", random_split(log, (0.8, 0.1, 0.1), seed=seed)),
                            ("leave-one-out", leave_one_out(log))):
        res = {}
        for name, model in (("MF-BPR", MF(n_items=n_items, seed=seed, verbose=False)),
                            ("CKE (MF-BPR + TransE, lambda 1)", CKE(g, n_items=n_items, seed=seed, verbose=False))):
            with timed() as t:
                model.fit(split.train, split.valid)
            res[name] = r = full_ranking(model, split, ks=(10,), n_boot=1000, seed=seed)
            rows.append({"part": f"warm items, {protocol} ({data}, full ranking)", "what": name,
                         "value": f"NDCG@10 {_ci(r['ndcg@10'])}, Recall@10 {r['recall@10'].mean:.4f} "
                                  f"({len(model.train_log_)} epochs, {t['seconds']:.0f} s)"})
        a, b = (res[n].per_user["ndcg@10"] for n in res)
        d = paired_bootstrap(b, a, seed=seed)
        rows.append({"part": f"warm items, {protocol} ({data}, full ranking)", "what": "CKE - MF-BPR, NDCG@10",
                     "value": f"{d['mean_diff']:+.4f} [{d['low']:+.4f}, {d['high']:+.4f}]"})
    peer = ml.ratings[shipped.item_entity[ml.ratings["item_id"].to_numpy()] >= 0]
    split = random_split(peer, (0.8, 0.1, 0.1), seed=seed)
    with timed() as t:
        model = MF(n_items=n_items, seed=seed, verbose=False).fit(split.train, split.valid)
    r = full_ranking(model, split, ks=(10,), n_boot=1000, seed=seed)
    rows.append({"part": f"warm items, random 8:1:1 ({len(peer):,} ratings of the "
                         f"{int((shipped.item_entity[1:] >= 0).sum()):,} films the shipped link keeps: the peer's data)",
                 "what": "MF-BPR", "value": f"NDCG@10 {_ci(r['ndcg@10'])}, Recall@10 {r['recall@10'].mean:.4f} "
                                            f"({len(model.train_log_)} epochs, {t['seconds']:.0f} s)"})
    return rows


def run(epochs: int | None = None, dim: int = 64, threads: int = 0, warm: bool = False, seed: int = 0,
        loss: str = "self_adversarial") -> list[dict]:
    from llmrec_ref.datasets import load_movielens_100k, load_movielens_kg
    from llmrec_ref.knowledge import link_agreement

    if threads:
        torch.set_num_threads(threads)
    ml, g = load_movielens_100k(), load_movielens_kg()
    rows, transe = _transe(g, epochs, dim, seed, loss)
    labels = [[]] + ml.items.sort_values("item_id")["genres"].tolist()
    shipped = load_movielens_kg(link="recbole")
    for name, graph in (("before: the link as shipped", shipped), ("repaired link", g)):
        agree = link_agreement(graph.triples, graph.item_entity, graph.relation("film.film.genre"), labels, seed=seed)
        linked = int((graph.item_entity[1:] >= 0).sum())
        rows.append({"part": "does the link point at the right films? MI(graph genre; MovieLens genre), nats",
                     "what": f"{name} ({linked:,} films linked)",
                     "value": f"{agree['mi']:.4f}; random links {agree['shuffled_mean']:.4f} "
                              f"(max of 20: {agree['shuffled_max']:.4f})"})
    rows += _cold(ml, g, transe, seed)
    if warm:
        rows += _cke(ml, g, shipped, seed)
        rows += _warm(ml, transe, g, seed)
    return rows
