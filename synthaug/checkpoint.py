"""Training state on disk: checkpoints to resume an interrupted fit, and the state ``warm_start`` continues.

A :class:`TrainingState` names the objects one fit trains — modules,
optimizers, learning-rate schedulers, EMA copies and the random generator —
and can snapshot them (to CPU tensors) and restore them. Checkpoint files are
written under a temporary name and renamed, so an interrupted write never
leaves a broken checkpoint; each records a fingerprint of the data and the
parameters, and a checkpoint of another fit is refused rather than resumed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

__all__ = ["TrainingState", "fingerprint"]


def fingerprint(*arrays, params=None):
    """A short hash of arrays or tensors (their bytes, shapes and dtypes) and a parameter dict."""
    h = hashlib.blake2b(digest_size=16)
    for a in arrays:
        a = np.ascontiguousarray(a.cpu().numpy() if isinstance(a, torch.Tensor) else a)
        h.update(str((a.shape, a.dtype.str)).encode())
        if a.size:
            h.update(memoryview(a).cast("B"))
    h.update(repr(sorted((params or {}).items())).encode())
    return h.hexdigest()


def _cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_cpu(v) for v in obj)
    return obj


class TrainingState:
    """The objects of one fit, by name: ``modules``, ``optimizers``, ``schedulers``, ``emas`` and ``generator``.

    ``per_fit`` names modules that belong to one fit's run, not to what the
    networks learnt (a copy chosen on that fit's held-out rows): a resumed
    fit restores them, a warm start (``restore(..., per_fit=False)``) begins
    them afresh.

    Examples
    --------
    >>> import torch
    >>> net = torch.nn.Linear(2, 2)
    >>> state = TrainingState(modules={"net": net}, generator=torch.Generator().manual_seed(0))
    >>> snap = state.snapshot(step=3, history={"step": [3]})
    >>> _ = torch.nn.init.zeros_(net.weight)
    >>> state.restore(snap)["step"], bool(net.weight.abs().sum() > 0)
    (3, True)
    """

    def __init__(self, *, modules=None, optimizers=None, schedulers=None, emas=None, generator=None, per_fit=()):
        self.modules = dict(modules or {})
        self.per_fit = frozenset(per_fit)
        self.optimizers = dict(optimizers or {})
        self.schedulers = dict(schedulers or {})
        self.emas = dict(emas or {})
        self.generator = generator

    def snapshot(self, *, step, history, fingerprint=None, complete=False, seed=None, params=None):
        """Everything needed to continue, as CPU tensors and plain values.

        ``complete``: the fit ended; ``seed``: the seed of a private fit's
        generator (drawn from the OS's entropy), which a resumed fit reuses;
        ``params``: the fit's parameters (their reprs), to name what differs
        when a checkpoint is refused.
        """
        return {
            "step": int(step), "history": {k: list(v) for k, v in history.items()}, "fingerprint": fingerprint,
            "complete": bool(complete), "seed": seed, "params": params,
            "modules": {k: _cpu(m.state_dict()) for k, m in self.modules.items()},
            "optimizers": {k: _cpu(o.state_dict()) for k, o in self.optimizers.items()},
            "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
            "emas": {k: {"model": _cpu(e.model.state_dict()), "n_updates": e.n_updates} for k, e in self.emas.items()},
            "generator": None if self.generator is None else self.generator.get_state(),
        }

    def restore(self, snap, *, schedulers=True, generator=True, per_fit=True):
        """Load ``snap`` into the live objects; returns ``snap`` (its ``step`` and ``history``).

        ``schedulers``, ``generator``, ``per_fit``: restore those too (a warm
        start keeps none of them).
        """
        for k, m in self.modules.items():
            if per_fit or k not in self.per_fit:
                m.load_state_dict(snap["modules"][k])
        for k, o in self.optimizers.items():
            o.load_state_dict(snap["optimizers"][k])
        if schedulers:
            for k, s in self.schedulers.items():
                s.load_state_dict(snap["schedulers"][k])
        for k, e in self.emas.items():
            e.model.load_state_dict(snap["emas"][k]["model"])
            e.n_updates = snap["emas"][k]["n_updates"]
        if generator and self.generator is not None and snap["generator"] is not None:
            self.generator.set_state(snap["generator"])
        return snap

    def save(self, path, **snapshot_args):
        """Write a snapshot to ``path`` atomically (temporary name, then rename)."""
        from .io import atomic_path

        with atomic_path(path) as tmp:
            torch.save(self.snapshot(**snapshot_args), tmp)

    @staticmethod
    def load(path):
        """A snapshot from ``path``, or None when there is no file."""
        path = Path(path)
        if path.is_dir():
            raise ValueError(f"checkpoint {path} is a folder; give a file path.")
        if not path.is_file():
            return None
        try:
            snap = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as exc:   # truncated, empty or not a checkpoint: torch, pickle and zip errors alike
            raise ValueError(f"checkpoint {path} cannot be read ({type(exc).__name__}); delete it to start "
                             "afresh.") from None
        if not isinstance(snap, dict) or "fingerprint" not in snap:
            raise ValueError(f"checkpoint {path} is not a synthaug checkpoint; delete it or choose another path.")
        return snap
