"""Per-face tracking and smoothing: ids follow moving boxes, probabilities are an EMA per face."""

import numpy as np
import pytest

from edge.track import Tracker, iou_matrix


def _p(i, n=7):
    return np.eye(n, dtype=np.float32)[i]


def test_iou_matrix():
    a = np.array([[0, 0, 10, 10], [100, 100, 10, 10]])
    b = np.array([[5, 0, 10, 10], [0, 0, 10, 10], [50, 50, 4, 4]])
    iou = iou_matrix(a, b)
    assert iou.shape == (2, 3)
    np.testing.assert_allclose(iou[0], [50 / 150, 1.0, 0.0])
    np.testing.assert_allclose(iou[1], 0.0)


def test_ids_follow_moving_faces_and_new_faces_get_new_ids():
    t = Tracker(alpha=1.0)
    ids0 = [i for i, _ in t.update(np.array([[0, 0, 50, 50], [200, 0, 50, 50]]), np.stack([_p(0), _p(1)]))]
    # both move a little and come back in the other order; a third appears far away
    moved = np.array([[205, 3, 50, 50], [4, 2, 50, 50], [400, 300, 40, 40]])
    ids1 = [i for i, _ in t.update(moved, np.stack([_p(1), _p(0), _p(2)]))]
    assert ids1[:2] == [ids0[1], ids0[0]]
    assert ids1[2] not in ids0


def test_probabilities_are_an_exponential_moving_average_per_face():
    t = Tracker(alpha=0.25)
    box = np.array([[10, 10, 60, 60]])
    (_, p0), = t.update(box, _p(3)[None])
    np.testing.assert_allclose(p0, _p(3))
    (_, p1), = t.update(box + 2, _p(0)[None])
    np.testing.assert_allclose(p1, 0.25 * _p(0) + 0.75 * _p(3))
    assert int(np.argmax(p1)) == 3, "one odd frame does not flip the label"
    (_, p2), = t.update(box, _p(0)[None])
    np.testing.assert_allclose(p2, 0.25 * _p(0) + 0.75 * p1)


def test_alpha_one_turns_smoothing_off():
    t = Tracker(alpha=1.0)
    box = np.array([[10, 10, 60, 60]])
    t.update(box, _p(3)[None])
    (_, p), = t.update(box, _p(5)[None])
    np.testing.assert_allclose(p, _p(5))


@pytest.mark.parametrize("missed, same", [(2, True), (3, False)])
def test_tracks_survive_short_gaps_only(missed, same):
    t = Tracker(max_missed=2)
    box = np.array([[10, 10, 60, 60]])
    (first, _), = t.update(box, _p(1)[None])
    for _ in range(missed):
        assert t.update(np.zeros((0, 4)), None) == []
    (again, _), = t.update(box, _p(1)[None])
    assert (again == first) is same


def test_detection_only_tracks_have_no_probabilities():
    t = Tracker()
    [(tid, probs)] = t.update(np.array([[0, 0, 30, 30]]), None)
    assert tid == 1 and probs is None
