"""Adam for synthaug's networks, and the learning-rate schedule of the diffusion models.

:class:`Adam` is the update of ``torch.optim.Adam`` / ``AdamW`` with
``fused=True`` — it calls the same fused kernel (``torch._fused_adam_``,
``torch._fused_adamw_``; tested against ``torch.optim``) — without what
``torch.optim.Optimizer`` adds around it. Building a ``torch.optim``
optimizer imports torch's compiler stack (``torch._dynamo``): over a second
and tens of MiB more in each process that fits a model (more where triton is
installed), a noticeable share of a fit of a small table, paid again by
every command-line call; and each ``step`` goes through profiling and
compiler wrappers that cost a sizeable share of the kernel's own time on
the small networks here. Under DP-SGD Opacus wraps a ``torch.optim`` optimizer:
:meth:`Adam.to_torch` builds the same one.

:class:`WarmupCosine` sets the learning rate of any optimizer with
``param_groups`` (this one, ``torch.optim``'s, Opacus').
"""

from __future__ import annotations

import math

import torch

__all__ = ["Adam", "WarmupCosine", "clip_grad_norm"]

_FOREIGN_STATE = ("the optimizer state to restore is not synthaug.optim's (a checkpoint written by an earlier "
                  "version of synthaug?); delete the checkpoint to start afresh.")


class Adam:
    """Adam (L2 weight decay) or, with ``decoupled_weight_decay=True``, AdamW over one group of parameters.

    Parameters
    ----------
    params : iterable of Tensor
        The parameters to update (leaf tensors of one device and floating dtype).
    lr : float, default=1e-3
    betas : (float, float), default=(0.9, 0.999)
    eps : float, default=1e-8
    weight_decay : float, default=0.0
    decoupled_weight_decay : bool, default=False
        Decay the weights by ``lr * weight_decay`` apart from the gradient
        (AdamW) instead of adding ``weight_decay * param`` to it (Adam).

    Attributes
    ----------
    param_groups : list of dict
        One group: ``params`` and the hyper-parameters above by name;
        a schedule changes ``param_groups[0]["lr"]``, read at each step.
    state : dict
        Per parameter (by position): its step count (a float tensor on its
        device, as the kernel takes it) and the two moment estimates, made
        at its first step.

    Notes
    -----
    A parameter without a gradient at a step (``grad is None``) is left
    alone and its step count is not advanced, as ``torch.optim`` does. The
    step count stays on the device: no host synchronisation per step.

    Examples
    --------
    >>> import torch
    >>> w = torch.nn.Parameter(torch.tensor([1.0, -2.0]))
    >>> opt = Adam([w], lr=0.1)
    >>> for _ in range(100):
    ...     opt.zero_grad()
    ...     (w ** 2).sum().backward()
    ...     opt.step()
    >>> bool(w.abs().max() < 0.1)
    True
    """

    def __init__(self, params, *, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                 decoupled_weight_decay=False):
        params = list(params)
        if not params:
            raise ValueError("Adam got an empty parameter list.")
        self.param_groups = [{"params": params, "lr": lr, "betas": tuple(betas), "eps": eps,
                              "weight_decay": weight_decay, "decoupled_weight_decay": decoupled_weight_decay}]
        self.state = {}

    def zero_grad(self, set_to_none=True):
        """Drop (or zero) every parameter's gradient."""
        for p in self.param_groups[0]["params"]:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self):
        """One update of every parameter that has a gradient."""
        group = self.param_groups[0]
        chosen = [i for i, p in enumerate(group["params"]) if p.grad is not None]
        if not chosen:
            return
        for i in chosen:
            if i not in self.state:
                p = group["params"][i]
                self.state[i] = {"step": torch.zeros((), dtype=torch.float32, device=p.device),
                                 "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                                 "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format)}
        params = [group["params"][i] for i in chosen]
        states = [self.state[i] for i in chosen]
        steps = [s["step"] for s in states]
        torch._foreach_add_(steps, 1.0)
        kernel = torch._fused_adamw_ if group["decoupled_weight_decay"] else torch._fused_adam_
        beta1, beta2 = group["betas"]
        kernel(params, [p.grad for p in params], [s["exp_avg"] for s in states], [s["exp_avg_sq"] for s in states],
               [], steps, lr=group["lr"], beta1=beta1, beta2=beta2, weight_decay=group["weight_decay"],
               eps=group["eps"], amsgrad=False, maximize=False)

    def state_dict(self):
        """The step counts and moments by parameter position, and the hyper-parameters (a checkpoint's part)."""
        hyper = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        return {"state": {i: dict(s) for i, s in self.state.items()}, "param_groups": [hyper]}

    def load_state_dict(self, state_dict):
        """Restore (a copy of) what :meth:`state_dict` returned, its tensors on each parameter's device.

        ``ValueError`` for the state of another optimizer (e.g. ``torch.optim``'s, in a checkpoint written
        by an earlier version of synthaug).
        """
        params = self.param_groups[0]["params"]
        hyper = state_dict.get("param_groups", [{}])[0]
        if set(hyper) != set(self.param_groups[0]) - {"params"}:
            raise ValueError(_FOREIGN_STATE)
        self.param_groups[0].update(hyper)
        self.state = {int(i): {k: v.to(params[int(i)].device, copy=True) for k, v in s.items()}
                      for i, s in state_dict["state"].items()}

    def to_torch(self):
        """The ``torch.optim`` optimizer with the same parameters and hyper-parameters (for Opacus)."""
        group = self.param_groups[0]
        cls = torch.optim.AdamW if group["decoupled_weight_decay"] else torch.optim.Adam
        return cls(group["params"], lr=group["lr"], betas=group["betas"], eps=group["eps"],
                   weight_decay=group["weight_decay"], fused=True)


@torch.no_grad()
def clip_grad_norm(parameters, max_norm):
    """Scale the gradients of ``parameters`` (one device) to a joint 2-norm of at most ``max_norm``; return the norm.

    The arithmetic of ``torch.nn.utils.clip_grad_norm_(parameters, max_norm,
    foreach=True)`` — the gradients times ``min(1, max_norm / (norm + 1e-6))``,
    four tensor operations — without its per-call grouping of the tensors by
    device and dtype, which on a small network costs more than the
    operations. Parameters without a gradient are skipped; the norm stays a
    tensor (no host synchronisation).

    Examples
    --------
    >>> import torch
    >>> w = torch.nn.Parameter(torch.zeros(2))
    >>> w.grad = torch.tensor([3.0, 4.0])
    >>> float(clip_grad_norm([w], 1.0)), [round(float(g), 4) for g in w.grad]
    (5.0, [0.6, 0.8])
    """
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.zeros(())
    norm = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads)))
    torch._foreach_mul_(grads, torch.clamp(max_norm / (norm + 1e-6), max=1.0))
    return norm


class WarmupCosine:
    """Linear warm-up over ``warmup`` of ``n_steps``, then cosine decay to ``floor`` × the base learning rate.

    Sets ``param_groups[i]["lr"]`` of ``optimizer`` at construction (the
    first step's rate) and at each :meth:`step`, from the rates the groups
    had when it was built.

    Examples
    --------
    >>> import torch
    >>> opt = Adam([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    >>> sched = WarmupCosine(opt, 10, warmup=0.2)
    >>> rates = []
    >>> for _ in range(10):
    ...     rates.append(round(opt.param_groups[0]["lr"], 3))
    ...     sched.step()
    >>> rates
    [0.5, 1.0, 1.0, 0.966, 0.868, 0.722, 0.55, 0.378, 0.232, 0.134]
    """

    def __init__(self, optimizer, n_steps, *, warmup=0.05, floor=0.1):
        self.optimizer = optimizer
        self.n_steps, self.floor = n_steps, floor
        self.n_warm = max(1, int(warmup * n_steps))
        self.base_lrs = [g["lr"] for g in optimizer.param_groups]
        self.last_step = 0
        self._apply()

    def factor(self, step):
        """The multiple of the base rate at ``step`` (counted from 0)."""
        if step < self.n_warm:
            return (step + 1) / self.n_warm
        progress = min(1.0, (step - self.n_warm) / max(1, self.n_steps - self.n_warm))
        return self.floor + (1 - self.floor) * 0.5 * (1 + math.cos(math.pi * progress))

    def step(self):
        """Move to the next step's rate."""
        self.last_step += 1
        self._apply()

    def _apply(self):
        f = self.factor(self.last_step)
        for group, base in zip(self.optimizer.param_groups, self.base_lrs):
            group["lr"] = base * f

    def state_dict(self):
        return {"last_step": self.last_step, "base_lrs": list(self.base_lrs)}

    def load_state_dict(self, state_dict):
        if "last_step" not in state_dict:
            raise ValueError(_FOREIGN_STATE)
        self.last_step, self.base_lrs = int(state_dict["last_step"]), list(state_dict["base_lrs"])
        self._apply()
