"""The wire between the grader and a learner's kernel: plain-data values and four requests.

The grader never trusts what a learner's kernel sends. It asks the kernel for one thing at a
time (``has``/``get`` a name, ``call`` a function, read an ``attr``), and the kernel answers
with a line of JSON that :func:`decode` turns back into plain values: ``None``, bools, ints,
floats (bit-exact, ``nan`` and ``inf`` included), str, bytes, list, tuple, dict, set, numpy
arrays and scalars of numeric dtypes, torch tensors, pandas frames, series and indexes. Nothing
is unpickled and no learner class is rebuilt on the grader's side, so whatever the kernel sends
can only change what the learner's answer *returns*. Anything else (a learner's function, an
``nn.Module``) stays in the kernel as a numbered reference, which :mod:`llmrec_ref.graderemote`
turns into an object whose calls and attribute reads are forwarded to the kernel.

Requests go the other way as a pickle (the grader is the trusted side; the kernel unpickles
what the check built, e.g. a DataFrame it drew fresh). The kernel side is :func:`serve`, called
by one generated cell per request; its reply is a ``display_data`` of type :data:`MIME`. A call
also reports the inputs (lists, dicts, sets, arrays, tensors, frames) it changed, and the grader
writes their new state into its own copies (:func:`llmrec_ref.graderemote.apply_changes`), so a
check can see that an answer modified an input it was told to leave alone.
"""

from __future__ import annotations

import base64
import inspect
import json
import pickle
import sys

import numpy as np

__all__ = ["MIME", "WireError", "answer", "decode", "encode", "request_source", "serve"]

MIME = "text/x-llmrec-reply"
MAX_DEPTH = 50             # nesting of lists / dicts in one reply
MAX_ITEMS = 5_000_000      # numbers and elements in one reply, all arrays together
NUMERIC = "biufcmM"        # numpy dtype kinds sent as raw bytes (bool, ints, floats, complex, dates)


class WireError(ValueError):
    """A reply that is not well-formed plain data."""


# --------------------------------------------------------------------------- the kernel side
_REFS: dict[int, object] = {}


def _ref(number: int) -> object:
    """The kernel's object behind reference ``number`` (a pickled :class:`RemoteObject` lands here)."""
    return _REFS[number]


def _signature(obj) -> list | None:
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    return [[p.name, int(p.kind), p.default is not p.empty] for p in sig.parameters.values()]


def _as_ref(obj) -> dict:
    number = len(_REFS) + 1
    _REFS[number] = obj
    return {"__t": "ref", "id": number, "type": type(obj).__name__, "callable": callable(obj),
            "name": str(getattr(obj, "__name__", type(obj).__name__)),
            "signature": _signature(obj) if callable(obj) else None}


def _array(a: np.ndarray) -> dict:
    a = np.asarray(a)
    if a.dtype.kind in NUMERIC and a.dtype.fields is None:
        a = np.array(a, dtype=a.dtype.newbyteorder("<"), order="C")  # 0-d stays 0-d
        return {"__t": "nd", "dtype": a.dtype.str, "shape": list(a.shape),
                "data": base64.b64encode(a.tobytes()).decode("ascii")}
    if a.dtype.kind in "OUS":
        return {"__t": "ndo", "dtype": a.dtype.str if a.dtype.kind in "US" else "|O",
                "shape": list(a.shape), "v": [encode(x) for x in a.reshape(-1).tolist()]}
    raise TypeError(f"arrays of dtype {a.dtype} are not sent")


def _values(s) -> dict:
    """The values of a pandas Series: raw numeric arrays, else one encoded element each."""
    if isinstance(s.dtype, np.dtype):
        return _array(s.to_numpy())
    return {"__t": "ext", "dtype": str(s.dtype), "v": [encode(x) for x in s.tolist()]}


def encode(value, depth: int = 0):
    """Kernel side: ``value`` as JSON-ready plain data; what is not plain data becomes a reference."""
    pd, torch = sys.modules.get("pandas"), sys.modules.get("torch")  # a frame or tensor means it is loaded
    if depth > MAX_DEPTH:
        raise ValueError("the value is nested too deeply to send")
    t = type(value)
    if value is None or t is bool or t is str:
        return value
    if t is int:
        return value if abs(value) < 2**53 else {"__t": "int", "v": str(value)}
    if t is float:
        return {"__t": "f", "v": value.hex()}
    if t is complex:
        return {"__t": "c", "v": [value.real.hex(), value.imag.hex()]}
    if t is bytes:
        return {"__t": "bytes", "v": base64.b64encode(value).decode("ascii")}
    if t in (list, tuple, set, frozenset):
        items = sorted(value, key=repr) if t in (set, frozenset) else value
        return {"__t": t.__name__, "v": [encode(x, depth + 1) for x in items]}
    if t is dict:
        return {"__t": "dict", "v": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if isinstance(value, np.generic) and value.dtype.kind in NUMERIC + "OUS":
        return {"__t": "np", "v": _array(np.asarray(value))}
    if isinstance(value, np.ndarray):
        return _array(value)
    if torch is not None and isinstance(value, torch.Tensor) and value.layout == torch.strided and not value.is_quantized:
        plain = value.detach().cpu()
        as_float = plain.dtype in (torch.bfloat16,)
        return {"__t": "pt", "dtype": str(plain.dtype).removeprefix("torch."),
                "v": _array((plain.float() if as_float else plain).contiguous().numpy())}
    if pd is None:
        return _as_ref(value)
    if value is pd.NA:
        return {"__t": "NA"}
    if isinstance(value, pd.RangeIndex):
        return {"__t": "range", "v": [value.start, value.stop, value.step], "name": encode(value.name, depth + 1)}
    if isinstance(value, pd.Index) and not isinstance(value, pd.MultiIndex):
        return {"__t": "index", "v": _values(value.to_series()), "name": encode(value.name, depth + 1)}
    if isinstance(value, pd.Series):
        return {"__t": "series", "v": _values(value), "index": encode(value.index, depth + 1),
                "name": encode(value.name, depth + 1)}
    if isinstance(value, pd.DataFrame) and value.columns.is_unique:
        return {"__t": "frame", "columns": encode(value.columns, depth + 1),
                "index": encode(value.index, depth + 1), "v": [_values(value[c]) for c in value.columns]}
    return _as_ref(value)


def _safe_encode(value):
    try:
        return encode(value)
    except Exception:  # noqa: BLE001 - an object that will not turn into data stays in the kernel
        return _as_ref(value)


MUTABLE = (list, dict, set)  # with numpy arrays, tensors and pandas objects: inputs a call may change


def _mutable(value) -> bool:
    kind = type(value).__module__.split(".")[0]
    return type(value) in MUTABLE or kind in ("numpy", "torch", "pandas") and hasattr(value, "__setitem__")


def _op(ns: dict, op: str, *args) -> tuple:
    """The answer to one request, and the inputs of a call that the call changed."""
    if op == "has":
        return args[0] in ns, []
    if op == "get":
        return ns[args[0]], []
    if op == "attr":
        return getattr(_ref(args[0]), args[1]), []
    if op == "call":
        target, call_args, kwargs = args
        inputs = [*enumerate(call_args), *kwargs.items()]
        before = {key: json.dumps(encode(v)) for key, v in inputs if _mutable(v)}
        value = _ref(target)(*call_args, **kwargs)
        after = [(key, encode(v)) for key, v in inputs if key in before]
        return value, [[key, enc] for key, enc in after if json.dumps(enc) != before[key]]
    raise ValueError(f"unknown request {op!r}")


def answer(ns: dict, payload: str, nonce: str) -> dict:
    """Kernel side: the reply to one request (a base64 pickle from the grader), as a dict."""
    try:
        value, changed = _op(ns, *pickle.loads(base64.b64decode(payload)))
        return {"nonce": nonce, "ok": True, "value": _safe_encode(value), "changed": changed}
    except (Exception, SystemExit) as err:  # the learner's exception is the answer; ^C is not caught
        return {"nonce": nonce, "ok": False, "error": [type(err).__name__, str(err)[:2000]]}


def serve(ns: dict, payload: str, nonce: str) -> None:
    """Kernel side: answer one request with one ``display_data`` of type :data:`MIME`."""
    from IPython.display import display

    display({MIME: json.dumps(answer(ns, payload, nonce), allow_nan=False)}, raw=True)


def request_source(op: str, args: tuple, nonce: str) -> str:
    """The code of the cell that asks the kernel for one thing (``payload`` is the grader's pickle)."""
    payload = base64.b64encode(pickle.dumps((op, *args), protocol=4)).decode("ascii")
    return (f"__import__('llmrec_ref.gradewire', fromlist=['serve']).serve(globals(), '{payload}', "
            f"'{nonce}')")


# --------------------------------------------------------------------------- the grader side
class _Budget:
    def __init__(self) -> None:
        self.items = 0

    def take(self, n: int) -> None:
        self.items += n
        if self.items > MAX_ITEMS:
            raise WireError(f"the reply holds more than {MAX_ITEMS:,} values")


def _hex(x) -> float:
    if not isinstance(x, str) or len(x) > 40:
        raise WireError("a float is not a hex string")
    return float.fromhex(x)


def _np_array(obj: dict, budget: _Budget, depth: int) -> np.ndarray:
    shape = obj.get("shape")
    if not isinstance(shape, list) or not all(type(n) is int and 0 <= n for n in shape) or len(shape) > 32:
        raise WireError("an array has no valid shape")
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    budget.take(size)
    dtype = np.dtype(obj.get("dtype")) if isinstance(obj.get("dtype"), str) and len(obj["dtype"]) < 32 else None
    if obj["__t"] == "nd":
        if dtype is None or dtype.kind not in NUMERIC or dtype.fields is not None or dtype.hasobject:
            raise WireError("an array has a dtype that is not sent as raw numbers")
        data = base64.b64decode(obj.get("data", ""), validate=True)
        if len(data) != size * dtype.itemsize:
            raise WireError("an array's data does not match its shape")
        return np.frombuffer(data, dtype=dtype).reshape(shape).copy()
    if (dtype is None or dtype.kind not in "OUS" or dtype.itemsize > 4096 or not isinstance(obj.get("v"), list)
            or len(obj["v"]) != size):
        raise WireError("an array of objects is malformed")
    items = [_decode(x, budget, depth + 1) for x in obj["v"]]
    out = np.empty(size, dtype=object)
    out[:] = items
    return out.reshape(shape).astype(dtype) if dtype.kind in "US" else out.reshape(shape)


def _pd_values(obj, budget: _Budget, depth: int):
    import pandas as pd

    if not isinstance(obj, dict) or obj.get("__t") not in ("nd", "ndo", "ext"):
        raise WireError("column values are malformed")
    if obj["__t"] != "ext":
        return _np_array(obj, budget, depth)
    if not isinstance(obj.get("v"), list) or not isinstance(obj.get("dtype"), str) or len(obj["dtype"]) > 64:
        raise WireError("extension values are malformed")
    items = [_decode(x, budget, depth + 1) for x in obj["v"]]
    try:  # a dtype name ("Int64", "category", "string") picks a pandas dtype; it runs no learner code
        return pd.array(items, dtype=pd.api.types.pandas_dtype(obj["dtype"]))
    except (TypeError, ValueError):
        return pd.array(items, dtype=object)


def _decode(obj, budget: _Budget, depth: int = 0, ref=None):
    if depth > MAX_DEPTH + 5:
        raise WireError("the reply is nested too deeply")
    if obj is None or type(obj) in (bool, str):
        budget.take(1 if type(obj) is not str else 1 + len(obj) // 64)
        return obj
    if type(obj) is int:
        budget.take(1)
        return obj
    if type(obj) is not dict or not isinstance(obj.get("__t"), str):
        raise WireError(f"unexpected {type(obj).__name__} in the reply")
    tag, v = obj["__t"], obj.get("v")
    budget.take(1)
    sub = lambda x: _decode(x, budget, depth + 1, ref)  # noqa: E731
    if tag == "f":
        return _hex(v)
    if tag == "int" and isinstance(v, str) and len(v) < 5000:
        return int(v)
    if tag == "c" and isinstance(v, list) and len(v) == 2:
        return complex(_hex(v[0]), _hex(v[1]))
    if tag == "bytes" and isinstance(v, str):
        return base64.b64decode(v, validate=True)
    if tag in ("list", "tuple", "set", "frozenset") and isinstance(v, list):
        items = [sub(x) for x in v]
        return {"list": list, "tuple": tuple, "set": set, "frozenset": frozenset}[tag](items)
    if tag == "dict" and isinstance(v, list) and all(isinstance(p, list) and len(p) == 2 for p in v):
        return {sub(k): sub(x) for k, x in v}
    if tag in ("nd", "ndo"):
        return _np_array(obj, budget, depth)
    if tag == "np" and isinstance(v, dict):
        arr = _np_array(v, budget, depth)
        if arr.shape != ():
            raise WireError("a numpy scalar has a shape")
        return arr[()]
    if tag == "pt" and isinstance(v, dict):
        import torch

        arr = _np_array(v, budget, depth)
        dtype = getattr(torch, obj.get("dtype", ""), None) if isinstance(obj.get("dtype"), str) else None
        tensor = torch.from_numpy(np.array(arr, order="C", copy=True))  # (ascontiguousarray makes 0-d 1-d)
        return tensor.to(dtype) if isinstance(dtype, torch.dtype) else tensor
    import pandas as pd

    if tag == "NA":
        return pd.NA
    if tag == "range" and isinstance(v, list) and len(v) == 3 and all(type(n) is int for n in v):
        return pd.RangeIndex(*v, name=sub(obj.get("name")))
    if tag == "index":
        return pd.Index(_pd_values(v, budget, depth), name=sub(obj.get("name")))
    if tag == "series":
        values, index = _pd_values(v, budget, depth), sub(obj.get("index"))
        if not isinstance(index, pd.Index) or len(index) != len(values):
            raise WireError("a series' index does not match its values")
        return pd.Series(values, index=index, name=sub(obj.get("name")), copy=False)
    if tag == "frame" and isinstance(v, list):
        columns, index = sub(obj.get("columns")), sub(obj.get("index"))
        if not isinstance(columns, pd.Index) or not isinstance(index, pd.Index) or len(columns) != len(v):
            raise WireError("a frame's columns or index are malformed")
        cols = [_pd_values(c, budget, depth) for c in v]
        if any(len(c) != len(index) for c in cols):
            raise WireError("a frame's columns differ in length")
        return pd.DataFrame(dict(enumerate(cols)), index=index).set_axis(columns, axis=1)
    if tag == "ref" and ref is not None and type(obj.get("id")) is int:
        return ref(obj)
    raise WireError(f"unknown or malformed value tagged {tag[:40]!r}")


def decode(obj, ref=None):
    """Grader side: the plain value a reply describes; ``ref(info)`` wraps a kernel reference.

    Raises :class:`WireError` for anything that is not well-formed plain data."""
    try:
        return _decode(obj, _Budget(), 0, ref)
    except WireError:
        raise
    except (ValueError, TypeError, KeyError, OverflowError, RecursionError, MemoryError) as err:
        raise WireError(f"malformed value: {type(err).__name__}: {str(err)[:200]}") from err
