"""`python -m napari_blindspot.cli`: the same as the `napari-blindspot` command."""

import sys

from .main import main

sys.exit(main())
