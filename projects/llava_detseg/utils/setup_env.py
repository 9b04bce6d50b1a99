"""Import every module of the package so its registries are filled."""
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register this project's modules (and mmdet's / mmseg's) in the registries.

    Args:
        init_default_scope (bool): Make ``llava_detseg`` the current default
            scope, as mmdet's ``register_all_modules`` does for ``mmdet``.
    """
    import llava_detseg.datasets  # noqa: F401
    import llava_detseg.engine  # noqa: F401
    import llava_detseg.evaluation  # noqa: F401
    import llava_detseg.models  # noqa: F401
    import llava_detseg.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != 'llava_detseg':
        if current is not None:
            warnings.warn(f'The current default scope "{current.scope_name}" '
                          'is not "llava_detseg"; a new one is created.')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S%f')
        DefaultScope.get_instance(
            f'llava_detseg-{stamp}', scope_name='llava_detseg')
