# The PINION_* environment parsers of topology/config.c and core/rt/
# runtime.c (fuzz_env.c), against a reference; PINION_CORES through the
# reference cpu-list parser.
FUZZERS  += env
env_SRCS := tests/fuzz/ref_cpulist.c
