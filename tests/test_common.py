"""scikit-learn's common estimator checks on the samplers (tiny training)."""

from imblearn.utils.estimator_checks import parametrize_with_checks as imblearn_parametrize_with_checks
from sklearn.utils.estimator_checks import parametrize_with_checks

from synthaug import DiffusionSampler, GANSampler

from _tiny import TINY, TINY_GAN

# Checks that do not apply to a generative sampler, each with the reason.
_NOT_APPLICABLE = {
    # sklearn feeds constant or near-constant columns, which synthaug rejects by contract (API.md).
    "check_fit2d_1sample": "a single row cannot describe a distribution; fit raises a clear ValueError",
}


def _expected_failed_checks(estimator):
    return _NOT_APPLICABLE


@parametrize_with_checks([DiffusionSampler(**TINY, random_state=0), GANSampler(**TINY_GAN, random_state=0)],
                         expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# imbalanced-learn's sampler checks (which include scikit-learn's); each skipped check with the reason.
_IMBLEARN_NOT_APPLICABLE = {
    **_NOT_APPLICABLE,
}


def _imblearn_expected_failed_checks(estimator):
    return _IMBLEARN_NOT_APPLICABLE


@imblearn_parametrize_with_checks(
    [DiffusionSampler(**TINY, random_state=0), GANSampler(**TINY_GAN, random_state=0)],
    expected_failed_checks=_imblearn_expected_failed_checks)
def test_imblearn_sampler_compatible(estimator, check):
    check(estimator)
