from launchdeck.cli import main

raise SystemExit(main())
