import sys

from staff.console.server import main

sys.exit(main())
