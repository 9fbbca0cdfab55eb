"""``python -m difficultynet`` = the ``dnet`` command."""

from difficultynet.cli import main

raise SystemExit(main())
