"""``python -m gdlab``: the ``gdlab`` command line, for an environment whose scripts
folder is not on ``PATH``."""

from gdlab.cli import main

if __name__ == "__main__":
    main()
