"""tools/analysis_tools/text_context_bound.py scores the copied context."""
import json
import os.path as osp
import pickle
import re
import subprocess
import sys

import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools/analysis_tools/text_context_bound.py')
CONFIG = osp.join(ROOT, 'configs/text/llava-detseg_clip-tiny_llama-tiny_'
                  '1xb16-6e_shapes_text-grounded-ft.py')


def _run(*args):
    env = dict(PYTHONPATH=osp.join(ROOT, 'projects'))
    return subprocess.run([sys.executable, TOOL, *map(str, args)], env=env,
                          capture_output=True, text=True)


def test_bound_of_a_perfect_head_and_of_short_contexts(shapes_root,
                                                       tmp_path):
    """A head that predicted the ground truth (score 0.9) plus one spurious
    low-score box per image: a context above the spurious score copies the
    truth (bound ~1, one-bin error); a one-box context loses recall."""
    ann = osp.join(shapes_root, 'annotations/instances_val.json')
    with open(ann) as f:
        coco = json.load(f)
    index = {c['id']: ('circle', 'square', 'triangle').index(c['name'])
             for c in coco['categories']}
    preds = []
    for img in coco['images']:
        anns = [a for a in coco['annotations'] if a['image_id'] == img['id']]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in
                 (a['bbox'] for a in anns)] + [[0, 0, 4, 4]]
        preds.append(dict(
            img_id=img['id'], ori_shape=(img['height'], img['width']),
            pred_instances=dict(
                bboxes=torch.tensor(boxes, dtype=torch.float32),
                labels=torch.tensor([index[a['category_id']] for a in anns]
                                    + [0]),
                scores=torch.tensor([0.9] * len(anns) + [0.05]))))
    path = tmp_path / 'preds.pkl'
    with open(path, 'wb') as f:
        pickle.dump(preds, f)
    res = _run(CONFIG, path, '--thr', 0.1, '--max-boxes', 20, 1,
               '--cfg-options', f'test_evaluator.0.metric.ann_file={ann}')
    assert res.returncode == 0, res.stderr
    rows = re.findall(r'^\| ([\d.]+) \| (\d+) \| ([\d.]+) \|', res.stdout,
                      re.M)
    bound = {int(n): float(m) for _, n, m in rows}
    head = float(re.search(r'head bbox_mAP ([\d.]+)', res.stdout).group(1))
    assert bound[20] > 0.95 and head > 0.95
    assert bound[1] < bound[20] - 0.1

    # the spurious box a circle at 0.2, inside the context: copied scores
    # rank it last, and so does the written order when the answer names
    # its classes as the context does ('context', 'confidence'); written
    # circles first ('class'), it is the first box of an image without
    # real circles and outranks real ones
    for p in preds:
        p['pred_instances']['scores'][-1] = 0.2
    with open(path, 'wb') as f:
        pickle.dump(preds, f)
    res = _run(CONFIG, path, '--thr', 0.1, '--max-boxes', 20,
               '--cfg-options', f'test_evaluator.0.metric.ann_file={ann}')
    assert res.returncode == 0, res.stderr
    row = re.search(r'^\| 0\.1 \| 20 \| ([\d.]+) \|.*\| ([\d.]+) \([\d.]+ x\) '
                    r'\| ([\d.]+) \([\d.]+ x\) \| ([\d.]+) \([\d.]+ x\) \|$',
                    res.stdout, re.M)
    copied, by_context, by_class, by_confidence = map(float, row.groups())
    assert copied > 0.95
    assert by_context == by_confidence
    assert by_confidence > by_class + 0.02


def test_clear_errors(tmp_path):
    res = _run(CONFIG, tmp_path / 'missing.pkl')
    assert res.returncode == 2 and 'missing.pkl does not exist' in \
        res.stderr
    path = tmp_path / 'p.pkl'
    with open(path, 'wb') as f:
        pickle.dump([dict(pred_texts=['x'])], f)
    res = _run(CONFIG, path)
    assert res.returncode == 2 and 'no pred_instances' in res.stderr
