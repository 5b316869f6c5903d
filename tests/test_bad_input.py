"""Issue #16: every bad input is a clear ValueError (naming the argument and the fix) or is handled,
never a silent wrong answer. One test per case the issue lists, grouped by the kind of input:
interaction frames, model settings, score tensors, checkpoints, the data cache. (The text cache and
the model pin are in test_text.py, the command line in test_cli.py.)"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref import datasets, decode, metrics
from llmrec_ref.baselines import EASE, ItemKNN, Popularity
from llmrec_ref.mf import MF
from llmrec_ref.models import ContextRec
from llmrec_ref.preprocess import add_context_features, clean, k_core, remap_ids, user_sequences
from llmrec_ref.recommender import largest_id, save_checkpoint
from llmrec_ref.sampling import SequenceDataset, sample_negatives
from llmrec_ref.split import leave_one_out, next_session_split, random_split, temporal_split

pytestmark = pytest.mark.usefixtures("one_thread")


def make_log(n_users: int = 6, per_user: int = 5, n_items: int = 12) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    log = pd.DataFrame({"user_id": np.repeat(np.arange(1, n_users + 1), per_user),
                        "item_id": rng.integers(1, n_items + 1, n_users * per_user),
                        "timestamp": np.arange(n_users * per_user) * 60 + 1_000})
    return log.drop_duplicates(["user_id", "item_id"]).reset_index(drop=True)


LOG = make_log()


def with_nan(frame: pd.DataFrame, column: str, row: int = 2) -> pd.DataFrame:
    out = frame.assign(**{column: frame[column].astype("float64")})
    out.loc[row, column] = np.nan
    return out


def tiny_contextrec(**settings) -> ContextRec:
    return ContextRec(d_model=8, n_heads=1, max_len=4, epochs=1, verbose=False, **settings)


# ----------------------------------------------------------------------------- interaction frames
FRAME_FUNCTIONS = {
    "leave_one_out": leave_one_out, "random_split": random_split, "temporal_split": temporal_split,
    "next_session_split": next_session_split, "remap_ids": remap_ids, "add_context_features": add_context_features,
    "user_sequences": user_sequences, "k_core": lambda f: k_core(f, 2), "SequenceDataset": SequenceDataset,
}


@pytest.mark.parametrize("column", ["user_id", "item_id", "timestamp"])
@pytest.mark.parametrize("name", sorted(FRAME_FUNCTIONS))
def test_a_nan_id_or_timestamp_is_refused_not_sorted_or_given_an_id(name, column):
    with pytest.raises(ValueError, match=rf"interactions\.{column} has 1 missing value.*row 2.*clean"):
        FRAME_FUNCTIONS[name](with_nan(LOG, column))


def test_remap_ids_gives_no_id_to_nan_and_sample_negatives_refuses_it():
    with pytest.raises(ValueError, match=r"items\.item_id has 1 missing"):
        remap_ids(LOG, items=with_nan(pd.DataFrame({"item_id": np.arange(1, 13)}), "item_id"))
    for column in ("user_id", "item_id"):
        with pytest.raises(ValueError, match=rf"interactions\.{column} has 1 missing"):
            sample_negatives(with_nan(LOG, column), 12)
        with pytest.raises(ValueError, match=rf"positives\.{column} has 1 missing"):
            sample_negatives(LOG, 12, positives=with_nan(LOG, column))


def test_clean_still_removes_what_the_other_functions_refuse():
    dirty = with_nan(with_nan(LOG, "timestamp", 1), "user_id", 4)
    out, report = clean(dirty, return_report=True)
    assert report.missing == 2 and len(out) == len(LOG) - 2
    assert len(leave_one_out(out).train) > 0  # what clean returns passes every check


@pytest.mark.parametrize("column", ["user_id", "item_id", "timestamp"])
def test_contextrec_fit_and_score_refuse_nan(column):
    with pytest.raises(ValueError, match=rf"train\.{column} has 1 missing"):
        tiny_contextrec().fit(with_nan(LOG, column))
    model = tiny_contextrec().fit(LOG)
    with pytest.raises(ValueError, match=rf"history\.{column} has 1 missing"):
        model.score([1, 2], with_nan(LOG, column))
    with pytest.raises(ValueError, match=rf"valid\.{column} has 1 missing"):
        tiny_contextrec().fit(LOG, with_nan(LOG, column))


@pytest.mark.parametrize("make", [lambda: MF(d_model=4, epochs=1, verbose=False), Popularity, ItemKNN, EASE],
                         ids=["MF", "Popularity", "ItemKNN", "EASE"])
def test_every_model_refuses_nan_ids_and_empty_frames(make):
    for column in ("user_id", "item_id"):
        with pytest.raises(ValueError, match=rf"train\.{column} has 1 missing"):
            make().fit(with_nan(LOG, column))
    with pytest.raises(ValueError, match="train is empty"):
        make().fit(LOG.iloc[:0])


def test_empty_frames_say_so_in_contextrec_and_largest_id():
    with pytest.raises(ValueError, match="train is empty"):
        tiny_contextrec().fit(LOG.iloc[:0])
    with pytest.raises(ValueError, match="training frame is empty"):
        largest_id("item_id", LOG.iloc[:0], None)


def test_item_knn_history_with_nan_is_refused():
    model = ItemKNN().fit(LOG)
    with pytest.raises(ValueError, match=r"history\.item_id has 1 missing"):
        model.score([1], with_nan(LOG, "item_id"))
    assert torch.isfinite(model.score([1], LOG.iloc[:0])[:, 1:]).all()  # an empty history is allowed


def test_ids_that_are_not_renumbered_say_which_function_renumbers_them():
    huge = LOG.assign(user_id=LOG["user_id"] + 999_999_000)  # raw ids near 10^9: MF would ask for 768 GB
    with pytest.raises(ValueError, match=r"largest user_id is 999,999,006 but only 6 distinct ids.*remap_ids"):
        MF(d_model=4, epochs=1, verbose=False).fit(huge)
    with pytest.raises(ValueError, match=r"largest item_id .*remap_ids"):
        EASE().fit(LOG.assign(item_id=LOG["item_id"] + 5_000_000))
    with pytest.raises(ValueError, match=r"train\.item_id holds \w+ values .*remap_ids"):
        tiny_contextrec().fit(LOG.assign(item_id="i" + LOG["item_id"].astype(str)))
    with pytest.raises(ValueError, match=r"train\.item_id holds \d+\.5: ids must be whole numbers"):
        Popularity().fit(LOG.assign(item_id=LOG["item_id"] + 0.5))
    with pytest.raises(ValueError, match=r"train\.user_id holds -1: ids start at 1"):
        MF(d_model=4, epochs=1, verbose=False).fit(LOG.assign(user_id=LOG["user_id"] - 2))
    sparse_but_small = LOG.assign(item_id=LOG["item_id"] * 50)  # up to id 600 for 12 items: fine
    assert largest_id("item_id", sparse_but_small) == int(sparse_but_small["item_id"].max())


def test_contextrec_without_any_user_with_two_events_says_so():
    one_each = LOG.groupby("user_id").head(1).reset_index(drop=True)
    with pytest.raises(ValueError, match="no user with two or more events"):
        tiny_contextrec().fit(one_each)


def test_settings_that_said_lower_the_learning_rate_are_refused_where_they_are_made():
    with pytest.raises(ValueError, match="n_negatives must be an int >= 1"):
        MF(n_negatives=0)
    with pytest.raises(ValueError, match="finite"):
        tiny_contextrec().init_item_embeddings(torch.full((13, 8), float("nan")))


@pytest.mark.parametrize("lam", [float("inf"), float("nan"), 0.0, -1.0])
def test_ease_lam_must_be_finite_and_positive(lam):
    with pytest.raises(ValueError, match="lam .* must be a finite number > 0"):
        EASE(lam=lam)


@pytest.mark.parametrize("shrink", [float("inf"), float("nan"), -1.0])
def test_itemknn_shrink_must_be_finite(shrink):
    with pytest.raises(ValueError, match="shrink must be a finite number >= 0"):
        ItemKNN(shrink=shrink)


# ----------------------------------------------------------------------------- scores
def test_accuracy_and_rmse_refuse_nan_predictions():
    target = torch.tensor([1, 1, 0])
    assert metrics.accuracy(torch.tensor([0.9, 0.8, 0.2]), target) == 1.0
    with pytest.raises(ValueError, match="pred contains 1 NaN"):
        metrics.accuracy(torch.tensor([0.9, float("nan"), 0.2]), target)  # used to count as right: 1.0
    with pytest.raises(ValueError, match="threshold must be a finite number"):
        metrics.accuracy(torch.tensor([0.9, 0.8, 0.2]), target, threshold=float("nan"))
    with pytest.raises(ValueError, match="pred contains 1 NaN"):
        metrics.rmse(torch.tensor([1.0, float("nan")]), torch.tensor([1.0, 2.0]))


def linear(n: int):
    """A model that scores item i as i: the best item is always the highest id left."""
    return lambda history: torch.arange(n, dtype=torch.float32).expand(history.shape[0], n).clone()


def only(n: int, live: tuple[int, ...]):
    """A model that scores every item but ``live`` -inf."""
    def model(history):
        s = torch.full((history.shape[0], n), float("-inf"))
        s[:, list(live)] = 1.0
        return s
    return model


@pytest.mark.parametrize("decoder", [decode.greedy_sequence, decode.beam_sequence])
def test_sequence_decoders_never_return_padding_nan_items_or_clamped_history(decoder):
    history = torch.tensor([[1, 2]])
    assert decoder(linear(6), history, 3).tolist() == [[5, 4, 3]]
    with pytest.raises(ValueError, match="model returned NaN scores"):
        decoder(lambda h: torch.full((h.shape[0], 6), float("nan")), history, 2)
    with pytest.raises(ValueError, match="no item left to choose at step 2"):
        decoder(only(6, (4,)), history, 3)  # one item is not -inf: it used to add padding (item 0)
    assert sorted(decoder(only(6, (4, 5)), history, 2)[0].tolist()) == [4, 5]  # -inf items are never chosen
    with pytest.raises(ValueError, match="history holds item id 9 but the model scores only 6 items"):
        decoder(linear(6), torch.tensor([[9, 2]]), 2)
    with pytest.raises(ValueError, match="history holds item id -1"):
        decoder(linear(6), torch.tensor([[-1, 2]]), 2)


# ----------------------------------------------------------------------------- checkpoints
def test_checkpoint_of_an_unknown_class_or_a_folder_is_refused_by_name(tmp_path):
    model = tiny_contextrec().fit(LOG)
    meta, tensors = model._state()
    save_checkpoint(tmp_path / "foo.pt", "Foo", meta, tensors)
    with pytest.raises(ValueError, match="holds a Foo, not a ContextRec"):
        ContextRec.load(tmp_path / "foo.pt")
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        ContextRec.load(tmp_path)


# ----------------------------------------------------------------------------- the data cache
def test_fetch_removes_the_staging_folders_of_killed_fetches(tmp_path, monkeypatch):
    dead = tmp_path / ".tmp-ml-100k-999999999-abcd"  # no such pid: its fetch was killed
    old = tmp_path / ".tmp-ml-100k-x1y2"             # an older version's name, an hour old
    mine = tmp_path / f".tmp-ml-100k-{os.getpid()}-live"  # a fetch still running: kept
    for folder in (dead, old, mine):
        folder.mkdir()
    os.utime(old, (1, 1))

    def offline(dest):
        raise OSError("no network in this test")

    monkeypatch.setattr(datasets, "_download_grouplens", offline)
    with pytest.raises(OSError, match="Could not fetch"):
        datasets.fetch_movielens_100k(tmp_path, sources=("grouplens",), verbose=False)
    assert sorted(p.name for p in tmp_path.glob(".tmp-ml-100k-*")) == [mine.name]


def test_evaluating_an_empty_part_says_which_part():
    from llmrec_ref.evaluation import full_ranking, sampled_ranking

    split = leave_one_out(LOG)
    model = Popularity(n_items=12).fit(split.train)
    with pytest.raises(ValueError, match="split.test is empty"):
        full_ranking(model, split._replace(test=LOG.iloc[:0]))
    with pytest.raises(ValueError, match="split.valid is empty"):
        sampled_ranking(model, split._replace(valid=LOG.iloc[:0]), stage="valid")


def test_settings_that_would_train_on_nan_are_refused():
    with pytest.raises(ValueError, match="init_std must be a finite number > 0"):
        ContextRec(init_std=float("inf"))
    with pytest.raises(ValueError, match="init_std must be a finite number > 0"):
        MF(init_std=float("nan"))
    with pytest.raises(ValueError, match="ratios must be 3 non-negative numbers"):
        random_split(LOG, (float("nan"), 0.5, 0.5))


def test_text_only_history_with_nan_is_refused():
    from llmrec_ref.coldstart import history_weights

    with pytest.raises(ValueError, match=r"history\.item_id has 1 missing"):
        history_weights(with_nan(LOG, "item_id"), [1, 2], 12)
    with pytest.raises(ValueError, match=r"history\.timestamp has 1 missing"):
        history_weights(with_nan(LOG, "timestamp"), [1, 2], 12, weighting="recency")
    assert history_weights(with_nan(LOG, "timestamp"), [1, 2], 12, weighting="uniform").sum() > 0  # time unused


def test_timestamps_must_be_finite_numbers_or_datetimes_and_clean_removes_infinite_ones():
    infinite = LOG.assign(timestamp=LOG["timestamp"].astype(float).where(LOG.index != 3, -np.inf))
    with pytest.raises(ValueError, match=r"interactions\.timestamp holds an infinite value"):
        temporal_split(infinite)
    with pytest.raises(ValueError, match=r"interactions\.timestamp holds \w+ values such as '1000', not times"):
        leave_one_out(LOG.assign(timestamp=LOG["timestamp"].astype(str)))
    out, report = clean(infinite, return_report=True)
    assert report.missing == 1 and len(out) == len(LOG) - 1
    dated = LOG.assign(timestamp=pd.to_datetime(LOG["timestamp"], unit="s"))
    assert len(leave_one_out(dated).test) == LOG["user_id"].nunique()  # datetimes are times


def test_losses_refuse_labels_and_targets_they_cannot_mean():
    from llmrec_ref import losses

    with pytest.raises(ValueError, match="labels must lie in \\[0, 1\\].*got 2.0"):
        losses.bce_loss(torch.zeros(3), torch.tensor([0.0, 2.0, 1.0]))  # used to return a number
    with pytest.raises(ValueError, match="labels must lie in \\[0, 1\\]"):
        losses.bce_grad(torch.zeros(2), torch.tensor([float("nan"), 1.0]))
    logits = torch.zeros(2, 5)
    with pytest.raises(ValueError, match="target holds class id 9 but logits has 5 classes"):
        losses.full_softmax_loss(logits, torch.tensor([1, 9]))  # was torch's IndexError
    with pytest.raises(ValueError, match="target holds class id -1"):
        losses.full_softmax_grad(logits, torch.tensor([-1, 2]))
    assert torch.isclose(losses.full_softmax_loss(logits, torch.tensor([0, 2])), torch.log(torch.tensor(5.0)))


@pytest.mark.parametrize("make", [tiny_contextrec, lambda: MF(d_model=4, epochs=1, verbose=False), Popularity],
                         ids=["ContextRec", "MF", "Popularity"])
def test_fit_without_a_frame_says_what_train_must_be(make):
    with pytest.raises(ValueError, match="train must be a pandas DataFrame, got NoneType"):
        make().fit(None)
    assert make().fit(LOG, None) is not None  # valid=None is allowed
