from digitdraw.cli import main

raise SystemExit(main())
