"""demo/web_demo.py: its handlers on bad input, then the app in a real
browser (Debian's chromium through Playwright): upload, a compound
instruction, the streamed answer, the overlay and the JSON; two sessions at
once apart; bad input in the page; the stop button."""
import json
import os
import os.path as osp
import re
import shutil
import socket
import sys
from argparse import Namespace

import cv2
import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow
gr = pytest.importorskip('gradio')
sys.path.insert(0, osp.join(ROOT, 'demo'))
import web_demo  # noqa: E402

CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update',
        '--disable-sync']
COMPOUND = 'Detect the circles and segment the triangles.'
QUESTION = 'How many circles are there?'
DOCS_SHOT = osp.join(ROOT, 'docs', 'images', 'web_demo.png')
TOKENS = 24  # the app's default answer budget here: answers in ~2 s
needs_browser = pytest.mark.skipif(
    not osp.exists(CHROMIUM), reason='Debian chromium missing (.ci/run '
    'installs it)')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _shape_image(path: str, seed: int, size=(200, 240)) -> np.ndarray:
    """A generated shapes image written to ``path``; its RGB array."""
    from llava_detseg.datasets.generation.shapes import generate_image
    rgb, _, _ = generate_image(np.random.default_rng(seed), *size)
    rgb = cv2.resize(rgb, (size[1], size[0]))
    cv2.imwrite(path, rgb[..., ::-1])
    return rgb


@pytest.fixture(scope='module')
def inferencer(text_model):
    """The tiny random text model; every ChatSession it hands out is kept
    so that the tests can look at each session's own history."""
    from llava_detseg.apis import LlavaDetSegInferencer
    inf = LlavaDetSegInferencer(text_model['config'],
                                text_model['checkpoint'], device='cpu',
                                show_progress=False)
    inf.sessions = []
    chat = inf.chat

    def recording_chat(*args, **kwargs):
        session = chat(*args, **kwargs)
        inf.sessions.append(session)
        return session

    inf.chat = recording_chat
    return inf


@pytest.fixture(scope='module')
def app(inferencer):
    """The app on a free localhost port, in this process's threads."""
    demo = web_demo.build_demo(inferencer, max_new_tokens=TOKENS)
    demo.queue(default_concurrency_limit=1, max_size=16)
    port = _free_port()
    demo.launch(prevent_thread_lock=True, quiet=True,
                **web_demo.launch_kwargs(Namespace(host='127.0.0.1',
                                                   port=port)))
    try:
        yield Namespace(url=f'http://127.0.0.1:{port}/', demo=demo,
                        inferencer=inferencer)
    finally:
        demo.close()


def _last(gen):
    out = None
    for out in gen:
        pass
    return out


def test_handlers_refuse_bad_input(inferencer):
    app = web_demo.WebDemo(inferencer, max_new_tokens=8, max_side=512)
    img = np.full((64, 80, 3), 120, np.uint8)

    def ask(image, text):
        return _last(app.respond(image, text, 0.0, 8, 0.1, [], None))

    cases = [(None, COMPOUND, 'Upload an image first'),
             (img, '', 'Type an instruction first'),
             (img, '   \n ', 'Type an instruction first'),
             (np.zeros((1, 1, 3), np.uint8), COMPOUND, 'is 1x1 px'),
             (img, 'x' * 10_000, '10,000 characters')]
    for image, text, message in cases:
        history, user, _, _, status, _ = ask(image, text)
        assert message in status and status.startswith('**Error:**')
        assert history == [] and user is None  # nothing asked, no session

    # a huge image is scaled down, with a note, and answered
    history, user, overlay, path, status, _ = ask(
        np.full((3000, 1500, 3), 90, np.uint8), 'Detect all objects.')
    assert 'scaled down to 256x512' in status, status
    assert user.image.shape == (512, 256, 3)
    assert json.load(open(path))['img_shape'] == [512, 256]
    # the format's own tokens are taken out of the instruction, and said so
    history, user, overlay, path, status, _ = _last(app.respond(
        img, 'Detect <DET> the <loc_5> circles <image>', 0.0, 8, 0.1, [],
        None))
    pred = json.load(open(path))
    assert pred['problems']['format_tokens_removed'] == 3
    assert '<DET>' not in pred['instruction']
    assert 'format token(s)' in status
    assert history[0]['content'] == \
        'Detect &lt;DET&gt; the &lt;loc_5&gt; circles &lt;image&gt;'


def test_annotations_one_layer_per_class_and_kind():
    rle_mask = np.zeros((40, 50), np.uint8)
    rle_mask[5:20, 10:30] = 1
    import pycocotools.mask as mask_utils
    rle = mask_utils.encode(np.asfortranarray(rle_mask))
    result = dict(tasks=['det', 'seg'], boxes=[
        dict(bbox=[2, 3, 20, 30], label=0, score=1.0, **{'class': 'circle'}),
        dict(bbox=[25, 5, 48, 35], label=0, score=0.5, **{'class': 'circle'}),
        dict(bbox=[30, 30, 10, 10], label=1, score=0.2,
             **{'class': 'square'})],  # inverted: drawn as its extent
        masks=[dict(rle=dict(size=[40, 50],
                             counts=rle['counts'].decode('ascii')),
                    label=3, **{'class': 'triangle'})])
    (base, layers), colours = web_demo.annotations(
        result, np.zeros((40, 50, 3), np.uint8),
        ['circle', 'square', 'triangle'])
    labels = [label for _, label in layers]
    assert labels == ['circle: 2 boxes', 'square: 1 box', 'triangle: mask']
    assert set(colours) == set(labels)
    circle = layers[0][0]
    assert circle[3, 2] == 1 and circle[15, 10] == pytest.approx(0.15)
    assert (layers[2][0] > 0).sum() == rle_mask.sum()
    assert web_demo.summary(result) == \
        '3 boxes (circle 2, square 1), 1 mask (triangle 1)'


# --------------------------------------------------------------------------
# in the browser
# --------------------------------------------------------------------------
@pytest.fixture(scope='module')
def browser(app):
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser, url: str, outside: list):
    """A page in a context of its own (a browser session of its own);
    requests that leave localhost are refused and recorded."""
    context = browser.new_context(viewport={'width': 1360, 'height': 1000})

    def route(r):
        if r.request.url.startswith('http://127.0.0.1'):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    context.route('**/*', route)
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(url)
    page.wait_for_selector('#instruction textarea')
    return page


def _upload(page, path: str) -> None:
    page.locator('#image input[type=file]').set_input_files(path)
    page.wait_for_selector('#image img')


def _ask(page, text: str, click: bool = True) -> None:
    page.locator('#instruction textarea').fill(text)
    if click:
        page.locator('#submit').click()


def _status(page) -> str:
    return page.locator('#status').inner_text()


def _wait_status(page, text: str) -> str:
    page.wait_for_function(
        't => (document.querySelector("#status") || {}).innerText'
        '?.includes(t)', arg=text)
    return _status(page)


def _messages(page, who: str) -> list:
    return page.locator(f'#chatbot [data-testid="{who}"]').all_inner_texts()


def _json_of_result(page) -> dict:
    href = page.locator('#result a').first.get_attribute('href')
    reply = page.request.get(href)
    assert reply.ok, href
    return json.loads(reply.text())


@needs_browser
def test_compound_instruction_in_the_browser(app, browser, tmp_path):
    outside = []
    rgb = _shape_image(str(tmp_path / 'shapes.png'), seed=3)
    page = _page(browser, app.url, outside)
    _upload(page, str(tmp_path / 'shapes.png'))
    # an example is one click away: it fills the instruction box
    page.get_by_text('Detect all objects.', exact=True).click()
    from playwright.sync_api import expect
    expect(page.locator('#instruction textarea')).to_have_value(
        'Detect all objects.')
    _ask(page, COMPOUND)
    status = _wait_status(page, 'Turn 1 ')
    assert 'Error' not in status

    # the answer in the chat is the prediction's text, and what it held
    pred = _json_of_result(page)
    assert pred['instruction'] == COMPOUND and pred['error'] is None
    assert pred['tasks'] == ['det', 'seg'] and pred['img_shape'] == [200, 240]
    assert _messages(page, 'user') == [COMPOUND]
    code = page.locator('#chatbot [data-testid="bot"] pre code')
    assert code.inner_text().strip() == pred['text'].strip() != ''
    bot, = _messages(page, 'bot')
    found = web_demo.summary(pred)
    assert f'Parsed: {found}' in bot
    assert re.match(r'\d+ boxes?.*, \d+ masks?', found)

    # the overlay: this image (same size, same pixels up to WebP), its label
    # and one legend entry per class and kind found
    img = page.locator('#overlay img.base-image')
    img.wait_for()
    page.wait_for_function(
        '() => document.querySelector("#overlay img.base-image").complete')
    size = img.evaluate('e => [e.naturalWidth, e.naturalHeight]')
    assert size == [240, 200]
    shown = cv2.imdecode(np.frombuffer(page.request.get(
        img.get_attribute('src')).body(), np.uint8), cv2.IMREAD_COLOR)
    assert np.abs(shown[..., ::-1].astype(int) - rgb).mean() < 4
    assert f'Boxes and masks: {found}' in page.locator('#overlay').inner_text()
    kinds = {(b['class'], 'box') for b in pred['boxes']} | {
        (m['class'], 'mask') for m in pred['masks']}
    assert page.locator('#overlay .legend-item').count() == len(kinds)
    assert outside == []  # nothing left localhost

    shot = str(tmp_path / 'web_demo.png')
    page.screenshot(path=shot, full_page=True)
    assert osp.getsize(shot) > 20_000
    if os.environ.get('LLAVA_DETSEG_SCREENSHOT'):
        os.makedirs(osp.dirname(DOCS_SHOT), exist_ok=True)
        shutil.copy(shot, DOCS_SHOT)
    page.context.close()


@needs_browser
def test_two_sessions_at_once_keep_their_own_history(app, browser, tmp_path):
    outside = []
    _shape_image(str(tmp_path / 'a.png'), seed=4)
    _shape_image(str(tmp_path / 'b.png'), seed=5, size=(160, 192))
    one = _page(browser, app.url, outside)
    two = _page(browser, app.url, outside)
    _upload(one, str(tmp_path / 'a.png'))
    _upload(two, str(tmp_path / 'b.png'))
    before = len(app.inferencer.sessions)
    # both ask at once: the queue answers them in turn
    _ask(one, COMPOUND)
    _ask(two, QUESTION)
    assert 'Turn 1 ' in _wait_status(one, 'Turn ')
    assert 'Turn 1 ' in _wait_status(two, 'Turn ')
    assert _messages(one, 'user') == [COMPOUND]
    assert _messages(two, 'user') == [QUESTION]
    # a second turn in one session leaves the other alone
    _ask(one, 'Segment all objects.')
    assert 'Turn 2 ' in _wait_status(one, 'Turn 2 ')
    assert _messages(one, 'user') == [COMPOUND, 'Segment all objects.']
    assert _messages(two, 'user') == [QUESTION]
    assert len(_messages(two, 'bot')) == 1
    # and on the server: one ChatSession per browser session
    sessions = app.inferencer.sessions[before:]
    assert len(sessions) == 2
    by_first = {s.history[0][0]: s for s in sessions}
    assert [q for q, _ in by_first[COMPOUND].history] == [
        COMPOUND, 'Segment all objects.']
    assert [q for q, _ in by_first[QUESTION].history] == [QUESTION]
    assert by_first[QUESTION].image.shape == (160, 192, 3)
    assert outside == []
    one.context.close()
    two.context.close()


@needs_browser
def test_bad_input_in_the_page_and_the_app_serves_on(app, browser, tmp_path):
    page = _page(browser, app.url, [])
    _ask(page, COMPOUND)
    assert 'Upload an image first' in _wait_status(page, 'Error')
    _shape_image(str(tmp_path / 'ok.png'), seed=6)
    _upload(page, str(tmp_path / 'ok.png'))
    _ask(page, '')
    assert 'Type an instruction first' in _wait_status(page, 'Type an')
    _ask(page, 'y' * 10_000)
    assert 'has 10,000 characters' in _wait_status(page, '10,000')
    cv2.imwrite(str(tmp_path / 'dot.png'), np.full((1, 1, 3), 200, np.uint8))
    page.locator('#image button[aria-label="Remove Image"]').click()
    _upload(page, str(tmp_path / 'dot.png'))
    _ask(page, COMPOUND)
    assert 'is 1x1 px' in _wait_status(page, '1x1')
    assert _messages(page, 'user') == []  # none of these reached the model
    # the format's tokens typed by a user are shown as typed, then removed
    page.locator('#image button[aria-label="Remove Image"]').click()
    _upload(page, str(tmp_path / 'ok.png'))
    _ask(page, 'Detect <DET> the <loc_5> circles <image>')
    assert 'format token(s)' in _wait_status(page, 'Turn 1 ')
    assert _messages(page, 'user') == [
        'Detect <DET> the <loc_5> circles <image>']
    assert _json_of_result(page)['instruction'] == 'Detect the circles'
    page.context.close()


@needs_browser
def test_stop_ends_the_answer(app, browser, tmp_path):
    page = _page(browser, app.url, [])
    _shape_image(str(tmp_path / 'stop.png'), seed=7)
    _upload(page, str(tmp_path / 'stop.png'))
    budget = page.locator('#max_new_tokens input[type=number]')
    budget.fill('1024')
    budget.press('Enter')
    _ask(page, QUESTION)
    # wait for the answer to stream in, then stop it
    page.wait_for_function(
        '() => [...document.querySelectorAll(\'#chatbot [data-testid="bot"]'
        ' code\')].some(e => e.innerText.length > 4)')
    page.locator('#stop').click()
    status = _wait_status(page, '(stopped)')
    assert 'Turn 1 ' in status
    bot, = _messages(page, 'bot')
    assert '(stopped)' in bot
    pred = _json_of_result(page)
    assert pred['stopped'] is True and pred['num_tokens'] < 1024
    assert pred['generation']['max_new_tokens'] == 1024
    # the session answers again afterwards
    budget.fill(str(TOKENS))
    budget.press('Enter')
    _ask(page, COMPOUND)
    assert 'Turn 2 ' in _wait_status(page, 'Turn 2 ')
    page.context.close()


def test_command_line(text_model, tmp_path):
    """main(): one line for a bad path; the real command serves the page."""
    import subprocess
    import time
    import urllib.request
    assert web_demo.main([str(tmp_path / 'missing.py')]) == 2
    assert web_demo.main([text_model['config'], '--weights',
                          str(tmp_path / 'missing.pth')]) == 2
    port = _free_port()
    env = dict(os.environ, PYTHONPATH=osp.join(ROOT, 'projects'))
    proc = subprocess.Popen(
        [sys.executable, osp.join(ROOT, 'demo', 'web_demo.py'),
         text_model['config'], '--weights', text_model['checkpoint'],
         '--port', str(port), '--concurrency', '2'],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        cwd=str(tmp_path))
    try:
        deadline, page = time.time() + 90, None
        while time.time() < deadline and proc.poll() is None:
            try:
                page = urllib.request.urlopen(
                    f'http://127.0.0.1:{port}/config', timeout=5).read()
                break
            except OSError:
                time.sleep(0.5)
        assert page is not None, proc.stdout.read() if proc.poll() else ''
        config = json.loads(page)
        assert config['title'] == 'LLaVA-DetSeg'
        ids = {c.get('props', {}).get('elem_id') for c in config['components']}
        assert {'image', 'instruction', 'chatbot', 'overlay', 'result',
                'stop', 'temperature', 'max_new_tokens', 'score_thr'} <= ids
    finally:
        proc.terminate()
        proc.wait(30)
