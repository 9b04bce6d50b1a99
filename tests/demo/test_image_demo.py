"""demo/image_demo.py on a folder, and its one-line errors."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
DEMO = osp.join(ROOT, 'demo', 'image_demo.py')
ENV = dict(os.environ, PYTHONPATH=osp.join(ROOT, 'projects'))
TEXTS = ['Detect the circles and segment the triangles.',
         'What color is the square?', 'Segment the squares.']


def test_folder_with_one_instruction_per_image(text_model, shapes_root,
                                               tmp_path):
    src = sorted(glob.glob(osp.join(shapes_root, 'images', 'val', '*.png')))
    folder = tmp_path / 'imgs'
    folder.mkdir()
    sizes = {'a': (48, 64), 'b': (96, 72), 'c': (80, 80)}  # (h, w)
    for (stem, (h, w)), path in zip(sizes.items(), src):
        img = cv2.resize(cv2.imread(path), (w, h))
        cv2.imwrite(str(folder / f'{stem}.{"jpg" if stem == "b" else "png"}'),
                    img)
    (folder / 'notes.txt').write_text('not an image')
    out_dir = tmp_path / 'out'
    proc = subprocess.run([
        sys.executable, DEMO, str(folder), text_model['config'], '--weights',
        text_model['checkpoint'], '--texts', *TEXTS, '--out-dir',
        str(out_dir), '--device', 'cpu', '--max-new-tokens', '300'
    ], env=ENV, cwd=str(tmp_path), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert str(out_dir / 'preds') in proc.stdout
    assert str(out_dir / 'vis') in proc.stdout
    assert sorted(os.listdir(out_dir / 'preds')) == [
        'a.json', 'b.json', 'c.json']
    assert sorted(os.listdir(out_dir / 'vis')) == ['a.png', 'b.png', 'c.png']
    for (stem, (h, w)), text in zip(sizes.items(), TEXTS):
        with open(out_dir / 'preds' / f'{stem}.json') as f:
            pred = json.load(f)
        assert pred['error'] is None
        assert pred['instruction'] == text  # matched in sorted order
        assert list(pred['img_shape']) == [h, w]
        vis = cv2.imread(str(out_dir / 'vis' / f'{stem}.png'))
        assert vis is not None and vis.shape[0] >= h and vis.shape[1] >= w
    with open(out_dir / 'preds' / 'a.json') as f:
        pred = json.load(f)
    assert {'det', 'seg'} <= set(pred['tasks'])
    assert '<DET>' in pred['text'] and '<SEG>' in pred['text']


@pytest.mark.parametrize('case, needle', [
    ('input', 'no such image, folder or pattern'),
    ('model', 'no such config file or model folder'),
    ('weights', 'no such checkpoint'),
    ('texts', '2 instructions for 1 images'),
])
def test_bad_arguments_exit_2_with_one_line(case, needle, tmp_path):
    img = tmp_path / 'x.png'
    cv2.imwrite(str(img), np.zeros((8, 8, 3), np.uint8))
    config = osp.join(
        ROOT, 'configs', 'llava-detseg_clip-tiny_llama-tiny_1xb16-7e_shapes.py')
    args = dict(input=str(img), model=config, weights=None, texts=['a?'])
    missing = str(tmp_path / 'missing')
    if case == 'texts':
        args['texts'] = ['a?', 'b?']
    else:
        args[case] = missing
    cmd = [sys.executable, DEMO, args['input'], args['model'], '--texts',
           *args['texts']]
    if args['weights']:
        cmd += ['--weights', args['weights']]
    proc = subprocess.run(cmd, env=ENV, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
