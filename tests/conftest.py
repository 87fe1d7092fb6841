"""Test-suite settings."""

import pytest
import torch

# The suite trains tiny networks: one thread avoids OpenMP spin-waits that make
# small ops 10x slower on a busy 2-core machine.
torch.set_num_threads(1)


@pytest.fixture(scope="module", params=["diffusion", "gan"])
def kind(request):
    """Each sampler family in turn (``_tiny.tiny(kind)`` builds one with tiny training)."""
    return request.param
