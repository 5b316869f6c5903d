"""``python -m llmrec_ref bench multimodal``: images beside text and behaviour, measured on the shop.

Derived in notebooks/09_multimodal. On the shop with looks (``make_synthetic_shop(n_items,
visual_taste_share=0.5)``, seed 0):

1. **images**: drawing and caching them (time, MiB of the uint8 tensor; target < 100 MB);
2. **alignment**: the CLIP-style towers (``multimodal.fit_clip``) and the two-view image tower
   (``fit_views``), training time (target: both under 60 s), text -> image and image -> text
   Recall@1/@10 over the catalogue against chance; nearest-image agreement on category, colour
   and pattern for each image table;
3. **cold items** (``coldstart.cold_start_split``, 20 % of the items, seed 0): VBPR-style MF
   (``vbpr.VBPR``, content only for the cold items) with text, image, and text + image fused
   early, late and gated; NDCG@10 for users with and without a visual taste, each against text
   alone with a paired bootstrap interval; the same with half the cold items' images missing;
   the shop's oracle (``shop.true_scores``) restricted to the cold items as the ceiling;
4. **warm items** (``split.next_session_split``, full ranking): the same models trained on the
   whole catalogue's training log;
5. **ContextRec's item table** (``item_repr`` sources, ``set_item_vectors``): cold items with
   "text", "image" and "text+image" (no ID table, so a cold item is scored through its
   vectors), warm items with "id+text" and "id+text+image", each against its text twin with a
   paired interval (sampled softmax, d = 32, no context features, ``--contextrec-epochs``).

MiniLM vectors come from ``text.TextEncoder`` (cached in ``$LLMREC_DATA/text-cache``; the first
run at 10,000 items encodes for minutes on a 2-core CPU).
"""

from __future__ import annotations

import numpy as np
import torch

from llmrec_ref.bench import timed

__all__ = ["run", "add_arguments"]


def add_arguments(parser) -> None:
    parser.add_argument("--n-items", type=int, default=10000, help="catalogue size (default 10000)")
    parser.add_argument("--n-users", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=4, help="epochs of each image tower")
    parser.add_argument("--vbpr-epochs", type=int, default=10)
    parser.add_argument("--contextrec-epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")


def _contextrec(item_repr: str, vectors: dict, n_items: int, epochs: int):
    """ContextRec with the item table ``item_repr`` from ``vectors`` {"text": (V, d), "image": (V, d)}."""
    from llmrec_ref.models import ContextRec

    model = ContextRec(item_repr=item_repr, n_items=n_items, d_model=32, n_heads=2, max_len=50, features=[],
                       loss="sampled_softmax", n_negatives=1000, epochs=epochs, seed=0, verbose=False)
    for source in ("text", "image"):
        if source in item_repr:
            model.set_item_vectors(source, vectors[source])
    return model


def run(n_items: int = 10000, n_users: int = 1000, epochs: int = 4, vbpr_epochs: int = 10,
        threads: int | None = None, contextrec_epochs: int = 10) -> list[dict]:
    from llmrec_ref.align import recall_at_k
    from llmrec_ref.coldstart import cold_start_split, evaluate_cold_start
    from llmrec_ref.evaluation import full_ranking
    from llmrec_ref.images import shop_images
    from llmrec_ref.multimodal import TOWER, by_taste, fit_clip, fit_views, item_table
    from llmrec_ref.preprocess import preprocess
    from llmrec_ref.shop import COLOURS, make_synthetic_shop, true_scores
    from llmrec_ref.split import next_session_split
    from llmrec_ref.tables import markdown_table
    from llmrec_ref.text import TextEncoder, item_vectors, text_init
    from llmrec_ref.vbpr import VBPR

    if threads:
        torch.set_num_threads(threads)
    shop = make_synthetic_shop(n_users=n_users, n_items=n_items, seed=0, visual_taste_share=0.5)
    p = shop.preferences
    rows = []
    with timed() as t_img:
        images = shop_images(shop, cache=False)
    views = shop_images(shop, cache=False, view=1)
    rows.append({"step": "draw images", "seconds": f"{t_img['seconds']:.1f}",
                 "result": f"{tuple(images.shape)} uint8, {images.numel() / 2**20:.1f} MiB (target < 100 MB)"})
    with timed() as t_text:
        text = item_vectors(TextEncoder("minilm", verbose=False), shop.items)
    rows.append({"step": "MiniLM item vectors (cache or encode)", "seconds": f"{t_text['seconds']:.1f}",
                 "result": f"{tuple(text.shape)}"})
    tower = dict(TOWER, epochs=epochs)
    with timed() as t_clip:
        clip, log_clip = fit_clip(images, text, **tower)
    with timed() as t_views:
        twin, log_views = fit_views(images, views, **tower)
    z_img, z_txt = item_table(clip.encode_left, images), torch.nn.functional.normalize(clip.right(text), dim=1)
    z_views = item_table(twin.encode_left, images)
    t2i = recall_at_k(z_txt[1:], z_img[1:])
    i2t = recall_at_k(z_img[1:], z_txt[1:])
    rows.append({"step": f"CLIP towers, {epochs} epochs", "seconds": f"{t_clip['seconds']:.1f}",
                 "result": f"InfoNCE {log_clip[0]['loss']:.2f} -> {log_clip[-1]['loss']:.2f}; text->image R@1 "
                           f"{t2i['recall@1']:.3f} R@10 {t2i['recall@10']:.3f}; image->text R@1 {i2t['recall@1']:.3f} "
                           f"R@10 {i2t['recall@10']:.3f}; chance R@10 {t2i['chance@10']:.4f}"})
    rows.append({"step": f"two-view image tower, {epochs} epochs", "seconds": f"{t_views['seconds']:.1f}",
                 "result": f"InfoNCE {log_views[0]['loss']:.2f} -> {log_views[-1]['loss']:.2f} "
                           f"(target: both towers < 60 s together: {t_clip['seconds'] + t_views['seconds']:.0f} s)"})
    colour = shop.items["colour"].map({c: k for k, c in enumerate(COLOURS)}).to_numpy()
    codes = {"category": p.item_category[1:], "colour": colour, "pattern": p.item_pattern[1:]}
    for name, z in (("CLIP image", z_img), ("two-view image", z_views), ("MiniLM text", text)):
        sample = torch.nn.functional.normalize(z[1:3001].float(), dim=1)
        sim = sample @ sample.T
        sim.fill_diagonal_(-2.0)
        j = sim.argmax(1).numpy()
        agree = ", ".join(f"{k} {np.mean(v[:len(j)][j] == v[:len(j)]):.2f}" for k, v in codes.items())
        rows.append({"step": f"nearest neighbour agrees ({name})", "seconds": "", "result": agree})
    print(markdown_table(rows))

    # ----------------------------------------------------------- warm items, next session
    text32 = text_init(text, 32)
    text32 = text32 / text32[1:].norm(dim=1).mean()
    split = next_session_split(preprocess(shop.interactions, remap=False, context=True).interactions)
    warm = {}
    for name, content, fusion in (("ID only (BPR-MF)", {}, "early"), ("ID + text", {"text": text32}, "early"),
                                  ("ID + text + image late", {"text": text32, "image": z_views}, "late")):
        model = VBPR(content, fusion=fusion, epochs=vbpr_epochs, n_items=n_items, n_users=n_users,
                     verbose=False).fit(split.train)
        res = full_ranking(model, split)
        warm[name], w_users = res.per_user["ndcg@10"], res.users
    print("\nwarm items, next session, full ranking\n")
    print(markdown_table(by_taste(warm, w_users, p.visual_taste, baseline="ID + text")))

    # ----------------------------------------------------------- ContextRec's item table
    log = shop.interactions[["user_id", "item_id", "timestamp"]].drop_duplicates(["user_id", "item_id"])
    cs = cold_start_split(log, frac=0.2, seed=0, n_items=n_items)
    vectors = {"text": text32, "image": z_views}
    for title, reprs, fit_on, evaluate, baseline in (
            ("cold items (the same split as VBPR's below)", ("text", "image", "text+image"), cs.train,
             lambda m: evaluate_cold_start(m, cs), "text"),
            ("warm items, next session, full ranking", ("id+text", "id+text+image"), split.train,
             lambda m: full_ranking(m, split), "id+text")):
        per_user, timing = {}, []
        for item_repr in reprs:
            with timed() as t:
                model = _contextrec(item_repr, vectors, n_items, contextrec_epochs).fit(fit_on)
            res = evaluate(model)
            per_user[f"ContextRec {item_repr}"], users = res.per_user["ndcg@10"], res.users
            timing.append(f"{item_repr} {t['seconds']:.0f} s")
        print(f"\nContextRec item tables, {title} ({contextrec_epochs} epochs; fits: {', '.join(timing)})\n")
        print(markdown_table(by_taste(per_user, users, p.visual_taste, baseline=f"ContextRec {baseline}")))

    # ----------------------------------------------------------- cold items
    half = z_views.clone()
    rng = np.random.default_rng(0)
    half[rng.choice(cs.cold_items, len(cs.cold_items) // 2, replace=False)] = 0.0   # images missing
    variants = {"text": ({"text": text32}, "early"), "image": ({"image": z_views}, "early"),
                "text+image early": ({"text": text32, "image": z_views}, "early"),
                "text+image late": ({"text": text32, "image": z_views}, "late"),
                "text+image gated": ({"text": text32, "image": z_views}, "gated"),
                "text+CLIP image late": ({"text": text32, "image": z_img}, "late"),
                "text+image late, half the cold images missing": ({"text": text32, "image": half}, "late"),
                "text+image gated, half the cold images missing": ({"text": text32, "image": half}, "gated")}
    per_user, users, timing = {}, None, []
    for name, (content, fusion) in variants.items():
        with timed() as t:
            model = VBPR(content, fusion=fusion, epochs=vbpr_epochs, n_items=n_items, n_users=n_users,
                         verbose=False).fit(cs.train)
        res = evaluate_cold_start(model, cs)
        per_user[name], users = res.per_user["ndcg@10"], res.users
        timing.append(f"{name} {t['seconds']:.0f} s")
    oracle = torch.as_tensor(true_scores(shop, users.numpy())).float()

    class _Fixed:
        def score(self, u, history):
            return oracle
    per_user["oracle (true_scores)"] = evaluate_cold_start(_Fixed(), cs).per_user["ndcg@10"]
    table = by_taste(per_user, users, p.visual_taste, baseline="text")
    print(f"\ncold items ({len(cs.cold_items)} cold of {n_items}; VBPR fits: {', '.join(timing)})\n")
    return table

