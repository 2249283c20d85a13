FUZZERS += http
http_SRCS := io/http.c
