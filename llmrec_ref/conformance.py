"""The recommender contract as a check, in the spirit of scikit-learn's ``check_estimator``.

Derived in notebooks/05_loss_derivation; the contract itself is written out in
``llmrec_ref.recommender``. ``check_recommender(make, train, valid)`` builds models with
``make()`` (a function returning a fresh, unfitted model) and checks, in order:

1. ``fit`` returns the model itself and leaves its settings (attributes not ending in ``_``,
   and the config it was given) unchanged; ``train_log_`` is a list of dicts;
2. ``score(users, history, query=None)`` gives a float32 ``(len(users), n_items_ + 1)`` tensor,
   column 0 = -inf, every other entry finite; ``uses_query`` is a bool;
3. the same settings give bitwise the same scores after a refit and in a new model;
4. a user without history and an empty history frame are scored (finite, right shape), and a
   user's scores stay the same (to 1e-5) when the other users' rows are left out of
   ``history`` and ``query`` (evaluation scores each block of users with its own rows);
5. an unfitted model's ``score`` raises ``ValueError`` saying to call ``fit``; a config-based
   model refuses an unknown setting with a ``ValueError`` naming it;
6. models that can be saved load back (``Class.load``) with bitwise-equal scores, and ``load``
   refuses a file that holds another class.

Every failed check raises ``AssertionError`` naming the model and what was wrong; the return
value lists the checks that ran.
"""

from __future__ import annotations

import copy
import os
import tempfile
import warnings
from typing import Callable

import pandas as pd
import torch

from llmrec_ref.recommender import Recommender

__all__ = ["check_recommender"]


def _settings(model) -> dict:
    """The model's settings: every attribute whose name does not end in ``_`` (deep-copied)."""
    return {k: copy.deepcopy(v) for k, v in vars(model).items() if not k.endswith("_") and not k.startswith("_")}


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor) or isinstance(b, torch.Tensor):
        return isinstance(a, torch.Tensor) and isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, pd.DataFrame) or isinstance(b, pd.DataFrame):
        return isinstance(a, pd.DataFrame) and isinstance(b, pd.DataFrame) and a.equals(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


def check_recommender(make: Callable[[], object], train: pd.DataFrame, valid: pd.DataFrame | None = None,
                      history: pd.DataFrame | None = None, query: pd.DataFrame | None = None) -> list[str]:
    """Run the contract's checks on the models ``make()`` builds (see the module docstring).

    ``history`` (default: ``train``) is what the models score from; ``query`` a request-context
    frame passed to models whose ``uses_query`` is True. Returns the names of the checks run.
    """
    model = make()
    name = type(model).__name__

    def require(condition: bool, message: str) -> None:
        if not condition:
            raise AssertionError(f"{name}: {message}")

    history = train if history is None else history
    users = sorted(history["user_id"].unique().tolist())[:20]
    done = []

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # popularity fallbacks warn on purpose
        # 5a. unfitted
        try:
            model.score(users, history)
        except ValueError as err:
            require("fit" in str(err), f"an unfitted model's score must say to call fit, said {err}")
        else:
            require(False, "score before fit must raise ValueError (call fit first)")
        done.append("unfitted score raises ValueError")

        # 1. fit returns self, settings unchanged
        before = _settings(model)
        require(model.fit(train, valid) is model, "fit must return self")
        after = _settings(model)
        changed = [k for k in before if k not in after or not _same(before[k], after[k])]
        require(not changed, f"fit changed its settings {changed} (learned state must end in '_')")
        require(isinstance(getattr(model, "train_log_", None), list)
                and all(isinstance(r, dict) for r in model.train_log_), "train_log_ must be a list of dicts")
        done.append("fit returns self and leaves its settings unchanged")

        # 2. scores
        require(isinstance(getattr(model, "uses_query", None), bool), "uses_query must be a bool")
        q = query if model.uses_query else None
        scores = model.score(users, history, query=q)
        n_items = getattr(model, "n_items_", None)
        require(isinstance(n_items, int) and n_items >= 1, f"n_items_ must be a positive int after fit, got {n_items!r}")
        require(isinstance(scores, torch.Tensor) and scores.dtype == torch.float32,
                f"score must return a float32 tensor, got {type(scores).__name__} {getattr(scores, 'dtype', '')}")
        require(tuple(scores.shape) == (len(users), n_items + 1),
                f"score must return (len(users), n_items + 1) = {(len(users), n_items + 1)}, got {tuple(scores.shape)}")
        require(bool((scores[:, 0] == float("-inf")).all()), "column 0 (padding) must be -inf")
        require(bool(torch.isfinite(scores[:, 1:]).all()), "scores of real items must be finite")
        done.append("score: shape, dtype, padding column, finite")

        # 3. reproducible
        again = model.fit(train, valid).score(users, history, query=q)
        require(torch.equal(scores, again), "a second fit with the same settings must give bitwise the same scores")
        fresh = make().fit(train, valid).score(users, history, query=q)
        require(torch.equal(scores, fresh), "a new model with the same settings must give bitwise the same scores")
        done.append("same settings, same scores (refit and new model)")

        # 4. users without history, empty history
        stranger = int(max(int(history["user_id"].max()), int(train["user_id"].max()))) + 1000
        s = model.score([users[0], stranger], history, query=q)
        require(tuple(s.shape) == (2, n_items + 1) and bool(torch.isfinite(s[:, 1:]).all()),
                "a user without history must get finite scores")
        s = model.score(users[:3], history.iloc[:0], query=None)
        require(tuple(s.shape) == (3, n_items + 1) and bool(torch.isfinite(s[:, 1:]).all()),
                "an empty history must give finite scores")
        done.append("unknown users and empty history scored")

        # 4b. a user's scores read only that user's rows (evaluation scores blocks of users that way)
        few = users[:3]
        own = history[history["user_id"].isin(few)]
        own_q = None if q is None else q[q["user_id"].isin(few)]
        s = model.score(few, own, query=own_q)
        require(torch.allclose(s[:, 1:], scores[:3, 1:], rtol=1e-5, atol=1e-5),
                "a user's scores must depend only on that user's rows of history and query "
                "(scoring with the other users' rows removed changed them)")
        done.append("scores read only the user's own rows")

    # 5b. settings are checked where they are made
    if hasattr(model, "config"):
        for bad, named in ((dict(no_such_setting=1), "no_such_setting"), (dict(epochs=0), "epochs")):
            try:
                type(model)(**bad)
            except ValueError as err:
                require(named in str(err), f"the setting {named!r} must be named in the error, got {err}")
            else:
                require(False, f"{bad} must raise ValueError")
        done.append("bad settings raise ValueError naming them")

    # 6. save / load
    try:
        model._state()
    except (AttributeError, NotImplementedError):  # a model that cannot be saved
        return done
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.pt")
        model.save(path)
        loaded = type(model).load(path)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            require(torch.equal(loaded.score(users, history, query=q), scores),
                    "a loaded model must give bitwise the same scores")
        try:
            Recommender.load(path)  # any other class: the stored class name does not match
        except ValueError as err:
            require(name in str(err), f"loading another class's file must name the class it holds, got {err}")
        else:
            require(False, f"Recommender.load must refuse a {name} checkpoint")
    done.append("save/load: same scores; another class refused")
    return done

