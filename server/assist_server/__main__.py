"""`python -m assist_server` runs the command line."""

from assist_server.cli import main

raise SystemExit(main())
