"""`python -m bench` (and `make bench`): the issue-9 benchmark; BENCH_N etc. in bench/README.md."""

from bench.harness import main

if __name__ == "__main__":
    main()
