"""The VQA benchmarks load small files in their published formats; bad
input is an error naming the file, the question and the field, or a counted
skip."""
import json
import os
import os.path as osp

import pytest
from mmengine.config import Config
from mmengine.registry import init_default_scope

from llava_detseg.datasets import DataError
from llava_detseg.registry import DATASETS
from llava_detseg.utils import register_all_modules

from benchmark_files import write_all

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(ROOT, 'configs', '_base_', 'datasets')
FILES = dict(vqav2='vqav2.py', gqa='gqa.py', vizwiz='vizwiz.py',
             textvqa='textvqa.py', scienceqa='scienceqa_img.py',
             pope='pope.py', mme='mme.py')


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    root = str(tmp_path_factory.mktemp('benchmarks'))
    return root, write_all(root)


def build(name: str, root: str, **overrides):
    """The benchmark of its _base_ file, its data_root moved under root."""
    register_all_modules()
    init_default_scope('llava_detseg')
    cfg = Config.fromfile(osp.join(BASE, FILES[name]))[f'{name}_test']
    cfg = dict(cfg)
    cfg['data_root'] = osp.join(root, cfg['data_root'].replace('data/', '',
                                                               1))
    cfg.update(overrides)
    return DATASETS.build(cfg)


@pytest.mark.parametrize('name', list(FILES))
def test_each_benchmark_loads_its_published_format(data_root, name):
    root, written = data_root
    ds = build(name, root)
    questions = [q for i in range(len(ds))
                 for q in ds.get_data_info(i)['vqa_questions']]
    assert len(questions) == written[name]['questions']
    assert len(ds) == written[name]['images']
    for i in range(len(ds)):
        info = ds.get_data_info(i)
        assert info['benchmark'] == name and info['tasks'] == ['vqa']
        assert osp.isfile(info['img_path'])
    for q in questions:
        assert q['question'].startswith('<image>\n')
        assert q['question'].count('<image>') == 1
        assert q['answers']


def test_prompts_are_llava_15s(data_root):
    root, _ = data_root
    gqa = build('gqa', root).get_data_info(0)['vqa_questions'][0]
    assert gqa['question'] == ('<image>\nIs the square red?\nAnswer the '
                               'question using a single word or phrase.')
    sqa = build('scienceqa', root).get_data_info(0)['vqa_questions'][0]
    assert sqa['question'] == (
        '<image>\nContext: Look at the picture.\nWhich shape is shown?\n'
        "A. circle\nB. square\nAnswer with the option's letter from the "
        'given choices directly.')
    assert sqa['answers'] == 'B'
    viz = build('vizwiz', root).get_data_info(0)['vqa_questions'][0]
    assert "respond with 'Unanswerable'" in viz['question']
    vqa = build('vqav2', root)
    q = vqa.get_data_info(0)['vqa_questions'][0]
    assert len(q['answers']) == 10 and q['meta']['answer_type'] == 'other'
    pope = build('pope', root)
    ids = [q['question_id'] for i in range(len(pope))
           for q in pope.get_data_info(i)['vqa_questions']]
    assert 'adversarial/1' in ids and len(set(ids)) == len(ids)


def _rewrite(path, edit, lines=False):
    with open(path) as f:
        data = [json.loads(ln) for ln in f] if lines else json.load(f)
    data = edit(data)
    with open(path, 'w') as f:
        if lines:
            f.write('\n'.join(json.dumps(d) for d in data))
        else:
            json.dump(data, f)


def _fault(tmp_path, name, edit_fn):
    """A fresh copy of every benchmark with one fault made by edit_fn."""
    root = str(tmp_path / name)
    write_all(root)
    edit_fn(root)
    return root


FAULTS = {
    # name: (benchmark, edit, file in the message, question, field)
    'answers missing': ('vqav2', lambda r: _rewrite(
        osp.join(r, 'vqav2', 'v2_mscoco_val2014_annotations.json'),
        lambda d: dict(annotations=d['annotations'][1:])),
        'v2_mscoco_val2014_annotations.json', '100', 'answers'),
    'mismatched ids': ('vqav2', lambda r: _rewrite(
        osp.join(r, 'vqav2', 'v2_mscoco_val2014_annotations.json'),
        lambda d: dict(annotations=d['annotations'] + [dict(
            d['annotations'][0], question_id=999)])),
        'v2_mscoco_val2014_annotations.json', '999', 'question_id'),
    'image missing': ('gqa', lambda r: os.remove(
        osp.join(r, 'gqa', 'images', 'n2.jpg')),
        'testdev_balanced_questions.json', '203', 'image'),
    'choice out of range': ('scienceqa', lambda r: _rewrite(
        osp.join(r, 'scienceqa', 'problems.json'),
        lambda d: {**d, '12': dict(d['12'], answer=5)}),
        'problems.json', '12', 'answer'),
    'pope label': ('pope', lambda r: _rewrite(
        osp.join(r, 'pope', 'coco_pope_popular.json'),
        lambda d: [dict(d[0], label='maybe')] + d[1:], lines=True),
        'coco_pope_popular.json', 'popular/1', 'label'),
    'gqa answer not a string': ('gqa', lambda r: _rewrite(
        osp.join(r, 'gqa', 'testdev_balanced_questions.json'),
        lambda d: {**d, '202': dict(d['202'], answer=3)}),
        'testdev_balanced_questions.json', '202', 'answer'),
    'mme answer': ('mme', lambda r: open(osp.join(
        r, 'MME_Benchmark_release_version', 'code_reasoning', '0001.txt'),
        'a').write('Is it?\tPerhaps\n'),
        '0001.txt', 'code_reasoning/0001/3', 'answer'),
}


@pytest.mark.parametrize('fault', list(FAULTS))
def test_bad_input_names_file_question_and_field(tmp_path, fault):
    name, edit, file, qid, field = FAULTS[fault]
    root = _fault(tmp_path, fault.replace(' ', '_'), edit)
    with pytest.raises(DataError) as err:
        build(name, root)
    msg = str(err.value)
    assert file in msg and qid in msg and f'"{field}"' in msg, msg
    # on_error='skip': the run goes on without that question, counted
    ds = build(name, root, on_error='skip')
    assert sum(ds.policy.skipped.values()) == 1
    assert len(ds) >= 1


def test_not_json_and_wrong_layout_are_errors(tmp_path):
    root = str(tmp_path / 'r')
    write_all(root)
    with open(osp.join(root, 'gqa', 'testdev_balanced_questions.json'),
              'w') as f:
        f.write('{not json')
    with pytest.raises(DataError, match='testdev_balanced_questions.json: '
                       'not valid JSON'):
        build('gqa', root)
    _rewrite(osp.join(root, 'vqav2',
                      'v2_OpenEnded_mscoco_val2014_questions.json'),
             lambda d: d['questions'])
    with pytest.raises(DataError, match='"questions" list'):
        build('vqav2', root)
