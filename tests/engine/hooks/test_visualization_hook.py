"""MultiTaskVisualizationHook: every N-th test sample, image files only."""
import pytest
from mmdet.engine.hooks import DetVisualizationHook
from mmengine.visualization import Visualizer

from llava_detseg.engine.hooks import MultiTaskVisualizationHook


def test_test_interval_draws_every_nth_sample_across_batches(monkeypatch):
    Visualizer.get_instance('test_visualization_hook')  # the hook reads it
    drawn = []
    monkeypatch.setattr(
        DetVisualizationHook, 'after_test_iter',
        lambda self, runner, idx, batch, outputs: drawn.extend(
            o['img_path'] for o in outputs))
    hook = MultiTaskVisualizationHook(test_interval=3)
    samples = [dict(img_path=f'{i}.png') for i in range(10)]
    # batches of 4, 4, 2: the index runs on across them
    for b, start in enumerate((0, 4, 8)):
        hook.after_test_iter(None, b, {}, samples[start:start + 4])
    assert drawn == ['0.png', '3.png', '6.png', '9.png']

    # samples without an image file are skipped, the count still runs
    drawn.clear()
    hook = MultiTaskVisualizationHook(test_interval=2)
    hook.after_test_iter(None, 0, {}, [dict(), dict(img_path='a.png'),
                                       dict(img_path='b.png')])
    assert drawn == ['b.png']
    with pytest.raises(ValueError, match='test_interval'):
        MultiTaskVisualizationHook(test_interval=0)
