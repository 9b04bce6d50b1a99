"""Drawing boxes, semantic masks and answers of one sample."""
import os.path as osp
import re
import textwrap
from typing import List, Optional

import cv2
import mmcv
import numpy as np
from mmdet.visualization import DetLocalVisualizer
from mmengine.structures import PixelData

from llava_detseg.registry import VISUALIZERS


@VISUALIZERS.register_module()
class MultiTaskVisualizer(DetLocalVisualizer):
    """mmdet's ``DetLocalVisualizer`` plus this project's masks and answers.

    mmdet draws semantic maps from ``PixelData.sem_seg`` with the detection
    classes; this project stores mmseg's ``PixelData.data`` with background
    at 0 and ``seg_classes`` in the dataset meta. Questions and answers are
    written in a panel under the image.
    """

    def _draw_sem_seg(self, image: np.ndarray, sem_seg: PixelData,
                      classes: Optional[List],
                      palette: Optional[List]) -> np.ndarray:
        data = sem_seg.data if 'data' in sem_seg else sem_seg.sem_seg
        data = data.clone()
        seg_palette = self.dataset_meta.get('seg_palette')
        if seg_palette is not None:
            # mmseg's layout (ADE20K): every label is a class with its own
            # colour, 255 is ignored; nothing is background
            return super()._draw_sem_seg(
                image, PixelData(sem_seg=data),
                self.dataset_meta['seg_classes'], list(seg_palette))
        data[data == 0] = 255  # background is not drawn
        seg_classes = self.dataset_meta.get('seg_classes') or (
            ['background'] + list(classes or []))
        colours = [(0, 0, 0)] + list(palette or [(255, 0, 0)] *
                                     (len(seg_classes) - 1))
        return super()._draw_sem_seg(image, PixelData(sem_seg=data),
                                     seg_classes, colours)

    @staticmethod
    def qa_panel(image: np.ndarray, data_sample) -> np.ndarray:
        """``image`` with a white panel under it: each question and its
        answer (and the reference answer, where there is one), wrapped to
        the image's width (at least 60 characters)."""
        questions = data_sample.get('questions') or []
        if not questions:
            return image
        preds = data_sample.get('pred_answers') or [''] * len(questions)
        gts = data_sample.get('gt_answers') or [None] * len(questions)
        width = max(image.shape[1], 420)
        per_line = max(width // 7, 20)
        lines: List[str] = []
        for q, p, g in zip(questions, preds, gts):
            text = f'Q: {q.replace("<image>", "").strip()}  A: {p}'
            if g is not None:
                text += f'  (gt: {g})'
            lines += textwrap.wrap(text, per_line) or ['']
        lines = lines[:40] + (['...'] if len(lines) > 40 else [])
        panel = np.full((16 * len(lines) + 6, width, 3), 255, np.uint8)
        for k, text in enumerate(lines):
            cv2.putText(panel, text, (3, 16 * k + 14),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                        cv2.LINE_AA)
        canvas = np.full((image.shape[0], width, 3), 255, np.uint8)
        canvas[:, :image.shape[1]] = image
        return np.concatenate([canvas, panel], axis=0)

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw as mmdet does; the question/answer panel is added to the
        finished picture (see :meth:`add_image`), after boxes and masks.

        mmdet names the picture after the image file; benchmark images
        share names across folders (ScienceQA's ``image.png``, MME's
        subtasks), so theirs are named after the benchmark and the first
        question id instead."""
        if out_file is not None and data_sample is not None and \
                data_sample.get('benchmark'):
            qids = data_sample.get('question_ids') or [
                data_sample.get('img_id')]
            stem = str(qids[0])
            if stem.lower().endswith(('.jpg', '.jpeg', '.png')):
                stem = osp.splitext(stem)[0]  # VizWiz ids are file names
            stem = re.sub(r'[^\w.-]+', '_', stem)
            out_file = osp.join(
                osp.dirname(out_file),
                f'{data_sample.benchmark}_{stem}{osp.splitext(out_file)[1]}')
        self._panel = (data_sample, out_file)
        try:
            super().add_datasample(name, image, data_sample, draw_gt,
                                   draw_pred, show, wait_time, None,
                                   pred_score_thr, step)
        finally:
            self._panel = (None, None)

    def add_image(self, name: str, image: np.ndarray, step: int = 0) -> None:
        """Save the drawn picture with its panel, to ``out_file`` if given."""
        sample, out_file = getattr(self, '_panel', (None, None))
        if sample is not None:
            image = self.qa_panel(image, sample)
        if out_file is not None:
            mmcv.imwrite(image[..., ::-1], out_file)
            return
        super().add_image(name, image, step)
