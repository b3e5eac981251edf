"""`python -m bench [--quick]` runs every benchmark module and gathers one table."""

from bench.runner import main

if __name__ == "__main__":
    main()
