"""tools/analysis_tools/attribute_probe.py: a linear probe of an
annotation attribute (the shapes' colour) from pooled image tokens."""
import importlib.util
import json
import os.path as osp
from collections import Counter

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'analysis_tools', 'attribute_probe.py')


@pytest.fixture(scope='module')
def tool():
    spec = importlib.util.spec_from_file_location('attribute_probe', TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_box_weights_are_area_means(tool):
    w = tool.box_weights(torch.tensor([[0., 0, 64, 64], [32, 0, 96, 64]]),
                         (128, 128), 2)
    assert torch.allclose(w, torch.tensor([[1., 0, 0, 0], [.5, .5, 0, 0]]))


def test_probe_reads_colour_from_pixels(tool, text_model, shapes_root,
                                        tmp_path, capsys):
    out = tmp_path / 'probe.json'
    rc = tool.main([text_model['config'], text_model['checkpoint'],
                    '--train-images', '16', '--test-images', '8',
                    '--out', str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    train = json.loads(open(osp.join(
        shapes_root, 'annotations', 'instances_train.json')).read())
    val = json.loads(open(osp.join(
        shapes_root, 'annotations', 'instances_val.json')).read())
    assert result['instances'] == dict(train=len(train['annotations']),
                                       test=len(val['annotations']))
    colours = Counter(a['color'] for a in train['annotations'])
    majority = colours.most_common(1)[0][0]
    want = sum(a['color'] == majority for a in val['annotations']) / len(
        val['annotations'])
    assert result['majority_baseline'] == pytest.approx(want)
    assert result['values'] == sorted(
        {a['color'] for a in train['annotations'] + val['annotations']})
    assert set(result['probes']) == {'tokens', 'vit', 'pixels'}
    # saturated colours: the mean pixel under a box tells them apart even
    # from 16 images, far above the majority guess
    assert result['probes']['pixels']['test'] >= 0.9
    assert result['probes']['pixels']['dims'] == 3
    for probe in result['probes'].values():
        assert 0.0 <= probe['test'] <= 1.0
    assert 'majority baseline' in capsys.readouterr().out


def test_probe_refuses_what_it_cannot_read(tool, text_model, tmp_path,
                                           capsys):
    rc = tool.main([text_model['config'], text_model['checkpoint'],
                    '--attribute', 'texture', '--train-images', '2',
                    '--test-images', '2', '--sources', 'pixels'])
    err = capsys.readouterr().err
    assert rc == 2 and 'instances_train.json' in err and '"texture"' in err
    rc = tool.main([text_model['config'], str(tmp_path / 'none.pth')])
    assert rc == 2 and 'none.pth does not exist' in capsys.readouterr().err
