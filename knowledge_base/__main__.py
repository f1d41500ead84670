"""Entry point for ``python -m knowledge_base``."""

import sys

from knowledge_base.cli import main

sys.exit(main())
