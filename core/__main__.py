"""``python -m pathreason`` (also under ``accelerate launch -m pathreason``)."""

import sys

from pathreason.cli import main

sys.exit(main())
