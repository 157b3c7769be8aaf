"""``spark-submit`` runs Python applications given as ``.py`` files: this one is the ``gesture`` command.

``spark-submit --master yarn "$(gesture spark entry)" spark decide INPUT OUTPUT`` (docs/spark.md).
"""

from __future__ import annotations

import sys

from gesture_cli.main import main

if __name__ == "__main__":
    sys.argv[0] = "gesture"
    main()
