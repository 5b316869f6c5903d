"""The grader's wire: every plain value a check may get back survives the trip bit for bit, and
anything else the kernel might send is refused with a WireError (never run, never unpickled)."""

from __future__ import annotations

import base64
import inspect
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from llmrec_ref.graderemote import RemoteFunction, RemoteNamespace, remote_exception
from llmrec_ref.gradewire import WireError, decode, encode


def trip(value):
    return decode(json.loads(json.dumps(encode(value), allow_nan=False)))


def test_scalars_and_containers_come_back_with_their_types():
    values = [None, True, 0, -7, 2**70, 1.5, -0.0, "héllo", b"\x00\xff", 3 + 4j,
              [1, [2.5]], (1, "a"), {3, 1}, frozenset({2}), {"k": (1, 2), 5: None}]
    for value in values:
        back = trip(value)
        assert back == value and type(back) is type(value), value
    assert math.copysign(1, trip(-0.0)) == -1
    assert math.isnan(trip(float("nan"))) and trip(float("-inf")) == float("-inf")


def test_arrays_tensors_and_frames_come_back_exactly():
    a = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    assert np.array_equal(trip(a), a) and trip(a).dtype == np.float32
    assert trip(np.int64(5)) == 5 and isinstance(trip(np.int64(5)), np.integer)
    assert isinstance(trip(np.float64(0.25)), np.floating)
    assert trip(np.array(["a", "bc"])).tolist() == ["a", "bc"]
    t = torch.randn(2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.equal(trip(t), t.detach()) and trip(t).dtype == torch.float64
    assert trip(torch.tensor([True, False])).dtype == torch.bool
    assert trip(torch.ones(2, dtype=torch.bfloat16)).dtype == torch.bfloat16
    loss = torch.tensor(1.5, requires_grad=True) * 2  # a loss: 0-d stays 0-d
    assert trip(loss).shape == () and trip(loss).item() == 3.0 and trip(torch.zeros(0, 3)).shape == (0, 3)
    df = pd.DataFrame({"user_id": [3, 1], "item_id": [10, 11], "year": pd.array([1995, None], dtype="Int64"),
                       "genres": [["a"], []], "title": ["x", "y"]}, index=[7, 2])
    back = trip(df)
    pd.testing.assert_frame_equal(back, df)
    pd.testing.assert_frame_equal(trip(df.reset_index(drop=True)), df.reset_index(drop=True))
    s = pd.Series([1.0, np.nan], index=pd.Index(["a", "b"], name="k"), name="v")
    pd.testing.assert_series_equal(trip(s), s)


def test_objects_that_are_not_data_stay_behind_as_references():
    def f(a, b=1, *, c):
        return a

    info = encode(f)
    assert info["__t"] == "ref" and info["callable"] and info["name"] == "f"
    calls = []
    proxy = decode(info, ref=lambda i: RemoteFunction(lambda *a: calls.append(a) or 42, i))
    assert proxy(1, c=2) == 42 and calls[0][0] == "call"
    assert str(inspect.signature(proxy)) == "(a, b=None, *, c)"
    assert proxy.__name__ == "f"
    with pytest.raises(WireError):
        decode(info)  # without a way to wrap references, a reference is refused


@pytest.mark.parametrize("reply", [
    {"a": 1},                                          # an untagged object
    {"__t": "pickle", "v": "gASV"},                    # an unknown tag
    {"__t": "nd", "dtype": "|O", "shape": [1], "data": base64.b64encode(b"\0" * 8).decode()},
    {"__t": "nd", "dtype": "<f8", "shape": [2], "data": base64.b64encode(b"\0" * 8).decode()},
    {"__t": "nd", "dtype": "<f8", "shape": [10**9, 10**9], "data": ""},
    {"__t": "ndo", "dtype": "<U999999", "shape": [1], "v": ["a"]},
    {"__t": "f", "v": "1.0; import os"},
    {"__t": "dict", "v": [[{"__t": "list", "v": []}, 1]]},   # an unhashable key
    {"__t": "frame", "columns": {"__t": "range", "v": [0, 1, 1], "name": None},
     "index": {"__t": "range", "v": [0, 3, 1], "name": None}, "v": []},
    [1, 2],                                            # a bare JSON list is not a tagged list
])
def test_malformed_replies_are_refused(reply):
    with pytest.raises(WireError):
        decode(reply)


def test_deep_nesting_is_refused():
    deep = 1
    for _ in range(200):
        deep = {"__t": "list", "v": [deep]}
    with pytest.raises(WireError):
        decode(deep)


def test_the_namespace_asks_and_learner_exceptions_keep_their_names():
    asked = []
    ns = RemoteNamespace(lambda op, *args: asked.append((op, *args)) or op == "has")
    assert "f" in ns and ns["f"] is False
    assert asked == [("has", "f"), ("get", "f")]
    err = remote_exception("NotImplementedError", "todo")
    assert isinstance(err, NotImplementedError) and type(err).__name__ == "NotImplementedError"
    assert type(remote_exception("not a name!", "x")).__name__ == "Exception"


def test_inputs_a_call_changes_in_the_kernel_are_changed_for_the_check_too():
    import pickle

    from llmrec_ref.graderemote import apply_changes
    from llmrec_ref.gradewire import answer

    def mutate(df, arr, t, items, *, seen):
        df.drop(index=0, inplace=True)
        df["rating"] = 0.0
        arr[0] = -1
        t.mul_(2)
        items.append(9)
        seen.add(4)
        return len(df)

    def call(*args, **kwargs):
        ref = encode(mutate)["id"]
        payload = base64.b64encode(pickle.dumps(("call", ref, args, kwargs))).decode()
        reply = json.loads(json.dumps(answer({}, payload, "n")))  # what travels: JSON only
        assert reply["ok"], reply
        apply_changes(args, kwargs, reply["changed"])
        return decode(reply["value"])

    df = pd.DataFrame({"user_id": [1, 2], "rating": [4.0, 5.0]})
    arr, t, items, seen = np.arange(3), torch.ones(2), [1], {3}
    assert call(df, arr, t, items, seen=seen) == 1
    pd.testing.assert_frame_equal(df, pd.DataFrame({"user_id": [2], "rating": [0.0]}, index=[1]))
    assert arr.tolist() == [-1, 1, 2] and t.tolist() == [2.0, 2.0] and items == [1, 9] and seen == {3, 4}
    untouched = pd.DataFrame({"a": [1]})
    ref = encode(lambda x: 0)["id"]
    reply = answer({}, base64.b64encode(pickle.dumps(("call", ref, (untouched,), {}))).decode(), "n")
    assert reply["changed"] == []


def test_a_changed_input_that_names_no_input_is_refused():
    from llmrec_ref.graderemote import apply_changes

    with pytest.raises(WireError):
        apply_changes(([1],), {}, [[5, encode([2])]])
    with pytest.raises(WireError):
        apply_changes(([1],), {}, [[0, encode("text")]])
