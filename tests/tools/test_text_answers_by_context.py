"""tools/analysis_tools/text_answers_by_context.py buckets the answers."""
import os.path as osp
import pickle
import re
import subprocess
import sys

import numpy as np

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis_tools/text_answers_by_context.py')
CONFIG = osp.join(ROOT, 'configs/text/llava-detseg_clip-tiny_llama-tiny_'
                  '1xb16-6e_shapes_text-grounded-ft.py')
CLASSES = ('circle', 'square', 'triangle')


def _run(*args):
    env = dict(PYTHONPATH=osp.join(ROOT, 'projects'))
    return subprocess.run([sys.executable, TOOL, *map(str, args)], env=env,
                          capture_output=True, text=True)


def _sample(codec, n_boxes: int, impure: bool) -> dict:
    """One image whose context holds ``n_boxes`` boxes of the three
    classes; the "only circles" answer adds a square if ``impure``, and the
    "detect all" answer drops the triangles if ``impure``."""
    rng = np.random.default_rng(n_boxes)
    xy = rng.uniform(0, 60, (n_boxes, 2))
    boxes = np.concatenate([xy, xy + 20], 1)
    labels = np.arange(n_boxes) % 3
    shape = (100, 100)
    ctx = codec.det_block(codec.det_items(boxes, labels, shape))

    def answer(keep):
        items = codec.det_items(boxes[keep], labels[keep], shape)
        return codec.encode_response('', [codec.det_block(items)])

    only = labels == 0
    if impure:
        only = only | (labels == 1)
    everything = labels != 2 if impure else labels >= 0
    return dict(
        ori_shape=shape,
        text_conversations=[dict(kind='det_class', det=[0]),
                            dict(kind='det_all', det=[0, 1, 2]),
                            dict(kind='count', det=[0])],
        pred_texts=[answer(only), answer(everything), 'Answer: 1'],
        text_prompts=[f'<image>\n{ctx}\nq'] * 3)


def test_long_contexts_are_told_apart(tmp_path):
    from llava_detseg.structures import DetSegTextCodec
    codec = DetSegTextCodec(CLASSES, max_boxes=20)
    preds = [_sample(codec, 3, False), _sample(codec, 4, False),
             _sample(codec, 12, True), _sample(codec, 13, False)]
    path = tmp_path / 'preds.pkl'
    with open(path, 'wb') as f:
        pickle.dump(preds, f)
    res = _run(CONFIG, path, '--bucket', 5)
    assert res.returncode == 0, res.stderr
    rows = {r[0]: r[1:] for r in re.findall(
        r'^\| ([\d-]+) \| (\d+) \| ([\d.]+) \| (\d+) \| ([\d.]+) \|',
        res.stdout, re.M)}
    assert rows['0-4'] == ('2', '1.000', '6', '1.000')
    # one of two "only circles" answers holds a square; of 6 context
    # classes the impure "detect all" answer drops one
    assert rows['10-14'] == ('2', '0.500', '6', '0.833')
    assert '5-9' not in rows


def test_clear_errors(tmp_path):
    res = _run(CONFIG, tmp_path / 'missing.pkl')
    assert res.returncode == 2 and 'missing.pkl does not exist' in \
        res.stderr
    path = tmp_path / 'p.pkl'
    with open(path, 'wb') as f:
        pickle.dump([dict(pred_instances={})], f)
    res = _run(CONFIG, path)
    assert res.returncode == 2 and 'sample 0' in res.stderr
    res = _run(CONFIG, path, '--bucket', 0)
    assert res.returncode == 2 and '--bucket' in res.stderr
