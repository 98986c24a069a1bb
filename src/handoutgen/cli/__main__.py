"""``python -m handoutgen.cli``, as the tests and benchmarks run it."""

from handoutgen.cli import main

main()
