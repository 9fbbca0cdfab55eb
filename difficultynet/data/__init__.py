"""Data: the torch pipeline (decoded uint8 tensor cache, on-device augmentation, seeded batch iterators)
and the torch-free train / meta / eval split of a manifest.

Import from the modules themselves (``difficultynet.data.cache``, ``.splits``, ...): this package
imports nothing, so the torch-free :mod:`difficultynet.data.meta_split` stays usable without torch.
"""
