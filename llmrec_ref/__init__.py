"""llmrec_ref: the reference package of the llmrec course.

Each module holds one concept and mirrors a chapter of the course (see
``notebooks/``). Modules meant to be copied into other projects
(``attention``, ``encoders``, ``losses``, ``metrics``, ``decode``) import only
the standard library, numpy and torch.
"""

from __future__ import annotations

import os
import random

__version__ = "0.1.0"

__all__ = ["__version__", "seed_everything"]


def seed_everything(seed: int = 0) -> None:
    """Seed Python's ``random``, numpy and torch (CPU and CUDA) with ``seed``.

    Also sets ``PYTHONHASHSEED`` for child processes. Same seed, same machine,
    same numbers -- as long as code that takes its own ``seed`` or
    ``torch.Generator`` argument is given one too.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:  # pragma: no cover - numpy is a hard dependency
        pass
    try:
        import torch

        torch.manual_seed(seed)  # also seeds every CUDA device
    except ImportError:  # pragma: no cover - torch is a hard dependency
        pass
