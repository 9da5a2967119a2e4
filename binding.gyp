{
  "targets": [
    {
      "target_name": "tuple_encoder",
      "sources": ["native/tuple_encoder.cc"],
      "cflags_cc": ["-O3"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
