"""Image-text retrieval recall (R@k, both directions) from embeddings."""
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
import torch
import torch.nn.functional as F
from mmengine.evaluator import BaseMetric

from llava_detseg.registry import METRICS
from .accuracy_metric import to_tensor, warn_nothing_scored


def recall_at_k(ranked: torch.Tensor, targets: Sequence[Sequence[int]],
                topk: Sequence[int]) -> List[float]:
    """Percent of queries with a target among their first ``k`` results.

    mmpretrain's ``RetrievalRecall.calculate`` with ``pred_indices`` and
    ``target_indices``: ``ranked`` ``(Q, >= max k)`` holds each query's
    gallery indices best first, ``targets[q]`` its relevant ones.
    """
    out = []
    for k in topk:
        hits = [bool(np.isin(ranked[q, :k].numpy(), list(t)).any())
                for q, t in enumerate(targets)]
        out.append(100.0 * sum(hits) / len(hits))
    return out


@METRICS.register_module()
class ImageTextRetrievalRecall(BaseMetric):
    """Recall@k of image->text and text->image retrieval, in percent.

    The Flickr / COCO retrieval protocol (as in mmpretrain's BLIP and
    CLIP retrieval evaluation): every test image is a query over all test
    captions (a hit if any of its own captions is in the first ``k``), and
    every caption a query over all images (a hit if its image is). The
    counting is mmpretrain's ``RetrievalRecall.calculate`` (``mmpretrain/
    evaluation/metrics/retrieval.py``, v1.2.0, which does not import here
    and calls ``np.in1d``, gone in numpy 2.4) on the ranks of the cosine similarity of the embeddings; ties rank by
    gallery order.

    Fields read from each data sample (one image with its captions, as
    ``Flickr8kDataset`` gives them; the model's ``itc`` part fills both):

    - ``pred_image_embed`` (Tensor ``(D, )``): the pooled image embedding;
    - ``pred_text_embeds`` (Tensor ``(M, D)``): one embedding per caption,
      in the order of the sample's ``captions`` (whose count, when
      present, must match).

    Samples without them are not scored; none at all gives no key and a
    warning (never 0.0). Keys: ``i2t_R@k``, ``t2i_R@k`` for each ``k`` and
    ``R_mean`` (their mean), under the prefix ``retrieval``.

    Args:
        topk (int | Sequence[int]): The ``k`` s; one above the gallery size
            counts the whole gallery.
        normalize (bool): L2-normalise the embeddings (cosine similarity);
            ``False`` ranks by the raw dot product.
        collect_device (str): As for ``BaseMetric``.
        prefix (str, optional): Default ``'retrieval'``.
    """

    default_prefix: Optional[str] = 'retrieval'

    def __init__(self,
                 topk: Union[int, Sequence[int]] = (1, 5, 10),
                 normalize: bool = True,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.topk = (topk, ) if isinstance(topk, int) else tuple(topk)
        if not self.topk or min(self.topk) < 1:
            raise ValueError('ImageTextRetrievalRecall: topk must be '
                             f'integers >= 1, got {topk}')
        self.normalize = normalize

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        # one entry per sample, even an empty one (see Accuracy.process)
        for sample in data_samples:
            self.results.append(self._record(sample))

    @staticmethod
    def _record(sample: dict) -> Optional[dict]:
        image, texts = sample.get('pred_image_embed'), sample.get(
            'pred_text_embeds')
        if image is None and texts is None:
            return None
        name = sample.get('img_path') or sample.get('img_id', '<unknown>')
        if image is None or texts is None:
            raise ValueError(f'Sample {name} has only one of '
                             'pred_image_embed and pred_text_embeds')
        image = to_tensor(image).float().reshape(-1).cpu()
        texts = to_tensor(texts).float().cpu()
        texts = texts.reshape(-1, image.numel()) if texts.numel() else \
            texts.reshape(0, image.numel())
        captions = sample.get('captions')
        if captions is not None and len(captions) != len(texts):
            raise ValueError(f'Sample {name} has {len(captions)} captions '
                             f'but {len(texts)} pred_text_embeds')
        return dict(image=image, texts=texts)

    def compute_metrics(self, results: List[Optional[dict]]
                        ) -> Dict[str, float]:
        records = [r for r in results if r is not None]
        if not records or not sum(len(r['texts']) for r in records):
            warn_nothing_scored(self, 'pred_image_embed and pred_text_embeds')
            return {}
        images = torch.stack([r['image'] for r in records])
        texts = torch.cat([r['texts'] for r in records])
        owner = torch.cat([
            torch.full((len(r['texts']), ), i, dtype=torch.long)
            for i, r in enumerate(records)
        ])
        sim = self.similarity(images, texts, self.normalize)
        i2t_targets = [torch.nonzero(owner == i).flatten().tolist()
                       for i in range(len(images))]
        t2i_targets = [[int(i)] for i in owner]
        metrics = {}
        for name, scores, targets in (('i2t', sim, i2t_targets),
                                      ('t2i', sim.t(), t2i_targets)):
            keep = [q for q, t in enumerate(targets) if t]  # image w/o text
            ranked = torch.argsort(-scores[keep], dim=1, stable=True)
            for k, value in zip(self.topk, recall_at_k(
                    ranked, [targets[q] for q in keep], self.topk)):
                metrics[f'{name}_R@{k}'] = value
        metrics['R_mean'] = sum(metrics.values()) / len(metrics)
        return metrics

    @staticmethod
    def similarity(images: torch.Tensor, texts: torch.Tensor,
                   normalize: bool = True) -> torch.Tensor:
        """``(N images, M texts)`` cosine (or dot-product) similarity."""
        if normalize:
            images, texts = F.normalize(images, dim=-1), F.normalize(
                texts, dim=-1)
        return images @ texts.t()
