"""The face locator's integer path (edge.locator): downscale, input table and decoding, on hand-built inputs
whose results are worked out by hand in the comments (the C++ port is checked against the same rules)."""

from __future__ import annotations

import numpy as np
import pytest

from edge.core.area_resize import area_resize
from edge.core.errors import UserError
from edge.core.locator_spec import LocatorSpec
from edge.core.spec import Quant
from edge.locator import (
    DecodeParams,
    decode,
    downscale,
    input_table,
    peaks,
    quantize_output,
    score_min_q,
    square_in_frame,
    to_frame,
)

# 32x24 input, stride 8: a 3 x 4 grid. Output scale 1/16, zero point 0: v(q) = q * (1/16) * 8 * 16 = 8q
# (in 1/16 input pixels), so every decoded value below is exact.
SPEC = LocatorSpec(input_width=32, input_height=24, stride=8, score_threshold=0.5, nms_iou=0.4, max_faces=4,
                   input_quant=Quant(1 / 255, -128), output_quant=Quant(1 / 16, 0))
P = DecodeParams.from_spec(SPEC)


def grid(*cells):
    """A raw output grid with (row, col, score, qx, qy, qw, qh) cells set, every other score -100."""
    raw = np.zeros((3, 4, 5), np.int8)
    raw[:, :, 0] = -100
    for r, c, *values in cells:
        raw[r, c] = values
    return raw


def test_params_from_spec():
    assert (P.grid_rows, P.grid_cols, P.zero_point, P.score_min, P.box_mult, P.nms_pct) == (3, 4, 0, 0, 8 << 16, 40)


def test_one_face_decodes_to_the_box_worked_out_by_hand():
    # cell (1, 2): cx = 2*128 + 4*8 = 288, cy = 1*128 + 8*8 = 192 (1/16 px); bw = 16*8 = 128, bh = 24*8 = 192;
    # x0 = 224, x1 = 352, y0 = 96, y1 = 288. Frame 64x48: X(a) = (64a + 256) // 512, Y(a) = (48a + 192) // 384:
    # X(224) = 28, X(352) = 44, Y(96) = 12, Y(288) = 36: 16 x 24 at (28, 12), squared: side 24, x = 28 - 8 // 2.
    found = decode(grid((1, 2, 20, 4, 8, 16, 24)), P, 64, 48)
    assert found.boxes.tolist() == [[24, 12, 24, 24]]
    assert found.scores.tolist() == [20]
    assert found.sub_boxes.tolist() == [[224, 96, 352, 288]]
    same = decode(grid((1, 2, 20, 4, 8, 16, 24))[None], P, 64, 48)  # the (1, rows, cols, 5) tensor as well
    assert same.boxes.tolist() == found.boxes.tolist()


def test_threshold_is_compared_on_the_int8_score():
    assert decode(grid((1, 2, -1, 4, 8, 16, 24)), P, 64, 48).boxes.shape == (0, 4)  # sigmoid(-1/16) < 0.5
    assert len(decode(grid((1, 2, 0, 4, 8, 16, 24)), P, 64, 48)) == 1  # sigmoid(0) = 0.5
    assert score_min_q(0.5, 0.1, -10) == -10
    assert score_min_q(0.75, 0.1, 0) == 11  # logit(0.75) = 1.0986: q = 11 is the first with q * 0.1 >= it
    assert score_min_q(0.999999, 0.01, 0) == 128  # no int8 value reaches it: nothing is ever a face


def test_a_plateau_of_equal_scores_peaks_at_its_first_cell_in_raster_order():
    score = np.full((3, 4), -100, np.int8)
    score[1, 1] = score[1, 2] = score[2, 1] = 30
    assert peaks(score, 0).tolist() == [1 * 4 + 1]
    score[0, 0] = 31  # a higher neighbour (diagonal, earlier) takes the peak from (1, 1)
    assert peaks(score, 0).tolist() == [0]


def test_offsets_are_clamped_to_the_cell_and_sizes_to_two_pixels():
    # qx = 127 -> v = 1016 > 127: ox = 127; qw = -5 -> v(0) = 0 -> bw = 32; qy = 0, qh = 2 -> bh = 32
    found = decode(grid((0, 0, 10, 127, 0, -5, 2)), P, 32, 24)
    assert found.sub_boxes.tolist() == [[127 - 16, -16, 127 + 16, 16]]
    # clamped to the frame: x from X(111) = 7 to X(143) = 9, y from 0 to Y(16) = 1; squared (side 2) from y 0
    assert found.boxes.tolist() == [[7, 0, 2, 2]]


def test_nms_keeps_the_higher_score_then_the_earlier_cell():
    # two peaks two cells (256) apart with 6-cell (768) square boxes: IoU = 512 / (2 * 768 - 512) = 0.5 > 0.4
    a, b = (0, 0, 50, 4, 4, 96, 96), (0, 2, 60, 4, 4, 96, 96)
    found = decode(grid(a, b), P, 32, 24)
    assert found.scores.tolist() == [60]
    tie = decode(grid((0, 0, 50, 4, 4, 96, 96), (0, 2, 50, 4, 4, 96, 96)), P, 32, 24)
    assert tie.sub_boxes[:, 0].tolist() == [32 - 384]  # the earlier cell (0, 0) wins the tie
    small = decode(grid((0, 0, 50, 4, 4, 8, 8), (2, 3, 60, 4, 4, 8, 8)), P, 32, 24)
    assert small.scores.tolist() == [60, 50]  # no overlap: both, higher score first


def test_at_most_max_faces_in_score_order():
    cells = [(r, c, 10 + 4 * r + c, 4, 4, 8, 8) for r in (0, 2) for c in (0, 2)] + [(0, 3, 5, 4, 4, 8, 8)]
    raw = grid(*cells)
    raw[1, :, 0] = -100
    found = decode(raw, P, 32, 24)
    assert found.scores.tolist() == [20, 18, 12, 10]  # (0, 3) is not a peak: (0, 2) beside it scores higher


def test_to_frame_rounds_half_up_and_never_empties_a_box():
    # 1/16-px boxes of 2 input px map to at least one frame pixel whatever the frame size
    sub = np.array([[0, 0, 32, 32], [16 * 32 - 32, 16 * 24 - 32, 16 * 32, 16 * 24]])
    for w, h in ((32, 24), (33, 25), (160, 120), (177, 145)):
        boxes = to_frame(sub, P, w, h)
        assert (boxes[:, 2:] >= 1).all() and (boxes[:, :2] + boxes[:, 2:] <= [w, h]).all()
    # X(8) = (512 + 256) // 512 = 1, X(24) = 1792 // 512 = 3; Y(8) = 576 // 384 = 1, Y(24) = 1344 // 384 = 3
    assert to_frame(np.array([[8, 8, 24, 24]]), P, 64, 48).tolist() == [[1, 1, 2, 2]]
    assert to_frame(np.array([[8, 8, 24, 24]]), P, 32, 24).tolist() == [[1, 1, 1, 1]]  # 0.5 and 1.5 round up


def test_downscale_is_the_integer_area_resize():
    gray = np.array([[0, 1, 2, 3, 4], [10, 11, 12, 13, 255]], np.uint8)
    # W=5 -> 2, in halves of a pixel: output 0 covers [0, 5) (weights 2, 2, 1), output 1 [5, 10) (1, 2, 2); H=2 -> 1:
    # both rows, weight 1; n = 5 * 2 = 10. (0+2+2 + 20+22+12) = 58 -> 63 // 10 = 6; (2+6+8 + 12+26+510) = 564 -> 56
    assert downscale(gray, 2, 1).tolist() == [[6, 56]]
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (120, 160), dtype=np.uint8)
    out = np.empty((72, 96), np.uint8)
    assert downscale(gray, 96, 72, out=out) is out
    assert np.array_equal(out, area_resize(gray, 96, 72))


def test_downscale_refuses_a_frame_smaller_than_the_input():
    with pytest.raises(UserError, match=r"frame: 95x72 is smaller than the face locator's 96x72 input"):
        downscale(np.zeros((72, 95), np.uint8), 96, 72)
    with pytest.raises(UserError, match="expected a 2-D uint8"):
        downscale(np.zeros((72, 96, 3), np.uint8), 96, 72)


def test_input_table_of_the_usual_quantization_is_pixel_minus_128():
    assert input_table(SPEC).tolist() == [p - 128 for p in range(256)]
    other = LocatorSpec(input_width=32, input_height=24, input_quant=Quant(2 / 255, 0), output_quant=Quant(0.1, 0))
    assert input_table(other)[[0, 1, 2, 3, 255]].tolist() == [0, 1, 1, 2, 127]  # p / 2 half away from 0, clamped


def test_a_float_spec_cannot_be_decoded():
    with pytest.raises(UserError, match="float locator"):
        DecodeParams.from_spec(LocatorSpec(input_width=32, input_height=24))
    with pytest.raises(UserError, match="float locator"):
        input_table(LocatorSpec(input_width=32, input_height=24))


def test_quantize_output_matches_tflite_rounding():
    assert quantize_output(np.array([0.03125, 0.09375, -20.0, 20.0]), SPEC).tolist() == [0, 2, -128, 127]


def test_square_in_frame_keeps_the_centre_in_integers_and_clips():
    boxes = np.array([[10, 10, 4, 8], [10, 10, 5, 8], [0, 2, 6, 3], [60, 40, 4, 8]])
    # side 8: x = 10 - 4 // 2 = 8, then 10 - 3 // 2 = 9; side 6: y = 2 - 3 // 2 = 1; side 8: x 58..66 clipped to 64
    assert square_in_frame(boxes, 64, 48).tolist() == [[8, 10, 8, 8], [9, 10, 8, 8], [0, 1, 6, 6], [58, 40, 6, 8]]
