"""``python -m autocnn`` runs the command line, like the ``autocnn`` script."""

from autocnn.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
