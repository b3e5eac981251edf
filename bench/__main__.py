"""`python -m bench` runs every benchmark."""

from bench.pdf import main

if __name__ == "__main__":
    main()
