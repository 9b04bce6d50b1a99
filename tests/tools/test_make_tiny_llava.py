"""tools/model_converters/make_tiny_llava.py: the tiny checkpoints, and a
tiny language model of another depth beside them (--text-layers)."""
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
TOOL = osp.join(ROOT, 'tools', 'model_converters', 'make_tiny_llava.py')


def _layers(folder: str) -> int:
    with open(osp.join(folder, 'config.json')) as f:
        return json.load(f)['text_config']['num_hidden_layers']


def test_text_layers_write_a_deeper_tiny_llava_beside_the_default(tmp_path):
    out = str(tmp_path / 'ckpt')
    # one interpreter: the default, the deeper one, and a bad count
    script = (
        'import sys, runpy\n'
        f'tool = {TOOL!r}\n'
        f'for argv in (["--out-dir", {out!r}],\n'
        f'             ["--out-dir", {out!r}, "--text-layers", "4"]):\n'
        '    sys.argv = [tool] + argv\n'
        '    runpy.run_path(tool, run_name="__main__")\n'
        'sys.argv = [tool, "--text-layers", "0"]\n'
        'try:\n'
        '    runpy.run_path(tool, run_name="__main__")\n'
        'except SystemExit as e:\n'
        '    print("exit", e.code)\n')
    res = subprocess.run([sys.executable, '-c', script], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    assert _layers(osp.join(out, 'llava-tiny')) == 2
    assert _layers(osp.join(out, 'llava-tiny-4layers')) == 4
    assert 'exit 2' in res.stdout
    assert '--text-layers must be >= 1' in res.stderr
