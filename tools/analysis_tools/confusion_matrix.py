"""Draw the classification confusion matrix of a checkpoint or of saved
predictions (mmpretrain's ``tools/analysis_tools/confusion_matrix.py``).

``ckpt_or_result`` is a checkpoint (``.pth``: the config's test set is run
with ``ConfusionMatrix`` as the evaluator) or the predictions that
``tools/test.py --out`` dumped (``.pkl``: a list of data-sample dicts with
``gt_label`` and ``pred_score`` or ``pred_label``). The class names come
from the config's test dataset.

Example:
    python tools/test.py CONFIG CKPT --out work_dirs/cifar10/preds.pkl
    python tools/analysis_tools/confusion_matrix.py CONFIG \
        work_dirs/cifar10/preds.pkl --show-path work_dirs/cifar10/cm.png \
        --out work_dirs/cifar10/cm.json
"""
import argparse
import os.path as osp
import sys
import tempfile
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
from _bootstrap import (ensure_package, load_config,  # noqa: E402
                        missing_file)
from mmengine.config import Config, DictAction  # noqa: E402

KEY = 'confusion_matrix/result'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config', help='test config file path')
    parser.add_argument(
        'ckpt_or_result',
        help='a checkpoint (.pth) or dumped predictions (.pkl)')
    parser.add_argument(
        '--out', help='save the matrix (.json: a list of rows, or .pkl)')
    parser.add_argument(
        '--show', action='store_true', help='display it with matplotlib')
    parser.add_argument('--show-path', help='save the figure (e.g. a PNG)')
    parser.add_argument(
        '--include-values', action='store_true',
        help='write the counts in the cells')
    parser.add_argument('--cmap', default='viridis',
                        help='matplotlib colour map')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (as tools/test.py)')
    return parser.parse_args(argv)


def dataset_classes(cfg: Config) -> Optional[List[str]]:
    """The test dataset's classes, without reading the data."""
    return _classes_of(cfg.get('test_dataloader', {}).get('dataset', {}))


def _classes_of(dataset: dict) -> Optional[List[str]]:
    """``metainfo['classes']`` or the class's ``METAINFO``; for a wrapper
    (``ConcatDataset``, ``MultiTaskConcatDataset``, ``RepeatDataset``) the
    first wrapped dataset that has classes, whose meta the wrapper takes."""
    from llava_detseg.registry import DATASETS
    meta = dataset.get('metainfo') or {}
    if meta.get('classes'):
        return list(meta['classes'])
    inner = dataset.get('datasets') or dataset.get('dataset')
    if inner:
        inner = list(inner.values()) if isinstance(inner, dict) and \
            'type' not in inner else inner
        for sub in inner if isinstance(inner, list) else [inner]:
            classes = _classes_of(sub)
            if classes:
                return classes
        return None
    cls = DATASETS.get(dataset['type']) if dataset.get('type') else None
    classes = getattr(cls, 'METAINFO', {}).get('classes') if cls else None
    return list(classes) if classes else None


def from_checkpoint(cfg: Config, checkpoint: str):
    """Run the test set with ``ConfusionMatrix`` alone; its matrix."""
    from llava_detseg.utils.runner import build_runner
    cfg.test_evaluator = dict(type='ConfusionMatrix', to_visualizer=False)
    cfg.load_from = checkpoint
    with tempfile.TemporaryDirectory() as tmp:
        cfg.work_dir = tmp
        return build_runner(cfg).test().get(KEY)


def from_predictions(path: str, classes: Optional[List[str]]):
    """``ConfusionMatrix`` over dumped data samples; its matrix."""
    import mmengine
    from mmengine.evaluator import Evaluator
    from llava_detseg.evaluation.metrics import ConfusionMatrix
    predictions = mmengine.load(path)
    if not isinstance(predictions, list):
        raise ValueError(f'{path}: expected a list of data samples (as '
                         'tools/test.py --out writes), got '
                         f'{type(predictions).__name__}')
    evaluator = Evaluator(ConfusionMatrix(
        num_classes=len(classes) if classes else None, to_visualizer=False))
    if classes:
        evaluator.dataset_meta = dict(classes=classes)
    return evaluator.offline_evaluate(predictions, chunk_size=256).get(KEY)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    ensure_package()
    from llava_detseg.evaluation.metrics import plot_confusion_matrix
    if missing_file((args.config, 'config'),
                    (args.ckpt_or_result, 'checkpoint or result')):
        return 2
    cfg = load_config(args.config, args.cfg_options)
    classes = dataset_classes(cfg)
    try:
        if args.ckpt_or_result.endswith(('.pkl', '.pickle')):
            matrix = from_predictions(args.ckpt_or_result, classes)
        else:
            matrix = from_checkpoint(cfg, args.ckpt_or_result)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    if matrix is None:
        print('error: no sample carried a class prediction (pred_score or '
              'pred_label): nothing to draw', file=sys.stderr)
        return 1
    if classes is not None and len(classes) != len(matrix):
        classes = None
    print(f'confusion matrix ({len(matrix)} classes, {int(matrix.sum())} '
          'samples; rows: true, columns: predicted)')
    print(matrix)
    if args.out:
        import mmengine
        mmengine.dump(matrix.tolist() if args.out.endswith('.json') else
                      matrix, args.out)
        print(f'matrix written to {args.out}')
    if args.show or args.show_path:
        fig = plot_confusion_matrix(matrix, classes, args.include_values,
                                    args.cmap)
        if args.show_path:
            fig.savefig(args.show_path)
            print(f'figure written to {args.show_path}')
        if args.show:
            import matplotlib.pyplot as plt
            # the pyplot-free figure needs a pyplot manager to be shown
            manager = plt.figure().canvas.manager
            manager.canvas.figure = fig
            fig.set_canvas(manager.canvas)
            plt.show()
    return 0


if __name__ == '__main__':
    sys.exit(main())
