"""`python -m promsvc` runs the `promsvc` command."""

import sys

from promsvc.cli import main

sys.exit(main())
