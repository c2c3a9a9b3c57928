"""``python -m benchmarks.bench --profile small --repeat 3``: the benchmark harness.

The harness itself is ``orchestration/lib/bench.py`` (importable by the ``cs-metrics`` CLI);
this module only runs it. See ``benchmarks/README.md``.
"""

import sys

from orchestration.lib.bench import main

if __name__ == "__main__":
    sys.exit(main())
