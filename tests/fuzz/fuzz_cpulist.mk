# The cpu-list parsers of topology/cpulist.c (fuzz_cpulist.c), against the
# reference parser.
FUZZERS      += cpulist
cpulist_SRCS := tests/fuzz/ref_cpulist.c
