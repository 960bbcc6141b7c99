"""The benchmark harness behind `make bench`: a realistic data set (`seed`), the page timings
(`pages`) and the runner that writes `bench/results/` (`run`). See bench/run.py."""
