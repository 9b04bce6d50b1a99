"""The generated shapes dataset (the embedded default)."""
from typing import Dict, List, Optional, Sequence

from llava_detseg.registry import DATASETS
from llava_detseg.tasks import TASKS
from .coco_format import CocoFormatMultiTaskDataset

# where a shape's centre lies, by thirds of the image height (no left /
# right: the training pipeline flips images horizontally)
_ROWS = ('at the top', 'in the middle', 'at the bottom')


def dominant_class(anns: Sequence[dict], cat2label: Dict[int, int]
                   ) -> Optional[int]:
    """The class whose instances cover the most area (the lower index on a
    tie); None without instances. The image-level label of ``cls``."""
    area: Dict[int, float] = {}
    for ann in anns:
        label = cat2label[ann['category_id']]
        area[label] = area.get(label, 0.0) + float(ann['area'])
    if not area:
        return None
    return min(area, key=lambda c: (-area[c], c))


def shapes_caption(anns: Sequence[dict], cat2label: Dict[int, int],
                   classes: Sequence[str], height: int) -> Optional[str]:
    """A caption naming every shape, its colour and where it is, largest
    first: ``'a red circle at the top and a blue square in the middle'``.
    None without instances."""
    parts = []
    for ann in sorted(anns, key=lambda a: (-float(a['area']), a['id'])):
        x, y, w, h = ann['bbox']
        row = _ROWS[min(2, int(3 * (y + h / 2) / max(height, 1)))]
        color = ann.get('color')
        name = classes[cat2label[ann['category_id']]]
        parts.append(f'a {color} {name} {row}' if color else
                     f'a {name} {row}')
    if not parts:
        return None
    if len(parts) == 1:
        return parts[0]
    return ', '.join(parts[:-1]) + ' and ' + parts[-1]


@DATASETS.register_module()
class ShapesDataset(CocoFormatMultiTaskDataset):
    """Circles, squares and triangles in four colours.

    Written by ``tools/dataset_converters/generate_shapes.py``. Semantic maps
    hold 0 for background and ``class index + 1`` for each class.

    Besides ``det``, ``seg`` and ``vqa`` it serves the image-level tasks
    when ``tasks`` names them, both read from the instance annotations (no
    other file): ``cls``, the class covering the most area as ``gt_label``
    (:func:`dominant_class`), and ``itc``, a caption naming the shapes, their
    colours and rows (:func:`shapes_caption`) as ``captions``.
    """

    METAINFO = dict(
        classes=('circle', 'square', 'triangle'),
        seg_classes=('background', 'circle', 'square', 'triangle'),
        palette=[(220, 20, 60), (0, 128, 0), (0, 0, 192)])
    SERVES = TASKS + ('cls', 'itc')

    def parse_data_info(self, raw_data_info: dict) -> Optional[dict]:
        """mmdet's parsing, plus the image label and caption if asked."""
        info = super().parse_data_info(raw_data_info)
        if info is None or not {'cls', 'itc'} & set(self.tasks):
            return info
        anns = [a for a in raw_data_info['raw_ann_info']
                if not a.get('iscrowd')]
        if 'cls' in self.tasks:
            label = dominant_class(anns, self.cat2label)
            if label is not None:
                info['gt_label'] = label
        if 'itc' in self.tasks:
            caption = shapes_caption(
                anns, self.cat2label, self._metainfo['classes'],
                raw_data_info['raw_img_info']['height'])
            if caption is not None:
                info['captions'] = [caption]
        return info

    def _tasks_of(self, info: dict) -> List[str]:
        tasks = super()._tasks_of(info)
        if 'cls' in self.tasks and 'gt_label' in info:
            tasks.append('cls')
        if 'itc' in self.tasks and info.get('captions'):
            tasks.append('itc')
        return tasks
