"""``python -m playas ...`` and ``torchrun --nproc_per_node=N -m playas ...`` run the ``playas`` command."""

import sys

from .cli import main

sys.exit(main())
