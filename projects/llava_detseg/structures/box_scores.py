"""Scores of the boxes a grounded answer copied from its context."""
import numpy as np

from .text_codec import DetSegTextCodec, ParsedResponse


def copied_box_scores(codec: DetSegTextCodec, parsed: ParsedResponse,
                      head_bboxes: np.ndarray, head_labels: np.ndarray,
                      head_scores: np.ndarray,
                      floor_score: float) -> np.ndarray:
    """Per text box: the score of the head box it copies (same class, same
    bins: the item the grounded context offered), else its rank score
    (``(N_c - i) / N_c`` within its class) times ``floor_score``, below
    every copied one.

    Args:
        codec: The codec the context was written with.
        parsed: The decoded answer (original-image pixels).
        head_bboxes, head_labels, head_scores: The head's boxes that the
            context could offer (score >= ``floor_score``).
        floor_score (float): The context's score threshold.
    """
    out = parsed.scores * np.float32(floor_score)
    if head_bboxes is None or not len(head_bboxes) or not len(parsed.bboxes):
        return out
    shape = parsed.img_shape
    # the head's boxes as the context wrote them, decoded the same way
    items = codec.det_items(head_bboxes, head_labels, shape, head_scores)
    copies = codec.decode(codec.det_block(items), shape)
    order = np.argsort(-head_scores, kind='stable')[:len(items)]
    used = np.zeros(len(order), bool)
    for i, (box, label) in enumerate(zip(parsed.bboxes, parsed.labels)):
        same = (~used) & (copies.labels == label) & np.all(
            np.abs(copies.bboxes - box) < 1e-3, axis=1)
        if same.any():
            j = int(np.argmax(same))
            used[j] = True
            out[i] = head_scores[order[j]]
    return out
