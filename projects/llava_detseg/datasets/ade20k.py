"""ADE20K (ADEChallengeData2016) semantic segmentation as multi-task samples."""
import os.path as osp
from typing import List

from mmseg.datasets import ADE20KDataset

from llava_detseg.registry import DATASETS
from .errors import DataError, ErrorPolicy, data_error


@DATASETS.register_module()
class ADE20KSegDataset(ADE20KDataset):
    """mmseg's ``ADE20KDataset`` whose samples serve the ``seg`` task only.

    Subclasses mmseg (150 classes, ``.jpg`` images, ``.png`` maps,
    ``reduce_zero_label=True``: label 0 "other" becomes 255 and is ignored,
    1..150 become 0..149, done by ``mmseg.LoadAnnotations``) to add what this
    project's samples carry: ``tasks=['seg']``, no conversations, an
    ``img_id``, the class names as ``seg_classes`` (what ``TaskMetric`` and
    the mixture read), and start-up checks: mmseg lists the image folder and
    fails only when a missing map is first loaded, hours into a run.

    Args:
        on_error (str): ``'raise'`` (default) or ``'skip'`` a sample whose
            semantic map is missing.
        check_files (bool): Check at start that every map exists.
        **kwargs: ``ADE20KDataset`` arguments (``data_root``,
            ``data_prefix=dict(img_path=..., seg_map_path=...)``...).
    """

    METAINFO = dict(
        ADE20KDataset.METAINFO,
        seg_classes=ADE20KDataset.METAINFO['classes'],
        seg_palette=ADE20KDataset.METAINFO['palette'])
    tasks = ('seg', )

    def __init__(self,
                 *args,
                 on_error: str = 'raise',
                 check_files: bool = True,
                 **kwargs) -> None:
        self.policy = ErrorPolicy(on_error, type(self).__name__)
        self.check_files = check_files
        super().__init__(*args, **kwargs)

    def load_data_list(self) -> List[dict]:
        """mmseg's folder listing plus the multi-task fields and checks."""
        img_dir = self.data_prefix.get('img_path', '')
        if not osp.isdir(img_dir):
            raise DataError(f'{img_dir}: ADE20K image folder not found '
                            '(data_prefix.img_path; expected '
                            'ADEChallengeData2016/images/{training,'
                            'validation})')
        seg_dir = self.data_prefix.get('seg_map_path', '')
        if self.check_files and not osp.isdir(seg_dir):
            raise DataError(f'{seg_dir}: ADE20K annotation folder not found '
                            '(data_prefix.seg_map_path)')
        data_list = []
        for info in super().load_data_list():
            name = osp.basename(info['img_path'])
            if self.check_files and not osp.isfile(info['seg_map_path']):
                self.policy(
                    data_error(img_dir, f'image "{name}"', 'seg_map_path',
                               f'semantic map {info["seg_map_path"]} does '
                               'not exist'), 'image')
                continue
            info['img_id'] = osp.splitext(name)[0]
            info['tasks'] = ['seg']
            info['conversations'] = []
            # what CheckSemanticMap checks the (reduced) labels against
            info['num_seg_classes'] = len(self._metainfo['classes'])
            data_list.append(info)
        if not data_list:
            raise DataError(f'{img_dir}: no "{self.img_suffix}" image with a '
                            f'"{self.seg_map_suffix}" map found')
        return data_list
