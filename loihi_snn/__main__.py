"""``python -m loihi_snn ...`` is the ``loihi-snn`` command line."""
from loihi_snn.app.cli import main

raise SystemExit(main())
