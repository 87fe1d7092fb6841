"""One optimisation step of a conditional image GAN: ``n_critic`` critic updates, then one generator update."""

from __future__ import annotations

import contextlib

import torch

from ..distributed import allreduce_gradients
from ..privacy.dp_sgd import poisson_sample, private_backward
from .losses import critic_loss, generator_loss, gradient_penalty

__all__ = ["ImageGANStep"]


class ImageGANStep:
    """Callable ``step(index) -> {"critic": tensor, "generator": tensor}`` for :func:`synthaug.training.train`.

    Fake image *i* is generated for real image *i*'s class, so both sides of
    the critic see the same classes; further critic steps draw fresh rows.
    The fakes of the last critic step (detached there) serve the generator
    step, scored again by the updated critic.

    Under DP-SGD (``sample_rate`` set, critic wrapped by Opacus) the real
    images are Poisson samples, their per-image losses are clipped, and the
    ``fake_batch`` generated images get classes drawn from ``class_prior``
    (a DP release), never from the data. A share ``label_dropout`` of the
    labels becomes "no class" (index ``len(class_prior)``) on both sides, so
    the same generator also draws from p(x) (used to inpaint an image whose
    class is unknown).
    """

    def __init__(self, g_net, critic, opt_g, opt_c, ema, images, labels, *, loss, n_critic=1, gp_weight=0.0,
                 noise_dim=64, generator, class_prior=None, label_dropout=0.0, autocast=False, sample_rate=None,
                 fake_batch=None):
        self.g_net, self.critic, self.opt_g, self.opt_c, self.ema = g_net, critic, opt_g, opt_c, ema
        self.images, self.labels = images, labels
        self.loss, self.n_critic, self.gp_weight, self.noise_dim = loss, n_critic, gp_weight, noise_dim
        self.generator, self.autocast = generator, autocast
        self.class_prior = class_prior
        self.label_dropout = label_dropout
        self.sample_rate, self.fake_batch = sample_rate, fake_batch

    def _context(self):
        device = self.images.device
        return torch.autocast(device.type, dtype=torch.bfloat16) if self.autocast else contextlib.nullcontext()

    def _fake(self, labels, n):
        noise = torch.randn((n, self.noise_dim), generator=self.generator, device=self.images.device)
        return self.g_net(noise, labels)

    def _fake_labels(self, n):
        if self.class_prior is None:
            return None
        return self._dropped(torch.multinomial(self.class_prior, n, replacement=True, generator=self.generator))

    def _dropped(self, y):
        """Labels with a share ``label_dropout`` replaced by "no class", so the generator also learns p(x)."""
        if y is None or not self.label_dropout:
            return y
        drop = torch.rand(y.shape, generator=self.generator, device=y.device) < self.label_dropout
        return torch.where(drop, len(self.class_prior), y)

    def _draw(self, k, index):
        if not k:
            return index
        n, device = self.images.shape[0], self.images.device
        if self.sample_rate is not None:
            return poisson_sample(n, self.sample_rate, self.generator, device)
        return torch.randint(n, index.shape, generator=self.generator, device=device)

    def __call__(self, index):
        private = self.sample_rate is not None
        for k in range(self.n_critic):
            index = self._draw(k, index)
            x = self.images[index]
            y = None if self.labels is None else self._dropped(self.labels[index])
            y_fake = self._fake_labels(self.fake_batch) if private else y
            n_fake = self.fake_batch if private else x.shape[0]
            with self._context():
                fake = self._fake(y_fake, n_fake) if k == self.n_critic - 1 else None
                with torch.no_grad():
                    fake_c = fake.detach() if fake is not None else self._fake(y_fake, n_fake)
                if private:
                    scores = self.critic(torch.cat([x, fake_c]), None if y is None else torch.cat([y, y_fake]))
                    per_row = critic_loss(self.loss, scores[: x.shape[0]], scores[x.shape[0]:], reduction="none")
                else:
                    loss_c = critic_loss(self.loss, self.critic(x, y), self.critic(fake_c, y_fake))
                    if self.gp_weight:
                        loss_c = loss_c + self.gp_weight * gradient_penalty(
                            lambda v: self.critic(v, y), x, fake_c, generator=self.generator)
            self.opt_c.zero_grad(set_to_none=True)
            if private:
                private_backward(self.critic, self.opt_c, per_row)
                loss_c = per_row.detach().mean()
            else:
                loss_c.backward()
            allreduce_gradients(self.critic)   # a no-op in one process
            self.opt_c.step()
        self.critic.requires_grad_(False)   # the generator step needs no critic gradients
        if private:
            self.critic.disable_hooks()     # nor per-sample ones
        with self._context():
            loss_g = generator_loss(self.loss, self.critic(fake, y_fake))
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        allreduce_gradients(self.g_net)
        self.opt_g.step()
        if private:
            self.critic.enable_hooks()
        self.critic.requires_grad_(True)
        self.ema.update(self.g_net)
        return {"critic": loss_c.detach(), "generator": loss_g.detach()}
