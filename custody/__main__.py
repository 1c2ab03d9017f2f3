from custody.cli.main import main

raise SystemExit(main())
