"""Pair verification from similarity scores: k-fold accuracy, ROC, AUC, EER and TAR at FAR.

Conventions used throughout (and by `identification.py`):
- A score is the cosine similarity of two L2-normalized embeddings (`cosine_scores`).
- A pair is declared "same" when `score >= threshold`. Equal scores always fall on the same
  side of any threshold, so tied scores move through the ROC together (one ROC point per
  distinct score, never an order-dependent split of a tie).
- FAR (false accept rate) = accepted impostor pairs / impostor pairs; TAR = accepted genuine
  pairs / genuine pairs. The threshold for a FAR is the one accepting the most pairs while
  keeping the measured FAR <= the target (no interpolation, so the claim holds on the data).
- Flip test-time augmentation follows the field's convention (InsightFace, MobileFaceNet
  papers): the embedding of a face and of its horizontal mirror are summed before
  normalization. It is reported separately from the plain ("no_flip") figures.
"""

import numpy as np

from mobiface_tf.embedding import cosine_scores, l2_normalize
from mobiface_tf.errors import BadInputError

DEFAULT_FARS = (1e-3,)
FLIP_MODES = ("off", "on", "both")
# Below this many pairs in a fold, one pair moves its accuracy by more than 3 points: reported,
# with a warning, but no figure to compare models by.
MIN_PAIRS_PER_FOLD = 30


def flip_embeddings(embed_fn, faces):
    """Embeddings of faces plus those of their horizontal mirrors (flip-sum TTA), (N, D)."""
    faces = np.asarray(faces)
    return np.asarray(embed_fn(faces), np.float32) + np.asarray(embed_fn(faces[:, :, ::-1]),
                                                                np.float32)


def _check_scores(scores, issame):
    scores = np.asarray(scores, dtype=np.float64).ravel()
    issame = np.asarray(issame).ravel()
    if scores.shape != issame.shape:
        raise BadInputError(f"scores {scores.shape} and issame {issame.shape} differ in length")
    if not np.all(np.isfinite(scores)):
        raise BadInputError(f"{int(np.sum(~np.isfinite(scores)))} scores are NaN or infinite")
    return scores, issame.astype(bool)


def _accept_counts(scores, issame):
    """Distinct scores in descending order and, for each as threshold, accepted pair counts."""
    order = np.argsort(-scores, kind="stable")
    sorted_scores, sorted_same = scores[order], issame[order]
    true_accepts = np.cumsum(sorted_same)
    false_accepts = np.cumsum(~sorted_same)
    # The last position of each run of equal scores: a threshold there accepts the whole tie.
    last = np.r_[sorted_scores[1:] != sorted_scores[:-1], True]
    return sorted_scores[last], true_accepts[last], false_accepts[last]


def roc_curve(scores, issame):
    """ROC of "same iff score >= threshold".

    Returns:
        (fpr, tpr, thresholds): arrays starting at (0, 0) with threshold +inf (accept nothing),
        then one point per distinct score in descending order (ending at (1, 1)).
    """
    scores, issame = _check_scores(scores, issame)
    n_same, n_diff = int(issame.sum()), int((~issame).sum())
    if n_same == 0 or n_diff == 0:
        raise BadInputError(f"a ROC needs genuine and impostor pairs (received {n_same} "
                            f"genuine, {n_diff} impostor)")
    thresholds, ta, fa = _accept_counts(scores, issame)
    tpr = np.r_[0.0, ta / n_same]
    fpr = np.r_[0.0, fa / n_diff]
    return fpr, tpr, np.r_[np.inf, thresholds]


def auc(fpr, tpr):
    """Area under a ROC curve (trapezoids; ties make diagonal segments, i.e. count half)."""
    return float(np.trapezoid(tpr, fpr))


def equal_error_rate(fpr, tpr):
    """The rate where FAR equals the false reject rate 1 - TAR, interpolated along the ROC."""
    fnr = 1.0 - np.asarray(tpr)
    fpr = np.asarray(fpr)
    diff = fnr - fpr  # decreasing from 1 to -1 along the curve
    k = int(np.argmax(diff <= 0))
    if k == 0 or diff[k] == 0:
        return float(fpr[k])
    # Linear interpolation between the points on either side of the crossing.
    w = diff[k - 1] / (diff[k - 1] - diff[k])
    return float(fpr[k - 1] + w * (fpr[k] - fpr[k - 1]))


def threshold_at_far(impostor_scores, far, num_impostors=None):
    """The threshold whose FAR (impostors with score >= it) is the largest one <= `far`.

    Args:
        impostor_scores: impostor scores; may be only the largest ones when `num_impostors`
            gives the total (they must include the floor(far * num_impostors) + 1 largest).
        far: the target false accept rate, in (0, 1].
        num_impostors: the total number of impostor pairs (default: len(impostor_scores)).

    Returns:
        (threshold, achieved_far). When `far * num_impostors < 1` the threshold accepts no
        impostor at all: the FAR is below what the data can resolve.
    """
    if not 0 < far <= 1:
        raise BadInputError(f"far must be in (0, 1], received {far}")
    top = np.sort(np.asarray(impostor_scores, dtype=np.float64).ravel())[::-1]
    total = len(top) if num_impostors is None else int(num_impostors)
    allowed = int(np.floor(far * total + 1e-9))
    if allowed >= total:
        return float(top[-1]), 1.0
    if allowed >= len(top):
        raise BadInputError(f"need the {allowed + 1} largest impostor scores for FAR {far}, "
                            f"received {len(top)}")
    # Just above the first impostor that must be rejected; ties with it are rejected too.
    threshold = _just_above(top[allowed])
    accepted = int(np.sum(top >= threshold))
    return threshold, accepted / total


def _just_above(score):
    """The next float32 above `score`: it stays above it whether compared in float32 or float64
    (NumPy compares float32 scores with a Python float threshold in float32)."""
    return float(np.nextafter(np.float32(score), np.float32(np.inf)))


def tar_at_far(scores, issame, fars=DEFAULT_FARS):
    """TAR at each FAR: list of {"far", "tar", "threshold", "achieved_far", "resolvable"}."""
    scores, issame = _check_scores(scores, issame)
    genuine, impostor = scores[issame], scores[~issame]
    results = []
    for far in np.atleast_1d(fars):
        threshold, achieved = threshold_at_far(impostor, float(far))
        results.append({
            "far": float(far),
            "tar": float(np.mean(genuine >= threshold)) if len(genuine) else float("nan"),
            "threshold": threshold,
            "achieved_far": achieved,
            # With fewer than 1/far impostor pairs, a FAR this low cannot be measured.
            "resolvable": bool(far * len(impostor) >= 1),
        })
    return results


def best_threshold(scores, issame):
    """The accuracy-maximizing threshold on these pairs: (threshold, accuracy).

    Candidates are the midpoints between consecutive distinct scores (plus one above the
    highest and the lowest score itself); on equal accuracy the highest threshold wins.
    """
    scores, issame = _check_scores(scores, issame)
    distinct, ta, fa = _accept_counts(scores, issame)
    n_diff = int((~issame).sum())
    # Accepting the top k distinct scores, k = 0..m: correct = TA + rejected impostors.
    correct = np.r_[n_diff, ta + (n_diff - fa)]
    k = int(np.argmax(correct))
    if k == 0:
        threshold = _just_above(distinct[0])
    elif k == len(distinct):
        threshold = float(distinct[-1])
    else:
        threshold = float((distinct[k - 1] + distinct[k]) / 2)
    return threshold, float(correct[k] / len(scores))


def kfold_accuracy(scores, issame, folds):
    """Cross-validated accuracy: for each fold, the threshold chosen on the other folds.

    Args:
        scores, issame: per pair.
        folds: per pair, the fold id (e.g. LFW View 2's 10 folds of 600 pairs).

    Returns:
        dict with "accuracy_mean", "accuracy_std" (population std over folds, as InsightFace),
        "fold_accuracies", "fold_thresholds" and "folds" (ids in order).
    """
    scores, issame = _check_scores(scores, issame)
    folds = np.asarray(folds).ravel()
    if folds.shape != scores.shape:
        raise BadInputError(f"folds {folds.shape} and scores {scores.shape} differ in length")
    ids = np.unique(folds)
    warnings = check_folds(issame, folds)
    accuracies, thresholds = [], []
    for fold in ids:
        test = folds == fold
        threshold, _ = best_threshold(scores[~test], issame[~test])
        accuracies.append(float(np.mean((scores[test] >= threshold) == issame[test])))
        thresholds.append(threshold)
    return {
        "accuracy_mean": float(np.mean(accuracies)),
        "accuracy_std": float(np.std(accuracies)),
        "fold_accuracies": accuracies,
        "fold_thresholds": thresholds,
        "folds": ids.tolist(),
        "warnings": warnings,
    }


def check_folds(issame, folds):
    """Refuse pairs too few for k-fold accuracy; return warnings for folds too small to trust.

    Each fold's threshold is chosen on the other folds, which must then hold genuine and
    impostor pairs; with fewer than `MIN_PAIRS_PER_FOLD` pairs in a fold the accuracy moves in
    coarse steps, which the returned warning says.

    Raises:
        BadInputError: fewer than 2 folds, or a fold whose complement lacks genuine or impostor
            pairs (a 2-pair set, say), naming how many pairs there are.
    """
    issame, folds = np.asarray(issame, bool).ravel(), np.asarray(folds).ravel()
    ids, sizes = np.unique(folds, return_counts=True)
    if len(ids) < 2:
        raise BadInputError(f"k-fold accuracy needs at least 2 folds, received {ids.tolist()} "
                            f"({len(issame)} pairs)")
    for fold in ids:
        rest = issame[folds != fold]
        if rest.all() or not rest.any():
            raise BadInputError(
                f"{len(issame)} pairs in {len(ids)} folds are too few for k-fold accuracy: the "
                f"pairs outside fold {fold} are all {'genuine' if rest.all() else 'impostor'}, so no "
                "threshold can be chosen for it; use a set with many genuine and impostor pairs")
    smallest = int(sizes.min())
    if smallest < MIN_PAIRS_PER_FOLD:
        return [f"only {len(issame)} pairs ({smallest} in the smallest of {len(ids)} folds): one pair moves "
                f"a fold's accuracy by {100 / smallest:.1f} points; too few to compare models by"]
    return []


def verification_metrics(scores, issame, folds, fars=DEFAULT_FARS):
    """Everything reported for one set of scored pairs: k-fold accuracy, ROC, AUC, EER, TAR@FAR.

    The ROC, AUC, EER and TAR@FAR pool all pairs; accuracy is cross-validated over `folds`.
    """
    result = kfold_accuracy(scores, issame, folds)
    fpr, tpr, thresholds = roc_curve(scores, issame)
    result.update({
        "pairs": int(np.size(issame)),
        "genuine_pairs": int(np.sum(issame)),
        "impostor_pairs": int(np.size(issame) - np.sum(issame)),
        "auc": auc(fpr, tpr),
        "eer": equal_error_rate(fpr, tpr),
        "tar_at_far": tar_at_far(scores, issame, fars),
        "roc": {"fpr": fpr, "tpr": tpr, "thresholds": thresholds},
    })
    return result


def pair_verification(embed_fn, faces, index_a, index_b, issame, folds, *, flip="both",
                      fars=DEFAULT_FARS, embeddings=None):
    """Embed each face once, score the pairs, and report with and/or without flip TTA.

    Args:
        embed_fn: aligned uint8 (N, 112, 112, 3) -> (N, D).
        faces: the distinct faces the pairs use.
        index_a, index_b: per pair, row indices into `faces`.
        issame, folds: per pair.
        flip: "off" (plain embeddings), "on" (flip-summed) or "both".
        embeddings: optional precomputed {"plain": (N, D), "mirror": (N, D)}; missing entries
            are computed with `embed_fn` and stored back into the dict (so callers can cache).

    Returns:
        {"no_flip": metrics, "flip_sum": metrics} with the entries `flip` asks for.
    """
    if flip not in FLIP_MODES:
        raise BadInputError(f"flip must be one of {FLIP_MODES}, received {flip!r}")
    embeddings = {} if embeddings is None else embeddings
    if "plain" not in embeddings:
        embeddings["plain"] = np.asarray(embed_fn(faces), np.float32)
    results = {}
    index_a, index_b = np.asarray(index_a), np.asarray(index_b)
    if flip in ("off", "both"):
        plain = embeddings["plain"]
        scores = cosine_scores(plain[index_a], plain[index_b])
        results["no_flip"] = verification_metrics(scores, issame, folds, fars)
    if flip in ("on", "both"):
        if "mirror" not in embeddings:
            embeddings["mirror"] = np.asarray(embed_fn(np.asarray(faces)[:, :, ::-1]),
                                              np.float32)
        summed = embeddings["plain"] + embeddings["mirror"]
        scores = cosine_scores(summed[index_a], summed[index_b])
        results["flip_sum"] = verification_metrics(scores, issame, folds, fars)
    return results
