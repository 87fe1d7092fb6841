"""One training loop for every model family.

:func:`train` draws mini-batch indices on the device (the encoded table lives
there), calls a model-specific ``step(index) -> dict of loss tensors`` and
keeps the history. Losses are accumulated on the device and copied to the
host once every ``log_every`` steps, so there is no host synchronisation per
step.
"""

from __future__ import annotations

import copy
import sys
import time

import torch
from tqdm.auto import tqdm

from .privacy.dp_sgd import poisson_batches

__all__ = ["train", "EMA"]


class EMA:
    """Exponential moving average of a module's parameters.

    The effective decay ramps up as ``min(decay, (1 + k) / (10 + k))`` so that
    short trainings are not dominated by the initial weights.
    """

    def __init__(self, model: torch.nn.Module, decay=0.999):
        self.decay = decay
        self.model = copy.deepcopy(model).eval().requires_grad_(False)
        self.n_updates = 0
        self._pairs = None

    def _tensors(self, model):
        """``(ema params, model params, ema buffers, model buffers)``, listed once per source module.

        Walking the module tree each step costs about as much as the update
        itself on small networks; the tensors are updated in place, so the
        lists stay valid.
        """
        if self._pairs is None or self._pairs[0] is not model:
            self._pairs = (model, list(self.model.parameters()), [q.detach() for q in model.parameters()],
                           list(self.model.buffers()), list(model.buffers()))
        return self._pairs[1:]

    @torch.no_grad()
    def update(self, model):
        self.n_updates += 1
        d = min(self.decay, (1 + self.n_updates) / (10 + self.n_updates))
        ema_p, p, ema_b, b = self._tensors(model)
        torch._foreach_mul_(ema_p, d)
        torch._foreach_add_(ema_p, p, alpha=1 - d)
        if b:
            torch._foreach_copy_(ema_b, b)


def _batches(n_rows, batch_size, generator, device, *, fill=False):
    """Endless stream of index tensors: a fresh permutation each epoch, drawn on the device.

    A table smaller than ``batch_size`` gives batches of all its rows, or
    with ``fill=True`` batches of ``batch_size`` rows cut from consecutive
    permutations (every row drawn equally often, a row at most
    ``⌈batch_size / n_rows⌉ + 1`` times in one batch).
    """
    if fill and batch_size > n_rows:
        per_batch = -(-batch_size // n_rows) + 1   # permutations a batch can span
        leftover = torch.zeros(0, dtype=torch.long, device=device)
        while True:
            perms = [torch.randperm(n_rows, generator=generator, device=device) for _ in range(per_batch)]
            pool = torch.cat([leftover, *perms])
            n_full = len(pool) // batch_size
            for k in range(n_full):
                yield pool[k * batch_size: (k + 1) * batch_size]
            leftover = pool[n_full * batch_size:]
    batch_size = min(batch_size, n_rows)
    while True:
        perm = torch.randperm(n_rows, generator=generator, device=device)
        for start in range(0, n_rows - batch_size + 1, batch_size):
            yield perm[start: start + batch_size]


def train(step, *, n_rows, batch_size, n_steps, generator, device, verbose=True,
          desc="training", log_every=25, monitor=None, sample_rate=None, start_step=0, history=None,
          checkpoint=None, checkpoint_every=None, rows=None, fill_batches=False):
    """Run ``n_steps`` calls of ``step(index)`` and return the loss history.

    Parameters
    ----------
    step : callable
        ``step(index: LongTensor) -> dict[str, Tensor]`` performs one update on
        the rows ``index`` and returns detached scalar losses.
    n_rows, batch_size, n_steps : int
    generator : torch.Generator
        On ``device``; the only source of randomness for batching.
    verbose : bool
        Show a progress bar (only when stderr is a terminal).
    monitor : callable, default=None
        ``monitor() -> dict[str, Tensor]`` evaluated at every log point
        (e.g. mode coverage of a GAN); its values join the history.
    sample_rate : float, default=None
        Poisson sampling for differentially private training: each row joins
        each batch independently with this probability (``batch_size`` is
        then only the expected size).
    start_step : int, default=0
        Steps already taken (resuming from a checkpoint): the loop runs
        ``start_step … n_steps − 1``.
    history : dict of lists, default=None
        The history of those steps, continued.
    checkpoint : callable, default=None
        ``checkpoint(steps_done, history)``, called every
        ``checkpoint_every`` steps and at the end.
    rows : LongTensor, default=None
        The rows this process may draw (its shard under
        ``torch.distributed``); all ``n_rows`` by default.
    fill_batches : bool, default=False
        With fewer rows than ``batch_size``, still draw ``batch_size`` rows
        per step (rows repeat within a batch, each as often as the others
        over the run) rather than one batch of every row.

    Returns
    -------
    history : dict of lists
        ``"step"``, ``"seconds"`` and each loss, averaged over ``log_every``
        steps.
    """
    history = {k: list(v) for k, v in history.items()} if history else {"step": [], "seconds": []}
    offset = history["seconds"][-1] if history["seconds"] else 0.0
    start = time.perf_counter()
    running, n_run = None, 0
    disable = (not verbose) or not sys.stderr.isatty()
    with tqdm(total=n_steps, initial=start_step, desc=desc, disable=disable, leave=False, unit="step") as bar:
        if sample_rate is None:
            batches = _batches(n_rows if rows is None else len(rows), batch_size, generator, device,
                               fill=fill_batches)
        else:
            batches = poisson_batches(n_rows, sample_rate, generator, device)
        if rows is not None:
            batches = (rows[index] for index in batches)
        for k in range(start_step, n_steps):
            losses = step(next(batches))
            stacked = torch.stack([v.detach().float() for v in losses.values()])
            running = stacked if running is None else running + stacked
            n_run += 1
            if n_run == log_every or k == n_steps - 1:
                names = list(losses)
                if monitor is not None:
                    extra = monitor()
                    names += list(extra)
                    running = torch.cat([running / n_run, torch.stack([v.float() for v in extra.values()])])
                else:
                    running = running / n_run
                values = running.tolist()   # one host sync per log_every steps
                history["step"].append(k + 1)
                history["seconds"].append(offset + time.perf_counter() - start)
                for name, v in zip(names, values):
                    history.setdefault(name, []).append(v)
                bar.set_postfix({name: f"{v:.3f}" for name, v in zip(names, values)}, refresh=False)
                bar.update(n_run)
                running, n_run = None, 0
            if checkpoint is not None and ((checkpoint_every and (k + 1) % checkpoint_every == 0)
                                           or k == n_steps - 1):
                checkpoint(k + 1, history)   # a killed fit loses at most checkpoint_every steps
    return history
