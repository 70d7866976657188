"""`python -m investmirror`: serve the fixture mirror (see investmirror.mirror)."""

import sys

from investmirror.mirror import main

sys.exit(main())
