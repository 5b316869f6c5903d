"""The learner's kernel as a check sees it: a namespace, functions and objects that live there.

A check written for a learner's notebook takes ``ns`` (the notebook's ``globals()``), asks
``name in ns``, reads ``ns[name]`` and calls the functions it finds. When grading,
:class:`RemoteNamespace` stands in for ``ns``: each of those steps is one request to the kernel
(:mod:`llmrec_ref.gradewire`), the learner's function runs there on the inputs the check drew,
and what comes back is plain data. A learner's exception comes back as a :class:`RemoteError`
of the same name; a kernel that cannot answer raises :class:`KernelLost`, which ends the check.
"""

from __future__ import annotations

import inspect

import numpy as np

from llmrec_ref.gradewire import WireError, _ref, decode

__all__ = ["KernelLost", "RemoteError", "RemoteFunction", "RemoteNamespace", "RemoteObject",
           "apply_changes", "remote_exception", "write_back"]


class KernelLost(BaseException):  # noqa: N818 - not an Exception: a check's `except Exception` must not eat it
    """The kernel gave no usable reply (timed out, died, sent nothing or garbage); the message says why."""


class RemoteError(Exception):
    """The learner's code raised in the kernel; the subclass is named after its exception."""


def write_back(original, changed) -> None:
    """Grader side: make ``original`` (an input the check passed) hold ``changed``, the state the
    learner's call left the kernel's copy in, so that a check sees an input its answer modified."""
    if type(original) is list:
        original[:] = changed
    elif type(original) in (dict, set):
        original.clear()
        original.update(changed)
    elif isinstance(original, np.ndarray) and isinstance(changed, np.ndarray):
        if original.shape == changed.shape:
            original[...] = changed
        else:
            original.resize(changed.shape, refcheck=False)
            original[...] = changed
    elif type(original).__module__.startswith("torch") and hasattr(original, "set_"):
        import torch

        with torch.no_grad():
            original.set_(torch.as_tensor(changed, dtype=original.dtype).clone())
    elif type(original).__module__.startswith("pandas") and hasattr(original, "_update_inplace"):
        original._update_inplace(changed)  # pandas' own way for an inplace=True result
    else:
        raise WireError(f"cannot write a changed {type(original).__name__} back")


def apply_changes(call_args: tuple, kwargs: dict, changed, ref=None) -> None:
    """Grader side: write the kernel's ``changed`` inputs ``[[position or name, value], ...]`` back."""
    if not isinstance(changed, list):
        raise WireError("the list of changed inputs is malformed")
    for item in changed:
        if not (isinstance(item, list) and len(item) == 2):
            raise WireError("a changed input is malformed")
        key, value = item
        if type(key) is int and 0 <= key < len(call_args):
            original = call_args[key]
        elif isinstance(key, str) and key in kwargs:
            original = kwargs[key]
        else:
            raise WireError("a changed input names no input of the call")
        new = decode(value, ref)
        tensors = all(type(x).__module__.startswith("torch") for x in (original, new))
        if type(original) is not type(new) and not tensors:  # an nn.Parameter comes back a Tensor
            raise WireError("a changed input has another type")
        write_back(original, new)


def _parameters(info) -> inspect.Signature | None:
    """A signature from the kernel's ``[[name, kind, has_default], ...]``, or None if unusable."""
    if not isinstance(info, list):
        return None
    try:
        params = [inspect.Parameter(name, inspect._ParameterKind(kind),
                                    default=None if has_default else inspect.Parameter.empty)
                  for name, kind, has_default in info]
        return inspect.Signature(params)
    except (TypeError, ValueError):
        return None


class RemoteObject:
    """A learner's object that stays in the kernel; attribute reads are forwarded as requests."""

    def __init__(self, transport, info: dict) -> None:
        self._transport, self._id = transport, info["id"]
        self._type = str(info.get("type", "object"))[:80]
        self.__name__ = str(info.get("name", self._type))[:80]

    def __getattr__(self, name: str):
        if name.startswith("__") or name in ("_transport", "_id", "_type"):
            raise AttributeError(name)
        return self._transport("attr", self._id, name)

    def __reduce__(self):  # sent back to the kernel as an argument: the kernel's own object
        return (_ref, (self._id,))

    def __repr__(self) -> str:
        return f"<learner's {self._type} {self.__name__!r} in the kernel>"


class RemoteFunction(RemoteObject):
    """A learner's callable: calling it runs it in the kernel on the (pickled) arguments."""

    def __init__(self, transport, info: dict) -> None:
        super().__init__(transport, info)
        self.__signature__ = _parameters(info.get("signature"))

    def __call__(self, *args, **kwargs):
        return self._transport("call", self._id, args, kwargs)


class RemoteNamespace:
    """The notebook's ``globals()`` as a check sees it: ``name in ns`` and ``ns[name]`` ask the kernel."""

    def __init__(self, transport) -> None:
        self._transport = transport

    def __contains__(self, name: str) -> bool:
        return self._transport("has", name) is True

    def __getitem__(self, name: str):
        return self._transport("get", name)

    def get(self, name: str, default=None):
        return self[name] if name in self else default


def remote_exception(ename, evalue) -> RemoteError:
    """An exception the grader can raise for one the learner's code raised in the kernel."""
    name = ename if isinstance(ename, str) and ename.isidentifier() and len(ename) < 80 else "Exception"
    bases = (RemoteError, NotImplementedError) if name == "NotImplementedError" else (RemoteError,)
    return type(name, bases, {})(str(evalue)[:2000])
