"""`python -m promsvc` runs the `promsvc` command."""

import sys

from promsvc.commands import main

sys.exit(main())
