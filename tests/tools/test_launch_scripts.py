"""dist_train.sh / dist_test.sh pass the multi-node settings to torchrun and
slurm_train.sh / slurm_test.sh to srun, as mmdet's scripts do.

A stand-in ``python`` / ``srun`` records its arguments instead of starting
anything; the real two-process run is in test_train_test_tools.py and
test_full_config_twin.py.
"""
import os
import os.path as osp
import stat
import subprocess

from conftest import ROOT

RECORDER = '#!/usr/bin/env bash\nprintf "%s\\n" "$@" > "{out}"\n'


def _recorder(tmp_path, name):
    path = tmp_path / name
    out = tmp_path / f'{name}.args'
    path.write_text(RECORDER.format(out=out))
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return str(path), out


def _run(script, args, env):
    proc = subprocess.run(['bash', osp.join(ROOT, 'tools', script), *args],
                          env=env, capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc


def test_dist_scripts_pass_nodes_to_torchrun(tmp_path):
    python, out = _recorder(tmp_path, 'python')
    env = dict(os.environ, PYTHON=python, NNODES='2', NODE_RANK='1',
               MASTER_ADDR='10.1.2.3', PORT='29611')
    _run('dist_train.sh', ['cfg.py', '8', '--resume', '--auto-scale-lr'],
         env)
    args = out.read_text().split('\n')
    assert args[:2] == ['-m', 'torch.distributed.run']
    for flag in ('--nnodes=2', '--node_rank=1', '--master_addr=10.1.2.3',
                 '--nproc_per_node=8', '--master_port=29611'):
        assert flag in args
    i = args.index(osp.join(ROOT, 'tools', 'train.py'))
    assert args[i + 1:i + 6] == ['cfg.py', '--launcher', 'pytorch',
                                 '--resume', '--auto-scale-lr']
    _run('dist_test.sh', ['cfg.py', 'ckpt.pth', '4'], env)
    args = out.read_text().split('\n')
    assert '--nproc_per_node=4' in args and '--nnodes=2' in args
    i = args.index(osp.join(ROOT, 'tools', 'test.py'))
    assert args[i + 1:i + 5] == ['cfg.py', 'ckpt.pth', '--launcher',
                                 'pytorch']


def test_slurm_scripts_call_srun_with_the_slurm_launcher(tmp_path):
    _, out = _recorder(tmp_path, 'srun')
    env = dict(os.environ, PATH=f'{tmp_path}:{os.environ["PATH"]}',
               GPUS='16', GPUS_PER_NODE='8', PYTHON='py')
    _run('slurm_train.sh', ['part', 'job', 'cfg.py', 'work', '--resume'],
         env)
    args = out.read_text().split('\n')
    for flag in ('-p', 'part', '--job-name=job', '--gres=gpu:8',
                 '--ntasks=16', '--ntasks-per-node=8', '--kill-on-bad-exit=1'):
        assert flag in args
    i = args.index(osp.join(ROOT, 'tools', 'train.py'))
    assert args[i + 1:] [:4] == ['cfg.py', '--work-dir=work',
                                 '--launcher=slurm', '--resume']
    _run('slurm_test.sh', ['part', 'job', 'cfg.py', 'ckpt.pth'], env)
    args = out.read_text().split('\n')
    i = args.index(osp.join(ROOT, 'tools', 'test.py'))
    assert args[i + 1:i + 4] == ['cfg.py', 'ckpt.pth', '--launcher=slurm']
