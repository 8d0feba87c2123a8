from edge.commands.dispatch import main

raise SystemExit(main())
