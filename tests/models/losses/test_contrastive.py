"""InfoNCE and the cross-modal alignment loss against a hand computation."""
import math

import torch

from llava_detseg.models.heads import ImageTextContrastiveHead
from llava_detseg.models.losses import (CrossModalAlignmentLoss, InfoNCELoss,
                                        cross_modal_alignment_loss,
                                        info_nce_loss)


def _hand_info_nce(img, txt, scale):
    """Both directions by loops, from the cosine similarities."""
    n = len(img)
    sim = [[scale * float(torch.dot(img[i], txt[j]) /
                          (img[i].norm() * txt[j].norm()))
            for j in range(n)] for i in range(n)]

    def ce(rows):
        return sum(-rows[i][i] + math.log(sum(math.exp(v) for v in rows[i]))
                   for i in range(n)) / n
    cols = [[sim[j][i] for j in range(n)] for i in range(n)]
    return 0.5 * (ce(sim) + ce(cols))


def test_info_nce_equals_the_hand_computation():
    torch.manual_seed(0)
    img, txt = torch.randn(4, 6), torch.randn(4, 6)
    log_scale = torch.tensor(math.log(1 / 0.07))
    got = info_nce_loss(img, txt, log_scale)
    want = _hand_info_nce(img, txt, 1 / 0.07)
    assert abs(float(got) - want) < 1e-4
    assert abs(float(InfoNCELoss(loss_weight=0.1)(img, txt, log_scale)) -
               0.1 * want) < 1e-5
    # i2t and t2i differ for a non-symmetric similarity: both are counted
    one_way = torch.nn.functional.cross_entropy(
        torch.nn.functional.normalize(img) @
        torch.nn.functional.normalize(txt).t() / 0.07, torch.arange(4))
    assert abs(float(got) - float(one_way)) > 1e-3


def test_duplicate_captions_are_positives_not_negatives():
    img = torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    # the first two captions read the same (marked positives); their
    # embeddings need not be equal
    txt = torch.tensor([[1.0, 0.0], [0.7, 0.3], [0.0, 1.0]])
    pos = torch.tensor([[True, True, False], [True, True, False],
                        [False, False, True]])
    scale = torch.tensor(0.0)  # exp(0) = 1: plain cosine logits
    got = info_nce_loss(img, txt, scale, pos)
    cos = torch.nn.functional.normalize(img) @ torch.nn.functional.normalize(
        txt).t()
    logp_i = cos.log_softmax(1)
    logp_t = cos.t().log_softmax(1)
    target = pos.float() / pos.sum(1, keepdim=True)
    want = 0.5 * (-(target * logp_i).sum(1).mean() -
                  (target * logp_t).sum(1).mean())
    assert torch.allclose(got, want, atol=1e-6)
    assert not torch.allclose(got, info_nce_loss(img, txt, scale))


def test_alignment_loss_is_the_negative_mean_cosine():
    img = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    txt = torch.tensor([[1.0, 0.0], [-1.0, 1.0]])
    # cos = 1 and 0
    assert abs(float(cross_modal_alignment_loss(img, txt)) + 0.5) < 1e-6
    assert abs(float(CrossModalAlignmentLoss(0.1)(img, txt)) + 0.05) < 1e-6


def test_head_learns_its_temperature_and_weights_default_to_0_1():
    torch.manual_seed(0)
    head = ImageTextContrastiveHead(in_channels=8, text_channels=5,
                                    embed_dims=4)
    assert head.loss_contrastive.loss_weight == 0.1
    assert head.loss_align.loss_weight == 0.1
    assert abs(float(head.scale()) - math.log(1 / 0.07)) < 1e-6
    img, txt = torch.randn(3, 8), torch.randn(3, 5)
    losses = head.loss(img, txt)
    want = 0.1 * info_nce_loss(head.embed_image(img), head.embed_text(txt),
                               head.scale())
    assert torch.allclose(losses['loss_contrastive'], want)
    assert abs(float(losses['temperature']) - 0.07) < 1e-6
    (losses['loss_contrastive'] + losses['loss_align']).backward()
    assert head.logit_scale.grad is not None
    assert float(head.logit_scale.grad.abs().sum()) > 0
