"""ImageTextRetrievalRecall: hand-made embeddings and a brute-force check."""
import logging

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator

from llava_detseg.evaluation.metrics import (ImageTextRetrievalRecall,
                                             accuracy_metric)


def _samples(images, texts_per_image, captions=True):
    out = []
    for img, texts in zip(images, texts_per_image):
        s = DetDataSample(metainfo=dict(tasks=['itc']))
        s.pred_image_embed, s.pred_text_embeds = img, texts
        if captions:
            s.set_metainfo(dict(captions=[f'c{k}' for k in range(len(texts))]))
        out.append(s)
    return out


def _evaluate(metric, samples):
    evaluator = Evaluator(metric)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def test_recall_by_hand():
    # 3 images on the axes; image 0's two captions point at it, image 1's
    # caption points at image 2, image 2's caption between 2 and 1
    e = torch.eye(3)
    images = [e[0], e[1], e[2]]
    texts = [torch.stack([e[0], e[0] + 0.1 * e[1]]),
             (e[2] + 0.2 * e[1])[None],
             (e[2] + 0.9 * e[1])[None]]
    out = _evaluate(ImageTextRetrievalRecall(topk=(1, 2)),
                    _samples(images, texts))
    r = {k.split('/')[1]: round(v, 4) for k, v in out.items()}
    # i2t@1: image 0 -> its caption; image 1 -> image 2's caption (0.9 e1)
    # wins over its own (0.2 e1): miss; image 2 -> image 1's caption: miss
    # i2t@2: image 1 has its own 2nd; image 2 has its own 2nd
    # t2i@1: texts 0, 1 -> image 0 (hit, hit); text 2 -> image 2 (miss);
    # text 3 -> image 2 (hit); t2i@2: text 2 has image 1 2nd
    assert r == {'i2t_R@1': round(100 / 3, 4), 'i2t_R@2': 100.0,
                 't2i_R@1': 75.0, 't2i_R@2': 100.0,
                 'R_mean': round((100 / 3 + 100 + 75 + 100) / 4, 4)}


def _brute_force(images, texts_per_image, k):
    """R@k by scoring every pair in plain Python loops."""
    texts, owner = [], []
    for i, ts in enumerate(texts_per_image):
        texts += list(ts)
        owner += [i] * len(ts)

    def cos(a, b):
        return float((a @ b) / (a.norm() * b.norm()))

    i2t = 0
    for i, img in enumerate(images):
        scores = [cos(img, t) for t in texts]
        best = sorted(range(len(texts)), key=lambda j: -scores[j])[:k]
        i2t += any(owner[j] == i for j in best)
    t2i = 0
    for j, t in enumerate(texts):
        scores = [cos(img, t) for img in images]
        best = sorted(range(len(images)), key=lambda i: -scores[i])[:k]
        t2i += owner[j] in best
    return 100 * i2t / len(images), 100 * t2i / len(texts)


def test_recall_equals_a_brute_force_computation():
    torch.manual_seed(0)
    images = list(torch.randn(12, 8))
    texts = [images[i] + 0.9 * torch.randn(1 + i % 5, 8) for i in range(12)]
    metric = ImageTextRetrievalRecall(topk=(1, 5, 10))
    out = _evaluate(metric, _samples(images, texts))
    for k in (1, 5, 10):
        i2t, t2i = _brute_force(images, texts, k)
        assert out[f'retrieval/i2t_R@{k}'] == pytest.approx(i2t)
        assert out[f'retrieval/t2i_R@{k}'] == pytest.approx(t2i)
    assert 0 < out['retrieval/i2t_R@1'] < 100  # the check can fail


def test_normalize_false_ranks_by_dot_product():
    images = [torch.tensor([1., 0.]), torch.tensor([0., 1.])]
    # image 1's caption is long: its dot product with image 0 (2.0) beats
    # image 0's own caption (1.0), its cosine (0.8) does not (0.98)
    texts = [torch.tensor([[1.0, 0.2]]), torch.tensor([[2.0, 1.5]])]
    dot = _evaluate(ImageTextRetrievalRecall(topk=1, normalize=False),
                    _samples(images, texts))
    cos = _evaluate(ImageTextRetrievalRecall(topk=1), _samples(images, texts))
    assert dot['retrieval/i2t_R@1'] == 50.0
    assert cos['retrieval/i2t_R@1'] == 100.0


def test_nothing_scored_and_bad_fields(monkeypatch):
    warnings = []
    monkeypatch.setattr(
        accuracy_metric, 'print_log',
        lambda msg, logger=None, level=logging.INFO: warnings.append(msg))
    assert _evaluate(ImageTextRetrievalRecall(),
                     [DetDataSample(metainfo=dict(tasks=['cls']))]) == {}
    assert len(warnings) == 1 and 'pred_image_embed' in warnings[0]
    bad = _samples([torch.ones(4)], [torch.ones(2, 4)])[0].to_dict()
    bad['captions'] = ['only one']
    with pytest.raises(ValueError, match='1 captions but 2 pred_text_embeds'):
        ImageTextRetrievalRecall().process(None, [bad])
    half = dict(pred_image_embed=torch.ones(4), img_path='x.jpg')
    with pytest.raises(ValueError, match='x.jpg has only one of'):
        ImageTextRetrievalRecall().process(None, [half])
    with pytest.raises(ValueError, match='topk must be'):
        ImageTextRetrievalRecall(topk=(0, 1))
    # an image without captions is a gallery item for t2i, not a query
    images = [torch.tensor([1., 0.]), torch.tensor([0., 1.])]
    out = _evaluate(ImageTextRetrievalRecall(topk=1),
                    _samples(images, [F.normalize(torch.ones(1, 2)),
                                      torch.zeros(0, 2)], captions=False))
    assert out['retrieval/i2t_R@1'] == 100.0
