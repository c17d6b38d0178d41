import sys

from suite.commands.cli import main

sys.exit(main())
