from vramtui.cli.main import main

raise SystemExit(main())
