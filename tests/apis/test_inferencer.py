"""LlavaDetSegInferencer on a tiny random text model: files, fields, batches,
bad input, chat sessions, and the same answers as tools/test.py."""
import glob
import json
import os
import os.path as osp
import pickle
import subprocess
import sys
import threading

import cv2
import numpy as np
import pytest

from conftest import ROOT
from llava_detseg.apis import LlavaDetSegInferencer

FIELDS = {'image', 'img_shape', 'instruction', 'tasks', 'answer', 'text',
          'raw_text', 'boxes', 'masks', 'head_boxes', 'problems', 'error',
          'truncated', 'generation', 'pred_score_thr'}


@pytest.fixture(scope='module')
def inferencer(text_model):
    return LlavaDetSegInferencer(text_model['config'],
                                 text_model['checkpoint'], device='cpu',
                                 show_progress=False)


@pytest.fixture(scope='module')
def images(shapes_root, tmp_path_factory):
    """Three val images of different sizes in one folder."""
    folder = tmp_path_factory.mktemp('inputs')
    files = sorted(glob.glob(osp.join(shapes_root, 'images', 'val', '*')))
    for f, size in zip(files, [(128, 128), (200, 96), (64, 150)]):
        img = cv2.resize(cv2.imread(f), size)
        cv2.imwrite(str(folder / osp.basename(f)), img)
    return str(folder)


def test_folder_writes_one_json_and_png_per_image(inferencer, images,
                                                  tmp_path):
    texts = ['Detect the circles and segment the triangles.',
             'What color is the square?', 'Segment all objects.']
    out = inferencer(images, texts=texts, batch_size=2,
                     out_dir=str(tmp_path), pred_score_thr=0.0)
    stems = sorted(osp.splitext(f)[0] for f in
                   map(osp.basename, glob.glob(osp.join(images, '*'))))
    jsons = sorted(glob.glob(str(tmp_path / 'preds' / '*.json')))
    assert [osp.splitext(osp.basename(j))[0] for j in jsons] == stems
    assert len(glob.glob(str(tmp_path / 'vis' / '*.png'))) == 3
    preds = out['predictions']
    for pred, path, text in zip(preds, jsons, texts):
        saved = json.load(open(path))
        assert FIELDS <= set(saved)
        assert saved == json.loads(json.dumps(pred))
        assert saved['instruction'] == text
        assert saved['pred_score_thr'] == 0.0
        assert saved['error'] is None
    compound, question, seg = preds
    assert compound['tasks'] == ['det', 'seg']
    # constrained decoding: the blocks asked for are there and parse
    assert '<DET>' in compound['text'] and '<SEG>' in compound['text']
    # a random language model babbles until the budget: flagged, and the
    # blocks are still closed and parse
    assert set(compound['problems']) <= {'truncated'}
    assert compound['truncated'] == ('truncated' in compound['problems'])
    assert compound['head_boxes'], 'the grounded context offered boxes'
    head_scores = {b['score'] for b in compound['head_boxes']}
    assert all(b['score'] in head_scores for b in compound['boxes'])
    assert question['tasks'] == ['vqa'] and question['boxes'] == []
    h, w = cv2.imread(glob.glob(osp.join(images, '*'))[0]).shape[:2]
    # each image's own original size (mixed sizes in one batch)
    assert sorted(tuple(p['img_shape']) for p in preds) == sorted(
        cv2.imread(f).shape[:2] for f in glob.glob(osp.join(images, '*')))
    for box in compound['boxes']:
        x1, y1, x2, y2 = box['bbox']
        H, W = compound['img_shape']
        assert 0 <= x1 <= x2 <= W and 0 <= y1 <= y2 <= H
        assert box['source'] == 'text' and box['score'] >= 0.0
    for mask in seg['masks'] + compound['masks']:
        assert mask['rle']['size'] == seg['img_shape'] or \
            mask['rle']['size'] == compound['img_shape']
        assert mask['area'] > 0 and len(mask['polygon']) >= 3


def test_how_many_is_a_question_when_questions_read_the_boxes(inferencer):
    """A grounded text model counts with a <DET> block; one whose questions
    read the det head's boxes (text_cfg.vqa_context, the make demo default)
    is not trained on that instruction and answers it as a question."""
    text_io = inferencer.model.text
    assert text_io.vqa_context is None
    assert inferencer.parse('How many circles are there?').request.kind \
        == 'count'
    text_io.vqa_context = dict(score_thr=0.3, max_boxes=20, train_prob=1.0)
    try:
        parsed = inferencer.parse('How many circles are there?')
        assert parsed.request.kind == 'vqa'
        assert inferencer.parse('Detect the circles.').request.kind != 'vqa'
    finally:
        text_io.vqa_context = None


def test_answers_equal_a_batch_of_one(inferencer, images):
    """Batching does not change the answers (left padding, masks)."""
    texts = ['Detect all objects.', 'Segment all objects.',
             'How many circles are there?']
    batched = inferencer(images, texts=texts, batch_size=3,
                         pred_score_thr=0.0)['predictions']
    single = inferencer(images, texts=texts, batch_size=1,
                        pred_score_thr=0.0)['predictions']
    assert [p['text'] for p in batched] == [p['text'] for p in single]
    assert [p['boxes'] for p in batched] == [p['boxes'] for p in single]


def test_bad_inputs_give_errors_not_tracebacks(inferencer, tmp_path):
    broken = tmp_path / 'broken.png'
    broken.write_bytes(b'\x89PNG not really')
    tiny = np.zeros((1, 1, 3), np.uint8)
    wide = np.full((40, 8000, 3), 200, np.uint8)
    inputs = [str(broken), str(tmp_path / 'missing.jpg'), tiny, wide, tiny,
              tiny]
    texts = ['Detect all objects.', 'Detect all objects.',
             'Segment all objects.', 'Detect the circles.', '',
             'Detect <DET>circle <loc_1></DET> the <image> squares ' +
             'x' * 10000]
    preds = inferencer(inputs, texts=texts, batch_size=3,
                       out_dir=str(tmp_path / 'out'))['predictions']
    assert 'cannot' in preds[0]['error'] or 'not an image' in \
        preds[0]['error']
    assert 'does not exist' in preds[1]['error']
    assert preds[2]['error'] is None and preds[2]['img_shape'] == [1, 1]
    assert preds[3]['error'] is None and preds[3]['img_shape'] == [40, 8000]
    assert 'empty' in preds[4]['error']
    assert preds[5]['error'] is None
    assert preds[5]['problems']['format_tokens_removed'] == 4
    assert preds[5]['problems']['instruction_truncated'] > 0
    # every input has its JSON, the failed ones too
    assert len(glob.glob(str(tmp_path / 'out' / 'preds' / '*.json'))) == 6


def test_truncated_answer_is_flagged(inferencer, images):
    pred = inferencer(images, texts='Segment all objects.',
                      pred_score_thr=0.0, max_new_tokens=12)['predictions'][0]
    assert pred['generation']['max_new_tokens'] == 12
    assert pred['num_tokens'] <= 12
    # the constraint closes blocks within the budget; when it cannot, the
    # answer is marked and the parse problem counted
    assert pred['truncated'] == (pred['num_tokens'] == 12 and
                                 'truncated' in pred['problems'])


def test_chat_session_turns_and_image_switch(inferencer, images):
    files = sorted(glob.glob(osp.join(images, '*')))
    chat = inferencer.chat(files[0])
    pieces = []
    first = chat.ask('What color is the square?', on_token=pieces.append)
    assert first['error'] is None
    assert ''.join(pieces).strip() == first['text']
    second = chat.ask('Detect the circles and segment the triangles.',
                      pred_score_thr=0.0)
    assert '<DET>' in second['text'] and '<SEG>' in second['text']
    assert [q for q, _ in chat.history] == [
        'What color is the square?',
        'Detect the circles and segment the triangles.']
    # the second turn saw the first: one <image>, in the first turn only
    assert chat.turns[0][0].startswith('<image>')
    assert '<image>' not in chat.turns[1][0]
    chat.set_image(files[1])
    assert chat.history == [] and len(chat.transcript) == 4
    third = chat.ask('Segment all objects.')
    assert third['image'] == files[1]
    assert chat.draw() is not None and chat.draw().ndim == 3
    with pytest.raises(FileNotFoundError):
        chat.set_image('/nonexistent.png')
    assert chat.image_name == files[1]  # kept


def test_stop_event_stops_generation(inferencer, images):
    """A set event ends generation at the next token. It is set before the
    answer starts: the streamed pieces skip special tokens (<SEG>, the
    coordinates), so how many tokens pass before the first visible piece
    depends on the model's answer, not on the stop."""
    chat = inferencer.chat(sorted(glob.glob(osp.join(images, '*')))[0])
    free = chat.ask('Segment all objects.', pred_score_thr=0.0)
    assert not free['stopped'] and free['num_tokens'] > 2
    stop = threading.Event()
    stop.set()
    pred = chat.ask('Segment all objects.', on_token=lambda piece: None,
                    stop_event=stop, pred_score_thr=0.0)
    assert pred['stopped'] and pred['num_tokens'] <= 2


@pytest.mark.slow
def test_same_answers_as_tools_test(text_model, shapes_root, inferencer,
                                    tmp_path):
    """tools/test.py's text answers, boxes and masks on val images equal the
    inferencer's for the same instructions."""
    out = str(tmp_path / 'preds.pkl')
    proc = run_tool('tools/test.py', text_model['config'],
                    text_model['checkpoint'], '--work-dir',
                    str(tmp_path / 'work'), '--out', out, '--cfg-options',
                    'test_dataloader.dataset.indices=2',
                    'model.text_cfg.context_score_thr=0.0')
    assert proc.returncode == 0, proc.stderr[-3000:]
    samples = pickle.load(open(out, 'rb'))
    assert len(samples) == 2
    for sample in samples:
        items = sample['text_conversations']
        texts = [i['question'] for i in items]
        preds = inferencer([sample['img_path']] * len(texts), texts=texts,
                           batch_size=len(texts),
                           pred_score_thr=0.0)['predictions']
        assert [p['text'] for p in preds] == sample['pred_texts']
        # the heads too: same boxes as the test run kept
        head = sample['pred_instances']
        keep = head['scores'] >= 0.0
        for p in (p for p in preds if 'det' in p['tasks']):
            np.testing.assert_allclose(
                [b['bbox'] for b in p['head_boxes']],
                head['bboxes'][keep].numpy(), atol=0.01)


def run_tool(*args, timeout=600):
    env = dict(os.environ)
    env['PYTHONPATH'] = osp.join(ROOT, 'projects') + os.pathsep + env.get(
        'PYTHONPATH', '')
    return subprocess.run([sys.executable] + list(args), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_prediction_dict_reads_blocks_in_original_pixels(inferencer):
    """An answer's blocks become pixel boxes (with the scores of the head
    boxes they copy), polygons and RLE masks of the original image."""
    import pycocotools.mask as mask_utils
    import torch
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData

    from llava_detseg.apis.results import prediction_dict
    from llava_detseg.models.language.responder import Request, Response
    codec = inferencer.codec
    h, w = 200, 100
    sample = DetDataSample(metainfo=dict(ori_shape=(h, w)))
    head = InstanceData(bboxes=torch.tensor([[10., 20., 50., 100.],
                                             [0., 0., 5., 5.]]),
                        labels=torch.tensor([0, 1]),
                        scores=torch.tensor([0.9, 0.05]))
    sample.pred_instances = head
    block = codec.det_block(codec.det_items(
        head.bboxes[:1].numpy(), head.labels[:1].numpy(), (h, w),
        head.scores[:1].numpy()))
    poly = '<SEG>triangle <poly><loc_100><loc_100><loc_900><loc_100>' \
        '<loc_500><loc_900></poly></SEG>'
    text = f'Answer: {block} {poly}'
    req = Request('Detect the circles and segment the triangles.', [0], [3],
                  'compound')
    pred = prediction_dict(sample, Response(req, '', text, 30, False), codec,
                           0.1, True, 'x.png', {}, {})
    assert pred['problems'] == {}
    (box, ) = pred['boxes']
    np.testing.assert_allclose(box['bbox'], [10, 20, 50, 100], atol=0.6)
    assert (box['class'], box['score'], box['source']) == ('circle', 0.9,
                                                           'text')
    assert [b['score'] for b in pred['head_boxes']] == [0.9]  # >= 0.1
    (mask, ) = pred['masks']
    assert mask['class'] == 'triangle' and mask['rle']['size'] == [h, w]
    m = mask_utils.decode(dict(mask['rle'],
                               counts=mask['rle']['counts'].encode()))
    # a triangle of half the box 10..90 % of the image: about 0.32 of it
    assert abs(m.sum() / (h * w) - 0.32) < 0.03 and m.sum() == mask['area']
    # an asked block that is missing is a counted problem
    pred = prediction_dict(sample, Response(req, '', f'Answer: {block}', 9,
                                            False), codec, 0.1, True, 'x', {},
                           {})
    assert pred['problems'] == {'missing_seg_block': 1}


def test_export_answers_like_the_checkpoint(text_model, inferencer, images,
                                            tmp_path):
    """merge_lora.py's folder, loaded by the inferencer, gives the MMEngine
    checkpoint's answers, boxes and masks."""
    proc = run_tool('tools/model_converters/merge_lora.py',
                    text_model['config'], text_model['checkpoint'],
                    '--out-dir', str(tmp_path / 'export'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    exported = LlavaDetSegInferencer(str(tmp_path / 'export' / 'hf'),
                                     device='cpu', show_progress=False)
    texts = ['Detect the circles and segment the triangles.',
             'What color is the square?', 'Detect all objects.']
    ref = inferencer(images, texts=texts, max_new_tokens=48)['predictions']
    got = exported(images, texts=texts, max_new_tokens=48)['predictions']
    for r, g in zip(ref, got):
        assert g['text'] == r['text']
        assert g['masks'] == r['masks']
        for a, b in zip(g['boxes'] + g['head_boxes'],
                        r['boxes'] + r['head_boxes']):
            np.testing.assert_allclose(a['bbox'], b['bbox'], atol=1e-3)
            assert abs(a['score'] - b['score']) < 1e-4
