FUZZERS += top_prom
top_prom_SRCS := io/top_parse.c io/top_json.c io/top_draw.c
