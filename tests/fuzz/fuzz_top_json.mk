FUZZERS += top_json
top_json_SRCS := io/top_parse.c io/top_json.c io/top_draw.c
