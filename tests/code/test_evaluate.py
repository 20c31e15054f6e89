import numpy as np
from sklearn.metrics import f1_score

from cppcc_themes.train.evaluate import bootstrap_macro_f1


def test_bootstrap_matches_scikit_learn_f1_on_the_same_resamples():
    rng = np.random.default_rng(1)
    truth = (rng.random((96, 5)) < 0.25).astype(int)
    pred = (rng.random((96, 5)) < 0.25).astype(int)
    truth[:, 4] = pred[:, 4] = 0  # a theme absent from both sides scores 0, as in scikit-learn
    draws = np.random.default_rng(7)
    reference = [f1_score(truth[rows], pred[rows], average="macro", zero_division=0)
                 for rows in (draws.integers(0, 96, 96) for _ in range(200))]
    low, high = bootstrap_macro_f1(truth, pred, n_resamples=200, seed=7)
    np.testing.assert_allclose([low, high], np.percentile(reference, [2.5, 97.5]))
    assert low < high
