"""``python -m difficultynet``: the engine's commands; the product's ``dnet`` (``stack.cli``) adds ``up``."""

from difficultynet.cli import main

raise SystemExit(main())
