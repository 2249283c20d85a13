# bench/: pinion-bench and the google-benchmark harness.
