from irdata.cli import main

raise SystemExit(main())
