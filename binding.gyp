{
  "targets": [
    {
      "target_name": "tuple_encoder",
      "sources": ["native/tuple_encoder.cc"],
      "cflags_cc": ["-O3"],
      "defines": ["NAPI_VERSION=8"]
    },
    {
      "target_name": "page_cache",
      "sources": ["native/page_cache.cc"],
      "cflags_cc": ["-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
