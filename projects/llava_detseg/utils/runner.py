"""Choosing the runner a config asks for."""
import importlib.util

from mmengine.config import Config

# Strategy types and the package each needs beyond torch.
_STRATEGY_PACKAGES = dict(DeepSpeedStrategy='deepspeed',
                          ColossalAIStrategy='colossalai')


class RunnerConfigError(ValueError):
    """The config asks for a runner or strategy that cannot be built here."""


def check_runner_config(cfg: Config) -> None:
    """Fail early and clearly where a runner strategy lacks its package.

    MMEngine's ``FlexibleRunner`` imports DeepSpeed only when it builds the
    strategy, deep inside the runner, with a bare ``ImportError``.

    Args:
        cfg (Config): The run's config (``runner_type``, ``strategy``).

    Raises:
        RunnerConfigError: naming the config key and the missing package.
    """
    runner_type = cfg.get('runner_type', 'Runner')
    strategy = cfg.get('strategy')
    where = getattr(cfg, 'filename', None) or 'the config'
    if strategy is not None and runner_type != 'FlexibleRunner':
        raise RunnerConfigError(
            f'{where}: "strategy" needs runner_type="FlexibleRunner" (got '
            f'"{runner_type}")')
    if runner_type != 'FlexibleRunner' or not strategy:
        return
    kind = strategy.get('type', '') if isinstance(strategy, dict) else ''
    package = _STRATEGY_PACKAGES.get(kind.split('.')[-1])
    if package and importlib.util.find_spec(package) is None:
        raise RunnerConfigError(
            f'{where}: strategy.type="{kind}" needs the "{package}" package, '
            f'which is not installed (pip install {package}), or train with '
            'the DDP config it inherits from')


def build_runner(cfg: Config):
    """``Runner.from_cfg``, or the registered ``runner_type`` (mmdet's way).

    Args:
        cfg (Config): The run's config.
    """
    from .config_checks import check_combinations
    check_runner_config(cfg)
    check_combinations(cfg)
    if cfg.get('runner_type', 'Runner') == 'Runner':
        from mmengine.runner import Runner
        return Runner.from_cfg(cfg)
    from mmengine.registry import RUNNERS
    return RUNNERS.build(cfg)
