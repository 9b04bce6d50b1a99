"""Building library modules inside their own registry scope."""
from mmengine.registry import DefaultScope, Registry


def build_in_scope(registry: Registry, cfg: dict):
    """Build ``cfg``; a ``scope.Type`` is built with ``scope`` as default.

    mmdet and mmseg modules build their nested defaults (bbox coders, prior
    generators, assigners, losses) by plain name from their own registries.
    Inside the ``llava_detseg`` scope those lookups would miss and fall back
    with a warning; building the module in its own scope resolves them.
    """
    type_ = cfg.get('type')
    if isinstance(type_, str) and '.' in type_:
        with DefaultScope.overwrite_default_scope(type_.split('.', 1)[0]):
            return registry.build(cfg)
    return registry.build(cfg)
