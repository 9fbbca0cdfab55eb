"""``dnet``, the product's command line: the engine's commands plus ``up``, which starts the local stack.

The engine (``difficultynet.cli``) knows nothing of the launcher; this module composes the two.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from difficultynet.cli import ENGINE_COMMANDS, Command
from difficultynet.cli import main as run_command
from stack.launcher import add_up_arguments, run_up

UP = Command("up", "start redis, API, worker and dashboard locally", add_up_arguments, run_up)
COMMANDS: tuple[Command, ...] = (*ENGINE_COMMANDS, UP)


def main(argv: Sequence[str] | None = None) -> int:
    return run_command(argv, COMMANDS)


if __name__ == "__main__":
    sys.exit(main())
