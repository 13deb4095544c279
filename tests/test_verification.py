"""Verification metrics on score sets whose answers are known by hand."""

import numpy as np
import pytest

from mobiface_tf.errors import BadInputError
from mobiface_tf.eval import verification as v


def test_perfect_separation_gives_accuracy_1_auc_1_eer_0():
    scores = np.r_[np.linspace(0.6, 0.9, 20), np.linspace(-0.2, 0.3, 20)]
    issame = np.r_[np.ones(20, bool), np.zeros(20, bool)]
    folds = np.r_[np.arange(20) % 10, np.arange(20) % 10]
    m = v.verification_metrics(scores, issame, folds, fars=(1e-3, 0.1))
    assert m["accuracy_mean"] == 1.0 and m["accuracy_std"] == 0.0
    assert m["auc"] == 1.0
    assert m["eer"] == 0.0
    assert [t["tar"] for t in m["tar_at_far"]] == [1.0, 1.0]
    # Every fold threshold lies strictly between the classes.
    assert all(0.3 < t <= 0.6 for t in m["fold_thresholds"])


def test_hand_computed_roc_points():
    #         genuine: 0.9 0.7 0.4      impostor: 0.8 0.3 0.2 0.1
    scores = np.array([0.9, 0.7, 0.4, 0.8, 0.3, 0.2, 0.1])
    issame = np.array([1, 1, 1, 0, 0, 0, 0], bool)
    fpr, tpr, thresholds = v.roc_curve(scores, issame)
    assert thresholds[0] == np.inf and (fpr[0], tpr[0]) == (0, 0)
    # At threshold 0.7 ("same iff score >= 0.7"): genuine 0.9, 0.7 accepted; impostor 0.8.
    k = int(np.flatnonzero(thresholds == 0.7)[0])
    assert tpr[k] == pytest.approx(2 / 3) and fpr[k] == pytest.approx(1 / 4)
    assert (fpr[-1], tpr[-1]) == (1.0, 1.0)
    # AUC by counting ordered genuine-impostor pairs: 0.9 beats 4, 0.7 and 0.4 beat 3 each.
    assert v.auc(fpr, tpr) == pytest.approx(10 / 12)
    # TAR at FAR 0.25 accepts at most one impostor: threshold just above 0.3 -> 3/3 genuine.
    (entry,) = v.tar_at_far(scores, issame, fars=(0.25,))
    assert entry["tar"] == 1.0 and entry["achieved_far"] == 0.25
    assert 0.3 < entry["threshold"] <= 0.4
    # FAR 0.1 < 1/4 impostors: no impostor may be accepted -> threshold above 0.8.
    (entry,) = v.tar_at_far(scores, issame, fars=(0.1,))
    assert entry["tar"] == pytest.approx(1 / 3) and entry["achieved_far"] == 0.0
    assert entry["resolvable"] is False


def test_ties_move_together_through_the_roc():
    scores = np.array([0.5, 0.5, 0.5, 0.5, 0.9, 0.1])
    issame = np.array([1, 0, 1, 0, 1, 0], bool)
    fpr, tpr, thresholds = v.roc_curve(scores, issame)
    # One point per distinct score: inf, 0.9, 0.5, 0.1.
    np.testing.assert_array_equal(thresholds, [np.inf, 0.9, 0.5, 0.1])
    np.testing.assert_allclose(tpr, [0, 1 / 3, 1, 1])
    np.testing.assert_allclose(fpr, [0, 0, 2 / 3, 1])
    # The tie counts as half-correct in the AUC, independent of input order.
    assert v.auc(fpr, tpr) == pytest.approx(v.auc(*v.roc_curve(scores[::-1], issame[::-1])[:2]))
    # Genuine-impostor pairs: 0.9 beats all 3; each genuine 0.5 beats 0.1 and ties two 0.5s.
    assert v.auc(fpr, tpr) == pytest.approx((3 + 2 * (1 + 2 * 0.5)) / 9)
    # A threshold never splits the tie: both tied impostors or neither are accepted.
    threshold, achieved = v.threshold_at_far(scores[~issame], far=0.34)
    assert threshold > 0.5 and achieved == 0.0


def test_auc_of_ties_counts_half():
    scores = np.array([0.5, 0.5])
    issame = np.array([True, False])
    fpr, tpr, _ = v.roc_curve(scores, issame)
    assert v.auc(fpr, tpr) == pytest.approx(0.5)


def test_best_threshold_takes_the_midpoint_and_ties_stay_together():
    threshold, accuracy = v.best_threshold([0.9, 0.8, 0.2, 0.1], [1, 1, 0, 0])
    assert threshold == pytest.approx(0.5) and accuracy == 1.0
    threshold, accuracy = v.best_threshold([0.5, 0.5, 0.9, 0.1], [1, 0, 1, 0])
    assert accuracy == 0.75


def test_fold_threshold_comes_from_the_other_folds():
    # Folds 1..9 separate at 0.5 (genuine 0.6, impostor 0.4). Fold 0 has genuine 0.45,
    # impostor 0.3: its own best threshold would give 100 %, the 9-fold one (0.5) gives 50 %.
    scores, issame, folds = [], [], []
    for fold in range(10):
        genuine, impostor = (0.45, 0.3) if fold == 0 else (0.6, 0.4)
        scores += [genuine, impostor]
        issame += [True, False]
        folds += [fold, fold]
    result = v.kfold_accuracy(scores, issame, folds)
    assert result["folds"] == list(range(10))
    assert result["fold_thresholds"][0] == pytest.approx(0.5)
    assert result["fold_accuracies"][0] == 0.5
    assert result["fold_accuracies"][1:] == [1.0] * 9
    assert result["accuracy_mean"] == pytest.approx(0.95)
    assert result["accuracy_std"] == pytest.approx(np.std([0.5] + [1.0] * 9))


def test_eer_interpolates_between_roc_points():
    # genuine 0.9, 0.6; impostor 0.7, 0.1: FAR = FRR = 0.5 at threshold 0.7.
    fpr, tpr, _ = v.roc_curve([0.9, 0.6, 0.7, 0.1], [1, 1, 0, 0])
    assert v.equal_error_rate(fpr, tpr) == pytest.approx(0.5)


def test_cosine_scores_and_flip_sum():
    a = np.array([[3.0, 4.0], [1.0, 0.0]])
    b = np.array([[6.0, 8.0], [0.0, 2.0]])
    np.testing.assert_allclose(v.cosine_scores(a, b), [1.0, 0.0], atol=1e-6)
    faces = np.arange(2 * 4 * 4 * 3, dtype=np.float32).reshape(2, 4, 4, 3)
    embed = lambda x: x[:, 0, :, 0]  # the first row: mirroring reverses it
    np.testing.assert_allclose(v.flip_embeddings(embed, faces),
                               faces[:, 0, :, 0] + faces[:, 0, ::-1, 0])


def test_pair_verification_labels_both_modes_and_fills_the_cache():
    rng = np.random.default_rng(0)
    faces = rng.integers(0, 255, (8, 4, 4, 3)).astype(np.uint8)
    calls = []

    def embed(x):
        calls.append(len(x))
        return x.reshape(len(x), -1).astype(np.float32) - 127.5

    ia, ib = np.array([0, 2, 4, 6] * 5), np.array([1, 3, 5, 7] * 5)
    issame = np.array([1, 0, 1, 0] * 5, bool)
    folds = np.repeat(np.arange(5), 4)
    cache = {}
    out = v.pair_verification(embed, faces, ia, ib, issame, folds, flip="both", embeddings=cache)
    assert set(out) == {"no_flip", "flip_sum"} and set(cache) == {"plain", "mirror"}
    out_again = v.pair_verification(embed, faces, ia, ib, issame, folds, flip="both",
                                     embeddings=cache)
    assert calls == [8, 8]  # the second run used the cache
    assert out_again["flip_sum"]["auc"] == out["flip_sum"]["auc"]
    assert set(v.pair_verification(embed, faces, ia, ib, issame, folds, flip="off")) == {"no_flip"}


def test_bad_inputs_name_the_problem():
    with pytest.raises(BadInputError, match="differ in length"):
        v.roc_curve([0.1, 0.2], [True])
    with pytest.raises(BadInputError, match="genuine and impostor"):
        v.roc_curve([0.1, 0.2], [True, True])
    with pytest.raises(BadInputError, match="NaN"):
        v.best_threshold([np.nan, 0.2], [True, False])
    with pytest.raises(BadInputError, match="far must be"):
        v.threshold_at_far([0.1], 0.0)
