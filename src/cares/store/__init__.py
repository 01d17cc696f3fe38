from cares.store.runstore import RunStore

__all__ = ["RunStore"]
