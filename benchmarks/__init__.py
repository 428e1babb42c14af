"""Side-by-side timings of nashgrid against peer libraries (run: ``make bench``)."""
