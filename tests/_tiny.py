"""Shared tiny-training parameters (sklearn's INIT_PARAMS idea): tests run in seconds."""

from synthaug import DiffusionSampler, GANSampler

TINY = dict(max_steps=5, batch_size=16, width=8, depth=1, n_timesteps=8, sampling_steps=2, verbose=False)
TINY_GAN = dict(max_steps=5, batch_size=16, width=8, depth=1, critic_width=8, critic_depth=1, noise_dim=4, pac=2,
                n_critic=2, verbose=False)

#: each estimator with its tiny parameters, for tests that run on both
SAMPLERS = {"diffusion": (DiffusionSampler, TINY), "gan": (GANSampler, TINY_GAN)}


def tiny(kind, **params):
    """An unfitted estimator of ``kind`` with tiny training, overridden by ``params``."""
    cls, base = SAMPLERS[kind]
    return cls(**{**base, **params})
