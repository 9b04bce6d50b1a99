"""Small VQA benchmark sets in their published formats, written for tests.

Each writer puts one benchmark under ``root/<name>/`` with the file names
and tree of the release (``configs/_base_/datasets/<name>.py`` points there
by default, relative to ``data/``) and returns what it wrote: the number of
questions and images.
"""
import json
import os
import os.path as osp
from typing import Dict

import cv2
import numpy as np


def _image(path: str, seed: int) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    rng = np.random.default_rng(seed)
    img = np.full((48, 64, 3), rng.integers(0, 255, 3), np.uint8)
    cv2.rectangle(img, (8, 8), (30, 30), [int(v) for v in rng.integers(
        0, 255, 3)], -1)
    cv2.imwrite(path, img)


def _dump(path: str, data, lines: bool = False) -> None:
    os.makedirs(osp.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        if lines:
            f.write('\n'.join(json.dumps(d) for d in data) + '\n')
        else:
            json.dump(data, f)


def write_vqav2(root: str) -> dict:
    base = osp.join(root, 'vqav2')
    questions, annotations = [], []
    for qid, (img, q, answers, kind) in enumerate([
        (1, 'What color is the square?', ['red'] * 6 + ['pink'] * 4,
         'other'),
        (1, 'Is there a square?', ['yes'] * 10, 'yes/no'),
        (2, 'How many squares are there?', ['1'] * 9 + ['2'], 'number'),
    ], 100):
        questions.append(dict(question_id=qid, image_id=img, question=q))
        annotations.append(
            dict(question_id=qid, image_id=img, answer_type=kind,
                 multiple_choice_answer=answers[0],
                 answers=[dict(answer=a, answer_confidence='yes',
                               answer_id=i + 1)
                          for i, a in enumerate(answers)]))
    _dump(osp.join(base, 'v2_OpenEnded_mscoco_val2014_questions.json'),
          dict(questions=questions, data_subtype='val2014'))
    _dump(osp.join(base, 'v2_mscoco_val2014_annotations.json'),
          dict(annotations=annotations, data_subtype='val2014'))
    for img in (1, 2):
        _image(osp.join(base, 'val2014', f'COCO_val2014_{img:012d}.jpg'),
               img)
    return dict(questions=3, images=2)


def write_textvqa(root: str) -> dict:
    base = osp.join(root, 'textvqa')
    data = [dict(question_id=7, image_id='0a1b', question='What is written?',
                 answers=['stop'] * 10, image_classes=['sign'])]
    _dump(osp.join(base, 'TextVQA_0.5.1_val.json'),
          dict(dataset_name='textvqa', dataset_version='0.5.1', data=data))
    _image(osp.join(base, 'train_images', '0a1b.jpg'), 3)
    return dict(questions=1, images=1)


def write_vizwiz(root: str) -> dict:
    base = osp.join(root, 'vizwiz')
    entries = [
        dict(image='VizWiz_val_00000000.jpg', question='What is this?',
             answer_type='unanswerable', answerable=0,
             answers=[dict(answer='unanswerable', answer_confidence='yes')] *
             10),
        dict(image='VizWiz_val_00000001.jpg', question='What colour?',
             answer_type='other', answerable=1,
             answers=[dict(answer='blue', answer_confidence='yes')] * 10),
    ]
    _dump(osp.join(base, 'val.json'), entries)
    for i, e in enumerate(entries):
        _image(osp.join(base, 'val', e['image']), 10 + i)
    return dict(questions=2, images=2)


def write_gqa(root: str) -> dict:
    base = osp.join(root, 'gqa')
    qs = {
        '201': dict(imageId='n1', question='Is the square red?',
                    answer='yes', fullAnswer='Yes, it is.'),
        '202': dict(imageId='n1', question='What shape is it?',
                    answer='square', fullAnswer='It is a square.'),
        '203': dict(imageId='n2', question='What colour is it?',
                    answer='blue', fullAnswer='It is blue.'),
    }
    _dump(osp.join(base, 'testdev_balanced_questions.json'), qs)
    for i, img in enumerate(('n1', 'n2')):
        _image(osp.join(base, 'images', f'{img}.jpg'), 20 + i)
    return dict(questions=3, images=2)


def write_scienceqa(root: str) -> dict:
    base = osp.join(root, 'scienceqa')
    problems = {
        '11': dict(question='Which shape is shown?', choices=['circle',
                                                              'square'],
                   answer=1, hint='Look at the picture.', image='image.png',
                   subject='natural science', split='test'),
        '12': dict(question='Which colour?', choices=['red', 'green',
                                                      'blue'],
                   answer=0, hint='', image='image.png',
                   subject='language science', split='test'),
        # text-only: not in ScienceQA-IMG
        '13': dict(question='Which word?', choices=['a', 'b'], answer=0,
                   hint='', image=None, subject='language science',
                   split='test'),
        '14': dict(question='Train only', choices=['a', 'b'], answer=0,
                   hint='', image='image.png', subject='social science',
                   split='train'),
    }
    _dump(osp.join(base, 'problems.json'), problems)
    _dump(osp.join(base, 'pid_splits.json'),
          dict(train=['14'], val=[], test=['11', '12', '13']))
    for i, pid in enumerate(('11', '12')):
        _image(osp.join(base, 'images', 'test', pid, 'image.png'), 30 + i)
    return dict(questions=2, images=2)


def write_pope(root: str) -> dict:
    base = osp.join(root, 'pope')
    images = ['COCO_val2014_000000000001.jpg',
              'COCO_val2014_000000000002.jpg']
    n = 0
    for split in ('random', 'popular', 'adversarial'):
        lines = [
            dict(question_id=1, image=images[0], label='yes',
                 text='Is there a square in the image?'),
            dict(question_id=2, image=images[1], label='no',
                 text='Is there a dog in the image?'),
        ]
        n += len(lines)
        _dump(osp.join(base, f'coco_pope_{split}.json'), lines, lines=True)
    for i, img in enumerate(images):
        _image(osp.join(root, 'coco', 'val2014', img), 40 + i)
    return dict(questions=n, images=2)


def write_mme(root: str) -> dict:
    base = osp.join(root, 'MME_Benchmark_release_version')
    # one subtask in each release layout
    for task, img_dir, qa_dir in (
            ('existence', 'existence/images',
             'existence/questions_answers_YN'),
            ('code_reasoning', 'code_reasoning', 'code_reasoning')):
        for k in range(2):
            stem = f'{k:04d}'
            _image(osp.join(base, img_dir, stem + '.png'), 50 + k)
            os.makedirs(osp.join(base, qa_dir), exist_ok=True)
            with open(osp.join(base, qa_dir, stem + '.txt'), 'w') as f:
                f.write('Is there a square in the image? Please answer yes '
                        'or no.\tYes\n'
                        'Is there a cat in the image? Please answer yes or '
                        'no.\tNo\n')
    return dict(questions=8, images=4)


WRITERS = dict(vqav2=write_vqav2, textvqa=write_textvqa, vizwiz=write_vizwiz,
               gqa=write_gqa, scienceqa=write_scienceqa, pope=write_pope,
               mme=write_mme)


def write_all(root: str) -> Dict[str, dict]:
    """Every benchmark under ``root`` (the ``data/`` of the configs)."""
    return {name: write(root) for name, write in WRITERS.items()}
