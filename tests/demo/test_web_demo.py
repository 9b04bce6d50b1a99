"""The web demo in a real browser (Debian's chromium, driven by Playwright):
upload, a compound instruction, the streamed answer and the overlay; two
sessions at once keep their own history."""
import os
import os.path as osp
import shutil
import socket
import sys

import cv2
import numpy as np
import pytest

from conftest import ROOT

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which('chromium') or '/usr/bin/chromium'
ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update',
        '--disable-sync']


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


@pytest.fixture(scope='module')
def app_url(text_model):
    sys.path.insert(0, osp.join(ROOT, 'demo'))
    import web_demo
    from llava_detseg.apis import LlavaDetSegInferencer
    inf = LlavaDetSegInferencer(text_model['config'],
                                text_model['checkpoint'],
                                show_progress=False)
    demo = web_demo.build_demo(inf)
    demo.queue(default_concurrency_limit=1)
    port = _free_port()
    demo.launch(server_name='127.0.0.1', server_port=port,
                prevent_thread_lock=True, share=False)
    yield f'http://127.0.0.1:{port}'
    demo.close()


def _ask(page, text, timeout=120_000):
    page.locator('#instruction textarea').fill(text)
    page.locator('#send').click()
    # the result line appears when the answer is complete
    page.wait_for_function(
        "() => { const t = document.querySelector('#status textarea');"
        " return t && t.value.includes('boxes'); }", timeout=timeout)


@pytest.mark.skipif(not osp.exists(CHROMIUM), reason='chromium missing')
def test_upload_compound_instruction_and_sessions(app_url, shapes_root,
                                                  tmp_path):
    from playwright.sync_api import sync_playwright
    img = cv2.imread(sorted(
        os.path.join(shapes_root, 'images', 'val', f) for f in os.listdir(
            os.path.join(shapes_root, 'images', 'val')))[0])
    path = str(tmp_path / 'upload.png')
    cv2.imwrite(path, cv2.resize(img, (256, 256)))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        one = browser.new_context().new_page()
        two = browser.new_context().new_page()
        for page in (one, two):
            page.goto(app_url)
            page.locator('#input-image input[type=file]').set_input_files(
                path)
            page.wait_for_timeout(1500)
        _ask(one, 'Detect the circles and segment the triangles.')
        chat = one.locator('#chatbot').inner_text()
        assert 'Detect the circles and segment the triangles.' in chat
        assert 'Answer' in chat or '<DET>' in chat or 'boxes' in chat
        # the overlay: the annotated image is drawn
        one.wait_for_selector('#overlay img', timeout=30_000)
        assert one.locator('#overlay img').count() >= 1
        status = one.locator('#status textarea').input_value()
        assert 'boxes' in status and 'masks' in status
        shot = str(tmp_path / 'web_demo.png')
        one.screenshot(path=shot, full_page=True)
        assert osp.getsize(shot) > 10_000
        if os.environ.get('LLAVA_DETSEG_SCREENSHOT'):
            shutil.copy(shot, os.environ['LLAVA_DETSEG_SCREENSHOT'])
        # the second session sees none of the first one's history
        _ask(two, 'What color is the square?')
        other = two.locator('#chatbot').inner_text()
        assert 'What color is the square?' in other
        assert 'Detect the circles' not in other
        # bad input: an empty instruction gets a message, the app serves on
        one.locator('#instruction textarea').fill('')
        one.locator('#send').click()
        one.wait_for_function(
            "() => document.querySelector('#chatbot').innerText"
            ".includes('empty')", timeout=60_000)
        _ask(one, 'Segment all objects.')
        assert 'Segment all objects.' in one.locator('#chatbot').inner_text()
        browser.close()
