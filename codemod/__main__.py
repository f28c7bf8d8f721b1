from codemod.cli import main

raise SystemExit(main())
