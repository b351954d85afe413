"""`make run`: starts the three processes and stops them together on Ctrl-C."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from stack import main

if __name__ == "__main__":
    sys.exit(main())
