"""Moved to :mod:`difficultynet.contracts.records`; this name stays so existing imports keep working.

Every public name of the new module is re-exported, so names added there are importable here too.
"""

from difficultynet.contracts.records import *  # noqa: F403
