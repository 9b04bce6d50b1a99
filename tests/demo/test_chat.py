"""demo/chat.py driven through a pseudo-terminal, as a user types."""
import glob
import json
import os
import os.path as osp
import re
import sys

import cv2
import pytest

pexpect = pytest.importorskip('pexpect')

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CHAT = osp.join(ROOT, 'demo', 'chat.py')
PROMPT = 'USER: '
# the fields of a prediction dict (projects/llava_detseg/apis contract)
FIELDS = ('image', 'img_shape', 'instruction', 'tasks', 'answer', 'text',
          'raw_text', 'boxes', 'masks', 'problems', 'error', 'truncated',
          'generation', 'pred_score_thr')
SUMMARY = re.compile(r'\[(\d+) box(?:es)?(?: \(([^)]*)\))? \| '
                     r'(\d+) masks?(?: \(([^)]*)\))?')


def turn(child, text: str) -> str:
    """Send one line; what the chat printed until the next prompt."""
    child.sendline(text)
    child.expect_exact(PROMPT)
    # the terminal echoes the line typed; drop it
    out = child.before.replace('\r\n', '\n')
    return out.split('\n', 1)[1] if '\n' in out else ''


def answer_of(out: str) -> str:
    """The streamed answer (with what the stream missed, if anything)."""
    assert out.startswith('ASSISTANT: '), out
    return out[len('ASSISTANT: '):]


def test_chat_session(text_model, shapes_root, tmp_path):
    images = sorted(glob.glob(osp.join(shapes_root, 'images', 'val', '*.png')))
    out_dir = tmp_path / 'saved'
    env = dict(os.environ, TERM='dumb', PYTHONPATH=osp.join(ROOT, 'projects'))
    child = pexpect.spawn(
        sys.executable, [
            CHAT, text_model['config'], '--weights', text_model['checkpoint'],
            '--image', images[0], '--out-dir', str(out_dir),
            '--max-new-tokens', '64'
        ],
        encoding='utf-8', timeout=90, env=env, cwd=str(tmp_path),
        dimensions=(60, 1000))
    try:
        child.expect_exact(PROMPT)

        # a question: a streamed answer
        out = turn(child, 'What color is the square?')
        assert answer_of(out).strip()

        # a compound instruction: both blocks and a summary with real counts
        out = turn(child, 'Detect the circles and segment the triangles.')
        summary = SUMMARY.search(out)
        assert summary, out
        answer = answer_of(out[:summary.start()])
        assert '<DET>' in answer and '<SEG>' in answer, answer
        n_boxes, n_masks = int(summary.group(1)), int(summary.group(3))

        # /save: the last drawing and its JSON, with the contract's fields
        out = turn(child, '/save')
        saved = re.search(r'saved (\S+\.png) and (\S+\.json)', out)
        assert saved, out
        png, js = saved.groups()
        assert osp.isfile(png) and cv2.imread(png) is not None
        with open(js) as f:
            pred = json.load(f)
        assert set(FIELDS) <= set(pred), set(FIELDS) - set(pred)
        assert pred['instruction'].startswith('Detect the circles')
        assert set(pred['tasks']) >= {'det', 'seg'}
        assert len(pred['boxes']) == n_boxes
        assert len(pred['masks']) == n_masks
        h, w = cv2.imread(images[0]).shape[:2]
        assert list(pred['img_shape']) == [h, w]
        assert all(b['class'] == 'circle' for b in pred['boxes'])

        # bad input: one clear line each, and the chat goes on
        out = turn(child, '/image ' + str(tmp_path / 'missing.png'))
        assert out.strip().count('\n') == 0
        assert 'missing.png does not exist' in out
        out = turn(child, '/image')
        assert out.strip() == 'usage: /image PATH'
        out = turn(child, '/bogus')
        assert 'unknown command /bogus' in out

        # a new conversation on another image: empty history, and it answers
        out = turn(child, '/image ' + images[1])
        assert f'new conversation on {images[1]}; history: 0 turns' in out
        out = turn(child, 'Is there a red triangle?')
        assert answer_of(out).strip()

        # Ctrl-C while the answer is written stops it, and the chat goes on
        child.sendline('What color is the circle?')
        child.expect_exact('ASSISTANT: ')
        child.sendintr()
        child.expect_exact('[stopped]')
        child.expect_exact(PROMPT)

        # an empty line ends the chat
        child.sendline('')
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0, child.before
