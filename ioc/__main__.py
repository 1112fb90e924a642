"""`python -m ioc` runs the CLI."""

from ioc.cli import main

raise SystemExit(main())
