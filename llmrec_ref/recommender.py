"""The contract every recommender of the course keeps, and the one checkpoint format.

Derived in notebooks/05_loss_derivation (the neural models) and notebooks/06_evaluation (the
baselines). In the spirit of scikit-learn's estimators:

- ``__init__`` stores settings and never reads data; ``fit(train, valid=None)`` always starts
  over (a neural model continues from its current weights only with ``warm_start=True``) and
  returns ``self``; what it learns ends in ``_``. ``valid`` always means the same thing: it
  selects the model (early stopping, or a hyperparameter grid) and is never trained on;
  refitting on train + valid is asked for explicitly (``refit=True``).
- ``score(users, history, query=None) -> (len(users), n_items + 1)`` float32 scores, column 0
  (padding) = -inf. ``history`` is the log the model may condition on; ``query`` is the context
  of each user's request (time, device, never the outcome), read only by models whose
  ``uses_query`` is True, so a wrapper can tell whether to pass it on. A user's row depends
  only on that user's rows of ``history`` and ``query`` (evaluation scores blocks of users with
  their own rows only).
- ``train_log_``: one dict per epoch (neural models) or per setting tried (a grid search).
- Learned models ``save(path)`` and ``Class.load(path)``: ``{"class", "meta" (JSON), "tensors",
  "sha256"}`` read back with ``torch.load(weights_only=True)``; ``load`` refuses another class's
  file, a file whose checksum does not match (a flipped byte, an edit) and non-finite weights.

``llmrec_ref.conformance.check_recommender`` states the contract as a test, run on every model.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from llmrec_ref.preprocess import require_columns

__all__ = ["Recommender", "user_tensor", "check_log", "largest_id", "check_items", "item_counts",
           "save_checkpoint", "read_checkpoint", "config_from"]

_REMAP = "renumber them 1..n first: frame, maps = llmrec_ref.preprocess.remap_ids(frame)"


def user_tensor(users) -> torch.Tensor:
    """Any sequence of user ids -> a (U,) int64 tensor."""
    return torch.as_tensor(np.asarray(users), dtype=torch.long).reshape(-1)


def check_log(frame: pd.DataFrame | None, name: str = "train", n_items: int | None = None,
              timestamps: bool = False, allow_empty: bool = False) -> None:
    """The one check of an interaction frame a model reads (``fit``'s train and valid, ``score``'s
    history): a DataFrame with ``user_id`` and ``item_id`` (and ``timestamp`` when ``timestamps``),
    none missing, ids whole numbers >= 1 (0 is padding) and, given ``n_items``, item ids the model
    knows (``KeyError`` otherwise, see ``check_items``). ``ValueError`` naming ``name`` and the fix;
    with ``allow_empty`` (a ``valid`` or a ``history``), ``None`` and an empty frame pass."""
    if allow_empty and (frame is None or (isinstance(frame, pd.DataFrame) and len(frame) == 0)):
        return
    columns = ("user_id", "item_id", "timestamp") if timestamps else ("user_id", "item_id")
    require_columns(frame, columns, name)
    for column in ("user_id", "item_id"):
        values = frame[column].to_numpy()
        if not np.issubdtype(values.dtype, np.number) or np.issubdtype(values.dtype, np.complexfloating):
            raise ValueError(f"{name}.{column} holds {values.dtype} values such as {values[0]!r}, not integer ids; "
                             f"{_REMAP}")
        if np.issubdtype(values.dtype, np.floating) and not (np.isfinite(values) & (values % 1 == 0)).all():
            bad = values[~(np.isfinite(values) & (values % 1 == 0))][0].item()
            raise ValueError(f"{name}.{column} holds {bad!r}: ids must be whole numbers; {_REMAP}")
        if values.min() < 1:
            raise ValueError(f"{name}.{column} holds {values.min().item()!r}: ids start at 1 (0 is padding); {_REMAP}")
    if timestamps and not pd.api.types.is_numeric_dtype(frame["timestamp"]):
        raise ValueError(f"{name}.timestamp must hold numbers (seconds), got {frame['timestamp'].dtype}; "
                         "convert it first, e.g. with llmrec_ref.preprocess.clean(frame)")
    if n_items is not None:
        check_items(frame, n_items)


def largest_id(column: str, *frames: pd.DataFrame | None) -> int:
    """The largest ``column`` id in the non-empty ``frames`` (what a model sizes its tables by).

    ``ValueError`` when every frame is empty or missing, and when the ids are raw, not renumbered:
    a largest id above both 100,000 and 100 times the number of distinct ids would size tables
    by ids nobody uses (raw user ids near 10^9 would ask MF for hundreds of GB)."""
    present = [f for f in frames if f is not None and len(f)]
    if not present:
        raise ValueError(f"no interactions to learn {column} ids from: the training frame is empty")
    largest = max(int(f[column].max()) for f in present)
    if largest > 100_000:
        distinct = len(pd.unique(np.concatenate([f[column].to_numpy() for f in present])))
        if largest > 100 * distinct:
            raise ValueError(f"the largest {column} is {largest:,} but only {distinct:,} distinct ids are used, "
                             f"so the model's tables would have {largest:,} rows; {_REMAP}")
    return largest


def check_items(frame: pd.DataFrame, n_items: int) -> None:
    """``KeyError`` if ``frame`` holds an item id outside 1..n_items."""
    items = frame["item_id"].to_numpy()
    bad = items[(items < 1) | (items > n_items)]
    if len(bad):
        raise KeyError(f"item id {int(bad[0])} is unknown to this model (it knows ids 1..{n_items}); "
                       "remap ids as in training, or refit with n_items large enough")


def item_counts(frame: pd.DataFrame, n_items: int) -> torch.Tensor:
    """(n_items + 1,) float32 number of rows of each item in ``frame`` (index 0 = padding = 0)."""
    return torch.bincount(torch.tensor(frame["item_id"].to_numpy(dtype=np.int64)), minlength=n_items + 1).float()


class Recommender:
    """Base of every model: the contract (module docstring) and the plumbing it needs."""

    uses_query: bool = False  # True: score reads the request context in ``query``

    def fit(self, train: pd.DataFrame, valid: pd.DataFrame | None = None) -> Recommender:  # pragma: no cover
        raise NotImplementedError

    def score(self, users, history: pd.DataFrame, query: pd.DataFrame | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError

    # ---------------------------------------------------------------- shared plumbing
    def _check_fitted(self, attribute: str = "n_items_") -> None:
        if getattr(self, attribute, None) is None:
            raise ValueError(f"{type(self).__name__} is not fitted: call fit(train) first")

    @staticmethod
    def _pad(scores: torch.Tensor) -> torch.Tensor:
        """Prepend the padding column: (U, I) -> (U, I + 1) with -inf at item 0."""
        return torch.cat([torch.full((scores.shape[0], 1), float("-inf")), scores.float()], dim=1)

    @staticmethod
    def _fallback(scores: torch.Tensor, empty: torch.Tensor, counts: torch.Tensor, what: str) -> torch.Tensor:
        """Rows flagged ``empty`` get popularity scores log(1 + count), with a warning; column 0 = -inf."""
        if empty.any():
            warnings.warn(f"{int(empty.sum())} user(s) have no {what}: recommending by popularity", stacklevel=3)
            scores[empty] = torch.log1p(counts.to(scores.device))
        scores[:, 0] = float("-inf")
        return scores

    # ---------------------------------------------------------------- checkpoints
    def _state(self) -> tuple[dict, dict[str, torch.Tensor]]:  # pragma: no cover - learned models define it
        """(JSON-able settings + learned sizes, tensors) that rebuild the fitted model."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    @classmethod
    def _from_state(cls, meta: dict, tensors: dict[str, torch.Tensor], device: str):  # pragma: no cover
        raise NotImplementedError(f"{cls.__name__} cannot be loaded")

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted model to ``path`` (written to a temporary file, then renamed into place)."""
        meta, tensors = self._state()
        save_checkpoint(path, type(self).__name__, meta, tensors)

    @classmethod
    def load(cls, path: str | os.PathLike, device: str = "cpu"):
        """The model saved at ``path``; ``ValueError`` if the file holds another class or is not a checkpoint."""
        meta, tensors = read_checkpoint(path, cls.__name__)
        return cls._from_state(meta, tensors, device)


def _digest(cls_name: str, meta_json: str, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 of the class name, the meta text and every tensor's name, dtype, shape and bytes."""
    h = hashlib.sha256(f"{cls_name}\n{meta_json}".encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"\n{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike, cls_name: str, meta: dict, tensors: dict[str, torch.Tensor]) -> None:
    """``torch.save`` of ``{"class", "meta" (JSON text), "tensors" (on the CPU), "sha256"}``, atomically:
    written to ``path + ".tmp"``, then renamed, so an interrupted save leaves no half-written file."""
    path = Path(path)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"cannot save to {os.fspath(path)!r}: the folder {os.fspath(path.parent)!r} "
                                "does not exist; create it first")
    meta_json = json.dumps(meta)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    blob = {"class": cls_name, "meta": meta_json, "tensors": tensors,
            "sha256": _digest(cls_name, meta_json, tensors)}
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def read_checkpoint(path: str | os.PathLike, cls_name: str) -> tuple[dict, dict[str, torch.Tensor]]:
    """(meta, tensors) of a checkpoint holding a ``cls_name``, read with ``weights_only=True``.

    ``ValueError`` when the file is not a checkpoint, holds another class, fails its checksum
    or has non-finite weights; ``FileNotFoundError`` when there is no file."""
    where = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"no checkpoint at {where!r}; write one with model.save(path)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or empty file, a text file, a pickle that is not plain tensors
        raise ValueError(f"{where!r} is not a readable checkpoint ({type(err).__name__}: "
                         f"{(str(err).splitlines() or [''])[0][:200]}); save the model again") from err
    if not isinstance(blob, dict) or not {"class", "meta", "tensors", "sha256"} <= set(blob):
        raise ValueError(f"{where!r} is not a checkpoint written by model.save(path)")
    if blob["class"] != cls_name:
        raise ValueError(f"the checkpoint holds a {blob['class']}, not a {cls_name}: "
                         f"load it with {blob['class']}.load(path)")
    if _digest(blob["class"], blob["meta"], blob["tensors"]) != blob["sha256"]:
        raise ValueError(f"{where!r} fails its checksum: the file was corrupted or edited after it was saved; "
                         "save the model again")
    bad = [k for k, t in blob["tensors"].items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise ValueError(f"{where!r} holds non-finite weights ({', '.join(bad[:3])}): the model diverged before "
                         "it was saved; train it again (a lower learning rate)")
    return json.loads(blob["meta"]), blob["tensors"]


def config_from(config_cls: type, stored: dict, **overrides):
    """``config_cls(**stored, **overrides)``, with a clear ``ValueError`` for settings this version
    of the package does not know (a checkpoint written by another version)."""
    known = {f.name for f in dataclasses.fields(config_cls)}
    unknown = sorted(set(stored) - known)
    if unknown:
        raise ValueError(f"the checkpoint's {config_cls.__name__} has settings this version does not know: "
                         f"{unknown}; it was written by another version of llmrec_ref")
    return config_cls(**(stored | overrides))
